"""Following a submitted clone's job until it ends: polls, their backoff, deadlines, the
job UUID after a lost answer or a takeover, and webhooks (a hint, confirmed by one poll).

``Executor.follow`` and ``Executor.on_callback`` lead here; everything runs under the
request's lease.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.errors import (
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
from bot.requests.model import IN_FLIGHT, CloneRequest, State
from bot.zstack.jobs import CloneAccepted, JobOutcome, JobRunning

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.requests.executor import Executor
    from bot.store.requests import RequestStore

logger = logging.getLogger(__name__)

# Re-check an unanswered submission this long after it was sent (past the client's timeout).
SUBMIT_GRACE_S = 5.0


@dataclass
class JobFollower:
    """The tracker's step for a scheduled request, and what a webhook triggers; it decides, the
    executor changes the record."""

    executor: Executor

    @property
    def store(self) -> RequestStore:
        return self.executor.store

    @property
    def settings(self) -> Settings:
        return self.executor.settings

    async def follow(self, request_id: str) -> bool:
        """One tracker step for a scheduled request (any state), under the lease; False when
        another worker holds the lease."""
        async with self.store.hold(request_id, self.executor.owner, self.executor.lease_s) as held:
            if not held:
                # Its holder is alive (it renews the lease); come back once it could lapse, or
                # sooner when the holder scheduled a poll meanwhile.
                await self.store.schedule(
                    "jobs", request_id, time.time() + self.executor.lease_s, no_later=True
                )
                return False
            record = await self.store.get(request_id)
            if record is None:
                await self.store.unschedule("jobs", request_id)
            elif record.state == State.APPROVED:
                # Keep an entry while submitting: if this process dies before the write-ahead,
                # another replica comes back to the request (an unscheduled one was stranded).
                await self.store.schedule("jobs", request_id, time.time() + self.executor.lease_s)
                await self.executor.submit_held(request_id)
            elif record.state in (State.SUBMITTING, State.RUNNING):
                await self._poll(record)
            else:
                await self.store.unschedule("jobs", request_id)
        return True

    async def _poll(self, record: CloneRequest) -> None:
        request_id, job_uuid = record.id, record.job_uuid
        if job_uuid is None:
            await self.store.unschedule("jobs", request_id)
            return
        try:
            session = await self.executor.sessions.current(record.team_id, record.requester)
            token = session.inventory.uuid
        except (NotLoggedIn, SessionExpired):
            token = None  # ZStack does not check Authorization on job polls
        except ZStackUnavailable:
            await self.reschedule(record)
            return
        try:
            status = await self.executor.zstack.poll_clone(
                token, self.executor.zstack.job_ref(job_uuid)
            )
        except JobNotFound:
            await self._job_unknown(record)
            return
        except ZStackSessionInvalid:
            # ZStack took the job, then refused the requester's session: nothing was cloned, so
            # the dead session is forgotten and the request waits for their next login.
            await self.executor.sessions.dropped(record.team_id, record.requester)
            await self.executor.park(record, from_states=(State.SUBMITTING, State.RUNNING))
            return
        except ZStackAPIError as exc:
            await self.executor.finish(request_id, job_uuid, JobOutcome(error=exc.error))
            return
        except (ZStackProtocolError, ZStackRESTError) as exc:
            # ZStack answers, but not readably: give up at the job's deadline, not never.
            if self._timed_out(record):
                unreadable = Msg.of(
                    "ZStack's answers about job {job} could not be read for {seconds} s: {error}",
                    job=job_uuid,
                    seconds=f"{self._deadline_s(record):g}",
                    error=str(exc),
                )
                await self.executor.finish(request_id, job_uuid, JobOutcome(note=unreadable))
                return
            await self.reschedule(record)
            return
        except ZStackError:
            await self.reschedule(record)
            return
        if isinstance(status, JobRunning):
            await self._still_running(record, job_uuid)
            return
        await self.executor.finish(request_id, job_uuid, status)

    async def _still_running(self, record: CloneRequest, job_uuid: str) -> None:
        if record.state == State.SUBMITTING:
            await self.executor.mark_running(
                record.id, CloneAccepted(self.executor.zstack.job_ref(job_uuid))
            )
            return
        if self._timed_out(record):
            late = Msg.of(
                "ZStack's job {job} did not finish within {seconds} s.",
                job=job_uuid,
                seconds=f"{self._deadline_s(record):g}",
            )
            await self.executor.finish(record.id, job_uuid, JobOutcome(note=late))
            return
        await self.reschedule(record)

    async def _job_unknown(self, record: CloneRequest) -> None:
        job_uuid = record.job_uuid or ""
        if record.state == State.SUBMITTING:
            sent = record.submitted_at.timestamp() if record.submitted_at else 0.0
            if time.time() - sent < self.settings.zstack_timeout_s + SUBMIT_GRACE_S:
                await self.reschedule(record)  # the POST may still be on its way
                return
            await self.executor.back_to_approved(record.id, job_uuid, "ZStack never took the job")
            return
        gone = Msg.of("ZStack no longer knows job {job} (results are kept 3 hours).", job=job_uuid)
        await self.executor.finish(record.id, job_uuid, JobOutcome(note=gone))

    def _deadline_s(self, record: CloneRequest) -> float:
        api = record.job_api_timeout_s or self.settings.job_timeout_cap_s
        return min(api, self.settings.job_timeout_cap_s)

    def _timed_out(self, record: CloneRequest) -> bool:
        started = record.submitted_at.timestamp() if record.submitted_at else time.time()
        return time.time() - started > self._deadline_s(record)

    async def reschedule(self, record: CloneRequest) -> None:
        """The next poll of the job: sooner while it is young, backing off to the cap."""
        polls = await self.store.count(record.id, "polls")
        await self.store.schedule("jobs", record.id, time.time() + self.executor.polls.delay(polls))

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
