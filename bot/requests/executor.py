"""Running an approved request as its requester, and finishing it exactly once.

Submission is write-ahead: a fresh job UUID is stored (state ``submitting``) before
CloneModelService is sent, so after any crash or lost answer that UUID tells whether ZStack took
the request. Only the transition into ``succeeded``/``failed`` that actually changes the record
notifies, so pollers, webhooks and replicas may race freely.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from dataclasses import dataclass, field

from bot.background import cancel_all
from bot.config import Settings
from bot.errors import (
    BotError,
    JobNotFound,
    NotLoggedIn,
    SessionExpired,
    ZStackAPIError,
    ZStackError,
    ZStackProtocolError,
    ZStackRESTError,
    ZStackSessionInvalid,
    ZStackUnavailable,
)
from bot.i18n import Msg
from bot.metrics import Metrics
from bot.requests.lifecycle import Event
from bot.requests.model import IN_FLIGHT, CloneRequest, State, utc_now
from bot.requests.sessions import SessionService
from bot.slack.notifier import COMPLETION_STEPS, DeliveryPending, Notifier
from bot.store.requests import RequestStore
from bot.store.sessions import StoredSession
from bot.zstack.client import (
    CloneAccepted,
    CloneCompleted,
    JobOutcome,
    JobRunning,
    PollPolicy,
    ZStackClient,
    new_job_uuid,
)
from bot.zstack.webhooks import WebhookSigner

logger = logging.getLogger(__name__)

# Sends of one approval that ZStack never received (refused, or a job UUID it does not know),
# spaced by doubling delays up to RESEND_DELAY_MAX_S: with a 1 s start, about two minutes of
# ZStack outage are ridden out before the request fails (and can be retried by a person).
MAX_SEND_ATTEMPTS = 8
RESEND_DELAY_MAX_S = 60.0
# Re-check an unanswered submission this long after it was sent (past the client's timeout).
SUBMIT_GRACE_S = 5.0
# Approvals submitted to ZStack at once; the rest wait their turn. httpx's pool bookkeeping is
# quadratic in its queue: 1,000 simultaneous approvals spent a third of the CPU there (make bench).
SUBMIT_CONCURRENCY = 32


def instance_id() -> str:
    """Who holds a lease: host, process and a random part (a restarted process is new)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass
class Executor:
    settings: Settings
    store: RequestStore
    sessions: SessionService
    zstack: ZStackClient
    notifier: Notifier
    metrics: Metrics
    webhooks: WebhookSigner
    owner: str = field(default_factory=instance_id)
    _deliveries: set[asyncio.Task[None]] = field(default_factory=set)
    _submit_slots: asyncio.Semaphore = field(
        default_factory=lambda: asyncio.Semaphore(SUBMIT_CONCURRENCY)
    )

    @property
    def lease_s(self) -> float:
        return self.settings.zstack_timeout_s * 2 + 10

    @property
    def policy(self) -> PollPolicy:
        return PollPolicy(initial_s=self.settings.poll_initial_s, max_s=self.settings.poll_max_s)

    # --- submission ---------------------------------------------------------------------------

    async def submit(self, request_id: str) -> None:
        """Send an ``approved`` request to ZStack (once, under this replica's lease).

        At most ``SUBMIT_CONCURRENCY`` at a time: a burst of approvals waits here, before the
        lease and the write-ahead, instead of queueing inside httpx's connection pool.
        """
        async with self._submit_slots:
            if not await self.store.claim(request_id, self.owner, self.lease_s):
                return
            try:
                await self._submit(request_id)
            finally:
                await self.store.release(request_id, self.owner)

    async def _submit(self, request_id: str) -> None:
        record = await self.store.require(request_id)
        if record.state != State.APPROVED:
            return
        try:
            # Asked of ZStack now, not taken from the short cache the forms use: a clone is
            # never sent with a session that died since.
            session = await self.sessions.current(record.team_id, record.requester, fresh=True)
        except (NotLoggedIn, SessionExpired):
            await self.park(record)
            return
        except ZStackUnavailable:
            await self.store.schedule("jobs", request_id, time.time() + self.settings.poll_max_s)
            return
        if record.attempts >= MAX_SEND_ATTEMPTS:
            await self.finish(
                request_id,
                record.job_uuid,
                JobOutcome(
                    error_text=f"ZStack did not take the request after {record.attempts} tries."
                ),
                allowed=(State.APPROVED,),
            )
            return
        job_uuid = new_job_uuid()

        def write_ahead(current: CloneRequest) -> CloneRequest | None:
            if current.state != State.APPROVED:
                return None
            return current.model_copy(
                update={
                    "state": State.SUBMITTING,
                    "job_uuid": job_uuid,
                    "attempts": current.attempts + 1,
                    "submitted_at": utc_now(),
                }
            )

        written = await self.store.transition(
            request_id, Event.SUBMIT, write_ahead, actor="bot", note="submit"
        )
        if not written.changed:
            return
        # Safety net: if this process dies now, another replica looks at the job UUID later.
        await self.store.schedule("jobs", request_id, time.time() + self.lease_s)
        await self._send(written.record, session, job_uuid)

    async def _send(self, record: CloneRequest, session: StoredSession, job_uuid: str) -> None:
        request_id = record.id
        try:
            result = await self.sessions.call(
                record.team_id,
                record.requester,
                lambda token: self.zstack.clone_model_service(
                    token,
                    record.source_uuid,
                    record.body,
                    job_uuid=job_uuid,
                    webhook_url=self.webhooks.url_for(request_id, job_uuid),
                ),
                session=session,
            )
        except SessionExpired:
            await self.park(await self.store.require(request_id), from_states=(State.SUBMITTING,))
            return
        except ZStackAPIError as exc:
            await self.finish(request_id, job_uuid, JobOutcome(error=exc.error))
            return
        except ZStackRESTError as exc:
            text = f"ZStack refused the request (HTTP {exc.status}): {exc.text}"
            await self.finish(request_id, job_uuid, JobOutcome(error_text=text))
            return
        except ZStackUnavailable as exc:
            if not exc.maybe_received:
                await self._back_to_approved(request_id, job_uuid, "not received")
                return
            # The answer was lost: the job UUID decides (see check_submission).
            await self.store.schedule(
                "jobs", request_id, time.time() + self.settings.poll_initial_s
            )
            return
        except ZStackProtocolError:
            await self.store.schedule(
                "jobs", request_id, time.time() + self.settings.poll_initial_s
            )
            return
        if isinstance(result, CloneCompleted):
            await self.finish(request_id, job_uuid, JobOutcome(inventory=result.inventory))
            return
        await self._mark_running(request_id, result)

    async def _mark_running(self, request_id: str, accepted: CloneAccepted) -> None:
        job = accepted.job

        def running(current: CloneRequest) -> CloneRequest | None:
            if current.state != State.SUBMITTING or current.job_uuid != job.uuid:
                return None
            return current.model_copy(
                update={"state": State.RUNNING, "job_api_timeout_s": job.api_timeout_s}
            )

        outcome = await self.store.transition(
            request_id, Event.ACCEPT, running, actor="bot", note="accepted"
        )
        if outcome.changed:
            await self.store.schedule("jobs", request_id, time.time() + self.policy.delay(0))
            await self.notifier.refresh_card(outcome.record)

    async def _back_to_approved(self, request_id: str, job_uuid: str, why: str) -> None:
        def retry(current: CloneRequest) -> CloneRequest | None:
            if current.state != State.SUBMITTING or current.job_uuid != job_uuid:
                return None
            return current.model_copy(update={"state": State.APPROVED})

        outcome = await self.store.transition(
            request_id, Event.RESEND, retry, actor="bot", note=f"resend: {why}"
        )
        if outcome.changed:
            delay = min(
                self.settings.poll_max_s, self.settings.poll_initial_s * outcome.record.attempts
            )
            await self.store.schedule("jobs", request_id, time.time() + delay)

    # --- following the job --------------------------------------------------------------------

    async def follow(self, request_id: str) -> bool:
        """One tracker step for a scheduled request (any state), under the lease; False when
        another worker holds the lease."""
        if not await self.store.claim(request_id, self.owner, self.lease_s):
            return False
        try:
            record = await self.store.get(request_id)
            if record is None:
                await self.store.unschedule("jobs", request_id)
            elif record.state == State.APPROVED:
                # Keep an entry while submitting: if this process dies before the write-ahead,
                # another replica comes back to the request (an unscheduled one was stranded).
                await self.store.schedule("jobs", request_id, time.time() + self.lease_s)
                await self._submit(request_id)
            elif record.state in (State.SUBMITTING, State.RUNNING):
                await self._poll(record)
            else:
                if record.state in (State.SUCCEEDED, State.FAILED) and not set(
                    COMPLETION_STEPS
                ).issubset(record.notified):
                    # finish() stopped before its notify schedule was written (a crash).
                    await self.store.schedule("notify", request_id, time.time())
                await self.store.unschedule("jobs", request_id)
        finally:
            await self.store.release(request_id, self.owner)
        return True

    async def _poll(self, record: CloneRequest) -> None:
        request_id, job_uuid = record.id, record.job_uuid
        if job_uuid is None:
            await self.store.unschedule("jobs", request_id)
            return
        try:
            session = await self.sessions.current(record.team_id, record.requester)
            token = session.inventory.uuid
        except (NotLoggedIn, SessionExpired):
            token = None  # ZStack does not check Authorization on job polls
        except ZStackUnavailable:
            await self._reschedule(record)
            return
        try:
            status = await self.zstack.poll_clone(token, self.zstack.job_ref(job_uuid))
        except JobNotFound:
            await self._job_unknown(record)
            return
        except ZStackSessionInvalid:
            # ZStack took the job, then refused the requester's session: nothing was cloned, so
            # the dead session is forgotten and the request waits for their next login.
            await self.sessions.dropped(record.team_id, record.requester)
            await self.park(record, from_states=(State.SUBMITTING, State.RUNNING))
            return
        except ZStackAPIError as exc:
            await self.finish(request_id, job_uuid, JobOutcome(error=exc.error))
            return
        except (ZStackProtocolError, ZStackRESTError) as exc:
            # ZStack answers, but not readably: give up at the job's deadline, not never.
            if self._timed_out(record):
                text = (
                    f"ZStack's answers about job {job_uuid} could not be read for"
                    f" {self._deadline_s(record):g} s: {exc}"
                )
                await self.finish(request_id, job_uuid, JobOutcome(error_text=text))
                return
            await self._reschedule(record)
            return
        except ZStackError:
            await self._reschedule(record)
            return
        if isinstance(status, JobRunning):
            await self._still_running(record, job_uuid)
            return
        await self.finish(request_id, job_uuid, status)

    async def _still_running(self, record: CloneRequest, job_uuid: str) -> None:
        if record.state == State.SUBMITTING:
            await self._mark_running(record.id, CloneAccepted(self.zstack.job_ref(job_uuid)))
            return
        if self._timed_out(record):
            text = f"ZStack's job {job_uuid} did not finish within {self._deadline_s(record):g} s."
            await self.finish(record.id, job_uuid, JobOutcome(error_text=text))
            return
        await self._reschedule(record)

    async def _job_unknown(self, record: CloneRequest) -> None:
        job_uuid = record.job_uuid or ""
        if record.state == State.SUBMITTING:
            sent = record.submitted_at.timestamp() if record.submitted_at else 0.0
            if time.time() - sent < self.settings.zstack_timeout_s + SUBMIT_GRACE_S:
                await self._reschedule(record)  # the POST may still be on its way
                return
            await self._back_to_approved(record.id, job_uuid, "ZStack never took the job")
            return
        text = f"ZStack no longer knows job {job_uuid} (results are kept 3 hours)."
        await self.finish(record.id, job_uuid, JobOutcome(error_text=text))

    def _deadline_s(self, record: CloneRequest) -> float:
        api = record.job_api_timeout_s or self.settings.job_timeout_cap_s
        return min(api, self.settings.job_timeout_cap_s)

    def _timed_out(self, record: CloneRequest) -> bool:
        started = record.submitted_at.timestamp() if record.submitted_at else time.time()
        return time.time() - started > self._deadline_s(record)

    async def _reschedule(self, record: CloneRequest) -> None:
        started = record.submitted_at.timestamp() if record.submitted_at else time.time()
        elapsed = max(0.0, time.time() - started)
        # Poll sooner while the job is young, then back off up to the cap (with jitter).
        base = min(self.settings.poll_max_s, max(self.settings.poll_initial_s, elapsed / 2))
        delay = PollPolicy(initial_s=base, max_s=self.settings.poll_max_s, jitter=0.2).delay(0)
        await self.store.schedule("jobs", record.id, time.time() + delay)

    # --- the end ------------------------------------------------------------------------------

    async def finish(
        self,
        request_id: str,
        job_uuid: str | None,
        outcome: JobOutcome,
        *,
        allowed: tuple[State, ...] = (State.SUBMITTING, State.RUNNING),
    ) -> bool:
        """Record the end of the job; True (and the notices sent) only for the winner."""
        succeeded = outcome.succeeded
        target = State.SUCCEEDED if succeeded else State.FAILED

        def end(current: CloneRequest) -> CloneRequest | None:
            if current.state not in allowed or current.job_uuid != job_uuid:
                return None
            return current.model_copy(
                update={
                    "state": target,
                    "finished_at": utc_now(),
                    "result": outcome.inventory,
                    "error": outcome.error,
                    "error_text": None if succeeded else outcome.describe(),
                    "notified": [],
                }
            )

        event = Event.SUCCEED if succeeded else Event.FAIL
        result = await self.store.transition(request_id, event, end, actor="bot", note=target.value)
        if not result.changed:
            return False
        record = result.record
        if (elapsed := record.elapsed_s()) is not None:
            self.metrics.clone_duration.labels(target.value).observe(elapsed)
        # Notify schedule first: until it is written, the jobs entry still leads a tracker here
        # (``follow`` schedules the notices of a finished request), so a crash loses nothing.
        await self.store.schedule("notify", request_id, time.time())
        await self.store.unschedule("jobs", request_id)
        # Deliver now, off the caller's path (a webhook answers ZStack at once); the notify
        # schedule covers a crash in between.
        task = asyncio.ensure_future(self.deliver(request_id))
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)
        return True

    @property
    def deliveries_in_flight(self) -> int:
        return len(self._deliveries)

    async def drain(self) -> None:
        """Let deliveries in flight finish (a few seconds at most); the notify schedule brings
        back any that are cut short."""
        if self._deliveries:
            _done, pending = await asyncio.wait(set(self._deliveries), timeout=5.0)
            await cancel_all(pending)

    async def deliver(self, request_id: str, attempt: int = 0) -> None:
        """Deliver the completion notices now, unless another delivery holds their lease
        (it finishes them, or the notify schedule, still due, brings them back)."""
        try:
            holder = await self.claim_notices(request_id)
            if holder is None:
                return
            try:
                await self.notifier.deliver_completion(request_id)
            except DeliveryPending:
                await self.notifier.schedule_retry(request_id, attempt)
            finally:
                await self.store.release(request_id, holder, part="notified")
        except BotError as exc:  # Redis trouble: the notify schedule brings it back
            logger.warning("delivery deferred", extra={"request_id": request_id, "error": str(exc)})

    async def claim_notices(self, request_id: str) -> str | None:
        """The notices' lease (one deliverer at a time, across replicas): its holder token."""
        holder = f"{self.owner}:{secrets.token_hex(4)}"
        if await self.store.claim(request_id, holder, self.lease_s, part="notified"):
            return holder
        return None

    # --- sessions -----------------------------------------------------------------------------

    async def park(
        self, record: CloneRequest, from_states: tuple[State, ...] = (State.APPROVED,)
    ) -> None:
        """The requester's session is gone: wait for their next login (or the TTL)."""

        def wait(current: CloneRequest) -> CloneRequest | None:
            if current.state not in from_states:
                return None
            return current.model_copy(update={"state": State.AWAITING_LOGIN})

        outcome = await self.store.transition(
            record.id, Event.PARK, wait, actor="bot", note="session invalid"
        )
        if not outcome.changed:
            return
        parked = outcome.record
        await self.store.park(parked.team_id, parked.requester, parked.id)
        await self.store.unschedule("jobs", parked.id)
        await self.store.schedule("expiry", parked.id, parked.expires_at.timestamp())
        text = Msg.marked(
            ":key:",
            "{id} is approved, but <@{requester}>'s ZStack session has expired. It goes ahead as "
            "soon as they run `/zstack login`.",
            id=parked.id,
            requester=parked.requester,
        )
        await self.notifier.refresh_card(parked)
        await self.notifier.thread_note(parked, text)
        await self.notifier.dm(
            parked.requester,
            Msg.marked(
                ":key:",
                "Your clone request {id} was approved, but your ZStack session has expired. Run "
                "`/zstack login`; the clone starts right after.",
                id=parked.id,
            ),
        )

    async def on_callback(self, request_id: str, job_uuid: str, claimed_success: bool) -> bool:
        """A webhook says the job ended. It is a hint, not the truth: whoever holds the URL could
        send it, so the job's end is read from ZStack (one poll, now) and only that decides.
        True when the request ended (or parked) on this poll."""
        record = await self.store.get(request_id)
        if record is None or record.job_uuid != job_uuid or record.state not in IN_FLIGHT:
            return False
        if not await self.follow(request_id):
            # Someone is polling it right now; make sure it is looked at again at once.
            await self.store.schedule("jobs", request_id, time.time())
            return False
        after = await self.store.require(request_id)
        ended = after.state in (State.SUCCEEDED, State.FAILED, State.AWAITING_LOGIN)
        agrees = (after.state == State.SUCCEEDED) == claimed_success
        if not ended or not agrees:
            logger.warning(
                "webhook disagrees with ZStack; ZStack's answer stands",
                extra={
                    "request_id": request_id,
                    "job_uuid": job_uuid,
                    "claimed": "success" if claimed_success else "failure",
                    "zstack": after.state.value,
                },
            )
        return ended

    async def resume_parked(self, team_id: str, user_id: str) -> list[str]:
        """After a login: every parked request of the user goes ahead (unless expired)."""
        resumed = []
        for request_id in await self.store.parked(team_id, user_id):
            # A safety net written before the transition: a crash right after it is picked up.
            await self.store.schedule("jobs", request_id, time.time() + self.lease_s)

            def go(current: CloneRequest) -> CloneRequest | None:
                if current.state != State.AWAITING_LOGIN or current.expires_at <= utc_now():
                    return None
                return current.model_copy(update={"state": State.APPROVED})

            outcome = await self.store.transition(
                request_id, Event.RESUME, go, actor=user_id, note="resumed"
            )
            await self.store.unpark(team_id, user_id, request_id)
            if outcome.changed:
                resumed.append(request_id)
                await self.notifier.thread_note(
                    outcome.record,
                    Msg.marked(
                        ":arrow_forward:",
                        "<@{user}> logged in; cloning {id} now.",
                        user=user_id,
                        id=request_id,
                    ),
                )
                await self.submit(request_id)
        return resumed
