"""``ZStackSimulator``: the simulated management node's state and its business operations.

The REST layer (``rest.py``) turns HTTP into calls here; the control API (``control.py``) and
in-process tests use the knobs (latency, injected failures, clone faults, modes, expiry, clock).
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from bot.sandbox.zstack_sim import seed
from bot.sandbox.zstack_sim.clock import Clock, SimClock
from bot.sandbox.zstack_sim.clone import CloneParams, build_clone, validate
from bot.sandbox.zstack_sim.errors import (
    SESSION_ERROR_STYLES,
    ApiFailure,
    RestError,
    default_clone_failure,
    not_found,
    permission_denied,
)
from bot.sandbox.zstack_sim.identity import IdentityStore, Session
from bot.sandbox.zstack_sim.jobs import Job, JobStore, WebhookPolicy
from bot.sandbox.zstack_sim.models import VO_TYPE, ModelService
from bot.sandbox.zstack_sim.query import QuerySpec, build_schema, run_query
from bot.zstack.models import ErrorCode, format_zstack_date

DEFAULT_ADVERTISED_BASE_URL = "http://10.0.0.5:8080"


class CloneMode(Enum):
    ASYNC = "async"  # the real behaviour: 202 + job
    SYNC = "sync"  # what the API explorer page claims: 200 with the inventory inline


class FaultPhase(Enum):
    BEFORE_ACCEPT = "before"  # hang, then drop: no job exists
    AFTER_ACCEPT = "after"  # job created and running, the 202 is late


@dataclass
class SimConfig:
    """Tunables; ``reset()`` returns to the values the simulator was built with."""

    advertised_base_url: str = DEFAULT_ADVERTISED_BASE_URL
    session_timeout_s: float = 7200.0
    max_sessions: int = 500
    clone_mode: CloneMode = CloneMode.ASYNC
    job_duration_s: float = 0.2
    webhook_retry_interval_s: float = 2.0
    webhook_attempts: int = 15
    job_retention_s: float = 3 * 3600.0
    api_timeout_ms: int = 1_800_000
    # Also accept the API explorer's flat clone body (not what a real node does).
    lenient: bool = False
    # How an invalid session is reported: "classic" (ID.1001), "global" (ID.1001 with
    # globalErrorCode ORG_ZSTACK_IDENTITY_10020) or "global-code" (that code alone).
    session_error: str = "classic"


@dataclass(frozen=True)
class Latency:
    seconds: float
    operations: frozenset[str] | None  # None = every operation


@dataclass(frozen=True)
class CloneFault:
    phase: FaultPhase
    seconds: float


@dataclass(frozen=True)
class RawReply:
    """An injected answer, sent as is (plain text, garbage or truncated JSON).

    On a clone POST, ``accept`` says whether the clone is accepted (its job runs) before this
    answer replaces the real one, or refused (no job)."""

    status: int
    body: str
    content_type: str = "text/plain"
    accept: bool = False


@dataclass(frozen=True)
class CloneCall:
    """One CloneModelService POST: its job UUID, the source and whose session it carried."""

    job_uuid: str | None
    source_uuid: str
    account: str | None  # the session's account; None when the session is not valid
    user: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "job_uuid": self.job_uuid,
            "source_uuid": self.source_uuid,
            "account": self.account,
            "user": self.user,
        }


@dataclass
class Counters:
    clone_calls_by_source: Counter[str] = field(default_factory=Counter)
    clone_calls_by_job: Counter[str] = field(default_factory=Counter)
    requests_by_operation: Counter[str] = field(default_factory=Counter)
    clone_calls: list[CloneCall] = field(default_factory=list)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


class ZStackSimulator:
    """Accounts, sessions, model services and jobs of one simulated ZStack management node."""

    def __init__(self, *, clock: Clock | None = None, config: SimConfig | None = None) -> None:
        self.clock = SimClock(clock)
        self._defaults = replace(config) if config else SimConfig()
        self.config = replace(self._defaults)
        self.identity = IdentityStore(
            self.clock,
            session_timeout_s=self.config.session_timeout_s,
            max_sessions=self.config.max_sessions,
        )
        self.jobs = JobStore(self.clock, retention_s=self.config.job_retention_s)
        self.services: dict[str, ModelService] = {}
        self.counts = Counters()
        self.latency: Latency | None = None
        self._fail_queue: deque[ErrorCode | None] = deque()
        self._clone_faults: deque[CloneFault] = deque()
        self._clone_replies: deque[RawReply] = deque()
        self._poll_replies: deque[RawReply] = deque()
        self._message_ids: dict[str, datetime] = {}
        self._load_seed()

    def _load_seed(self) -> None:
        self.services = {s.uuid: s for s in seed.seed_services()}
        self.identity.load_seed()
        self.identity.session_timeout_s = self.config.session_timeout_s
        self.identity.session_error_style = self.config.session_error
        self.jobs.jobs.clear()
        self.jobs.deliveries.clear()
        self.jobs.retention_s = self.config.job_retention_s
        self.jobs.webhook = WebhookPolicy(
            self.config.webhook_attempts, self.config.webhook_retry_interval_s
        )
        self.counts = Counters()
        self.latency = None
        self._fail_queue.clear()
        self._clone_faults.clear()
        self._clone_replies.clear()
        self._poll_replies.clear()
        self._message_ids.clear()

    # -- control knobs (mirrored by /_sim/...) ----------------------------------------------------

    def advance_clock(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def set_latency(self, seconds: float, operations: list[str] | None = None) -> None:
        """Delay answers of ``operations`` (API names; None = all) by ``seconds``; 0 clears."""
        self.latency = (
            Latency(seconds, frozenset(operations) if operations else None) if seconds > 0 else None
        )

    def fail_next_clones(self, count: int, error: ErrorCode | dict[str, Any] | None = None) -> None:
        """The next ``count`` accepted clones fail with ``error`` (default: a SYS.1006 chain)."""
        if isinstance(error, dict):
            error = ErrorCode.from_wire(error)
        self._fail_queue.extend([error] * count)

    def add_clone_fault(self, phase: FaultPhase | str, seconds: float, count: int = 1) -> None:
        """Make the next ``count`` clone POSTs hang ``seconds`` before or after accepting."""
        self._clone_faults.extend([CloneFault(FaultPhase(phase), seconds)] * count)

    def inject_clone_reply(
        self,
        status: int,
        body: str,
        *,
        content_type: str = "text/plain",
        accept: bool = False,
        count: int = 1,
    ) -> None:
        """The next ``count`` clone POSTs answer ``status``/``body`` as is: refused before any
        job exists, or (``accept``) accepted and running with only the answer replaced."""
        self._clone_replies.extend([RawReply(status, body, content_type, accept)] * count)

    def inject_poll_reply(
        self, status: int, body: str, *, content_type: str = "application/json", count: int = 1
    ) -> None:
        """The next ``count`` job polls answer ``status``/``body`` as is (the job goes on)."""
        self._poll_replies.extend([RawReply(status, body, content_type)] * count)

    def next_clone_reply(self) -> RawReply | None:
        return self._clone_replies.popleft() if self._clone_replies else None

    def next_poll_reply(self) -> RawReply | None:
        return self._poll_replies.popleft() if self._poll_replies else None

    def record_clone_call(self, job_uuid: str | None, source_uuid: str, session: str) -> None:
        found = self.identity.sessions.get(session)
        valid = found is not None and found.valid_at(self.clock.now())
        self.counts.clone_calls.append(
            CloneCall(
                job_uuid,
                source_uuid,
                found.principal.account_name if found is not None and valid else None,
                found.principal.name if found is not None and valid else None,
            )
        )

    def set_mode(
        self,
        *,
        clone: CloneMode | str | None = None,
        job_duration_s: float | None = None,
        webhook_retry_interval_s: float | None = None,
        lenient: bool | None = None,
        session_error: str | None = None,
    ) -> None:
        if clone is not None:
            self.config.clone_mode = CloneMode(clone)
        if job_duration_s is not None:
            self.config.job_duration_s = job_duration_s
        if webhook_retry_interval_s is not None:
            self.config.webhook_retry_interval_s = webhook_retry_interval_s
            self.jobs.webhook.interval_s = webhook_retry_interval_s
        if lenient is not None:
            self.config.lenient = lenient
        if session_error is not None:
            if session_error not in SESSION_ERROR_STYLES:
                raise ValueError(f"session_error must be one of {SESSION_ERROR_STYLES}")
            self.config.session_error = session_error
            self.identity.session_error_style = session_error

    def expire_sessions(self, *, account: str | None = None, everything: bool = False) -> int:
        return self.identity.expire(account_name=account, everything=everything)

    def counters(self) -> dict[str, Any]:
        return {
            "clone_calls_by_source": dict(self.counts.clone_calls_by_source),
            "clone_calls_by_job": dict(self.counts.clone_calls_by_job),
            "requests_by_operation": dict(self.counts.requests_by_operation),
            "clone_calls": [c.to_json() for c in self.counts.clone_calls],
            "webhook_deliveries": [d.to_json() for d in self.jobs.deliveries],
        }

    def snapshot(self) -> dict[str, Any]:
        """The state for ``GET /_sim/state``; session uuids appear only as a masked prefix."""
        now = self.clock.now()
        return {
            "now": _iso(now),
            "mode": {
                "clone": self.config.clone_mode.value,
                "job_duration_s": self.config.job_duration_s,
                "webhook_retry_interval_s": self.config.webhook_retry_interval_s,
                "lenient": self.config.lenient,
                "session_error": self.config.session_error,
                "advertised_base_url": self.config.advertised_base_url,
            },
            "model_services": [
                {
                    "owner_account": self.identity.account_name(s.owner_account_uuid),
                    "inventory": s.to_inventory(),
                }
                for s in self.services.values()
            ],
            "sessions": [
                {
                    "uuid": s.uuid[:6] + "…",
                    "account": s.principal.account_name,
                    "user": s.principal.name,
                    "user_type": s.principal.kind.value,
                    "created": _iso(s.created),
                    "expires": _iso(s.expires),
                    "valid": s.valid_at(now),
                }
                for s in self.identity.sessions.values()
            ],
            "jobs": [
                {
                    "uuid": j.uuid,
                    "operation": j.operation,
                    "state": j.state.value,
                    "source": j.source_uuid,
                    "created": _iso(j.created),
                    "finished": _iso(j.finished),
                    "webhook": j.webhook,
                }
                for j in self.jobs.jobs.values()
            ],
            "pending_failures": len(self._fail_queue),
            "pending_clone_faults": len(self._clone_faults),
        }

    def export_state(self) -> dict[str, Any]:
        """What survives a restart (services, sessions, jobs, …), JSON-ready; see ``saved``."""
        from bot.sandbox.zstack_sim.saved import export_state

        return export_state(self)

    def import_state(self, data: dict[str, Any]) -> None:
        """Resume from :meth:`export_state`'s data, before serving (``ValueError`` if unusable)."""
        from bot.sandbox.zstack_sim.saved import import_state

        import_state(self, data)

    async def reset(self) -> None:
        """Back to the seed: identities, services, no sessions/jobs/faults, original config."""
        await self.jobs.cancel_all()
        self.config = replace(self._defaults)
        self._load_seed()

    async def close(self) -> None:
        await self.jobs.close()

    # -- used by the REST layer ------------------------------------------------------------------

    def count_request(self, operation: str) -> None:
        self.counts.requests_by_operation[operation] += 1

    async def apply_latency(self, operation: str) -> None:
        latency = self.latency
        if latency and (latency.operations is None or operation in latency.operations):
            await asyncio.sleep(latency.seconds)

    def claim_message_id(self, message_id: str) -> None:
        """An id may be used once per retention period (ZStack keeps it as a primary key)."""
        cutoff = self.clock.now() - timedelta(seconds=self.config.job_retention_s)
        for old in [k for k, at in self._message_ids.items() if at < cutoff]:
            del self._message_ids[old]
        if message_id in self._message_ids or message_id in self.jobs.jobs:
            raise RestError(400, f"Duplicate job uuid[{message_id}]")
        self._message_ids[message_id] = self.clock.now()

    def location(self, job_uuid: str) -> str:
        return f"{self.config.advertised_base_url.rstrip('/')}/zstack/v1/api-jobs/{job_uuid}"

    def accept(
        self,
        operation: str,
        job_uuid: str,
        work: Callable[[], Awaitable[dict[str, Any]]],
        *,
        webhook: str | None = None,
        source_uuid: str | None = None,
    ) -> Job:
        """Create a running job for an async API and start ``work`` (an awaitable factory)."""
        job = Job(job_uuid, operation, self.clock.now(), source_uuid=source_uuid, webhook=webhook)
        self.jobs.start(job, work)
        return job

    def next_clone_fault(self) -> CloneFault | None:
        return self._clone_faults.popleft() if self._clone_faults else None

    def take_injected_failure(self, source_uuid: str) -> ErrorCode | None:
        """The error an accepted clone must end with, if a failure was queued."""
        if not self._fail_queue:
            return None
        error = self._fail_queue.popleft()
        return error if error is not None else default_clone_failure(source_uuid)

    def query_services(self, session: Session, spec: QuerySpec) -> dict[str, Any]:
        """QueryModelService over what the session's account may see (admin: everything)."""
        visible = [
            s.to_inventory(typed=True)
            for s in self.services.values()
            if self.identity.is_admin(session)
            or s.owner_account_uuid == session.principal.account_uuid
        ]
        page, total = run_query(spec, visible)
        if spec.count:
            return {"total": total, "schema": {}}
        wire = [_to_wire(row) for row in page]
        body: dict[str, Any] = {"inventories": wire}
        if spec.reply_with_count:
            body["total"] = total
        body["schema"] = build_schema(wire)
        return body

    async def clone(
        self,
        session_uuid: str | None,
        source_uuid: str,
        params: CloneParams,
        injected: ErrorCode | None,
    ) -> dict[str, Any]:
        """CloneModelService's work: checks, then (after the job duration) the new service."""
        session = self.identity.authenticate(session_uuid)
        validate(params, taken_uuids=set(self.services))
        source = self.services.get(source_uuid)
        if source is None:
            raise not_found(source_uuid, VO_TYPE)
        account_uuid = session.principal.account_uuid
        if not self.identity.is_admin(session) and source.owner_account_uuid != account_uuid:
            raise permission_denied(source_uuid, VO_TYPE, account_uuid)
        await asyncio.sleep(self.config.job_duration_s)
        if injected is not None:
            raise ApiFailure(injected)
        validate(params, taken_uuids=set(self.services))  # a resourceUuid may be taken by now
        clone = build_clone(source, params, owner_account_uuid=account_uuid, now=self.clock.now())
        self.services[clone.uuid] = clone
        return {"inventory": clone.to_inventory()}

    async def renew_session(
        self, session_uuid: str | None, target_uuid: str, duration_s: int | None
    ) -> dict[str, Any]:
        self.identity.authenticate(session_uuid)
        return {"inventory": self.identity.renew(target_uuid, duration_s).to_inventory()}


def _to_wire(value: Any) -> Any:
    """Typed inventory rows → JSON: datetimes in ZStack's format, everything else as is."""
    if isinstance(value, datetime):
        return format_zstack_date(value)
    if isinstance(value, dict):
        return {k: _to_wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_wire(v) for v in value]
    return value
