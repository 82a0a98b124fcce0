"""Async API jobs (reference §3.3, §3.4): state, result retention and webhook callbacks.

A job is what ``GET /zstack/v1/api-jobs/{uuid}`` reports on. Finished results are kept for
``retention_s`` of simulator-clock time (3 h on a real node), then the job reads as expired.
Webhook callbacks are POSTed with ``X-Job-UUID`` / ``X-Job-Success`` and retried on anything but
2xx or an I/O error, a fixed number of times at a fixed interval.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

import aiohttp

from bot.sandbox.zstack_sim.clock import SimClock
from bot.sandbox.zstack_sim.errors import ApiFailure, err, error_to_wire
from bot.zstack.models import ErrorCode

log = logging.getLogger(__name__)

_WEBHOOK_TIMEOUT_S = 10.0


class JobState(Enum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass
class Job:
    uuid: str
    operation: str
    created: datetime
    source_uuid: str | None = None
    webhook: str | None = None
    state: JobState = JobState.RUNNING
    finished: datetime | None = None
    result: dict[str, Any] | None = None
    error: ErrorCode | None = None
    # Real epoch seconds when the job ended (unaffected by the clock offset), for benchmarks.
    finished_at: float | None = None

    def response(self) -> tuple[int, dict[str, Any]]:
        """What a poll answers now: 202 ``{}``, 200 result, or 503 ``{"error": ...}``."""
        if self.state is JobState.RUNNING:
            return 202, {}
        if self.state is JobState.SUCCEEDED:
            return 200, dict(self.result or {})
        assert self.error is not None
        return 503, {"error": error_to_wire(self.error)}


@dataclass(frozen=True)
class WebhookDelivery:
    """One POST attempt to a webhook (for ``/_sim/counters``)."""

    job_uuid: str
    url: str
    attempt: int
    success: bool
    status: int | None
    error: str | None
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "job_uuid": self.job_uuid,
            "url": self.url,
            "attempt": self.attempt,
            "success": self.success,
            "status": self.status,
            "error": self.error,
            "at": self.at.isoformat(),
        }


@dataclass
class WebhookPolicy:
    attempts: int = 15
    interval_s: float = 2.0


@dataclass
class JobStore:
    """Jobs by uuid plus the background tasks that run them and deliver their webhooks."""

    clock: SimClock
    retention_s: float = 3 * 3600
    webhook: WebhookPolicy = field(default_factory=WebhookPolicy)
    jobs: dict[str, Job] = field(default_factory=dict)
    deliveries: list[WebhookDelivery] = field(default_factory=list)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _http: aiohttp.ClientSession | None = None

    def get(self, job_uuid: str) -> Job | None:
        """The job, or None when unknown or its result has been purged."""
        self.purge()
        return self.jobs.get(job_uuid)

    def purge(self) -> None:
        cutoff = self.clock.now() - timedelta(seconds=self.retention_s)
        for uuid in [u for u, j in self.jobs.items() if j.finished and j.finished < cutoff]:
            del self.jobs[uuid]

    def start(self, job: Job, work: Callable[[], Awaitable[dict[str, Any]]]) -> None:
        """Register ``job`` and run ``work`` in the background; its outcome finishes the job."""
        self.jobs[job.uuid] = job
        self._spawn(self._run(job, work))

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, job: Job, work: Callable[[], Awaitable[dict[str, Any]]]) -> None:
        try:
            result = await work()
        except ApiFailure as failure:
            self._finish(job, error=failure.error)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a simulator bug still ends the job, as SYS.1000
            log.exception("job %s crashed", job.uuid)
            self._finish(job, error=err("SYS.1000", f"internal error: {exc}"))
        else:
            self._finish(job, result=result)

    def _finish(
        self, job: Job, *, result: dict[str, Any] | None = None, error: ErrorCode | None = None
    ) -> None:
        job.finished = self.clock.now()
        job.finished_at = time.time()
        job.result, job.error = result, error
        job.state = JobState.FAILED if error is not None else JobState.SUCCEEDED
        if job.webhook:
            self._spawn(self._deliver(job))

    async def _deliver(self, job: Job) -> None:
        assert job.webhook is not None
        _, body = job.response()
        payload = json.dumps(body, ensure_ascii=False).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-Job-UUID": job.uuid,
            "X-Job-Success": "true" if job.state is JobState.SUCCEEDED else "false",
        }
        if self._http is None:
            self._http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=_WEBHOOK_TIMEOUT_S)
            )
        for attempt in range(1, self.webhook.attempts + 1):
            status: int | None = None
            problem: str | None = None
            try:
                async with self._http.post(job.webhook, data=payload, headers=headers) as rsp:
                    status = rsp.status
                    await rsp.read()
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                problem = f"{type(exc).__name__}: {exc}"
            ok = status is not None and 200 <= status < 300
            self.deliveries.append(
                WebhookDelivery(
                    job.uuid, job.webhook, attempt, ok, status, problem, self.clock.now()
                )
            )
            if ok:
                return
            if attempt < self.webhook.attempts:
                await asyncio.sleep(self.webhook.interval_s)
        log.warning("webhook for job %s gave up after %d attempts", job.uuid, self.webhook.attempts)

    async def cancel_all(self) -> None:
        """Stop running jobs and pending webhook deliveries (shutdown / reset)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()

    async def close(self) -> None:
        await self.cancel_all()
        if self._http is not None:
            await self._http.close()
            self._http = None
