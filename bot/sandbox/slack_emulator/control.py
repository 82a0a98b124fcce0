"""The control API under ``/_emu/``: act as a user and read state over HTTP (JSON in and out),
for processes outside the test and for the emulator's web page. ``GET /_emu/state?as=U…`` is the
state as one person sees it (:func:`.page.project`); ``POST /_emu/mode`` switches between HTTP and
Socket Mode; ``POST /_emu/socket/disconnect`` sends Socket Mode ``disconnect`` messages;
``POST /_emu/home`` opens the app's Home tab for ``user`` (``app_home_opened``);
``POST /_emu/rate-limits`` turns Slack's rate limits on or off (``{"enabled": true}``) and changes
a method's (``{"limits": {"chat.update": {"per_minute": 10, "burst": 1}}}``).

Every ``POST`` answers ``{"ok": true, "result": ...}``; a user action Slack would not allow
answers 400 ``{"ok": false, "error": ...}``. A modal Slack's client refuses to submit (a required
input empty, a bound crossed) is not an error of the request: ``/_emu/submit`` answers 200 with
``{"refused": {block_id: error}}`` as its result, and the errors are on the view, as in Slack.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .actor import InputRejected, UserActionError
from .page import project
from .records import JSON, Delivery, Fault

if TYPE_CHECKING:
    from .server import SlackEmulator

Action = Callable[["SlackEmulator", Any], Awaitable[Any]]


def _delivery(delivery: Delivery | None) -> JSON | None:
    if delivery is None:
        return None
    out = delivery.to_dict()
    out["payload"] = delivery.payload
    return out


def parse_fault(spec: Any) -> Fault:
    """A :class:`Fault` from ``{"method", "error", "status", "retry_after", "count", "delay"}``."""
    if not isinstance(spec, dict) or not isinstance(spec.get("method"), str):
        raise ValueError("a fault needs at least a method")
    count = spec.get("count", 1)
    retry_after = spec.get("retry_after")
    return Fault(
        method=spec["method"],
        error=spec.get("error"),
        status=int(spec.get("status", 200)),
        retry_after=None if retry_after is None else int(retry_after),
        count=None if count is None else int(count),
        delay=float(spec.get("delay", 0.0)),
    )


async def _command(emu: SlackEmulator, body: JSON) -> Any:
    delivery = await emu.slash_command(
        body["user"], body["channel"], body["command"], body.get("text", "")
    )
    return _delivery(delivery)


async def _click(emu: SlackEmulator, body: JSON) -> Any:
    delivery = await emu.click(
        body["user"],
        channel=body["channel"],
        ts=body["ts"],
        action_id=body["action_id"],
        value=body.get("value"),
        selected=body.get("selected"),
        block_id=body.get("block_id"),
    )
    return _delivery(delivery)


async def _view_action(emu: SlackEmulator, body: JSON) -> Any:
    delivery = await emu.view_action(
        body["user"],
        body["view_id"],
        body["action_id"],
        value=body.get("value"),
        selected=body.get("selected"),
        block_id=body.get("block_id"),
    )
    return _delivery(delivery)


async def _submit(emu: SlackEmulator, body: JSON) -> Any:
    try:
        delivery = await emu.submit_view(body["user"], body["view_id"], body.get("values"))
    except InputRejected as exc:
        return {"refused": exc.errors}
    return _delivery(delivery)


async def _close(emu: SlackEmulator, body: JSON) -> Any:
    return _delivery(await emu.close_view(body["user"], body["view_id"]))


async def _suggest(emu: SlackEmulator, body: JSON) -> Any:
    options = await emu.suggest(body["user"], body["view_id"], body["action_id"], body["text"])
    return {"options": options}


async def _message(emu: SlackEmulator, body: JSON) -> Any:
    posted, delivery = await emu.actor.post_message(
        body["user"], body["channel"], body["text"], body.get("thread_ts")
    )
    return {"ts": posted.ts, "channel": posted.channel, "delivery": _delivery(delivery)}


async def _home(emu: SlackEmulator, body: JSON) -> Any:
    return _delivery(await emu.open_home(body["user"]))


async def _faults(emu: SlackEmulator, body: Any) -> Any:
    specs = body if isinstance(body, list) else [body]
    emu.state.faults.extend(parse_fault(spec) for spec in specs)
    return {"faults": [f.to_dict() for f in emu.state.faults]}


async def _reset(emu: SlackEmulator, body: JSON) -> Any:
    emu.reset()
    return {"reset": True}


async def _app_url(emu: SlackEmulator, body: JSON) -> Any:
    emu.app_url = body.get("app_url")
    return {"app_url": emu.app_url}


async def _mode(emu: SlackEmulator, body: JSON) -> Any:
    emu.mode = body["mode"]
    return {"mode": emu.mode}


async def _socket_disconnect(emu: SlackEmulator, body: JSON) -> Any:
    reason = body.get("reason", "refresh_requested")
    if reason not in ("warning", "refresh_requested", "link_disabled", "too_many_websockets"):
        raise ValueError(f"unknown disconnect reason {reason!r}")
    grace = body.get("grace")
    try:
        told = await emu.socket_disconnect(
            reason, body.get("connection"), grace=None if grace is None else float(grace)
        )
    except KeyError as exc:
        raise UserActionError(str(exc.args[0])) from exc
    return {"disconnected": told}


async def _rate_limits(emu: SlackEmulator, body: JSON) -> Any:
    if "enabled" in body:
        emu.rate_limits.enabled = bool(body["enabled"])
    for method, limit in (body.get("limits") or {}).items():
        emu.rate_limits.set_limit(method, float(limit["per_minute"]), int(limit.get("burst", 1)))
    for method, limit in (body.get("workspace_limits") or {}).items():
        emu.rate_limits.set_workspace_limit(
            method, float(limit["per_minute"]), int(limit.get("burst", 1))
        )
    return emu.rate_limits.to_dict()


ACTIONS: dict[str, Action] = {
    "/_emu/command": _command,
    "/_emu/click": _click,
    "/_emu/view-action": _view_action,
    "/_emu/submit": _submit,
    "/_emu/close": _close,
    "/_emu/suggest": _suggest,
    "/_emu/message": _message,
    "/_emu/home": _home,
    "/_emu/faults": _faults,
    "/_emu/reset": _reset,
    "/_emu/app-url": _app_url,
    "/_emu/mode": _mode,
    "/_emu/socket/disconnect": _socket_disconnect,
    "/_emu/rate-limits": _rate_limits,
}


def _route(emu: SlackEmulator, action: Action) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        try:
            body = await request.json() if request.can_read_body else {}
        except ValueError:
            return web.json_response({"ok": False, "error": "invalid_json"}, status=400)
        try:
            result = await action(emu, body)
        except KeyError as exc:
            return web.json_response({"ok": False, "error": f"missing {exc}"}, status=400)
        except (UserActionError, TypeError, ValueError) as exc:
            return web.json_response({"ok": False, "error": str(exc)}, status=400)
        return web.json_response({"ok": True, "result": result})

    return handler


def add_control_routes(app: web.Application, emu: SlackEmulator) -> None:
    for path, action in ACTIONS.items():
        app.router.add_post(path, _route(emu, action))

    async def state(request: web.Request) -> web.Response:
        user = request.query.get("as")
        if user is None:
            return web.json_response(emu.state.snapshot())
        try:
            return web.json_response(project(emu, user))
        except KeyError:
            return web.json_response({"ok": False, "error": f"no user {user!r}"}, status=400)

    async def sockets(request: web.Request) -> web.Response:
        connections = [c.to_dict() for c in emu.socket.live_connections()]
        return web.json_response({"mode": emu.mode, "connections": connections})

    async def list_faults(request: web.Request) -> web.Response:
        return web.json_response({"faults": [f.to_dict() for f in emu.state.faults]})

    async def clear_faults(request: web.Request) -> web.Response:
        emu.clear_faults()
        return web.json_response({"faults": []})

    app.router.add_get("/_emu/state", state)
    app.router.add_get("/_emu/socket", sockets)
    app.router.add_get("/_emu/faults", list_faults)
    app.router.add_delete("/_emu/faults", clear_faults)
