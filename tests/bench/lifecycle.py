"""Whole lifecycle cost: what one request costs the bot from ``/clone-model`` to its final notice.

Each request is driven as people drive it: the requester types ``/clone-model example``, the
bot fills the form, the requester submits it, the card is posted with its pre-flight checks, an
approver clicks Approve, ZStack runs the clone and the bot delivers the result to the thread, the
card and the requester's DM. Measured over the whole run and divided by the requests: the bot's
CPU (its process), Slack Web API calls (by method), ZStack requests (by operation) and Redis
commands (``INFO commandstats``, inside Lua included).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.bench.common import (
    APPROVALS,
    APPROVER,
    GENERAL,
    Row,
    Stack,
    bench_users,
    command_stats,
    log,
    ms,
)
from tests.fixtures.redis_server import RedisServer

REQUESTS = 100
QUICK_REQUESTS = 10
CONCURRENCY = 10
JOB_S = 0.5
STEP_TIMEOUT_S = 30.0
_OWN_COMMANDS = ("info", "config|resetstat", "config")


async def _until(condition: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise TimeoutError(f"lifecycle: {what} did not happen in {STEP_TIMEOUT_S:g} s")


async def one_request(stack: Stack, user: str, index: int) -> None:
    """One request, command to completion DM, as its requester and an approver drive it."""
    emu = stack.emu
    await emu.slash_command(user, GENERAL, "/clone-model", "example")

    def filled() -> Any:
        views = emu.state.open_views(user)
        return views and views[-1].callback_id == "clone_model" and views[-1]

    view = await _until(filled, f"{user}'s form")
    name = f"life-{index:04d}"
    before = {m.ts for m in emu.state.messages(APPROVALS)}
    await emu.submit_view(
        user,
        view.id,
        {"reason": {"value": "benchmark"}, "name": {"value": name}},  # type: ignore[attr-defined]
    )

    def card() -> Any:
        return next(
            (
                m
                for m in emu.state.messages(APPROVALS)
                if m.ts not in before and name in m.text and "request_approve" in str(m.blocks)
            ),
            None,
        )

    posted = await _until(card, f"the card of {name}")
    await emu.click(APPROVER, channel=APPROVALS, ts=posted.ts, action_id="request_approve")

    def delivered() -> bool:  # the completion DM: "CR-… done: life-0001 (…) was created."
        return any(f"done: {name} " in m.text for m in emu.state.dms(user))

    await _until(delivered, f"the completion DM of {name}")


async def run(redis_server: RedisServer, workdir: Path, *, quick: bool) -> list[Row]:
    count = QUICK_REQUESTS if quick else REQUESTS
    users = bench_users(count)
    async with Stack(redis_server, workdir / "lifecycle", users=count) as stack:
        stack.sim.state.set_mode(job_duration_s=JOB_S)
        async with stack.tools() as tools:
            await tools.login(users)
        bot = await stack.start_bot("lifecycle-bot", webhooks=True)
        await stack.emu.slash_command(users[0], GENERAL, "/clone-model", "help")  # warm up
        await stack.quiet(idle_s=0.3)
        sync = stack.sync_redis()
        sync.config_resetstat()
        calls_before = len(stack.emu.state.api_calls)
        zstack_before = Counter(stack.sim.state.counters()["requests_by_operation"])
        cpu_before = bot.cpu()
        began = time.monotonic()
        limit = asyncio.Semaphore(CONCURRENCY)

        async def limited(index: int, user: str) -> None:
            async with limit:
                await one_request(stack, user, index)

        await asyncio.gather(*(limited(i, u) for i, u in enumerate(users)))
        await stack.quiet(idle_s=0.5)
        wall = time.monotonic() - began
        cpu = bot.cpu() - cpu_before
        slack = Counter(c.method for c in stack.emu.state.api_calls[calls_before:])
        zstack = Counter(stack.sim.state.counters()["requests_by_operation"]) - zstack_before
        stats = command_stats(sync)
        sync.close()
    redis_total = sum(v for k, v in stats.items() if k not in _OWN_COMMANDS)
    log(
        f"lifecycle: {count} requests in {wall:.1f} s; CPU {cpu:.2f} s; Slack {dict(slack)}; "
        f"ZStack {dict(zstack)}; Redis {redis_total}"
    )

    def per(counts: Counter[str]) -> str:
        top = ", ".join(f"{k} {v / count:.1f}" for k, v in counts.most_common(6))
        return f"{sum(counts.values()) / count:.1f} ({top})"

    name = f"Lifecycle ({count} requests, {CONCURRENCY} at a time, webhooks)"
    return [
        Row(name, "bot CPU per request, command → final notice", ms(cpu / count), "info", "", "7"),
        Row(name, "Slack Web API calls per request", per(slack), "info", "", "7"),
        Row(name, "ZStack requests per request", per(zstack), "info", "", "7"),
        Row(
            name,
            "Redis commands per request (incl. inside Lua)",
            f"{redis_total / count:.0f}",
            "info",
            "",
            "7",
        ),
    ]
