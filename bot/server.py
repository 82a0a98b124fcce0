"""The HTTP listener: Slack's Request URL, health and readiness probes, Prometheus metrics.

``POST /slack/events`` goes through Bolt's own request path (signature check included);
``/healthz`` says the process is alive, ``/readyz`` that Redis and ZStack answer.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

from bot.deps import Deps
from bot.errors import StoreUnavailable, ZStackError
from bot.metrics import CONTENT_TYPE_LATEST

logger = logging.getLogger(__name__)

READINESS_TIMEOUT_S = 3.0
# Slack's payloads are small; anything bigger is not Slack.
MAX_BODY_BYTES = 1024 * 1024


def build_web_app(bolt_app: AsyncApp, deps: Deps) -> web.Application:
    async def slack_events(request: web.Request) -> web.Response:
        bolt_request = await to_bolt_request(request)
        bolt_response = await bolt_app.async_dispatch(bolt_request)
        return await to_aiohttp_response(bolt_response)

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_request: web.Request) -> web.Response:
        checks = await readiness(deps)
        status = 200 if all(checks.values()) else 503
        return web.json_response(
            {"status": "ready" if status == 200 else "not ready", "checks": checks}, status=status
        )

    async def metrics(_request: web.Request) -> web.Response:
        response = web.Response(body=deps.metrics.render())
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app.router.add_post("/slack/events", slack_events)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app


async def readiness(deps: Deps) -> dict[str, bool]:
    """Whether Redis and ZStack answer, each within a short timeout."""

    async def redis_ok() -> bool:
        try:
            return await asyncio.wait_for(deps.redis.ping(), READINESS_TIMEOUT_S)
        except (StoreUnavailable, TimeoutError):
            return False

    async def zstack_ok() -> bool:
        try:
            return await asyncio.wait_for(deps.zstack.ping(), READINESS_TIMEOUT_S)
        except (ZStackError, TimeoutError):
            return False

    redis_state, zstack_state = await asyncio.gather(redis_ok(), zstack_ok())
    return {"redis": redis_state, "zstack": zstack_state}
