"""Socket Mode (reference §7): ``apps.connections.open`` and the WebSocket Slack pushes over.

:class:`SocketModeTransport` satisfies :class:`~.transport.Transport`, so the actor builds the
same payloads in both modes; only the delivery differs. Each payload travels in an envelope
``{"envelope_id", "type", "payload", "accepts_response_payload"}`` (``events_api`` adds
``retry_attempt``/``retry_reason``) to ONE open connection chosen at random, and the app acks
with ``{"envelope_id", "payload"?}`` within the ack timeout. The ack ``payload`` is what the HTTP
response body would have been, so it is handed back as an :class:`AppResponse` body and applied
exactly as an HTTP ack is. An ``events_api`` envelope that is not acked is redelivered (with
``retry_attempt`` incremented) after each of ``event_retry_delays``.

:class:`ModeTransport` chooses per delivery: ``"http"`` always POSTs, ``"socket"`` always uses
the socket (waiting up to the ack timeout for a connection, e.g. during a refresh), ``"auto"``
uses the socket while a connection is open and HTTP otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import secrets
import time
import uuid
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import WSCloseCode, WSMsgType, web

from .records import JSON, PayloadKind
from .transport import ACK_TIMEOUT_S, AppResponse, Transport

SOCKET_PATH = "/socket-mode/link/"
MAX_CONNECTIONS = 10
# Slack retries an unacknowledged event at once, after about a minute and after about 5 minutes.
DEFAULT_EVENT_RETRY_DELAYS: tuple[float, ...] = (0.0, 60.0, 300.0)
# How long a connection told to refresh stays open if the app does not close it itself.
DISCONNECT_GRACE_S = 10.0
TICKET_TTL_S = 30.0

Mode = Literal["http", "socket", "auto"]
MODES: tuple[Mode, ...] = ("http", "socket", "auto")
DisconnectReason = Literal["warning", "refresh_requested", "link_disabled", "too_many_websockets"]
Redelivered = Callable[[PayloadKind, JSON, AppResponse], None]


@dataclass
class SocketConnection:
    """One open WebSocket of the app, and what went over it."""

    id: str
    ws: web.WebSocketResponse
    opened_at: float
    draining: bool = False
    envelopes: int = 0
    acks: int = 0
    pings: int = 0
    messages: list[str] = field(default_factory=list)

    @property
    def live(self) -> bool:
        return not self.ws.closed

    def to_dict(self) -> JSON:
        return {
            "id": self.id,
            "opened_at": self.opened_at,
            "draining": self.draining,
            "envelopes": self.envelopes,
            "acks": self.acks,
        }


def _accepts_response_payload(kind: PayloadKind, payload: JSON) -> bool:
    if kind == "slash_commands":
        return True
    if kind == "interactive":
        return payload.get("type") in ("view_submission", "block_suggestion")
    return False


class SocketModeTransport:
    """Slack's side of Socket Mode: tickets, connections, envelopes, acks and retries."""

    def __init__(
        self,
        *,
        app_id: Callable[[], str],
        ack_timeout: float = ACK_TIMEOUT_S,
        event_retry_delays: Sequence[float] = DEFAULT_EVENT_RETRY_DELAYS,
        heartbeat: float | None = 30.0,
        disconnect_grace: float = DISCONNECT_GRACE_S,
        on_redelivery: Redelivered | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.app_id = app_id
        self.ack_timeout = ack_timeout
        self.event_retry_delays = tuple(event_retry_delays)
        self.heartbeat = heartbeat
        self.disconnect_grace = disconnect_grace
        self.on_redelivery = on_redelivery
        self.rng = rng or random.Random()
        self.connections: dict[str, SocketConnection] = {}
        self.late_acks: list[JSON] = []
        self.rejected: list[str] = []
        self._tickets: dict[str, float] = {}
        self._pending: dict[str, asyncio.Future[JSON]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._changed = asyncio.Event()
        self._closed = False

    # -- connections ---------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether the app holds at least one open connection."""
        return any(c.live for c in self.connections.values())

    def live_connections(self) -> list[SocketConnection]:
        return [c for c in self.connections.values() if c.live]

    def issue_url(self, base_url: str) -> str:
        """A one-time ``ws://…/socket-mode/link/?ticket=…&app_id=…`` for ``apps.connections.open``
        (``base_url`` is the emulator's ``http(s)://host:port``)."""
        now = time.monotonic()
        self._tickets = {t: at for t, at in self._tickets.items() if now - at < TICKET_TTL_S}
        ticket = str(uuid.uuid4())
        self._tickets[ticket] = now
        ws_base = "ws" + base_url.removeprefix("http")
        return f"{ws_base}{SOCKET_PATH}?ticket={ticket}&app_id={self.app_id()}"

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """The WebSocket endpoint behind the URL ``apps.connections.open`` hands out."""
        ticket = request.query.get("ticket", "")
        issued = self._tickets.pop(ticket, None)
        if issued is None or time.monotonic() - issued >= TICKET_TTL_S or self._closed:
            self.rejected.append(ticket)
            raise web.HTTPUnauthorized(text="invalid_ticket")
        ws = web.WebSocketResponse(heartbeat=self.heartbeat, autoping=True)
        await ws.prepare(request)
        if len(self.live_connections()) >= MAX_CONNECTIONS:
            await ws.send_json(self._disconnect_message("too_many_websockets"))
            await ws.close(code=WSCloseCode.POLICY_VIOLATION)
            return ws
        conn = SocketConnection(id=secrets.token_hex(6), ws=ws, opened_at=time.time())
        self.connections[conn.id] = conn
        hello = {
            "type": "hello",
            "num_connections": len(self.live_connections()),
            "debug_info": self._debug_info(conn),
            "connection_info": {"app_id": self.app_id()},
        }
        try:
            await ws.send_json(hello)
            self._notify()
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self._on_text(conn, str(message.data))
        finally:
            self.connections.pop(conn.id, None)
            self._notify()
        return ws

    def _debug_info(self, conn: SocketConnection) -> JSON:
        return {
            "host": f"applink-emulator-{conn.id}",
            "build_number": 1,
            "approximate_connection_time": 18060,
        }

    def _on_text(self, conn: SocketConnection, data: str) -> None:
        conn.messages.append(data)
        try:
            message = json.loads(data)
        except ValueError:
            return
        if not isinstance(message, dict) or "envelope_id" not in message:
            return
        future = self._pending.get(str(message["envelope_id"]))
        if future is None or future.done():
            self.late_acks.append(message)
            return
        conn.acks += 1
        future.set_result(message)

    def _disconnect_message(self, reason: str) -> JSON:
        return {
            "type": "disconnect",
            "reason": reason,
            "debug_info": {"host": "applink-emulator"},
        }

    async def disconnect(
        self,
        reason: DisconnectReason = "refresh_requested",
        connection: str | None = None,
        *,
        grace: float | None = None,
    ) -> list[str]:
        """Send ``{"type": "disconnect", "reason": …}`` to one connection (or all); the app is
        expected to reconnect. Such a connection gets no new envelopes while another is open
        and is closed after ``grace`` seconds (at once for ``link_disabled``)."""
        targets = [c for c in self.live_connections() if connection is None or c.id == connection]
        if connection is not None and not targets:
            raise KeyError(f"no open socket connection {connection!r}")
        wait = 0.0 if reason == "link_disabled" else self.disconnect_grace
        wait = wait if grace is None else grace
        for conn in targets:
            conn.draining = True
            with contextlib.suppress(ConnectionError, RuntimeError):
                await conn.ws.send_json(self._disconnect_message(reason))
            self._spawn(self._close_later(conn, wait))
        self._notify()
        return [c.id for c in targets]

    async def _close_later(self, conn: SocketConnection, after: float) -> None:
        if after > 0:
            await asyncio.sleep(after)
        await conn.ws.close(code=WSCloseCode.GOING_AWAY, message=b"disconnect")

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait_connected(
        self,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - a documented test helper deadline
    ) -> list[SocketConnection]:
        """Wait until ``count`` connections that are not draining are open."""
        async with asyncio.timeout(timeout):
            while True:
                fresh = [c for c in self.live_connections() if not c.draining]
                if len(fresh) >= count:
                    return fresh
                await self._changed.wait()

    # -- delivery ------------------------------------------------------------------------------

    async def _pick(self, deadline: float) -> SocketConnection | None:
        loop = asyncio.get_running_loop()
        while True:
            live = self.live_connections()
            fresh = [c for c in live if not c.draining] or live
            if fresh:
                return self.rng.choice(fresh)
            remaining = deadline - loop.time()
            if remaining <= 0 or self._closed:
                return None
            try:
                async with asyncio.timeout(remaining):
                    await self._changed.wait()
            except TimeoutError:
                return None

    async def deliver(self, kind: PayloadKind, payload: JSON) -> AppResponse:
        return await self._send(kind, payload, 0, "")

    async def _send(
        self, kind: PayloadKind, payload: JSON, attempt: int, reason: str
    ) -> AppResponse:
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        deadline = loop.time() + self.ack_timeout
        envelope_id = str(uuid.uuid4())
        envelope: JSON = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": _accepts_response_payload(kind, payload),
        }
        if kind == "events_api":
            envelope.update(retry_attempt=attempt, retry_reason=reason)
        future: asyncio.Future[JSON] = loop.create_future()
        self._pending[envelope_id] = future
        conn: SocketConnection | None = None

        def answer(
            status: int | None, body: str = "", *, timed_out: bool = False, error: str | None = None
        ) -> AppResponse:
            return AppResponse(
                status,
                body,
                time.perf_counter() - started,
                timed_out=timed_out,
                error=error,
                via="socket",
                connection=None if conn is None else conn.id,
                envelope_id=envelope_id,
                retry_attempt=attempt,
            )

        try:
            conn = await self._pick(deadline)
            if conn is None:
                response = answer(None, error="no_socket_connection")
            else:
                await conn.ws.send_str(json.dumps(envelope))
                conn.envelopes += 1
                async with asyncio.timeout_at(deadline):
                    ack = await future
                ack_payload = ack.get("payload")
                body = "" if ack_payload is None else json.dumps(ack_payload)
                response = answer(200, body)
        except TimeoutError:
            response = answer(None, timed_out=True, error="operation_timeout")
        except (ConnectionError, RuntimeError) as exc:
            response = answer(None, error=f"connection_failed: {exc}")
        finally:
            self._pending.pop(envelope_id, None)
        failed = response.status != 200 or response.timed_out
        if kind == "events_api" and failed and attempt < len(self.event_retry_delays):
            why = "timeout" if response.timed_out else "connection_failed"
            self._spawn(self._redeliver(kind, payload, attempt + 1, why))
        return response

    async def _redeliver(self, kind: PayloadKind, payload: JSON, attempt: int, reason: str) -> None:
        await asyncio.sleep(self.event_retry_delays[attempt - 1])
        response = await self._send(kind, payload, attempt, reason)
        if self.on_redelivery is not None:
            self.on_redelivery(kind, payload, response)

    async def close(self) -> None:
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for future in self._pending.values():
            future.cancel()
        for conn in self.live_connections():
            await conn.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")
        self._notify()


class ModeTransport:
    """Delivers over HTTP or Socket Mode according to :attr:`mode` (see the module docstring)."""

    def __init__(self, http: Transport, socket: SocketModeTransport, mode: Mode = "http") -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        self.http = http
        self.socket = socket
        self.mode: Mode = mode

    def uses_socket(self) -> bool:
        return self.mode == "socket" or (self.mode == "auto" and self.socket.connected)

    async def deliver(self, kind: PayloadKind, payload: JSON) -> AppResponse:
        if self.uses_socket():
            return await self.socket.deliver(kind, payload)
        return await self.http.deliver(kind, payload)

    async def close(self) -> None:
        await self.socket.close()
        await self.http.close()
