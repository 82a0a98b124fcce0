"""The HTTP listener: Slack's Request URL, health and readiness probes, Prometheus metrics.

``POST /slack/events`` goes through Bolt's own request path (signature check included);
``/healthz`` says the process is alive, ``/readyz`` that Redis and ZStack answer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.deps import Deps
from bot.errors import BotError, StoreUnavailable, ZStackError
from bot.metrics import CONTENT_TYPE_LATEST
from bot.slack.gate import Rejection, SlackRequestGate
from bot.slack.payloads import response_url_check
from bot.zstack.webhooks import WEBHOOK_PATH

logger = logging.getLogger(__name__)

READINESS_TIMEOUT_S = 3.0
# Answers of /readyz are reused this long (probes come every few seconds).
READINESS_CACHE_S = 2.0
# Slack's payloads are small; anything bigger is not Slack.
MAX_BODY_BYTES = 1024 * 1024


def build_web_app(bolt_app: AsyncApp, deps: Deps) -> web.Application:
    secret = deps.settings.slack_signing_secret
    gate = SlackRequestGate(
        secret.get_secret_value() if secret else None,
        on_reject=lambda r: deps.metrics.rejected_requests.labels(str(r.status)).inc(),
        trusted_response_url=response_url_check(deps.settings.slack_api_url),
    )

    answers = deps.metrics.slack_answers

    async def slack_events(request: web.Request) -> web.Response:
        arrived = time.perf_counter()
        # Verified before parsed: an unsigned request never reaches Bolt (nor its error handler).
        verdict = gate.check(request.headers, await request.read())
        if isinstance(verdict, Rejection):
            return web.json_response({"error": verdict.reason}, status=verdict.status)
        bolt_request = AsyncBoltRequest(
            body=verdict.text,
            query=request.query_string,
            headers=dict(request.headers),
        )
        bolt_response = await bolt_app.async_dispatch(bolt_request)
        answer = await to_aiohttp_response(bolt_response)
        answers.observe(time.perf_counter() - arrived)
        return answer

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    ready = ReadinessCache(deps)

    async def readyz(_request: web.Request) -> web.Response:
        checks = await ready.checks()
        status = 200 if all(checks.values()) else 503
        return web.json_response(
            {"status": "ready" if status == 200 else "not ready", "checks": checks}, status=status
        )

    async def metrics(_request: web.Request) -> web.Response:
        response = web.Response(body=deps.metrics.render())
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    async def zstack_webhook(request: web.Request) -> web.Response:
        return await receive_webhook(request, deps)

    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app.router.add_post(WEBHOOK_PATH + "/{request_id}/{job_uuid}/{mac}", zstack_webhook)
    app.router.add_post("/slack/events", slack_events)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app


async def receive_webhook(request: web.Request, deps: Deps) -> web.Response:
    """A ZStack job callback: only URLs the bot issued, only for the job they name. What it
    claims is never believed: the executor asks ZStack how the job ended."""
    request_id = request.match_info["request_id"]
    job_uuid = request.match_info["job_uuid"]
    if not deps.webhooks.verify(request_id, job_uuid, request.match_info["mac"]):
        return web.json_response({"error": "forbidden"}, status=403)
    if request.headers.get("X-Job-UUID") != job_uuid:
        return web.json_response({"error": "X-Job-UUID missing or different"}, status=400)
    success = request.headers.get("X-Job-Success", "").lower()
    if success not in ("true", "false"):
        return web.json_response({"error": "X-Job-Success missing"}, status=400)
    await request.read()  # the body is ZStack's claim; only ZStack's job answer decides
    try:
        if await deps.requests.get(request_id) is None:
            return web.json_response({"error": "unknown request"}, status=404)
        applied = await deps.executor.on_callback(request_id, job_uuid, success == "true")
    except BotError as exc:  # Redis trouble: ZStack delivers the callback again
        logger.warning("webhook not handled", extra={"request_id": request_id, "error": str(exc)})
        return web.json_response({"error": "try again"}, status=503)
    return web.json_response({"ok": True, "applied": applied})


class ReadinessCache:
    """``/readyz`` is unauthenticated: while all is well, probes (or anyone) asking in a burst
    share one check of Redis and ZStack per ``READINESS_CACHE_S`` instead of each costing a
    ZStack call. A failed check is not reused, so recovery shows at the next probe."""

    def __init__(self, deps: Deps, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._deps = deps
        self._clock = clock
        self._last: tuple[float, dict[str, bool]] | None = None
        self._lock = asyncio.Lock()

    async def checks(self) -> dict[str, bool]:
        async with self._lock:
            now = self._clock()
            if self._last is not None and now - self._last[0] < READINESS_CACHE_S:
                return dict(self._last[1])
            checks = await readiness(self._deps)
            self._last = (self._clock(), checks) if all(checks.values()) else None
            return checks


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
