"""Who may approve, reject, cancel or retry a request (DESIGN §3 "Approval").

People are compared as ``(team_id, user_id)``: only members of the workspace a request was made in
decide on it (a Slack Connect guest from another organisation never does), and the requester is
the same person only in the same workspace.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from bot.config import Settings
from bot.i18n import N_, Msg
from bot.requests import steps
from bot.requests.model import RESUBMITTABLE, CloneRequest, State
from bot.requests.rules import AppliedRule, Facts, Rules, default_rule
from bot.ui.text import mention

logger = logging.getLogger(__name__)


class GroupDirectory(Protocol):
    """Who is in a user group (``bot.slack.directory.SlackGroups``: Slack, cached)."""

    async def members(self, group: str) -> frozenset[str]: ...


@dataclass(frozen=True)
class Actor:
    """Who clicked or replied: their own workspace and their user id there."""

    team_id: str
    user_id: str

    def is_requester_of(self, record: CloneRequest) -> bool:
        return (self.team_id, self.user_id) == (record.team_id, record.requester)


_OUTSIDER = Msg.of("Only members of the workspace this request was made in can decide on it.")


@dataclass
class ApprovalPolicy:
    settings: Settings
    groups: GroupDirectory | None = None
    rules: Rules | None = None  # the policy file's rules; None: the settings' rule alone

    def __post_init__(self) -> None:
        if self.rules is None:
            self.rules = Rules([], default_rule(self.settings))

    @property
    def has_rules(self) -> bool:
        """Whether a policy file gives rules (else every request meets the settings' rule)."""
        return bool(self.rules and self.rules.rules)

    def rule_of(self, record: CloneRequest) -> AppliedRule:
        """The rule a request met when it was made (the settings' for older requests)."""
        assert self.rules is not None
        return record.rule or self.rules.default

    async def applied(self, facts: Facts) -> AppliedRule:
        """The rule a request with these facts meets now."""
        assert self.rules is not None
        members = self.groups.members if self.groups is not None else None
        return await self.rules.applied(facts, members)

    async def is_approver(self, user: str, record: CloneRequest | None = None) -> bool:
        """Among the approvers of the request's current step (directly or through a user
        group), fallback approvers included; anyone when the rule names none. Without a
        request: the settings' approvers."""
        assert self.rules is not None
        if record is None:
            return await self._among(user, self.rules.default.approvers, anyone=True)
        return await self._among(user, steps.deciders(self.rule_of(record), record), anyone=True)

    async def is_named(self, user: str, record: CloneRequest) -> bool:
        """Among the approvers of any step of the request's rule (or the fallback ones, once
        escalated to): who may reject it, whatever step it is in."""
        rule = self.rule_of(record)
        if any(not step.approvers for step in rule.stages()):
            return True
        return await self._among(user, [*steps.named(rule), *record.escalated])

    async def _among(self, user: str, entries: list[str], *, anyone: bool = False) -> bool:
        if not entries:
            return anyone
        if user in entries:
            return True
        if self.groups is None:
            return False
        for group in (a for a in entries if a.startswith("S")):
            if user in await self.groups.members(group):
                return True
        return False

    async def why_not_approve(self, actor: Actor, record: CloneRequest) -> Msg | None:
        """None when ``actor`` may approve ``record`` now, else the reason to show them."""
        user = actor.user_id
        if actor.team_id != record.team_id:
            return _OUTSIDER
        if record.state != State.PENDING:
            return what_became_of(record)
        if actor.is_requester_of(record) and not self.rule_of(record).self_approval:
            return Msg.of("You can't approve your own request; another approver has to.")
        if user in record.approvals:
            return Msg.of("You already approved {id}; it needs another approver.", id=record.id)
        if not await self.is_approver(user, record):
            rule = self.rule_of(record)
            # Fallback approvers approve in no step of their own, only in the one they joined.
            if len(rule.stages()) > 1 and await self._among(user, steps.named(rule)):
                return Msg.of(
                    "{id} is at step {step} of {steps}; you approve in another step.",
                    id=record.id,
                    step=record.step + 1,
                    steps=len(rule.stages()),
                )
            return Msg.of("You are not on the approver list for clone requests.")
        if later := steps.later_all_step(self.rule_of(record), record, user):
            # One person approves once: spent here, the later step could never be satisfied.
            return Msg.of(
                "Step {later} of {id} needs your approval, so you cannot approve step {step} as "
                "well: another approver of this step has to.",
                later=later,
                id=record.id,
                step=record.step + 1,
            )
        return certain_to_fail(record)

    async def why_not_override(self, actor: Actor, record: CloneRequest) -> Msg | None:
        """None when ``actor`` may approve ``record`` alone (break-glass): named by its rule,
        even for their own request; a failed pre-flight check still blocks it."""
        if actor.team_id != record.team_id:
            return _OUTSIDER
        if record.state != State.PENDING:
            return what_became_of(record)
        if not await self._among(actor.user_id, self.rule_of(record).break_glass):
            return Msg.of("Only the people the approval rule names may override it.")
        return certain_to_fail(record)

    async def why_not_reject(self, actor: Actor, record: CloneRequest) -> Msg | None:
        if actor.team_id != record.team_id:
            return _OUTSIDER
        if record.state != State.PENDING:
            return what_became_of(record)
        if actor.is_requester_of(record):
            return Msg.of("To withdraw your own request, use Cancel.")
        if not await self.is_named(actor.user_id, record):
            return Msg.of("You are not on the approver list for clone requests.")
        return None

    async def why_not_cancel(self, actor: Actor, record: CloneRequest) -> Msg | None:
        if not actor.is_requester_of(record):
            return Msg.of("Only the requester can cancel a request.")
        if record.state not in (State.PENDING, State.AWAITING_LOGIN):
            return what_became_of(record)
        return None

    async def why_not_retry(self, actor: Actor, record: CloneRequest) -> Msg | None:
        if actor.team_id != record.team_id:
            return _OUTSIDER
        if record.state != State.FAILED:
            return what_became_of(record)
        if record.superseded_by:
            return Msg.of(
                "{id} was resubmitted as {new}; retry that one instead.",
                id=record.id,
                new=record.superseded_by,
            )
        if actor.is_requester_of(record) or await self.is_named(actor.user_id, record):
            return None
        return Msg.of("Only the requester or an approver can retry a request.")


def why_not_resubmit(actor: Actor, record: CloneRequest) -> Msg | None:
    """None when ``actor`` may edit ``record`` and send it again as a new request: its
    requester, while it waits or after it ended without a clone, once."""
    if not actor.is_requester_of(record):
        return Msg.of(
            "Only <@{requester}> can edit and resubmit {id}; `/clone-model` opens a form of "
            "your own.",
            requester=record.requester,
            id=record.id,
        )
    if record.superseded_by:
        return Msg.of(
            "{id} was already resubmitted as {new}.", id=record.id, new=record.superseded_by
        )
    if record.state not in RESUBMITTABLE:
        return what_became_of(record)
    return None


def certain_to_fail(record: CloneRequest) -> Msg | None:
    """A failed pre-flight check that makes the clone certain to fail blocks Approve."""
    failed = {check.kind for check in record.checks if check.blocking and not check.ok}
    if "name" in failed:
        return Msg.of(
            "{id} can't be approved: a model service named {name} already exists. "
            "<@{requester}> can edit the request and submit it again.",
            id=record.id,
            name=record.new_name,
            requester=record.requester,
        )
    if "source" in failed:
        return Msg.of(
            "{id} can't be approved: its source no longer exists, or <@{requester}> cannot see it.",
            id=record.id,
            requester=record.requester,
        )
    return None


def what_became_of(record: CloneRequest) -> Msg:
    """What became of a request no longer waiting for this decision, in words, and by whom."""
    state, decider = record.state, record.decided_by
    if record.superseded_by and state == State.CANCELLED:
        return Msg.of(
            "{id} was replaced by {new}, its edited resubmission: decide on that one.",
            id=record.id,
            new=record.superseded_by,
        )
    if state == State.PENDING:
        return Msg.of("{id} is still waiting for approval.", id=record.id)
    if state == State.EXPIRED:
        return Msg.of("{id} already expired: nobody decided in time.", id=record.id)
    if state == State.CANCELLED and decider == "bot":
        return Msg.of("{id} was withdrawn: its card could not be posted.", id=record.id)
    if not decider:
        return Msg.of("{id} was already decided.", id=record.id)
    template = {
        State.SUCCEEDED: N_("{id} is already done: {who} approved it and it was cloned."),
        State.FAILED: N_("{id} was already approved by {who} and failed; Retry tries it again."),
        State.REJECTED: N_("{id} was already rejected by {who}."),
        State.CANCELLED: N_("{id} was already cancelled by {who}."),
        State.AWAITING_LOGIN: N_(
            "{id} was already approved by {who}; it goes ahead after the requester's ZStack login."
        ),
    }.get(state, N_("{id} is already approved by {who} and on its way."))
    return Msg.of(template, id=record.id, who=mention(decider))
