"""Helpers shared by tests, so that no test module imports another.

Here: Redis snapshots, a canary HTTP server, signed Slack deliveries, waiting for the bot to settle.
Beside it, imported by what needs them:

- ``tests.support.approval``: the approval flow end to end (request, click, wait for a state).
- ``tests.support.zstack_login``: ``/zstack`` commands and the login modal.
- ``tests.support.bolt``: a real Bolt app against the Slack emulator, and its test form.
- ``tests.support.browser``: the sandbox page journey in Debian's chromium (needs Playwright).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from bot.sandbox.slack_emulator.signing import signature_headers
from bot.sandbox.slack_emulator.transport import encode

# The helpers' asserts report their operands the way a test module's do.
pytest.register_assert_rewrite(
    "tests.support.approval",
    "tests.support.zstack_login",
    "tests.support.bolt",
    "tests.support.browser",
)


async def redis_snapshot(client: Any) -> dict[bytes, bytes]:
    """Every key with its serialised value (``DUMP``): equal snapshots mean nothing changed."""
    snapshot: dict[bytes, bytes] = {}
    async for key in client.scan_iter("*"):
        value = await client.dump(key)
        if value is not None:
            snapshot[key] = value
    return snapshot


@dataclass
class Canary:
    """A local HTTP server that records every request it gets (an attacker's response_url)."""

    hits: list[str] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None

    async def __aenter__(self) -> Canary:
        async def record(request: web.Request) -> web.Response:
            self.hits.append(f"{request.method} {request.path}")
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", record)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/hook"
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def signed_delivery(
    secret: str, kind: str, payload: dict[str, Any], *, at: int | None = None
) -> tuple[str, dict[str, str]]:
    """(body, headers) of a delivery as Slack signs it (``kind`` as the emulator names it)."""
    content_type, body = encode(kind, payload)  # type: ignore[arg-type]
    headers = {"Content-Type": content_type}
    headers.update(signature_headers(secret, body, int(time.time()) if at is None else at))
    return body, headers


async def settled(bot: Any, timeout: float = 20.0) -> None:
    """Wait until the bot has no work in flight after acks (background work, effects)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while bot.deps.background.in_flight or bot.deps.outbox.in_flight:
        if loop.time() > deadline:
            raise AssertionError("the bot still has work in flight")
        await asyncio.sleep(0.02)


def counter(bot: Any, name: str, **labels: str) -> float:
    """The current value of one of the bot's Prometheus counters (0 when never incremented)."""
    value = bot.deps.metrics.registry.get_sample_value(f"{name}_total", labels or None)
    return float(value or 0.0)


async def wait_until(condition: Any, timeout: float = 20.0, interval: float = 0.02) -> None:
    """Poll ``condition()`` (plain or async) until it is true; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout:g} s")
        await asyncio.sleep(interval)


async def notices_done(bot: Any, request_id: str, timeout: float = 20.0) -> None:
    """Wait until a finished request's completion notices are all recorded and nothing is left
    to deliver: after this, no further notice can be posted for it."""
    from bot.slack.notifier import COMPLETION_STEPS

    async def done() -> bool:
        record = await bot.deps.requests.require(request_id)
        pending = await bot.deps.requests.effects(request_id)
        return set(COMPLETION_STEPS) <= set(record.notified) and not pending

    await wait_until(done, timeout=timeout)
    await settled(bot, timeout=timeout)
