"""Approve, reject, cancel and retry: the policy check, the transition and what it causes.

Buttons and thread replies ("approve", "reject <reason>") both end up here. A decision is one
transition that carries its effects (card, thread note, DM, submission) into the outbox; nothing
here calls Slack or ZStack. What the person who acted should be told (a refusal, "already
decided") is returned to the listener, which answers them.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.i18n import Msg
from bot.metrics import Metrics
from bot.requests import effects
from bot.requests.approvers import ApproverIdentity, LoginNeeded, Proven
from bot.requests.effects import Effect
from bot.requests.lifecycle import Event
from bot.requests.model import CloneRequest, Override, State, utc_now
from bot.requests.policy import Actor, ApprovalPolicy, what_became_of
from bot.store.requests import RequestStore
from bot.ui.text import fmt, one_line, truncate

logger = logging.getLogger(__name__)

REASON_MAX = 1000
# A policy check on the current record: why not, or None.
Check = Callable[[CloneRequest], Awaitable[Msg | None]]


@dataclass
class Decisions:
    store: RequestStore
    policy: ApprovalPolicy
    metrics: Metrics
    identity: ApproverIdentity | None = None  # proves approvers' ZStack logins when required

    async def _refusal(self, request_id: str, check: Check) -> Msg | None:
        """Why the decision may not be taken (no such request, the policy says no), or None."""
        record = await self.store.get(request_id)
        if record is None:
            return Msg.of("There is no request {id}.", id=request_id)
        return await check(record)

    async def approve(self, request_id: str, actor: Actor) -> Msg | LoginNeeded | None:
        """Count ``actor``'s approval; what to tell them, if anything (``LoginNeeded``: the
        rule wants their ZStack login first)."""
        user = actor.user_id
        proven = await self._approver(
            request_id, actor, lambda record: self.policy.why_not_approve(actor, record)
        )
        if isinstance(proven, LoginNeeded | Msg):
            return proven
        zstack = proven.identity if proven else None

        def vote(current: CloneRequest) -> CloneRequest | None:
            if user in current.approvals or current.expires_at <= utc_now():
                return None
            approvals = [*current.approvals, user]
            update: dict[str, Any] = {"approvals": approvals}
            if zstack is not None:
                update["approver_accounts"] = {**current.approver_accounts, user: zstack}
            if len(approvals) >= current.approvals_required:
                update |= {"state": State.APPROVED, "approved_at": utc_now(), "decided_by": user}
            return current.model_copy(update=update)

        outcome = await self.store.transition(
            request_id,
            _vote_or_approve,
            vote,
            actor=user,
            note=f"approve as ZStack {zstack}" if zstack else "approve",
            effects=lambda approved: _after_approval(approved, user),
        )
        if not outcome.changed:
            return _too_late(outcome.record, user)
        approved = outcome.record
        if approved.state == State.APPROVED:
            latency = (utc_now() - approved.created_at).total_seconds()
            self.metrics.approval_latency.observe(latency)
            await self.store.unschedule("expiry", request_id)
        return None

    async def override(
        self, request_id: str, actor: Actor, reason: str
    ) -> Msg | LoginNeeded | None:
        """Break-glass: ``actor`` approves alone, with a written reason, never silently."""
        user = actor.user_id
        proven = await self._approver(
            request_id, actor, lambda record: self.policy.why_not_override(actor, record)
        )
        if isinstance(proven, LoginNeeded | Msg):
            return proven
        reason = truncate(reason.strip(), REASON_MAX)
        now = utc_now()

        def overridden(current: CloneRequest) -> CloneRequest | None:
            if current.expires_at <= now:
                return None
            update: dict[str, Any] = {
                "approvals": [*[a for a in current.approvals if a != user], user],
                "state": State.APPROVED,
                "approved_at": now,
                "decided_by": user,
                "override": Override(by=user, reason=reason, at=now),
            }
            if proven is not None:
                update["approver_accounts"] = {**current.approver_accounts, user: proven.identity}
            return current.model_copy(update=update)

        note = Msg.marked(
            ":rotating_light:",
            "<@{user}> overrode the approval rule (break-glass): {reason}. Cloning as "
            "<@{requester}>…",
            user=user,
            reason=one_line(reason),
            requester=(await self.store.require(request_id)).requester,
        )
        outcome = await self.store.transition(
            request_id,
            Event.APPROVE,
            overridden,
            actor=user,
            note=truncate(f"break-glass override: {one_line(reason)}", 300),
            effects=[effects.submit(), effects.card(), effects.note(note)],
        )
        if not outcome.changed:
            return _too_late(outcome.record, user)
        logger.warning("break-glass override", extra={"request_id": request_id, "user_id": user})
        await self.store.unschedule("expiry", request_id)
        return None

    async def _approver(
        self, request_id: str, actor: Actor, check: Check
    ) -> Proven | LoginNeeded | Msg | None:
        """Whether ``actor`` may approve: why not (a ``Msg``), the ZStack login they need
        first, or their proven ZStack identity when the request's rule wants one (else None)."""
        record = await self.store.get(request_id)
        if record is None:
            return Msg.of("There is no request {id}.", id=request_id)
        if refusal := await check(record):
            return refusal
        if self.identity is None or not self.policy.rule_of(record).approver_login:
            return None
        return await self.identity.prove(actor, record)

    async def reject(self, request_id: str, actor: Actor, reason: str) -> Msg | None:
        user = actor.user_id
        if refusal := await self._refusal(
            request_id, lambda record: self.policy.why_not_reject(actor, record)
        ):
            return refusal
        reason = truncate(reason.strip(), REASON_MAX)

        def decline(current: CloneRequest) -> CloneRequest:
            return current.model_copy(
                update={
                    "state": State.REJECTED,
                    "decided_by": user,
                    "decision_reason": reason or None,
                    "finished_at": utc_now(),
                }
            )

        why = fmt(": {why}", why=one_line(reason)) if reason else ""
        text = Msg.marked(
            ":no_entry:", "<@{user}> rejected {id}{why}", user=user, id=request_id, why=why
        )
        outcome = await self.store.transition(
            request_id,
            Event.REJECT,
            decline,
            actor=user,
            note="reject",
            effects=lambda rejected: [
                effects.card(),
                effects.note(text),
                effects.dm(rejected.requester, text, resubmit=True),
            ],
        )
        if not outcome.changed:
            return _too_late(outcome.record, user)
        await self.store.unschedule("expiry", request_id)
        return None

    async def cancel(self, request_id: str, actor: Actor) -> Msg | None:
        user = actor.user_id
        if refusal := await self._refusal(
            request_id, lambda record: self.policy.why_not_cancel(actor, record)
        ):
            return refusal

        def withdraw(current: CloneRequest) -> CloneRequest:
            return current.model_copy(
                update={"state": State.CANCELLED, "decided_by": user, "finished_at": utc_now()}
            )

        note = Msg.marked(
            ":heavy_multiplication_x:", "<@{user}> cancelled {id}.", user=user, id=request_id
        )
        outcome = await self.store.transition(
            request_id,
            Event.CANCEL,
            withdraw,
            actor=user,
            note="cancel",
            effects=[effects.card(), effects.note(note)],
        )
        if not outcome.changed:
            return _too_late(outcome.record, user)
        cancelled = outcome.record
        await self.store.unschedule("expiry", request_id)
        await self.store.unpark(cancelled.team_id, cancelled.requester, request_id)
        return None

    async def retry(self, request_id: str, actor: Actor) -> Msg | None:
        user = actor.user_id
        if refusal := await self._refusal(
            request_id, lambda record: self.policy.why_not_retry(actor, record)
        ):
            return refusal

        def again(current: CloneRequest) -> CloneRequest:
            return current.model_copy(
                update={
                    "state": State.APPROVED,
                    "attempts": 0,
                    "finished_at": None,
                    "error": None,
                    "error_text": None,
                    "failure": None,
                    "result": None,
                    "notified": [],
                    "approved_at": utc_now(),
                }
            )

        note = Msg.marked(":repeat:", "<@{user}> retried {id}.", user=user, id=request_id)
        outcome = await self.store.transition(
            request_id,
            Event.RETRY,
            again,
            actor=user,
            note="retry",
            effects=[effects.card(), effects.note(note), effects.submit()],
        )
        if not outcome.changed:
            return _too_late(outcome.record, user)
        return None


def _vote_or_approve(current: CloneRequest) -> Event:
    """One more approval: enough for the quorum, or a vote towards it."""
    enough = len(current.approvals) + 1 >= current.approvals_required
    return Event.APPROVE if enough else Event.VOTE


def _after_approval(record: CloneRequest, user: str) -> list[Effect]:
    if record.state != State.APPROVED:
        count = f"{len(record.approvals)}/{record.approvals_required}"
        voted = Msg.marked(
            ":ballot_box_with_check:",
            "<@{user}> approved ({count} approvals).",
            user=user,
            count=count,
        )
        return [effects.card(), effects.note(voted)]
    approved = Msg.marked(
        ":white_check_mark:",
        "<@{user}> approved. Cloning as <@{requester}>…",
        user=user,
        requester=record.requester,
    )
    return [effects.submit(), effects.card(), effects.note(approved)]


def _too_late(record: CloneRequest, user: str) -> Msg:
    """Why a decision came too late, in words."""
    if user in record.approvals and record.state == State.PENDING:
        return Msg.of("You already approved {id}.", id=record.id)
    return what_became_of(record)
