"""Pipeline: 1,000 approved clones at once, 5-second ZStack jobs, polling and then webhooks; then
with Slack's rate limits enforced by the emulator (webhooks, the bot pacing itself, requests from
``LIMITED_REQUESTERS`` people), where the time until the last card is final is reported too.

Set-up goes through the bot's own code (``CloneFlow.create`` + ``CardPublisher.publish`` in this
process: the records and cards are exactly what a submitted form produces). Then an approver
clicks Approve on every card at once, through the emulator, and the bot (its own process) does
the rest: approval, submission as the requester, tracking, completion notices.

Measured: wall time from the clicks to the last completion DM; per request, the delay from the
simulator finishing the job to the requester's completion DM; ZStack requests per job (the
simulator's counters); Redis commands per request (``INFO commandstats``, commands inside Lua
scripts included); duplicates and losses (exactly one completion notice in the thread and one DM
per request); Redis memory of one finished request (``MEMORY USAGE`` of each of its keys).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bot.metrics import Metrics
from bot.requests.intake import CloneFlow
from bot.requests.model import CloneRequest, State
from bot.slack.publisher import CardPublisher
from bot.store import keys
from bot.ui.clone_form import validate_form
from tests.bench.common import (
    APPROVALS,
    APPROVER,
    EXAMPLE_SOURCE,
    POLL_MAX_S,
    REQUESTER,
    TEAM,
    Row,
    Stack,
    Tools,
    bench_users,
    command_stats,
    log,
    percentile,
    secs,
    verdict,
)
from tests.fixtures.redis_server import RedisServer

CLONES = 1000
QUICK_CLONES = 100
JOB_S = 5.0
QUICK_JOB_S = 2.0
PREPARE_CONCURRENCY = 50
# Stop waiting for the rest when no new notice came for this long (after the jobs' duration).
STALL_S = 30.0
# After the last notice: how long late duplicates still count.
DUPLICATE_WATCH_S = 3.0
MAX_ZSTACK_PER_JOB = 8
WEBHOOK_P99_MAX_S = 1.0
MEMORY_SAMPLE = 50
MAX_BYTES_PER_RECORD = 4096
# With Slack's limits: every post in the approval channel waits its turn (about one a second),
# so a run takes at least two seconds per approval (the "approved" note and the thread reply).
LIMITED_CLONES = 1000
QUICK_LIMITED_CLONES = 20
LIMITED_REQUESTERS = 50
LIMITED_DM_P99_MAX_S = 5.0
_NOTICE = re.compile(r"^(CR-[0-9A-Z]{6})\b")
# Redis commands the benchmark itself sends while measuring.
_OWN_COMMANDS = ("info", "config|resetstat", "config")


@dataclass
class Outcome:
    mode: str
    count: int
    last_card_s: float = float("nan")  # clicks → the last card drawn in its final state
    rate_limited: int = 0  # 429s Slack answered
    wall_s: float = float("nan")
    delays: list[float] = field(default_factory=list)
    zstack_per_job: float = 0.0  # per clone job ZStack accepted
    redis_per_request: float = 0.0
    redis_top: list[tuple[str, int]] = field(default_factory=list)
    duplicates: int = 0
    losses: int = 0
    not_succeeded: int = 0
    bytes_per_record: float = 0.0


async def prepare(
    stack: Stack, tools: Tools, count: int, requesters: list[str]
) -> list[CloneRequest]:
    """``count`` pending requests, created and posted exactly as a submitted form does."""
    flow = CloneFlow(
        settings=tools.settings, zstack=tools.zstack, store=tools.requests, sessions=tools.sessions
    )
    client = tools.slack
    publisher = CardPublisher(client, tools.requests, tools.settings, Metrics())
    limit = asyncio.Semaphore(PREPARE_CONCURRENCY)

    async def one(index: int) -> CloneRequest:
        form, errors = validate_form(
            {"source": EXAMPLE_SOURCE, "name": f"bench-{index:05d}", "reason": "benchmark"}
        )
        assert form is not None, errors
        async with limit:
            record = await flow.create(
                team_id=TEAM,
                requester=requesters[index % len(requesters)],
                origin_channel=APPROVALS,
                form=form,
                source_name="example",
            )
            # Posted here, as the outbox would; its first effects (the card, the pre-flight
            # checks, which run again at approval anyway) are then done, not left to the bot.
            await publisher.publish(record, maybe_posted=False)
            for slot, _effect in await tools.requests.effects(record.id):
                await tools.requests.effect_done(record.id, slot)
            return await tools.requests.require(record.id)

    return list(await asyncio.gather(*(one(i) for i in range(count))))


def _notices(
    stack: Stack, start: int, requesters: set[str]
) -> tuple[dict[str, list[float]], dict[str, int], int]:
    """Completion DMs (request id → arrival times), thread notices per request, calls seen."""
    calls = stack.emu.state.api_calls
    dms: dict[str, list[float]] = {}
    threads: Counter[str] = Counter()
    for call in calls[start:]:
        if call.method != "chat.postMessage" or not call.ok or not call.params.get("blocks"):
            continue
        match = _NOTICE.match(str(call.params.get("text") or ""))
        if match is None:
            continue
        channel = call.params.get("channel")
        if channel in requesters:
            dms.setdefault(match[1], []).append(call.received_wall)
        elif channel == APPROVALS and call.params.get("thread_ts"):
            threads[match[1]] += 1
    return dms, dict(threads), len(calls)


async def _drain(
    stack: Stack, mark: int, ids: set[str], job_s: float, requesters: set[str]
) -> None:
    """Until every request's completion DM arrived, or none came for ``STALL_S``."""
    seen, progress = 0, time.monotonic() + job_s
    while True:
        dms, _threads, _ = _notices(stack, mark, requesters)
        if ids.issubset(dms):
            return
        if len(dms) > seen:
            seen, progress = len(dms), max(progress, time.monotonic())
        elif time.monotonic() - progress > STALL_S:
            log(f"pipeline: {len(ids - set(dms))} completion notices never came")
            return
        await asyncio.sleep(0.25)


async def _cards_final(tools: Tools, ids: set[str]) -> None:
    """Until every card is drawn in its final state and no effect is left, or ``STALL_S``."""
    deadline = time.monotonic() + STALL_S
    left = set(ids)
    while left and time.monotonic() < deadline:
        for request_id in sorted(left):
            record = await tools.requests.get(request_id)
            if record is None or (
                "card" in record.notified and not await tools.requests.effects(request_id)
            ):
                left.discard(request_id)
                deadline = time.monotonic() + STALL_S
        await asyncio.sleep(0.5)
    if left:
        log(f"pipeline: {len(left)} cards never final")


def _last_card_at(stack: Stack, mark: int, records: list[CloneRequest]) -> float:
    cards = {r.card_ts for r in records if r.card_ts}
    times = [
        c.received_wall
        for c in stack.emu.state.api_calls[mark:]
        if c.method == "chat.update" and c.ok and c.params.get("ts") in cards
    ]
    return max(times, default=float("nan"))


async def one_mode(
    redis_server: RedisServer,
    workdir: Path,
    *,
    count: int,
    job_s: float,
    webhooks: bool,
    limits: bool = False,
) -> Outcome:
    mode = ("webhooks" if webhooks else "polling") + (", Slack's limits" if limits else "")
    name = "limits" if limits else mode
    outcome = Outcome(mode, count)
    people = LIMITED_REQUESTERS if limits else 0
    requesters = bench_users(people) if limits else [REQUESTER]
    async with Stack(redis_server, workdir / f"pipeline-{name}", users=people) as stack:
        stack.sim.state.set_mode(job_duration_s=job_s)
        bot = await stack.start_bot(f"pipeline-{name}", webhooks=webhooks, slack_pace=limits)
        async with stack.tools() as tools:
            await tools.login(requesters)
            began = time.monotonic()
            records = await prepare(stack, tools, count, requesters)
            posted_s = time.monotonic() - began
            log(f"pipeline/{mode}: {count} pending requests posted in {posted_s:.1f} s")
            await stack.quiet(idle_s=0.3)
            ids = {r.id for r in records}
            sync = stack.sync_redis()
            sync.config_resetstat()
            zstack_before = stack.sim_requests()
            mark = len(stack.emu.state.api_calls)
            # Set-up posted the cards as fast as it could; from here on Slack counts.
            stack.emu.rate_limits.enabled = limits
            started = time.time()
            spy = bot.profile(f"pipeline-{mode}", job_s + 15)
            clicks = await asyncio.gather(
                *(
                    stack.emu.click(
                        APPROVER, channel=APPROVALS, ts=r.card_ts or "", action_id="request_approve"
                    )
                    for r in records
                )
            )
            refused = sum(not c.ok for c in clicks)
            clicked_s = time.time() - started
            log(f"pipeline/{mode}: {count} clicks in {clicked_s:.1f} s ({refused} not acked)")
            await _drain(stack, mark, ids, job_s, set(requesters))
            if limits:
                await _cards_final(tools, ids)
                outcome.last_card_s = _last_card_at(stack, mark, records) - started
            stats = command_stats(sync)
            if spy is not None:
                spy.terminate()
            zstack_total = stack.sim_requests() - zstack_before
            await asyncio.sleep(DUPLICATE_WATCH_S)
            dms, threads, _ = _notices(stack, mark, set(requesters))
            outcome.rate_limited = sum(c.status == 429 for c in stack.emu.state.api_calls[mark:])
            jobs = stack.sim.state.jobs.jobs
            stored = [await tools.requests.get(i) for i in sorted(ids)]
            finished = [r for r in stored if r and r.state == State.SUCCEEDED]
            outcome.bytes_per_record = _bytes_per_record(sync, finished[:MEMORY_SAMPLE])
            sync.close()
    last = max((min(times) for times in dms.values()), default=float("nan"))
    outcome.wall_s = last - started
    for record in stored:
        if record is None:
            outcome.losses += 1
            continue
        if record.state != State.SUCCEEDED:
            outcome.not_succeeded += 1
        got = dms.get(record.id, [])
        job = jobs.get(record.job_uuid or "")
        if got and job is not None and job.finished_at is not None:
            outcome.delays.append(min(got) - job.finished_at)
        in_thread = threads.get(record.id, 0)
        if not got or not in_thread:
            outcome.losses += 1
        outcome.duplicates += max(0, len(got) - 1) + max(0, in_thread - 1)
    own = sum(stats.get(name, 0) for name in _OWN_COMMANDS)
    outcome.redis_per_request = (sum(stats.values()) - own) / count
    outcome.redis_top = Counter(
        {k: v for k, v in stats.items() if k not in _OWN_COMMANDS}
    ).most_common(8)
    outcome.zstack_per_job = zstack_total / max(1, len(jobs))
    log(
        f"pipeline/{mode}: wall {secs(outcome.wall_s)}, delay p50 "
        f"{secs(percentile(outcome.delays, 50))} p99 {secs(percentile(outcome.delays, 99))}, "
        f"ZStack/job {outcome.zstack_per_job:.2f} "
        f"{dict(stack.sim.state.counters()['requests_by_operation'])}, "
        f"Redis/request {outcome.redis_per_request:.1f} top {outcome.redis_top}, "
        f"duplicates {outcome.duplicates}, losses {outcome.losses}, "
        f"not succeeded {outcome.not_succeeded}, {outcome.bytes_per_record:.0f} B/record, "
        f"last card final {secs(outcome.last_card_s)}, 429s {outcome.rate_limited}"
    )
    return outcome


def _bytes_per_record(client: object, records: list[CloneRequest]) -> float:
    """Average ``MEMORY USAGE`` over every key one finished request keeps."""
    import redis

    assert isinstance(client, redis.Redis)
    prefix = "clonebot:"
    total = 0
    for record in records:
        names = [keys.request_key(prefix, record.id, part) for part in keys.REQUEST_PARTS]
        if record.card_ts:
            names.append(keys.thread_key(prefix, record.channel, record.card_ts))
        total += sum(int(client.memory_usage(name, samples=0) or 0) for name in names)
    return total / len(records) if records else float("nan")


async def run(redis_server: RedisServer, workdir: Path, *, quick: bool) -> list[Row]:
    count = QUICK_CLONES if quick else CLONES
    job_s = QUICK_JOB_S if quick else JOB_S
    outcomes = [
        await one_mode(redis_server, workdir, count=count, job_s=job_s, webhooks=webhooks)
        for webhooks in (False, True)
    ]
    limited = QUICK_LIMITED_CLONES if quick else LIMITED_CLONES
    outcomes.append(
        await one_mode(
            redis_server, workdir, count=limited, job_s=job_s, webhooks=True, limits=True
        )
    )
    rows: list[Row] = []
    for o in outcomes:
        name = f"Pipeline ({o.mode})"
        count = o.count
        p99 = percentile(o.delays, 99)
        limit = {"webhooks": WEBHOOK_P99_MAX_S, "polling": POLL_MAX_S}.get(
            o.mode, LIMITED_DM_P99_MAX_S
        )
        if o.last_card_s == o.last_card_s:  # measured (not NaN): with Slack's limits
            rows.append(
                Row(
                    name,
                    f"clicks → last card final; 429s answered ({LIMITED_REQUESTERS} requesters)",
                    f"{secs(o.last_card_s)}; {o.rate_limited}",
                    "info",
                )
            )
        rows += [
            Row(
                name,
                f"wall time, {count} approvals → last completion DM ({job_s:g} s jobs)",
                secs(o.wall_s),
                "info",
            ),
            Row(
                name,
                "job done → completion DM p50 / p99",
                f"{secs(percentile(o.delays, 50))} / {secs(p99)} ({len(o.delays)} of {count})",
                f"p99 ≤ {limit:g} s" + (" (poll cap)" if o.mode == "polling" else ""),
                verdict(p99 <= limit if o.delays else False),
            ),
            Row(
                name,
                "ZStack requests per job",
                f"{o.zstack_per_job:.2f}",
                f"≤ {MAX_ZSTACK_PER_JOB}",
                verdict(o.zstack_per_job <= MAX_ZSTACK_PER_JOB),
            ),
            Row(
                name,
                "Redis commands per request (incl. inside Lua)",
                f"{o.redis_per_request:.0f}",
                "info",
            ),
            Row(
                name,
                "duplicates / losses",
                f"{o.duplicates} / {o.losses}",
                "0 / 0",
                verdict(o.duplicates == 0 and o.losses == 0),
            ),
        ]
        if o.not_succeeded:
            rows.append(
                Row(name, "requests not succeeded", str(o.not_succeeded), "0", verdict(False))
            )
    finished = outcomes[0].bytes_per_record
    rows.append(
        Row(
            "Footprint",
            "Redis per request record (finished request, all its keys)",
            f"{finished / 1024:.2f} KB",
            "≤ 4 KB",
            verdict(finished <= MAX_BYTES_PER_RECORD),
        )
    )
    return rows
