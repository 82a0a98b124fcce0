"""The emulator's web page for people (DESIGN §7): ``GET /`` and its assets from
``bot/sandbox/static/``, the event stream, the per-person state projection and the ZStack proxy.

Routes: ``GET /`` (``index.html``), ``GET /static/{name}``, ``GET /_emu/events`` (SSE),
``GET /_emu/info``, ``GET /_emu/page`` (:func:`page_text`: the page's labels in each language and
the welcome panel's content), ``* /_emu/zstack/{tail}``. ``GET /_emu/state?as=U…`` (in
``control``) serves :func:`project`. Everything the page does goes through the control API.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.i18n import lang_of_locale

from .page_labels import page_labels
from .records import JSON

if TYPE_CHECKING:
    from .server import SlackEmulator

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}


def _asset(name: str) -> web.FileResponse:
    path = STATIC_DIR / name
    content_type = CONTENT_TYPES.get(path.suffix)
    if content_type is None or "/" in name or name.startswith(".") or not path.is_file():
        raise web.HTTPNotFound(text=f"no asset {name!r}")
    headers = {"Content-Type": content_type, "Cache-Control": "no-cache"}
    return web.FileResponse(path, headers=headers)


def emulator_info(emu: SlackEmulator) -> JSON:
    """What the page shows about the emulator itself (mode, sockets, ZStack panel)."""
    approval = emu.state.channel(emu.approval_channel) if emu.approval_channel else None
    if approval is None:
        approval = emu.state.workspace.find_channel("model-approvals")
    return {
        "mode": emu.mode,
        "uses_socket": emu.transport.uses_socket(),
        "app_url": emu.app_url,
        "socket_connections": [c.to_dict() for c in emu.socket.live_connections()],
        "zstack_connected": emu.zstack.connected,
        "approval_channel": None if approval is None else approval.id,
    }


def page_text(emu: SlackEmulator) -> JSON:
    """What the page reads once: its ``labels`` per language, and the ``welcome`` panel's people,
    logins and first steps (``None`` when whoever started the emulator gave none)."""
    welcome = emu.welcome.to_dict() if emu.welcome is not None else None
    return {"labels": page_labels(), "welcome": welcome}


def project(emu: SlackEmulator, user: str) -> JSON:
    """The state as ``user`` sees it: their channels and their DM with the bot, their ephemerals,
    their open modals, and the app's Home tab as published for them (``home``). Other people's
    ephemerals, DMs and views, and the raw call and delivery logs, are left out. The person's DM
    with the bot is created if needed; ``lang`` is the language of their locale, the page's
    language while it acts as them (``langs``: everyone's). ``KeyError`` for an unknown user."""
    people = emu.state.workspace.users
    if user not in people:
        raise KeyError(user)
    if not people[user].is_bot:
        emu.state.workspace.im_for(user)  # everyone can message the app, as in Slack's sidebar
    snap = emu.state.snapshot()
    channels = []
    for channel in snap["channels"]:
        if channel["type"] == "im":
            if channel["members"] == [user]:
                channels.append(channel)
        elif user in channel["members"]:
            channels.append(channel)
    home_view = emu.state.home(user)
    home_id = None if home_view is None else home_view.id
    home = next((v for v in snap["views"] if v["id"] == home_id), None)
    views: list[Any] = [
        v for v in snap["views"] if v["user"] == user and v["open"] and v["id"] != home_id
    ]
    stack = snap["stacks"].get(user, [])
    views.sort(key=lambda v: stack.index(v["id"]) if v["id"] in stack else len(stack))
    return {
        "as": user,
        "lang": lang_of_locale(people[user].locale),
        "langs": {uid: lang_of_locale(u.locale) for uid, u in people.items() if not u.is_bot},
        "version": emu.state.version,
        "team": snap["team"],
        "bot": snap["bot"],
        "users": snap["users"],
        "usergroups": snap["usergroups"],
        "channels": channels,
        "dm": snap["dms"].get(user),
        "ephemerals": snap["ephemerals"].get(user, []),
        "views": views,
        "home": home,
        "stack": stack,
        "validation_failures": len(snap["validation_failures"]),
        "emulator": emulator_info(emu),
    }


def add_page_routes(app: web.Application, emu: SlackEmulator) -> None:
    async def index(request: web.Request) -> web.StreamResponse:
        return _asset("index.html")

    async def asset(request: web.Request) -> web.StreamResponse:
        return _asset(request.match_info["name"])

    async def info(request: web.Request) -> web.Response:
        return web.json_response(emulator_info(emu))

    async def text(request: web.Request) -> web.Response:
        return web.json_response(page_text(emu))

    app.router.add_get("/", index)
    app.router.add_get("/static/{name}", asset)
    app.router.add_get("/_emu/events", emu.events.handle)
    app.router.add_get("/_emu/info", info)
    app.router.add_get("/_emu/page", text)
    app.router.add_route("*", "/_emu/zstack/{tail:.*}", emu.zstack.handle)
