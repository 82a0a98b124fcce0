""":class:`SlackEmulator`: the aiohttp server, its parts, and the Python API tests drive."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from .actor import Actor
from .app import add_slack_routes
from .clock import Clock, SystemClock
from .control import add_control_routes
from .events import EventStream
from .modals import Modals
from .page import add_page_routes
from .ratelimits import RateLimits
from .records import JSON, Delivery, Fault, ValidationFailure
from .response_url import ResponseUrls
from .socket_mode import (
    DEFAULT_EVENT_RETRY_DELAYS,
    MODES,
    SOCKET_PATH,
    DisconnectReason,
    Mode,
    ModeTransport,
    SocketConnection,
    SocketModeTransport,
)
from .state import EmulatorState
from .transport import ACK_TIMEOUT_S, HttpTransport, Transport
from .webapi import WebApi
from .welcome import Welcome
from .workspace import Workspace, default_workspace
from .zstack_proxy import ZStackProxy

T = TypeVar("T")
# Open page event streams or sockets must not hold a shutdown for long.
_SHUTDOWN_TIMEOUT_S = 1.0


class SlackEmulator:
    """Slack for one app: Web API at :attr:`api_url`, payloads to :attr:`app_url`.

    ``async with SlackEmulator(signing_secret=..., bot_token=...) as emu:`` starts it on
    ``host:port`` (port 0 picks a free one). ``app_url`` may be set after start.

    Socket Mode: give ``app_token="xapp-…"`` and ``mode="socket"`` (or ``"auto"``; settable later
    as ``emu.mode``, or ``POST /_emu/mode``); the app calls ``apps.connections.open`` with that
    token in the ``Authorization`` header and connects to the returned ``ws://`` URL.
    ``event_retry_delays`` are the waits before redelivering an un-acked ``events_api`` envelope.

    The web page for people is at ``GET /``; ``zstack_control_url`` (the simulator's ``…/_sim``)
    enables its ZStack panel through the same-origin proxy ``/_emu/zstack/*``.
    ``approval_channel`` (an id or name) is marked in the page's sidebar; ``welcome`` is what the
    page's welcome panel shows a first-time visitor (its people, logins and first steps).

    ``rate_limits=True`` answers as Slack's rate limits would (:mod:`.ratelimits`; switchable as
    ``emu.rate_limits.enabled`` or ``POST /_emu/rate-limits``).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        signing_secret: str,
        bot_token: str,
        app_url: str | None = None,
        workspace: Workspace | None = None,
        clock: Clock | None = None,
        ack_timeout: float = ACK_TIMEOUT_S,
        public_url: str | None = None,
        transport: Transport | None = None,
        app_token: str | None = None,
        mode: Mode = "http",
        event_retry_delays: Sequence[float] = DEFAULT_EVENT_RETRY_DELAYS,
        socket_heartbeat: float | None = 30.0,
        zstack_control_url: str | None = None,
        approval_channel: str | None = None,
        welcome: Welcome | None = None,
        rate_limits: bool = False,
    ) -> None:
        if not signing_secret.strip():
            raise ValueError("signing_secret must not be empty")
        self.host = host
        self.port = port
        self.app_url = app_url
        self.public_url = public_url
        self.clock: Clock = clock or SystemClock()
        self.state = EmulatorState(workspace or default_workspace(), self.clock)
        self.modals = Modals(self.state)
        self.rate_limits = RateLimits(self.clock, enabled=rate_limits)
        self.webapi = WebApi(
            self.state,
            self.modals,
            bot_token=bot_token,
            base_url=self._base,
            app_token=app_token,
            rate_limits=self.rate_limits,
        )
        self.webapi.app_methods["apps.connections.open"] = self._connections_open
        self.response_urls = ResponseUrls(self.state, self.webapi, self._base)
        self.http_transport: Transport = transport or HttpTransport(
            signing_secret=signing_secret,
            app_url=lambda: self.app_url,
            clock=self.clock,
            ack_timeout=ack_timeout,
        )
        self.socket = SocketModeTransport(
            app_id=lambda: self.state.workspace.app_id,
            ack_timeout=ack_timeout,
            event_retry_delays=event_retry_delays,
            heartbeat=socket_heartbeat,
            on_redelivery=lambda *args: self.actor.record_redelivery(*args),
        )
        self.transport = ModeTransport(self.http_transport, self.socket, mode)
        self.actor = Actor(self.state, self.modals, self.webapi, self.response_urls, self.transport)
        self.events = EventStream(self.state)
        self.zstack = ZStackProxy(zstack_control_url)
        self.approval_channel = approval_channel
        self.welcome = welcome
        self._runner: web.AppRunner | None = None
        self._bound: tuple[str, int] | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def build_app(self) -> web.Application:
        app = web.Application()
        add_slack_routes(app, self.state, self.webapi, self.response_urls)
        app.router.add_get(SOCKET_PATH, self.socket.handle)
        add_control_routes(app, self)
        add_page_routes(app, self)
        return app

    async def start(self) -> None:
        runner = web.AppRunner(
            self.build_app(), access_log=None, shutdown_timeout=_SHUTDOWN_TIMEOUT_S
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        address = runner.addresses[0]
        self._bound = (str(address[0]), int(address[1]))

    async def stop(self) -> None:
        self.events.close()
        await self.transport.close()
        await self.zstack.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SlackEmulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def _base(self) -> str:
        return self.url

    @property
    def url(self) -> str:
        """``http://host:port`` of the running server (or ``public_url`` when given)."""
        if self.public_url:
            return self.public_url.rstrip("/")
        if self._bound is None:
            raise RuntimeError("the emulator is not started")
        host = self.host if self.host not in ("0.0.0.0", "::", "") else "127.0.0.1"  # noqa: S104
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self._bound[1]}"

    @property
    def api_url(self) -> str:
        """The Web API base URL for ``AsyncWebClient(base_url=...)``; ends in ``/``."""
        return f"{self.url}/api/"

    # -- Socket Mode -----------------------------------------------------------------------------

    @property
    def mode(self) -> Mode:
        """``"http"`` (POST to :attr:`app_url`), ``"socket"`` (envelopes over Socket Mode) or
        ``"auto"`` (Socket Mode while the app holds a connection, else HTTP)."""
        return self.transport.mode

    @mode.setter
    def mode(self, value: Mode) -> None:
        if value not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {value!r}")
        self.transport.mode = value
        self.state.notify()

    async def _connections_open(self, params: dict[str, Any]) -> JSON:
        return {"ok": True, "url": self.socket.issue_url(self.url)}

    async def socket_disconnect(
        self,
        reason: DisconnectReason = "refresh_requested",
        connection: str | None = None,
        *,
        grace: float | None = None,
    ) -> list[str]:
        """Tell the app's socket connection(s) to reconnect; the ids of those told."""
        return await self.socket.disconnect(reason, connection, grace=grace)

    async def wait_socket_connections(
        self,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - the deadline is part of the documented test API
    ) -> list[SocketConnection]:
        """Wait until the app holds ``count`` Socket Mode connections (not told to refresh)."""
        return await self.socket.wait_connected(count, timeout)

    # -- acting as a user ------------------------------------------------------------------------

    async def slash_command(
        self, user: str, channel: str, command: str, text: str = ""
    ) -> Delivery:
        return await self.actor.slash_command(user, channel, command, text)

    async def shortcut(
        self,
        user: str,
        callback_id: str,
        *,
        channel: str | None = None,
        message_ts: str | None = None,
    ) -> Delivery:
        return await self.actor.shortcut(user, callback_id, channel=channel, message_ts=message_ts)

    async def click(
        self,
        user: str,
        *,
        channel: str,
        ts: str,
        action_id: str,
        value: Any = None,
        selected: Any = None,
        block_id: str | None = None,
    ) -> Delivery:
        return await self.actor.click(
            user,
            channel=channel,
            ts=ts,
            action_id=action_id,
            value=value,
            selected=selected,
            block_id=block_id,
        )

    async def view_action(
        self,
        user: str,
        view_id: str,
        action_id: str,
        *,
        value: Any = None,
        selected: Any = None,
        block_id: str | None = None,
    ) -> Delivery | None:
        return await self.actor.view_action(
            user, view_id, action_id, value=value, selected=selected, block_id=block_id
        )

    async def submit_view(
        self, user: str, view_id: str, values: dict[str, dict[str, Any]] | None = None
    ) -> Delivery:
        return await self.actor.submit_view(user, view_id, values)

    async def open_home(self, user: str) -> Delivery | None:
        """``user`` opens the app's Home tab (``app_home_opened``)."""
        return await self.actor.open_home(user)

    async def close_view(self, user: str, view_id: str) -> Delivery | None:
        return await self.actor.close_view(user, view_id)

    async def suggest(self, user: str, view_id: str, action_id: str, text: str) -> list[JSON]:
        return await self.actor.suggest(user, view_id, action_id, text)

    async def post_message(
        self, user: str, channel: str, text: str, thread_ts: str | None = None
    ) -> Delivery | None:
        """Post as a person; the ``message`` event's delivery (``None`` if the bot cannot see
        it). The stored message is ``emu.state.messages(channel)[-1]`` (or the thread's last)."""
        _, delivery = await self.actor.post_message(user, channel, text, thread_ts)
        return delivery

    # -- faults and state ------------------------------------------------------------------------

    def inject_fault(
        self,
        method: str,
        *,
        error: str | None = None,
        status: int = 200,
        retry_after: int | None = None,
        count: int | None = 1,
        delay: float = 0.0,
    ) -> Fault:
        """Fail the next ``count`` calls of ``method`` (``None``: all): 429 comes with
        ``Retry-After``; ``"response_url"`` targets response URLs; ``"*"`` any method."""
        fault = Fault(method, error, status, retry_after, count, delay)
        self.state.faults.append(fault)
        return fault

    def slow_down(self, method: str, seconds: float, *, count: int | None = 1) -> Fault:
        """Answer the next ``count`` calls of ``method`` as usual, ``seconds`` late."""
        fault = Fault(method, count=count, delay=seconds, passes=True)
        self.state.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        self.state.faults.clear()

    def reset(self) -> None:
        self.state.reset()
        self.rate_limits.reset()

    def export_state(self) -> JSON:
        """The workspace's lasting part (messages, threads, DMs), JSON-ready; see
        :meth:`EmulatorState.export_state`."""
        return self.state.export_state()

    def import_state(self, data: JSON) -> None:
        """Resume from :meth:`export_state`'s data (``ValueError`` when it is unusable)."""
        self.state.import_state(data)

    @property
    def validation_failures(self) -> list[ValidationFailure]:
        return self.state.validation_failures

    async def wait_for(
        self,
        predicate: Callable[[], T | None],
        timeout: float = 5.0,  # noqa: ASYNC109 - the deadline is part of the documented test API
    ) -> T:
        """Re-evaluate ``predicate`` on every state change until it returns something truthy;
        return that. Raises ``AssertionError`` with a state summary after ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"condition not met within {timeout}s; emulator state:\n{self.state.summary()}"
                )
            await self.state.wait_changed(min(remaining, 0.1))
