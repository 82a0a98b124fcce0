"""Pipeline: 1,000 approved clones at once, 5-second ZStack jobs, polling and then webhooks; then
with Slack's rate limits enforced by the emulator (webhooks, the bot pacing itself, requests from
``LIMITED_REQUESTERS`` people), where the time until the last card is final is reported too.

Without limits (target 6) the approver's clicks go as fast as the bot answers them,
``CLICKS_IN_FLIGHT`` at a time (a flood: the 1,000 are in within seconds). With Slack's limits
(target 5) they come at ``LIMITED_CLICKS_PER_S`` (approvers working through a queue), since Slack
itself carries no faster: the approval channel's thread notes go about one a second, and every
post of the workspace shares one limit (``bot.sandbox.slack_emulator.ratelimits``). Each click's
ack is measured from when it was sent; one not answered within 3 s is a failed ack, as in Slack.

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
import json
import math
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
    against,
    bench_users,
    collector_paused,
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
WEBHOOK_P99_MAX_S = 1.5
# Clicks sent at once at most (each as soon as one is answered).
CLICKS_IN_FLIGHT = 16
MEMORY_SAMPLE = 50
MAX_BYTES_PER_RECORD = 4096
# With Slack's limits: every post in the approval channel waits its turn (about one a second),
# so a run takes at least two seconds per approval (the "approved" note and the thread reply).
LIMITED_CLONES = 1000
QUICK_LIMITED_CLONES = 20
LIMITED_REQUESTERS = 50
LIMITED_DM_P99_MAX_S = 5.0
LIMITED_CLICKS_PER_S = 5.0
# A card drawn in its final state (English: the requesters have no locale).
_FINAL_CARD = "Done: created"
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
    clicks_s: float = float("nan")  # the first click sent → the last answered
    not_acked: int = 0  # clicks without a 200 within 3 s
    final_cards: int = 0  # cards drawn in their final state exactly once
    card_duplicates: int = 0  # final states drawn more than once
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


def _posted(stack: Stack, mark: int) -> int:
    """Messages the bot posted since ``mark`` (each notice is one): its progress. A card drawn
    again counts for nothing: a bot that kept redrawing cards would be making none."""
    return sum(c.ok and c.method == "chat.postMessage" for c in stack.emu.state.api_calls[mark:])


async def _drain(
    stack: Stack, mark: int, ids: set[str], job_s: float, requesters: set[str]
) -> None:
    """Until every request's completion DM arrived, or ``STALL_S`` passed without a post."""
    seen, progress = -1, time.monotonic() + job_s
    while True:
        dms, _threads, _ = _notices(stack, mark, requesters)
        if ids.issubset(dms):
            return
        if (posted := _posted(stack, mark)) > seen:
            seen, progress = posted, max(progress, time.monotonic())
        elif time.monotonic() - progress > STALL_S:
            log(f"pipeline: {len(ids - set(dms))} completion notices never came")
            return
        await asyncio.sleep(0.25)


async def _cards_final(stack: Stack, tools: Tools, mark: int, records: list[CloneRequest]) -> None:
    """Until every card shows its final state and its request has no effect left, or
    ``STALL_S`` passed without a post or a card becoming final. Under Slack's limits this takes
    a while: the approval channel's posts go one a second, and a card's final draw follows its
    thread reply."""
    left = {r.id: r.card_ts or "" for r in records}
    seen, progress, reported = (-1, -1), time.monotonic(), time.monotonic()
    while left:
        for request_id, ts in sorted(left.items()):
            if not _shows_final(stack, ts):
                continue  # cheap: the emulator's copy, before asking Redis
            record = await tools.requests.get(request_id)
            if record is None or (
                "card" in record.notified and not await tools.requests.effects(request_id)
            ):
                del left[request_id]
        if (now := (_posted(stack, mark), len(records) - len(left))) > seen:
            seen, progress = now, time.monotonic()
        elif time.monotonic() - progress > STALL_S:
            log(f"pipeline: {len(left)} cards never final")
            return
        if time.monotonic() - reported > 60:
            reported = time.monotonic()
            log(f"pipeline: {len(records) - len(left)} of {len(records)} cards final")
        await asyncio.sleep(1.0)


def _shows_final(stack: Stack, ts: str) -> bool:
    shown = stack.emu.state.message(APPROVALS, ts) if ts else None
    return shown is not None and _FINAL_CARD in json.dumps(shown.blocks, ensure_ascii=False)


def _final_cards(stack: Stack, mark: int, records: list[CloneRequest]) -> tuple[int, int]:
    """Cards drawn in their final state exactly once (and now showing it); extra final draws."""
    cards = {r.card_ts: r for r in records if r.card_ts}
    drawn: Counter[str] = Counter()
    for call in stack.emu.state.api_calls[mark:]:
        ts = str(call.params.get("ts") or "")
        if not (call.method == "chat.update" and call.ok and ts in cards):
            continue
        if _FINAL_CARD in json.dumps(call.params.get("blocks"), ensure_ascii=False):
            drawn[ts] += 1
    once = sum(drawn[ts] == 1 and _shows_final(stack, ts) for ts in cards)
    return once, sum(max(0, n - 1) for n in drawn.values())


async def _click_all(
    stack: Stack, records: list[CloneRequest], per_s: float | None
) -> tuple[int, float]:
    """Approve every card, ``CLICKS_IN_FLIGHT`` at most at once and (``per_s``) no faster than
    that; the clicks not acked, and the seconds from the first click to the last answer."""
    limit = asyncio.Semaphore(CLICKS_IN_FLIGHT)
    began = time.monotonic()

    async def one(index: int, record: CloneRequest) -> bool:
        if per_s:
            await asyncio.sleep(max(0.0, began + index / per_s - time.monotonic()))
        async with limit:
            delivery = await stack.emu.click(
                APPROVER, channel=APPROVALS, ts=record.card_ts or "", action_id="request_approve"
            )
        return delivery.ok

    acked = await asyncio.gather(*(one(i, r) for i, r in enumerate(records)))
    return sum(not ok for ok in acked), time.monotonic() - began


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
            with collector_paused():
                outcome.not_acked, outcome.clicks_s = await _click_all(
                    stack, records, LIMITED_CLICKS_PER_S if limits else None
                )
                log(
                    f"pipeline/{mode}: {count} clicks in {outcome.clicks_s:.1f} s "
                    f"({outcome.not_acked} not acked)"
                )
                await _drain(stack, mark, ids, job_s, set(requesters))
            # Redis commands until the last DM (the cards' wait below reads Redis itself).
            stats = command_stats(sync)
            await _cards_final(stack, tools, mark, records)
            outcome.last_card_s = _last_card_at(stack, mark, records) - started
            if spy is not None:
                spy.terminate()
            zstack_total = stack.sim_requests() - zstack_before
            await asyncio.sleep(DUPLICATE_WATCH_S)
            dms, threads, _ = _notices(stack, mark, set(requesters))
            outcome.rate_limited = sum(c.status == 429 for c in stack.emu.state.api_calls[mark:])
            outcome.final_cards, outcome.card_duplicates = _final_cards(stack, mark, records)
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
        f"last card final {secs(outcome.last_card_s)}, 429s {outcome.rate_limited}, "
        f"final cards once {outcome.final_cards}/{count} (+{outcome.card_duplicates} extra)"
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
    """Both halves: without Slack's limits (polling, webhooks), then with them."""
    return [
        *await run_unlimited(redis_server, workdir, quick=quick),
        *await run_limited(redis_server, workdir, quick=quick),
    ]


async def run_unlimited(redis_server: RedisServer, workdir: Path, *, quick: bool) -> list[Row]:
    """1,000 approvals polled, then by webhook, with no rate limits (a few minutes)."""
    count = QUICK_CLONES if quick else CLONES
    job_s = QUICK_JOB_S if quick else JOB_S
    outcomes = [
        await one_mode(redis_server, workdir, count=count, job_s=job_s, webhooks=webhooks)
        for webhooks in (False, True)
    ]
    rows = [row for o in outcomes for row in _rows(o, job_s)]
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


async def run_limited(redis_server: RedisServer, workdir: Path, *, quick: bool) -> list[Row]:
    """1,000 approvals by webhook with Slack's limits enforced (most of an hour)."""
    job_s = QUICK_JOB_S if quick else JOB_S
    limited = QUICK_LIMITED_CLONES if quick else LIMITED_CLONES
    outcome = await one_mode(
        redis_server, workdir, count=limited, job_s=job_s, webhooks=True, limits=True
    )
    return _rows(outcome, job_s)


def _rows(o: Outcome, job_s: float) -> list[Row]:
    limited = "limits" in o.mode
    name = f"Pipeline ({o.mode})"
    item = "5" if limited else "6"
    count = o.count
    # A DM that never came is later than any: it counts as infinitely late.
    delays = o.delays + [math.inf] * max(0, count - len(o.delays))
    p99 = percentile(delays, 99)
    limit = {"webhooks": WEBHOOK_P99_MAX_S, "polling": POLL_MAX_S}.get(o.mode, LIMITED_DM_P99_MAX_S)
    pace = (
        f"{LIMITED_CLICKS_PER_S:g} a second, {CLICKS_IN_FLIGHT} in flight at most"
        if limited
        else f"{CLICKS_IN_FLIGHT} in flight"
    )
    rows = [
        Row(
            name,
            f"{count} clicks on Approve ({pace}): time to send, failed acks",
            f"{secs(o.clicks_s)}; {o.not_acked} not acked",
            "0 failed (an ack within 3 s)",
            verdict(o.not_acked == 0),
            item,
        ),
        Row(
            name,
            f"job done → completion DM p50 / p99 ({job_s:g} s jobs)",
            f"{secs(percentile(delays, 50))} / {secs(p99)} ({len(o.delays)} of {count})",
            f"p99 ≤ {limit:g} s" + (" (the poll cap)" if o.mode == "polling" else ""),
            against(p99, limit, secs),
            item,
        ),
        Row(
            name,
            "every thread reply and DM exactly once: duplicates / lost",
            f"{o.duplicates} / {o.losses}",
            "0 / 0",
            verdict(o.duplicates == 0 and o.losses == 0),
            item,
        ),
        Row(
            name,
            "final card drawn exactly once (and shown)",
            f"{o.final_cards} of {count}; {o.card_duplicates} drawn again",
            f"{count} of {count}; 0",
            verdict(o.final_cards == count and o.card_duplicates == 0),
            item,
        ),
    ]
    if limited:
        rows.append(
            Row(
                name,
                f"first click → last card final; 429s answered ({LIMITED_REQUESTERS} requesters)",
                f"{secs(o.last_card_s)}; {o.rate_limited}",
                "info",
                "",
                item,
            )
        )
    rows += [
        Row(name, "first click → last completion DM", secs(o.wall_s), "info"),
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
    ]
    if o.not_succeeded:
        rows.append(
            Row(name, "requests not succeeded", str(o.not_succeeded), "0", verdict(False), item)
        )
    return rows
