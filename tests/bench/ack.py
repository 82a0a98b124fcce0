"""Ack path: signed ``/clone-model`` commands at fixed concurrency, bot vs. bare Bolt.

Both servers run as their own processes (``python -m bot run`` and ``tests.bench.bare``); the
emulator is their Slack, so the bot's ``views.open``/``views.update`` after the ack really happen.
The load generator is the emulator's own delivery (signed as Slack signs, one aiohttp session):
each of ``concurrency`` workers sends a command, waits for the HTTP response, sends the next.
Latency is the command POST's response time; throughput counts responses in the window.

Targets: at 16 in flight (target 2) the bot's ack p99 at most 3× bare Bolt's, its throughput at
least 0.5× and every ``views.open`` within the trigger's 3 s; at every level (target 1) at most
4 ms of CPU per command, to the filled form. At 1 and 64 in flight the ratios are shown for
comparison; the ``views.open`` and CPU targets apply there too.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.bench.common import (
    GENERAL,
    Row,
    ServerProcess,
    Stack,
    against,
    bench_users,
    collector_paused,
    cpu_seconds,
    log,
    ms,
    percentile,
    verdict,
)
from tests.fixtures.redis_server import RedisServer

CONCURRENCY = (1, 16, 64)
QUICK_CONCURRENCY = (1, 16)
# Per measured point: warm-up (discarded), then the window.
WARMUP_S = 1.0
WINDOW_S = 6.0
QUICK_WINDOW_S = 2.0
# Distinct callers, so a user's next command does not replace a form still being filled in.
USERS = 1024
QUICK_USERS = 128
# Target 2, at TARGET_CONCURRENCY in flight: ack p99 and throughput against bare Bolt's.
TARGET_CONCURRENCY = 16
P99_RATIO_MAX = 3.0
THROUGHPUT_RATIO_MIN = 0.5
# Target 1: server CPU per /clone-model, command to filled form, follow-up work included.
CPU_PER_COMMAND_MAX_S = 0.004
# The emulator scans its command records on every views call: keep the list short.
_KEEP_COMMANDS = 256


@dataclass
class Point:
    target: str
    concurrency: int
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    window_s: float = 0.0
    # CPU used during the window (seconds per second): the server, and this process.
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    # Server CPU from the first command until its follow-ups are done, per filled form.
    cpu_per_command: float = 0.0
    sent: int = 0
    filled: int = 0  # views.update answered ok: forms that reached the user
    # Commands answered in the window, and those whose views.open came within the 3 s trigger.
    triggers: list[str] = field(default_factory=list)
    opened_in_time: int = 0
    # The bot's own answer times in the window (its histogram): bucket bound → count.
    answered: dict[float, float] = field(default_factory=dict)

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.window_s if self.window_s else 0.0

    def p(self, q: float) -> float:
        return percentile(self.latencies, q)


async def drive(
    stack: Stack,
    server: ServerProcess,
    users: list[str],
    target: str,
    concurrency: int,
    window_s: float,
) -> Point:
    """``concurrency`` workers for ``WARMUP_S + window_s`` seconds; only the window counts."""
    emu = stack.emu
    emu.app_url = f"{server.url}/slack/events"
    point = Point(target, concurrency, window_s=window_s)
    begin = time.perf_counter() + WARMUP_S
    end = begin + window_s
    sent = 0
    total_cpu = server.cpu()
    calls_before = len(emu.state.api_calls)

    async def worker(index: int) -> None:
        nonlocal sent
        n = index
        while True:
            user = users[n % len(users)]
            n += concurrency
            sent += 1
            delivery = await emu.slash_command(user, GENERAL, "/clone-model", "")
            done = time.perf_counter()
            if done > end:
                return
            if done >= begin:
                if delivery.ok:
                    point.latencies.append(delivery.latency)
                else:
                    point.errors += 1
                if delivery.trigger_id:
                    point.triggers.append(delivery.trigger_id)
            if len(emu.state.commands) > 4 * _KEEP_COMMANDS:
                del emu.state.commands[:-_KEEP_COMMANDS]

    with collector_paused():
        workers = asyncio.gather(*(worker(i) for i in range(concurrency)))
        await asyncio.sleep(WARMUP_S)
        spy = server.profile(f"ack-{target}-c{concurrency}", window_s)
        cpu = (server.cpu(), cpu_seconds())
        answered = await answer_buckets(server) if target == "bot" else {}
        await workers
    if target == "bot":
        after = await answer_buckets(server)
        point.answered = {le: n - answered.get(le, 0.0) for le, n in after.items()}
    point.server_cpu = (server.cpu() - cpu[0]) / window_s
    point.client_cpu = (cpu_seconds() - cpu[1]) / window_s
    if spy is not None:
        await asyncio.to_thread(spy.wait)
    await stack.quiet(idle_s=0.3)
    calls = emu.state.api_calls[calls_before:]
    point.sent = sent
    # The emulator marks a trigger used only by a views.open within its 3 s (else it refuses).
    triggers = emu.state.triggers
    point.opened_in_time = sum(
        (trigger := triggers.get(t)) is not None and trigger.used_at is not None
        for t in point.triggers
    )
    point.filled = sum(c.method == "views.update" and c.ok for c in calls)
    # The bare app fills no form: its CPU is per command.
    per = point.filled if target == "bot" else sent
    point.cpu_per_command = (server.cpu() - total_cpu) / per if per else float("nan")
    return point


async def answer_buckets(server: ServerProcess) -> dict[float, float]:
    """The bot's ``clonebot_slack_answer_seconds`` histogram: bucket bound → requests so far."""
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        text = (await http.get("/metrics")).text
    return {
        float(sample.labels["le"]): sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "clonebot_slack_answer_seconds"
        for sample in family.samples
        if sample.name.endswith("_bucket")
    }


def bucket_quantile(buckets: dict[float, float], q: float) -> float:
    """The upper bound of the bucket that holds quantile ``q`` (cumulative counts)."""
    total = buckets.get(float("inf"), 0.0)
    for le in sorted(buckets):
        if total and buckets[le] >= total * q / 100:
            return le
    return float("nan")


async def warm(stack: Stack, server: ServerProcess, users: list[str]) -> None:
    """Point the emulator at ``server`` and send a few commands (the first one runs auth.test)."""
    stack.emu.app_url = f"{server.url}/slack/events"
    for user in users[:20]:
        delivery = await stack.emu.slash_command(user, GENERAL, "/clone-model", "")
        if not delivery.ok:
            raise RuntimeError(f"{server.argv} did not ack: {delivery.status} {delivery.error}")
    await stack.quiet(idle_s=0.3)


async def run(redis_server: RedisServer, workdir: Path, *, quick: bool) -> list[Row]:
    levels = QUICK_CONCURRENCY if quick else CONCURRENCY
    window = QUICK_WINDOW_S if quick else WINDOW_S
    user_count = QUICK_USERS if quick else USERS
    async with Stack(redis_server, workdir / "ack", users=user_count) as stack:
        users = bench_users(user_count)
        async with stack.tools() as tools:
            await tools.login(users)  # callers are logged in: the form path, not the login modal
        bot = await stack.start_bot("ack-bot")
        bare = await stack.start_bare()
        await warm(stack, bot, users)
        await warm(stack, bare, users)
        points: list[tuple[Point, Point]] = []
        for level in levels:
            # Alternate the order so slow drift (caches, Redis growth) does not favour one side.
            order = [("bare", bare), ("bot", bot)] if level % 2 else [("bot", bot), ("bare", bare)]
            measured: dict[str, Point] = {}
            for name, server in order:
                measured[name] = await drive(stack, server, users, name, level, window)
                stack.emu.state.commands.clear()
                log(
                    f"ack c={level} {name}: {measured[name].throughput:.0f} req/s, "
                    f"p50 {ms(measured[name].p(50))}, p99 {ms(measured[name].p(99))}, "
                    f"errors {measured[name].errors}, CPU server {measured[name].server_cpu:.0%} "
                    f"load generator + emulator {measured[name].client_cpu:.0%}, "
                    f"CPU per command {ms(measured[name].cpu_per_command)} "
                    f"({measured[name].filled} forms filled of {measured[name].sent} sent)"
                )
            points.append((measured["bot"], measured["bare"]))
    return rows(points)


def rows(points: list[tuple[Point, Point]]) -> list[Row]:
    out: list[Row] = []
    for bot, bare in points:
        c = bot.concurrency
        t_ratio = bot.throughput / bare.throughput if bare.throughput else 0.0
        p50_ratio = bot.p(50) / bare.p(50) if bare.latencies else float("nan")
        p99_ratio = bot.p(99) / bare.p(99) if bare.latencies else float("nan")
        target = c == TARGET_CONCURRENCY
        item = "2" if target else ""
        out += [
            Row(
                "Ack path",
                f"c={c} throughput",
                f"{bot.throughput:.0f} req/s",
                f"{bare.throughput:.0f} req/s (bare Bolt)"
                + (f"; ≥ {THROUGHPUT_RATIO_MIN:g}×" if target else ""),
                f"{t_ratio:.2f}× "
                + (
                    against(t_ratio, THROUGHPUT_RATIO_MIN, _times, at_most=False)
                    if target
                    else "(info)"
                ),
                item,
            ),
            Row(
                "Ack path",
                f"c={c} p50 ack latency",
                ms(bot.p(50)),
                f"{ms(bare.p(50))} (bare Bolt)",
                f"{p50_ratio:.2f}× (info)",
            ),
            Row(
                "Ack path",
                f"c={c} p99 ack latency",
                ms(bot.p(99)),
                f"{ms(bare.p(99))} (bare Bolt)" + (f"; ≤ {P99_RATIO_MAX:g}×" if target else ""),
                f"{p99_ratio:.2f}× "
                + (against(p99_ratio, P99_RATIO_MAX, _times) if target else "(info)"),
                item,
            ),
            Row(
                "Ack path",
                f"c={c} bot's own answer time p50 / p99 (its histogram's bucket bounds)",
                " / ".join(f"≤ {ms(bucket_quantile(bot.answered, q))}" for q in (50, 99)),
                "from the handler's start to its answer; the latency above adds the wait in "
                "the sockets and in this process",
                "(info)",
            ),
            Row(
                "Ack path",
                f"c={c} views.open within 3 s",
                f"{bot.opened_in_time}/{len(bot.triggers)}",
                "all",
                verdict(bool(bot.triggers) and bot.opened_in_time == len(bot.triggers)),
                "2",
            ),
            Row(
                "Ack path",
                f"c={c} CPU per command (to the filled form, follow-ups included)",
                ms(bot.cpu_per_command),
                f"{ms(bare.cpu_per_command)} (bare Bolt, ack only); ≤ 4 ms",
                against(bot.cpu_per_command, CPU_PER_COMMAND_MAX_S, ms),
                "1",
            ),
            Row(
                "Ack path",
                f"c={c} failed acks (no 200 within 3 s)",
                str(bot.errors),
                f"{bare.errors} (bare Bolt); 0",
                verdict(bot.errors == 0),
                item,
            ),
        ]
    return out


def _times(ratio: float) -> str:
    return f"{ratio:.2f}×"
