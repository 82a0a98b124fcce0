"""Running an approved request as its requester, and finishing it exactly once.

Submission is write-ahead: a fresh job UUID is stored (state ``submitting``) before
CloneModelService is sent, so after any crash or lost answer that UUID tells whether ZStack took
the request. Work on a request's job happens under its short lease, renewed while it runs: a
replica that dies is taken over within seconds, and the job UUID is polled at once (only
"ZStack does not know it" waits out the client's timeout before a resend). Only the transition
into ``succeeded``/``failed`` that actually changes the record records the completion notices,
so pollers, webhooks and replicas may race freely. Nothing here calls Slack: what people are told
goes into the outbox with the transition.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from bot.config import Settings
from bot.errors import (
    NotLoggedIn,
    SessionExpired,
    ZStackAPIError,
    ZStackProtocolError,
    ZStackRESTError,
    ZStackUnavailable,
)
from bot.i18n import Msg
from bot.load import AdaptiveLimit
from bot.metrics import Metrics
from bot.requests import effects
from bot.requests.effects import StoredMsg
from bot.requests.following import JobFollower
from bot.requests.lifecycle import Event
from bot.requests.model import CloneRequest, State, utc_now
from bot.requests.outbox import instance_id
from bot.requests.preflight import Preflight, blocking
from bot.requests.sessions import SessionService
from bot.retry import RetryPolicy
from bot.store.requests import TAKEOVER_S, RequestStore
from bot.store.sessions import StoredSession
from bot.zstack.client import ZStackClient
from bot.zstack.jobs import CloneAccepted, CloneCompleted, JobOutcome, new_job_uuid
from bot.zstack.webhooks import WebhookSigner

logger = logging.getLogger(__name__)

# Sends of one approval that ZStack never received (refused, or a job UUID it does not know),
# spaced by doubling delays up to a minute: with a 1 s start, about two minutes of ZStack outage
# are ridden out before the request fails (and can be retried by a person).
MAX_SEND_ATTEMPTS = 8
RESEND_DELAY_MAX_S = 60.0
# Approvals submitted to ZStack at once; the rest wait their turn. The ceiling: httpx's pool
# bookkeeping is quadratic in its queue (1,000 simultaneous approvals spent a third of the CPU
# there). Between floor and ceiling the event loop's lag decides (``bot.load``): fewer while
# submissions keep the loop from acks, webhooks and DMs, more while they wait on ZStack.
SUBMIT_CONCURRENCY = 32
SUBMIT_FLOOR = 4


@dataclass
class Executor:
    settings: Settings
    store: RequestStore
    sessions: SessionService
    zstack: ZStackClient
    metrics: Metrics
    webhooks: WebhookSigner
    owner: str = field(default_factory=instance_id)
    submissions: AdaptiveLimit = field(
        default_factory=lambda: AdaptiveLimit(SUBMIT_FLOOR, SUBMIT_CONCURRENCY)
    )
    follower: JobFollower = field(init=False)
    # Checked again right before the first send (None: not checked).
    preflight: Preflight | None = None

    def __post_init__(self) -> None:
        self.follower = JobFollower(self)

    async def follow(self, request_id: str) -> bool:
        """One tracker step for a scheduled request (see ``JobFollower.follow``)."""
        return await self.follower.follow(request_id)

    async def on_callback(self, request_id: str, job_uuid: str, claimed_success: bool) -> bool:
        """A ZStack webhook: confirmed by one poll (see ``JobFollower.on_callback``)."""
        return await self.follower.on_callback(request_id, job_uuid, claimed_success)

    # The request's lease: short, and renewed while its holder works (takeover in seconds).
    lease_s = TAKEOVER_S

    @property
    def polls(self) -> RetryPolicy:
        """Job polls: from ``poll_initial_s``, doubling to ``poll_max_s`` (the job's own
        deadline ends them). With webhooks ZStack says when a job ends, and a poll only stands
        in for a callback that got lost: they come every ``poll_max_s`` from the start, which
        is what a lost callback costs at most."""
        settings = self.settings
        first = settings.poll_max_s if self.webhooks.enabled else settings.poll_initial_s
        return RetryPolicy(base_s=first, cap_s=settings.poll_max_s)

    @property
    def resends(self) -> RetryPolicy:
        """Sends ZStack never received."""
        return RetryPolicy(
            base_s=self.settings.poll_initial_s,
            cap_s=RESEND_DELAY_MAX_S,
            attempts=MAX_SEND_ATTEMPTS,
            jitter=0.0,
        )

    # --- submission ---------------------------------------------------------------------------

    async def submit(self, request_id: str) -> None:
        """Send an ``approved`` request to ZStack (once, under this replica's lease).

        At most ``submissions.limit`` at a time: a burst of approvals waits here, before the
        lease and the write-ahead, instead of queueing inside httpx's connection pool or
        holding up the quick work on the event loop.
        """
        async with (
            self.submissions,
            self.store.hold(request_id, self.owner, self.lease_s) as held,
        ):
            if held:
                await self.submit_held(request_id)
            else:
                # Someone works on it now: look again once their lease could have lapsed, but
                # never later than the poll they may have scheduled meanwhile.
                await self.store.schedule(
                    "jobs", request_id, time.time() + self.lease_s, no_later=True
                )

    async def submit_held(self, request_id: str) -> None:
        """``submit``'s work, for a caller that holds the request's lease already."""
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
        if record.attempts == 0 and (refused := await self._checks_refuse(record, session)):
            await self.finish(
                request_id,
                record.job_uuid,
                JobOutcome(note=refused),
                allowed=(State.APPROVED,),
            )
            return
        if self.resends.exhausted(record.attempts):
            await self.finish(
                request_id,
                record.job_uuid,
                JobOutcome(
                    note=Msg.of(
                        "ZStack did not take the request after {count} tries.",
                        count=record.attempts,
                    )
                ),
                allowed=(State.APPROVED,),
            )
            return
        job_uuid = new_job_uuid()

        def write_ahead(current: CloneRequest) -> CloneRequest:
            return current.model_copy(
                update={
                    "state": State.SUBMITTING,
                    "job_uuid": job_uuid,
                    "attempts": current.attempts + 1,
                    "submitted_at": utc_now(),
                }
            )

        # Safety net first: whatever happens after the write-ahead (this process dies, Redis
        # goes away), a replica looks at the job UUID as soon as this one's lease lapses.
        await self.store.schedule("jobs", request_id, time.time() + self.lease_s)
        await self.store.reset_count(request_id, "polls")
        written = await self.store.transition(
            request_id, Event.SUBMIT, write_ahead, actor="bot", note="submit"
        )
        if written.changed:
            await self._send(written.record, session, job_uuid)

    async def _checks_refuse(self, record: CloneRequest, session: StoredSession) -> Msg | None:
        """The pre-flight checks run again right before the first send: why the clone is
        certain to fail now (a service of that name appeared, the source is gone), or None."""
        if self.preflight is None:
            return None
        checks = await self.preflight.evaluate(record, session)
        failed = {check.kind for check in blocking(checks or [])}
        if "name" in failed:
            return Msg.of(
                "A model service named {name} already exists; choose another name.",
                name=record.new_name,
            )
        if "source" in failed:
            return Msg.of(
                "The source model service no longer exists, or the requester cannot see it."
            )
        return None

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
            refused = Msg.of(
                "ZStack refused the request (HTTP {status}): {text}",
                status=exc.status,
                text=exc.text,
            )
            await self.finish(request_id, job_uuid, JobOutcome(note=refused))
            return
        except ZStackUnavailable as exc:
            if not exc.maybe_received:
                await self.back_to_approved(request_id, job_uuid, "not received")
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
        await self.mark_running(request_id, result)

    async def mark_running(self, request_id: str, accepted: CloneAccepted) -> None:
        job = accepted.job

        def running(current: CloneRequest) -> CloneRequest | None:
            if current.job_uuid != job.uuid:
                return None
            return current.model_copy(
                update={"state": State.RUNNING, "job_api_timeout_s": job.api_timeout_s}
            )

        outcome = await self.store.transition(
            request_id,
            Event.ACCEPT,
            running,
            actor="bot",
            note="accepted",
            effects=[effects.card()],
        )
        if outcome.changed:
            await self.follower.reschedule(outcome.record)

    async def back_to_approved(self, request_id: str, job_uuid: str, why: str) -> None:
        def retry(current: CloneRequest) -> CloneRequest | None:
            if current.job_uuid != job_uuid:
                return None
            return current.model_copy(update={"state": State.APPROVED})

        outcome = await self.store.transition(
            request_id, Event.RESEND, retry, actor="bot", note=f"resend: {why}"
        )
        if outcome.changed:
            delay = self.resends.delay(outcome.record.attempts)
            await self.store.schedule("jobs", request_id, time.time() + delay)

    # --- the end ------------------------------------------------------------------------------

    async def finish(
        self,
        request_id: str,
        job_uuid: str | None,
        outcome: JobOutcome,
        *,
        allowed: tuple[State, ...] = (State.SUBMITTING, State.RUNNING),
    ) -> bool:
        """Record the end of the job; True (and the notices recorded) only for the winner."""
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
                    "failure": (
                        StoredMsg.of(outcome.note) if outcome.note and not succeeded else None
                    ),
                    "notified": [],
                }
            )

        event = Event.SUCCEED if succeeded else Event.FAIL
        result = await self.store.transition(
            request_id,
            event,
            end,
            actor="bot",
            note=target.value,
            effects=[effects.completion()],
        )
        if not result.changed:
            return False
        if (elapsed := result.record.elapsed_s()) is not None:
            self.metrics.clone_duration.labels(target.value).observe(elapsed)
        await self.store.unschedule("jobs", request_id)
        return True

    # --- sessions -----------------------------------------------------------------------------

    async def park(
        self, record: CloneRequest, from_states: tuple[State, ...] = (State.APPROVED,)
    ) -> None:
        """The requester's session is gone: wait for their next login (or the TTL)."""

        def wait(current: CloneRequest) -> CloneRequest | None:
            if current.state not in from_states:
                return None
            return current.model_copy(update={"state": State.AWAITING_LOGIN})

        note = Msg.marked(
            ":key:",
            "{id} is approved, but <@{requester}>'s ZStack session has expired. It goes ahead as "
            "soon as they run `/zstack login`.",
            id=record.id,
            requester=record.requester,
        )
        dm = Msg.marked(
            ":key:",
            "Your clone request {id} was approved, but your ZStack session has expired. Run "
            "`/zstack login`; the clone starts right after.",
            id=record.id,
        )
        outcome = await self.store.transition(
            record.id,
            Event.PARK,
            wait,
            actor="bot",
            note="session invalid",
            effects=[effects.card(), effects.note(note), effects.dm(record.requester, dm)],
        )
        if not outcome.changed:
            return
        parked = outcome.record
        await self.store.park(parked.team_id, parked.requester, parked.id)
        await self.store.unschedule("jobs", parked.id)
        await self.store.schedule("expiry", parked.id, parked.expires_at.timestamp())

    async def resume_parked(self, team_id: str, user_id: str) -> list[str]:
        """After a login: every parked request of the user goes ahead (unless expired)."""
        resumed = []
        for request_id in await self.store.parked(team_id, user_id):

            def go(current: CloneRequest) -> CloneRequest | None:
                if current.expires_at <= utc_now():
                    return None
                return current.model_copy(update={"state": State.APPROVED})

            note = Msg.marked(
                ":arrow_forward:",
                "<@{user}> logged in; cloning {id} now.",
                user=user_id,
                id=request_id,
            )
            outcome = await self.store.transition(
                request_id,
                Event.RESUME,
                go,
                actor=user_id,
                note="resumed",
                effects=[effects.submit(), effects.note(note)],
            )
            await self.store.unpark(team_id, user_id, request_id)
            if outcome.changed:
                resumed.append(request_id)
        return resumed
