"""The 3-second window: 200 ``/clone-model`` commands at once while ZStack answers lookups in 1.5 s.

Slack's ``trigger_id`` lives 3 s, so the bot must open its modal (``views.open``) before any slow
lookup. The emulator records, per command, when it was sent and when the first ``views.open`` for
its trigger arrived; every caller is logged in (session in Redis) and names the source by name, so
each command really queries ZStack (``QueryModelService``, slowed to 1.5 s by the simulator).

Targets: command → filled form (the first ``views.update``) p99 at most 2.5 s (target 3), a form
that was never filled counting as too late; at most 4 ms of the bot's CPU per form filled from a
lookup by name (target 1); every ``views.open`` within the trigger's 3 s.
"""

from __future__ import annotations

import asyncio
import math
import time
from pathlib import Path

from tests.bench.common import (
    GENERAL,
    Row,
    Stack,
    against,
    bench_users,
    collector_paused,
    log,
    ms,
    percentile,
    verdict,
)
from tests.fixtures.redis_server import RedisServer

COMMANDS = 200
QUICK_COMMANDS = 50
LOOKUP_LATENCY_S = 1.5
WINDOW_S = 3.0
# Names the seed's "example" service: an exact-name QueryModelService.
SOURCE_NAME = "example"
SETTLE_TIMEOUT_S = 20.0
CPU_PER_FORM_MAX_S = 0.004
FILLED_P99_MAX_S = 2.5


async def run(redis_server: RedisServer, workdir: Path, *, quick: bool) -> list[Row]:
    count = QUICK_COMMANDS if quick else COMMANDS
    users = bench_users(count)
    async with Stack(redis_server, workdir / "burst", users=count) as stack:
        async with stack.tools() as tools:
            await tools.login(users)
        bot = await stack.start_bot("burst-bot")
        # Warm the bot up (auth.test, connection pools) with one command, then start clean.
        await stack.emu.slash_command(users[0], GENERAL, "/clone-model", "help")
        await stack.quiet(idle_s=0.3)
        stack.emu.reset()
        stack.sim.state.set_latency(LOOKUP_LATENCY_S, ["QueryModelService"])
        sent = time.monotonic()
        cpu_before = bot.cpu()
        spy = bot.profile("burst", 4)
        with collector_paused():
            deliveries = await asyncio.gather(
                *(stack.emu.slash_command(u, GENERAL, "/clone-model", SOURCE_NAME) for u in users)
            )
            lookups_done = await _settle(stack, count)
        await stack.quiet(idle_s=0.3)
        if spy is not None:
            await asyncio.to_thread(spy.wait)
        # Each command looks its source up by name: the whole path to a form filled from ZStack.
        cpu_per_form = (bot.cpu() - cpu_before) / lookups_done if lookups_done else float("nan")
        log(f"burst: all commands answered and settled in {time.monotonic() - sent:.1f} s")
        commands = list(stack.emu.state.commands)
        delays = [c.views_open_delay for c in commands if c.views_open_delay is not None]
        updates = _form_delays(stack)
    # A form never filled is later than any: it counts as infinitely late.
    filled = updates + [math.inf] * max(0, count - len(updates))
    filled_p99 = percentile(filled, 99)
    within = sum(d <= WINDOW_S for d in delays)
    failed_acks = sum(not d.ok for d in deliveries)
    share = within / count if count else 0.0
    ack_p99 = percentile([d.latency for d in deliveries if d.ok], 99)
    log(
        f"burst: views.open within 3 s {within}/{count}, p50 {ms(percentile(delays, 50))}, "
        f"p99 {ms(percentile(delays, 99))}, max {ms(max(delays, default=float('nan')))}; "
        f"ack p99 {ms(ack_p99)}; lookups done {lookups_done}; "
        f"CPU per filled form {ms(cpu_per_form)}"
    )
    return [
        Row(
            "Burst",
            f"views.open within 3 s ({count} commands at once, lookups 1.5 s)",
            f"{within}/{count} ({share:.0%})",
            "100 %",
            verdict(within == count),
        ),
        Row(
            "Burst",
            "views.open delay p50 / p99",
            f"{ms(percentile(delays, 50))} / {ms(percentile(delays, 99))}",
            "p99 < 3 s",
            verdict(percentile(delays, 99) < WINDOW_S if delays else False),
        ),
        Row(
            "Burst",
            "ack p99 / failed acks",
            f"{ms(ack_p99)} / {failed_acks}",
            "ack < 3 s, 0 failed",
            verdict(failed_acks == 0 and ack_p99 < WINDOW_S),
        ),
        Row(
            "Burst",
            "command → filled form (views.update) p50 / p99",
            f"{ms(percentile(filled, 50))} / {ms(filled_p99)} ({len(updates)}/{count} filled)",
            "p99 ≤ 2.5 s (the 1.5 s lookup included)",
            against(filled_p99, FILLED_P99_MAX_S, ms),
            "3",
        ),
        Row(
            "Burst",
            "CPU per form filled from a lookup by name",
            ms(cpu_per_form),
            "≤ 4 ms",
            against(cpu_per_form, CPU_PER_FORM_MAX_S, ms),
            "1",
        ),
    ]


async def _settle(stack: Stack, count: int) -> int:
    """Wait until every command's form was filled in (or the timeout); how many were."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while time.monotonic() < deadline:
        done = len(_form_delays(stack))
        if done >= count:
            return done
        await asyncio.sleep(0.2)
    return len(_form_delays(stack))


def _form_delays(stack: Stack) -> list[float]:
    """Per command, from sending it to the bot's first ``views.update`` of its modal."""
    state = stack.emu.state
    sent = {c.user: c.sent_at for c in state.commands}
    first: dict[str, float] = {}
    for call in state.calls("views.update"):
        view_id = str(call.params.get("view_id") or "")
        view = state.views.get(view_id)
        if view is None or view.user in first or view.user not in sent:
            continue
        first[view.user] = call.received_at - sent[view.user]
    return list(first.values())
