"""``/_emu/zstack/*`` → the ZStack simulator's control API (``…/_sim``), so the web page's ZStack
panel stays same-origin. Without a ``zstack_control_url`` every call answers 503
``{"ok": false, "connected": false, "error": "not_connected"}``."""

from __future__ import annotations

import asyncio
import re

import aiohttp
from aiohttp import web

PROXY_TIMEOUT_S = 10.0
_TAIL = re.compile(r"^[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-]+)*$")
_HOP_BY_HOP = ("Content-Type",)


class ZStackProxy:
    def __init__(self, control_url: str | None) -> None:
        self.control_url = control_url.rstrip("/") if control_url else None
        self._session: aiohttp.ClientSession | None = None

    @property
    def connected(self) -> bool:
        return self.control_url is not None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self.control_url is None:
            body = {
                "ok": False,
                "connected": False,
                "error": "not_connected",
                "message": "the emulator has no zstack_control_url",
            }
            return web.json_response(body, status=503)
        tail = request.match_info.get("tail", "")
        if not _TAIL.match(tail):
            return web.json_response({"ok": False, "error": "bad_path"}, status=400)
        data = await request.read()
        headers = {k: request.headers[k] for k in _HOP_BY_HOP if k in request.headers}
        try:
            async with (
                asyncio.timeout(PROXY_TIMEOUT_S),
                self._client().request(
                    request.method,
                    f"{self.control_url}/{tail}",
                    params=request.query,
                    data=data or None,
                    headers=headers,
                ) as upstream,
            ):
                payload = await upstream.read()
                content_type = upstream.headers.get("Content-Type", "application/octet-stream")
                return web.Response(
                    body=payload, status=upstream.status, headers={"Content-Type": content_type}
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            body = {"ok": False, "connected": False, "error": "unreachable", "message": str(exc)}
            return web.json_response(body, status=502)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
