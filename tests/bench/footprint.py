"""Footprint: start-up time, RSS idle and with 10,000 tracked jobs, Redis per tracked record.

Start-up is ``python -m bot run`` spawned until ``/healthz`` answers 200 (median of three).
The tracked jobs are real records in the bot's own format, written through ``RequestStore`` as
the executor leaves them after a 202 (``running``, job UUID, scheduled in ``jobs:due``), each
with a long-running job in the simulator, so the bot's tracker really polls all of them. RSS is
sampled while it does; the peak is reported.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.requests.lifecycle import Event
from bot.requests.model import CloneRequest, State, utc_now
from bot.store import keys
from bot.ui.clone_form import validate_form
from tests.bench.common import (
    APPROVALS,
    EXAMPLE_SOURCE,
    GENERAL,
    POLL_MAX_S,
    REQUESTER,
    TEAM,
    Row,
    Stack,
    Tools,
    against,
    cpu_seconds,
    log,
    secs,
    verdict,
)
from tests.fixtures.redis_server import RedisServer

JOBS = 10_000
QUICK_JOBS = 1_000
STARTS = 3
QUICK_STARTS = 1
# Sample RSS for a few poll cycles once every job is scheduled.
TRACK_S = 3 * POLL_MAX_S
QUICK_TRACK_S = 12.0
CREATE_CONCURRENCY = 50
MAX_RSS = 150 * 1024 * 1024
MEMORY_SAMPLE = 50
_MB = 1024 * 1024


async def _forever() -> dict[str, Any]:
    await asyncio.sleep(24 * 3600)
    return {}


async def track_jobs(stack: Stack, tools: Tools, count: int) -> list[str]:
    """``count`` running requests with a job each, scheduled for polling within one poll cap."""
    form, errors = validate_form({"source": EXAMPLE_SOURCE, "name": "tracked", "reason": "bench"})
    assert form is not None, errors
    body = form.to_request()
    limit = asyncio.Semaphore(CREATE_CONCURRENCY)
    sim = stack.sim.state
    now = time.time()

    async def one(index: int) -> str:
        job_uuid = uuid.uuid4().hex
        sim.accept("CloneModelService", job_uuid, _forever, source_uuid=EXAMPLE_SOURCE)
        created = utc_now()

        def build(request_id: str) -> CloneRequest:
            return CloneRequest(
                id=request_id,
                team_id=TEAM,
                requester=REQUESTER,
                origin_channel=GENERAL,
                channel=APPROVALS,
                source_uuid=EXAMPLE_SOURCE,
                source_name="example",
                body=body,
                reason="bench",
                created_at=created,
                updated_at=created,
                expires_at=created + timedelta(days=1),
            )

        def approved(current: CloneRequest) -> CloneRequest:
            return current.model_copy(
                update={"state": State.APPROVED, "approvals": ["U0APP1"], "approved_at": created}
            )

        def submitted(current: CloneRequest) -> CloneRequest:
            return current.model_copy(
                update={
                    "state": State.SUBMITTING,
                    "job_uuid": job_uuid,
                    "attempts": 1,
                    "submitted_at": created - timedelta(seconds=60),
                }
            )

        def running(current: CloneRequest) -> CloneRequest:
            # As the executor leaves a request after ZStack's 202, a minute into the job.
            return current.model_copy(update={"state": State.RUNNING})

        async with limit:
            record = await tools.requests.create(build)
            await tools.requests.unschedule("expiry", record.id)
            # Through the lifecycle's own edges, as an approval and a 202 would take it.
            for event, change in (
                (Event.APPROVE, approved),
                (Event.SUBMIT, submitted),
                (Event.ACCEPT, running),
            ):
                await tools.requests.transition(record.id, event, change, actor="bench")
            # Spread the first polls over one poll cap, as a steady state would be.
            await tools.requests.schedule("jobs", record.id, now + POLL_MAX_S * index / count)
        return record.id

    return list(await asyncio.gather(*(one(i) for i in range(count))))


async def run(redis_server: RedisServer, workdir: Path, *, quick: bool) -> list[Row]:
    count = QUICK_JOBS if quick else JOBS
    track_s = QUICK_TRACK_S if quick else TRACK_S
    async with Stack(redis_server, workdir / "footprint") as stack:
        startups = []
        for attempt in range(QUICK_STARTS if quick else STARTS):
            bot = await stack.start_bot(f"footprint-start-{attempt}")
            assert bot.startup_s is not None
            startups.append(bot.startup_s)
            bot.stop()
        startup = statistics.median(startups)
        log(f"footprint: start-up {[round(s, 2) for s in startups]} s")
        bot = await stack.start_bot("footprint")
        async with stack.tools() as tools:
            await tools.login([REQUESTER])
            # Warm: the first command runs auth.test and fills Bolt's caches.
            await stack.emu.slash_command(REQUESTER, GENERAL, "/clone-model", "help")
            await stack.quiet(idle_s=0.5)
            await asyncio.sleep(2.0)
            idle = bot.rss()
            began = time.monotonic()
            ids = await track_jobs(stack, tools, count)
            log(f"footprint: {count} running jobs stored in {time.monotonic() - began:.1f} s")
            polls_before = stack.sim.state.counters()["requests_by_operation"].get("QueryApiJob", 0)
            peak, end = 0, time.monotonic() + track_s
            cpu = (bot.cpu(), cpu_seconds())
            spy = bot.profile("footprint-tracking", track_s - 1)
            while time.monotonic() < end:
                peak = max(peak, bot.rss())
                await asyncio.sleep(0.25)
            if spy is not None:
                await asyncio.to_thread(spy.wait)
            bot_cpu = (bot.cpu() - cpu[0]) / track_s
            sim_cpu = (cpu_seconds() - cpu[1]) / track_s
            polls = (
                stack.sim.state.counters()["requests_by_operation"].get("QueryApiJob", 0)
                - polls_before
            )
            tracked = await tools.requests.scheduled_count("jobs")
            with stack.sync_redis() as sync:
                sample = ids[:MEMORY_SAMPLE]
                per_record = sum(
                    int(sync.memory_usage(keys.request_key("clonebot:", i, part), samples=0) or 0)
                    for i in sample
                    for part in keys.REQUEST_PARTS
                ) / len(sample)
    polled = polls / track_s
    log(
        f"footprint: idle {idle / _MB:.1f} MB, tracking peak {peak / _MB:.1f} MB; "
        f"{tracked} scheduled, {polls} polls in {track_s:.0f} s ({polled:.0f}/s); "
        f"{per_record:.0f} B per running record; CPU bot {bot_cpu:.0%}, simulator {sim_cpu:.0%}"
    )
    return [
        Row("Footprint", "start-up, `python -m bot run` → /healthz 200", secs(startup), "info"),
        Row(
            "Footprint", "RSS idle (after start-up and one command)", f"{idle / _MB:.1f} MB", "info"
        ),
        Row(
            "Footprint",
            f"RSS peak with {count:,} tracked jobs ({polled:.0f} polls/s)",
            f"{peak / _MB:.1f} MB",
            "≤ 150 MB" + ("" if count == JOBS else f" (at {JOBS:,})"),
            against(peak / _MB, MAX_RSS / _MB, lambda mb: f"{mb:.1f} MB"),
            "7",
        ),
        Row(
            "Footprint",
            "Redis per request record (running request, all its keys)",
            f"{per_record / 1024:.2f} KB",
            "≤ 4 KB",
            verdict(per_record <= 4096),
        ),
    ]
