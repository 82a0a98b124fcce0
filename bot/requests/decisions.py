"""Approve, reject, cancel and retry: the policy check, the transition, and who is told what.

Buttons and thread replies ("approve", "reject <reason>") both end up here.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from slack_sdk.web.async_client import AsyncWebClient

from bot.i18n import Msg
from bot.metrics import Metrics
from bot.requests.executor import Executor
from bot.requests.lifecycle import Event
from bot.requests.model import CloneRequest, State, utc_now
from bot.requests.policy import Actor, ApprovalPolicy
from bot.slack.notifier import Notifier
from bot.store.requests import RequestStore
from bot.ui.text import fmt, one_line, truncate

logger = logging.getLogger(__name__)

REASON_MAX = 1000


@dataclass
class Decisions:
    store: RequestStore
    policy: ApprovalPolicy
    executor: Executor
    notifier: Notifier
    metrics: Metrics

    @property
    def client(self) -> AsyncWebClient:
        return self.notifier.client

    async def approve(self, request_id: str, actor: Actor, channel: str | None) -> None:
        user = actor.user_id
        record = await self.store.get(request_id)
        if record is None:
            await self.notifier.tell(
                user, channel, Msg.of("There is no request {id}.", id=request_id)
            )
            return
        refusal = await self.policy.why_not_approve(self.client, actor, record)
        if refusal:
            await self.notifier.tell(user, channel, refusal)
            return
        await self._safety_net(request_id)

        def vote(current: CloneRequest) -> CloneRequest | None:
            if current.state != State.PENDING or user in current.approvals:
                return None
            if current.expires_at <= utc_now():
                return None
            approvals = [*current.approvals, user]
            if len(approvals) < current.approvals_required:
                return current.model_copy(update={"approvals": approvals})
            return current.model_copy(
                update={
                    "approvals": approvals,
                    "state": State.APPROVED,
                    "approved_at": utc_now(),
                    "decided_by": user,
                }
            )

        outcome = await self.store.transition(
            request_id, _vote_or_approve, vote, actor=user, note="approve"
        )
        if not outcome.changed:
            await self.notifier.tell(user, channel, _too_late(outcome.record, user))
            return
        approved = outcome.record
        await self.notifier.refresh_card(approved)
        if approved.state != State.APPROVED:
            count = f"{len(approved.approvals)}/{approved.approvals_required}"
            await self.notifier.thread_note(
                approved,
                Msg.marked(
                    ":ballot_box_with_check:",
                    "<@{user}> approved ({count} approvals).",
                    user=user,
                    count=count,
                ),
            )
            return
        self.metrics.approval_latency.observe((utc_now() - approved.created_at).total_seconds())
        await self.store.unschedule("expiry", request_id)
        await self.notifier.thread_note(
            approved,
            Msg.marked(
                ":white_check_mark:",
                "<@{user}> approved. Cloning as <@{requester}>…",
                user=user,
                requester=approved.requester,
            ),
        )
        await self.executor.submit(request_id)

    async def _safety_net(self, request_id: str) -> None:
        """Schedule a job check before a transition into ``approved``: if this process dies
        between that transition and ``submit``, another replica submits (a check of a request
        that did not become approved just drops the entry)."""
        await self.store.schedule("jobs", request_id, time.time() + self.executor.lease_s)

    async def reject(self, request_id: str, actor: Actor, reason: str, channel: str | None) -> None:
        user = actor.user_id
        record = await self.store.get(request_id)
        if record is None:
            await self.notifier.tell(
                user, channel, Msg.of("There is no request {id}.", id=request_id)
            )
            return
        refusal = await self.policy.why_not_reject(self.client, actor, record)
        if refusal:
            await self.notifier.tell(user, channel, refusal)
            return
        reason = truncate(reason.strip(), REASON_MAX)

        def decline(current: CloneRequest) -> CloneRequest | None:
            if current.state != State.PENDING:
                return None
            return current.model_copy(
                update={
                    "state": State.REJECTED,
                    "decided_by": user,
                    "decision_reason": reason or None,
                    "finished_at": utc_now(),
                }
            )

        outcome = await self.store.transition(
            request_id, Event.REJECT, decline, actor=user, note="reject"
        )
        if not outcome.changed:
            await self.notifier.tell(user, channel, _too_late(outcome.record, user))
            return
        rejected = outcome.record
        await self.store.unschedule("expiry", request_id)
        why = fmt(": {why}", why=one_line(reason)) if reason else ""
        text = Msg.marked(
            ":no_entry:", "<@{user}> rejected {id}{why}", user=user, id=request_id, why=why
        )
        await self.notifier.refresh_card(rejected)
        await self.notifier.thread_note(rejected, text)
        await self.notifier.dm(rejected.requester, text)

    async def cancel(self, request_id: str, actor: Actor, channel: str | None) -> None:
        user = actor.user_id
        record = await self.store.get(request_id)
        if record is None:
            await self.notifier.tell(
                user, channel, Msg.of("There is no request {id}.", id=request_id)
            )
            return
        refusal = self.policy.why_not_cancel(actor, record)
        if refusal:
            await self.notifier.tell(user, channel, refusal)
            return

        def withdraw(current: CloneRequest) -> CloneRequest | None:
            if current.state not in (State.PENDING, State.AWAITING_LOGIN):
                return None
            return current.model_copy(
                update={"state": State.CANCELLED, "decided_by": user, "finished_at": utc_now()}
            )

        outcome = await self.store.transition(
            request_id, Event.CANCEL, withdraw, actor=user, note="cancel"
        )
        if not outcome.changed:
            await self.notifier.tell(user, channel, _too_late(outcome.record, user))
            return
        cancelled = outcome.record
        await self.store.unschedule("expiry", request_id)
        await self.store.unpark(cancelled.team_id, cancelled.requester, request_id)
        await self.notifier.refresh_card(cancelled)
        await self.notifier.thread_note(
            cancelled,
            Msg.marked(
                ":heavy_multiplication_x:", "<@{user}> cancelled {id}.", user=user, id=request_id
            ),
        )

    async def retry(self, request_id: str, actor: Actor, channel: str | None) -> None:
        user = actor.user_id
        record = await self.store.get(request_id)
        if record is None:
            await self.notifier.tell(
                user, channel, Msg.of("There is no request {id}.", id=request_id)
            )
            return
        refusal = await self.policy.why_not_retry(self.client, actor, record)
        if refusal:
            await self.notifier.tell(user, channel, refusal)
            return

        await self._safety_net(request_id)

        def again(current: CloneRequest) -> CloneRequest | None:
            if current.state != State.FAILED:
                return None
            return current.model_copy(
                update={
                    "state": State.APPROVED,
                    "attempts": 0,
                    "finished_at": None,
                    "error": None,
                    "error_text": None,
                    "result": None,
                    "notified": [],
                    "approved_at": utc_now(),
                }
            )

        outcome = await self.store.transition(
            request_id, Event.RETRY, again, actor=user, note="retry"
        )
        if not outcome.changed:
            await self.notifier.tell(user, channel, _too_late(outcome.record, user))
            return
        await self.notifier.refresh_card(outcome.record)
        await self.notifier.thread_note(
            outcome.record,
            Msg.marked(":repeat:", "<@{user}> retried {id}.", user=user, id=request_id),
        )
        await self.executor.submit(request_id)


def _vote_or_approve(current: CloneRequest) -> Event:
    """One more approval: enough for the quorum, or a vote towards it."""
    enough = len(current.approvals) + 1 >= current.approvals_required
    return Event.APPROVE if enough else Event.VOTE


def _too_late(record: CloneRequest, user: str) -> Msg:
    if user in record.approvals and record.state == State.PENDING:
        return Msg.of("You already approved {id}.", id=record.id)
    return Msg.of(
        "{id} was already decided: it is {state}.",
        id=record.id,
        state=record.state.value.replace("_", " "),
    )
