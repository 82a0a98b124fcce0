"""HTTP routes Slack itself serves: the Web API (``/api/<method>``), ``response_url``s and
permalinks. Request parsing follows slack_sdk's clients: form or JSON POSTs, GET with a query."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from .response_url import ResponseUrls
from .state import EmulatorState
from .webapi import ApiResult, WebApi


def _bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


async def _params(request: web.Request) -> tuple[dict[str, Any], bool, str | None]:
    """``(params, is_json, early error)`` from query string and body."""
    params: dict[str, Any] = dict(request.query)
    if request.method != "POST" or not request.can_read_body:
        return params, False, None
    if request.content_type == "application/json":
        raw = await request.text()
        if not raw.strip():
            return params, True, None
        try:
            body = json.loads(raw)
        except ValueError:
            return params, True, "invalid_json"
        if not isinstance(body, dict):
            return params, True, "invalid_json"
        params.update(body)
        return params, True, None
    form = await request.post()
    params.update({k: v for k, v in form.items() if isinstance(v, str)})
    return params, False, None


def _response(result: ApiResult) -> web.Response:
    if isinstance(result.body, dict):
        return web.json_response(result.body, status=result.status, headers=result.headers)
    return web.Response(text=result.body, status=result.status, headers=result.headers)


def add_slack_routes(
    app: web.Application, state: EmulatorState, webapi: WebApi, hooks: ResponseUrls
) -> None:
    async def api(request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params, is_json, early = await _params(request)
        token = _bearer(request.headers.get("Authorization"))
        in_header = token is not None
        if token is None and not is_json:
            # A token field counts in forms and query strings; JSON bodies need the header.
            token = params.get("token") if isinstance(params.get("token"), str) else None
        result = await webapi.handle(
            method, request.method, params, token, early_error=early, token_in_header=in_header
        )
        return _response(result)

    async def response_url(request: web.Request) -> web.Response:
        result = await hooks.handle(request.match_info["id"], await request.text())
        return web.Response(text=result.body, status=result.status)

    async def permalink(request: web.Request) -> web.Response:
        channel = request.match_info["channel"]
        digits = request.match_info["p"].removeprefix("p")
        ts = f"{digits[:-6]}.{digits[-6:]}"
        message = state.find_message(channel, ts)
        if message is None:
            raise web.HTTPNotFound(text="message_not_found")
        return web.json_response({"channel": channel, "message": message.to_dict()})

    app.router.add_route("GET", "/api/{method}", api)
    app.router.add_route("POST", "/api/{method}", api)
    app.router.add_post("/response/{id}", response_url)
    app.router.add_get("/archives/{channel}/{p}", permalink)
