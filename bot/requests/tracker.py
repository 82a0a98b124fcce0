"""The background loops every replica runs: due jobs, expiring requests, pending effects.

Work is found in Redis sorted sets (``jobs``, ``expiry``, ``outbox``), so any replica picks up
what another one left behind, including after a crash. Each item is handled under the request's
lease, and every handler re-reads the record, so a stale schedule entry is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.errors import BotError
from bot.i18n import Msg
from bot.logs import request_context
from bot.metrics import Metrics
from bot.requests import effects
from bot.requests.executor import Executor
from bot.requests.lifecycle import Event
from bot.requests.model import CloneRequest, State, utc_now
from bot.requests.nudges import Nudger
from bot.requests.outbox import Outbox
from bot.store.indexes import Schedule
from bot.store.requests import RequestStore
from bot.tasks import TaskSet, cancel_all

logger = logging.getLogger(__name__)

TICK_S = 0.1
IDLE_TICK_S = 0.25
BATCH = 200
# Steps in flight per schedule. Each schedule has its own bound, so job polls (and the
# completion notices they lead to) never queue behind a backlog of outbox work, nor it behind them.
CONCURRENCY = 64


@dataclass
class Tracker:
    store: RequestStore
    executor: Executor
    outbox: Outbox
    metrics: Metrics
    nudger: Nudger | None = None  # reminders, escalation, skipped steps
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _busy: set[str] = field(default_factory=set)
    _steps: TaskSet = field(default_factory=TaskSet)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)

    def start(self) -> None:
        def bound() -> asyncio.Semaphore:
            return asyncio.Semaphore(CONCURRENCY)

        self._tasks = [
            asyncio.ensure_future(self._loop("jobs", self.executor.follow, bound())),
            asyncio.ensure_future(self._loop("outbox", self.outbox.run, bound())),
            asyncio.ensure_future(self._loop("expiry", self._expire, bound())),
        ]
        if self.nudger is not None:
            nudger = self.nudger
            self._tasks.append(
                asyncio.ensure_future(self._loop("nudge", nudger.run, bound(), nudger.now_s))
            )

    async def stop(self, grace_s: float = 5.0) -> None:
        """Stop taking work, let steps in flight finish (up to ``grace_s``), then cancel.

        Cancelling in the middle of a Redis command can leave a half-open connection behind,
        and on Python 3.11 ``asyncio.wait_for`` (inside redis-py) can swallow a cancellation;
        so loops stop by themselves first, and ``cancel_all`` handles what is left.
        """
        self._stopping.set()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace_s)
        await self._steps.drain(grace_s)
        await cancel_all(self._tasks)
        self._tasks = []

    async def _loop(
        self,
        which: Schedule,
        handle: Callable[[str], Awaitable[object]],
        limit: asyncio.Semaphore,
        clock: Callable[[], float] = time.time,
    ) -> None:
        while not self._stopping.is_set():
            try:
                due = await self.store.due(which, clock(), BATCH)
                if which == "jobs":
                    self.metrics.jobs_tracked.set(await self.store.scheduled_count("jobs"))
            except BotError as exc:
                logger.warning(
                    "tracker cannot read its schedule", extra={"schedule": which, "error": str(exc)}
                )
                await self._pause(1.0)
                continue
            for request_id in due:
                key = f"{which}:{request_id}"
                if key in self._busy:
                    continue
                self._busy.add(key)
                with request_context(request_id):  # every line of this work names it
                    self._steps.spawn(self._run(key, handle, request_id, limit))
            await self._pause(TICK_S if due else IDLE_TICK_S)

    async def _pause(self, seconds: float) -> None:
        """Sleep, but wake at once when the tracker is stopping."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stopping.wait()

    async def _run(
        self,
        key: str,
        handle: Callable[[str], Awaitable[object]],
        request_id: str,
        limit: asyncio.Semaphore,
    ) -> None:
        try:
            async with limit:
                await handle(request_id)
        except BotError as exc:
            logger.warning("tracker step failed", extra={"work": key, "error": str(exc)})
        except Exception:  # one bad request must not stop the loop; it is logged and retried
            logger.exception("tracker step crashed", extra={"work": key})
        finally:
            self._busy.discard(key)

    async def _expire(self, request_id: str) -> None:
        def expire(current: CloneRequest) -> CloneRequest | None:
            if current.expires_at > utc_now():
                return None
            return current.model_copy(update={"state": State.EXPIRED, "finished_at": utc_now()})

        record = await self.store.get(request_id)
        if record is None:
            await self.store.unschedule("expiry", request_id)
            await self.store.unschedule("nudge", request_id)
            return
        if record.state in (State.PENDING, State.AWAITING_LOGIN) and record.expires_at > utc_now():
            await self.store.schedule("expiry", request_id, record.expires_at.timestamp())
            return
        note = Msg.marked(
            ":alarm_clock:",
            "{id} expired {when}: nobody decided in time.",
            id=record.id,
            when=record.expires_at,
        )
        outcome = await self.store.transition(
            request_id,
            Event.EXPIRE,
            expire,
            actor="bot",
            note="ttl",
            effects=[
                effects.card(),
                effects.note(note),
                effects.dm(record.requester, note, resubmit=True),
            ],
        )
        await self.store.unschedule("expiry", request_id)
        await self.store.unschedule("nudge", request_id)
        if outcome.changed:
            expired = outcome.record
            await self.store.unpark(expired.team_id, expired.requester, expired.id)
