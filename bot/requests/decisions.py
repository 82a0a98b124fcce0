"""Approve, reject, cancel and retry: the policy check, the transition and what it causes.

Buttons and thread replies ("approve", "reject <reason>") both end up here. A decision is one
transition that carries its effects (card, thread note, DM, submission) into the outbox; nothing
here calls Slack or ZStack. What the person who acted should be told (a refusal, "already
decided") is returned to the listener, which answers them.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from bot.i18n import Msg
from bot.metrics import Metrics
from bot.requests import effects, steps
from bot.requests.approvers import ApproverIdentity, LoginNeeded, Proven
from bot.requests.effects import Effect
from bot.requests.lifecycle import Event
from bot.requests.model import CloneRequest, Override, State, Vote, utc_now
from bot.requests.policy import Actor, ApprovalPolicy, what_became_of
from bot.requests.rules import AppliedRule, AppliedStep
from bot.store.requests import RequestStore
from bot.ui.text import Mrkdwn, fmt, mention_entry, one_line, truncate

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

    async def approve(
        self, request_id: str, actor: Actor, comment: str = ""
    ) -> Msg | LoginNeeded | None:
        """Count ``actor``'s approval in the request's current step (with ``comment``, which
        the rule may require); what to tell them, if anything (``LoginNeeded``: the rule wants
        their ZStack login first)."""
        user = actor.user_id
        comment = truncate(comment.strip(), REASON_MAX)
        checked: list[CloneRequest] = []  # the record the check saw: the step it allowed

        async def check(record: CloneRequest) -> Msg | None:
            checked.append(record)
            return await self._why_not_approve(actor, record, comment)

        proven = await self._approver(request_id, actor, check)
        if isinstance(proven, LoginNeeded):
            return replace(proven, comment=comment)
        if isinstance(proven, Msg):
            return proven
        zstack = proven.identity if proven else None
        seen = checked[0]

        def vote(current: CloneRequest) -> CloneRequest | None:
            # The step was checked for this person: a step that moved on meanwhile is not theirs.
            if user in current.approvals or current.expires_at <= utc_now():
                return None
            if current.step != seen.step:
                return None
            return _tallied(self.policy.rule_of(current), current, user, comment, zstack)

        outcome = await self.store.transition(
            request_id,
            lambda current: _vote_event(self.policy.rule_of(current), current, user),
            vote,
            actor=user,
            note=_vote_note(zstack, comment),
            effects=lambda after: _after_approval(self.policy.rule_of(after), after, user),
        )
        if not outcome.changed:
            now = outcome.record
            if now.state == State.PENDING and now.step != seen.step and user not in now.approvals:
                return Msg.of(
                    "{id} moved on to step {step} while you approved; your approval was not "
                    "counted. Look at the card again.",
                    id=request_id,
                    step=now.step + 1,
                )
            return _too_late(now, user)
        after = outcome.record
        if after.state == State.APPROVED:
            latency = (utc_now() - after.created_at).total_seconds()
            self.metrics.approval_latency.observe(latency)
            await self.store.unschedule("expiry", request_id)
            await self.store.unschedule("nudge", request_id)
        elif after.step != seen.step:
            await schedule_nudge(self.store, self.policy.rule_of(after), after)
        return None

    async def _why_not_approve(
        self, actor: Actor, record: CloneRequest, comment: str
    ) -> Msg | None:
        if refusal := await self.policy.why_not_approve(actor, record):
            return refusal
        if self.policy.rule_of(record).approval_comment and not comment:
            return Msg.of(
                "{id} needs a comment with each approval: use the Approve button, or reply "
                "`approve: <your comment>` in its thread.",
                id=record.id,
            )
        return None

    async def override(
        self, request_id: str, actor: Actor, reason: str
    ) -> Msg | LoginNeeded | None:
        """Break-glass: ``actor`` approves alone, with a written reason, never silently."""
        user = actor.user_id
        proven = await self._approver(
            request_id, actor, lambda record: self.policy.why_not_override(actor, record)
        )
        if isinstance(proven, LoginNeeded):
            return replace(proven, override=True)
        if isinstance(proven, Msg):
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
        await self.store.unschedule("nudge", request_id)
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
        await self.store.unschedule("nudge", request_id)
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
        await self.store.unschedule("nudge", request_id)
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


def _tallied(
    rule: AppliedRule, current: CloneRequest, user: str, comment: str, zstack: str | None
) -> CloneRequest:
    """``current`` with ``user``'s approval counted: approved when it completes the last step,
    at the next step when it completes an earlier one."""
    now = utc_now()
    vote = Vote(user=user, step=current.step, at=now, comment=comment or None)
    update: dict[str, Any] = {
        "approvals": [*current.approvals, user],
        "votes": [*steps.votes_of(current), vote],
    }
    if zstack is not None:
        update["approver_accounts"] = {**current.approver_accounts, user: zstack}
    counted = current.model_copy(update=update)
    if not steps.satisfied(rule, counted):
        return counted
    if steps.is_last(rule, counted):
        update = {"state": State.APPROVED, "approved_at": now, "decided_by": user}
    else:
        update = steps.moved_on(counted, now)
    if comment and update.get("state") == State.APPROVED:
        update["decision_reason"] = comment
    return counted.model_copy(update=update)


def _vote_event(rule: AppliedRule, current: CloneRequest, user: str) -> Event:
    """One more approval: the one that approves the request, or a vote (which may complete a
    step that is not the last)."""
    counted = _tallied(rule, current, user, "", None)
    return Event.APPROVE if counted.state == State.APPROVED else Event.VOTE


def _vote_note(zstack: str | None, comment: str) -> str:
    note = f"approve as ZStack {zstack}" if zstack else "approve"
    return truncate(f"{note}: {one_line(comment)}", 300) if comment else note


def _after_approval(rule: AppliedRule, record: CloneRequest, user: str) -> list[Effect]:
    said = _said(record, user)
    if record.state == State.APPROVED:
        approved = Msg.marked(
            ":white_check_mark:",
            "<@{user}> approved{said}. Cloning as <@{requester}>…",
            user=user,
            said=said,
            requester=record.requester,
        )
        return [effects.submit(), effects.card(), effects.note(approved)]
    stages = rule.stages()
    if len(stages) > 1 and record.step > 0 and not steps.step_votes(record):
        # This approval completed a step: the next one's approvers are named (and notified).
        done = Msg.marked(
            ":ballot_box_with_check:",
            "<@{user}> approved{said}: step {done} of {total} is done. Step {step} now waits "
            "for {who}.",
            user=user,
            said=said,
            done=record.step,
            total=len(stages),
            step=record.step + 1,
            who=step_people(steps.current(rule, record)),
        )
        return [effects.card(), effects.note(done)]
    count = f"{len(steps.step_votes(record))}/{steps.current(rule, record).required()}"
    voted = Msg.marked(
        ":ballot_box_with_check:",
        "<@{user}> approved{said} ({count} approvals).",
        user=user,
        said=said,
        count=count,
    )
    return [effects.card(), effects.note(voted)]


def _said(record: CloneRequest, user: str) -> Mrkdwn:
    """``: “comment”`` after an approval that came with one."""
    comment = next((v.comment for v in reversed(record.votes) if v.user == user), None)
    return fmt(": “{comment}”", comment=one_line(comment)) if comment else Mrkdwn("")


def step_people(step: AppliedStep) -> Mrkdwn:
    """The people of a step, mentioned: ``<@U1>, <!subteam^S1>``."""
    return Mrkdwn(", ".join(mention_entry(entry) for entry in step.approvers) or "anyone")


async def schedule_nudge(store: RequestStore, rule: AppliedRule, record: CloneRequest) -> None:
    """(Re)schedule the request's next reminder, escalation or skipped step, if any."""
    due = steps.next_due(rule, record)
    if due is None:
        await store.unschedule("nudge", record.id)
    else:
        await store.schedule("nudge", record.id, due.at.timestamp())


def _too_late(record: CloneRequest, user: str) -> Msg:
    """Why a decision came too late, in words."""
    if user in record.approvals and record.state == State.PENDING:
        return Msg.of("You already approved {id}.", id=record.id)
    return what_became_of(record)
