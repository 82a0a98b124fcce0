"""Where a waiting request stands in its rule, and what is due while nobody decides.

A rule is a list of steps (one, made of its approvers and quorum, when it lists none); each needs
``need`` approvals from its approvers (every one of them for ``need: all``), and the request is
approved when its last step is. While a step waits, the rule may remind its approvers
(``remind_after``, then every ``remind_every``, at most ``remind_max`` times), add fallback
approvers once (``escalate_after``, ``escalate_to``) and skip the step (``skip_after``); all of it
counts from when the step began. Everything here is a pure function of the rule, the record and
the time, so any replica, after any restart, reaches the same answer from Redis alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from bot.requests.model import CloneRequest, State, Vote
from bot.requests.rules import AppliedRule, AppliedStep

Nudge = Literal["skip", "escalate", "remind"]
# When two are due at once: a skip moves on (its reminders would be stale), an escalation
# brings in the people a reminder should name.
_ORDER: dict[Nudge, int] = {"skip": 0, "escalate": 1, "remind": 2}


@dataclass(frozen=True)
class Due:
    kind: Nudge
    at: datetime
    step: int  # the step it belongs to
    count: int  # remind: reminders already sent in that step


def current(rule: AppliedRule, record: CloneRequest) -> AppliedStep:
    stages = rule.stages()
    return stages[min(record.step, len(stages) - 1)]


def is_last(rule: AppliedRule, record: CloneRequest) -> bool:
    return record.step >= len(rule.stages()) - 1


def votes_of(record: CloneRequest) -> list[Vote]:
    """Every approval as a vote. Requests stored before steps existed have approvals without
    votes: those count in the first step."""
    if record.votes or not record.approvals:
        return list(record.votes)
    return [Vote(user=u, step=0, at=record.updated_at) for u in record.approvals]


def step_votes(record: CloneRequest, step: int | None = None) -> list[Vote]:
    """The approvals given in ``step`` (the current one by default)."""
    which = record.step if step is None else step
    return [vote for vote in votes_of(record) if vote.step == which]


def named(rule: AppliedRule) -> list[str]:
    """Every approver the rule's steps name (users and user groups)."""
    return [entry for step in rule.stages() for entry in step.approvers]


def deciders(rule: AppliedRule, record: CloneRequest) -> list[str]:
    """Who may approve in the current step: its approvers and the fallback approvers added to
    it (an empty list: anyone, as with a rule that names no approvers)."""
    step = current(rule, record)
    if not step.approvers:
        return []
    return [*step.approvers, *(e for e in record.escalated if e not in step.approvers)]


def later_all_step(rule: AppliedRule, record: CloneRequest, user: str) -> int | None:
    """The number of a later ``need: all`` step that names ``user``: their approval is needed
    there (one person approves once), so they may not spend it on the current step."""
    for index, step in enumerate(rule.stages()[record.step + 1 :], start=record.step + 2):
        if step.needs_all and user in step.approvers:
            return index
    return None


def satisfied(rule: AppliedRule, record: CloneRequest) -> bool:
    """Whether the current step has the approvals it needs. In a ``need: all`` step each
    fallback approver's approval stands in for one listed approver who did not decide."""
    step = current(rule, record)
    votes = step_votes(record)
    if not step.needs_all:
        return len(votes) >= step.need
    listed = set(step.approvers)
    voted = {vote.user for vote in votes}
    stand_ins = len(voted - listed)
    return len(listed - voted) <= stand_ins


def still_needed(rule: AppliedRule, record: CloneRequest) -> int:
    """How many more approvals the current step needs."""
    step = current(rule, record)
    return max(0, step.required() - len(step_votes(record)))


def moved_on(record: CloneRequest, now: datetime, *, skipped: bool = False) -> dict[str, object]:
    """The fields that start the next step."""
    update: dict[str, object] = {
        "step": record.step + 1,
        "step_started_at": now,
        "reminders": 0,
        "reminded_at": None,
        "escalated": [],
    }
    if skipped:
        update["skipped"] = [*record.skipped, record.step]
    return update


def next_due(rule: AppliedRule, record: CloneRequest) -> Due | None:
    """The next thing to do because nobody decided, and when; None when nothing is left
    (decided, or nothing more before the request expires)."""
    if record.state != State.PENDING:
        return None
    start = record.step_since
    step = current(rule, record)
    found: list[Due] = []
    if step.skip_after_s and not is_last(rule, record):
        found.append(Due("skip", start + timedelta(seconds=step.skip_after_s), record.step, 0))
    if rule.escalate_after_s and rule.escalate_to and not record.escalated:
        at = start + timedelta(seconds=rule.escalate_after_s)
        found.append(Due("escalate", at, record.step, 0))
    if rule.remind_after_s and record.reminders < rule.remind_max:
        after = rule.remind_after_s + record.reminders * (rule.remind_every_s or 0)
        at = start + timedelta(seconds=after)
        if record.reminded_at and rule.remind_every_s:
            # After downtime the missed reminders are not sent all at once: one, then the
            # next a full interval later.
            at = max(at, record.reminded_at + timedelta(seconds=rule.remind_every_s))
        found.append(Due("remind", at, record.step, record.reminders))
    found = [due for due in found if due.at < record.expires_at]
    return min(found, key=lambda due: (due.at, _ORDER[due.kind]), default=None)


def still_due(due: Due, record: CloneRequest) -> bool:
    """Whether ``due`` is still to be done on ``record`` as it stands now (another replica, or
    a decision, may have got there first): what makes each reminder and escalation once."""
    if record.state != State.PENDING or record.step != due.step:
        return False
    if due.kind == "remind":
        return record.reminders == due.count
    if due.kind == "escalate":
        return not record.escalated
    return True


def progress(record: CloneRequest) -> tuple[int, int]:
    """Approvals in the current step and how many it needs (the request's quorum when it was
    made without a rule)."""
    if record.rule is None:
        return len(record.approvals), record.approvals_required
    return len(step_votes(record)), current(record.rule, record).required()
