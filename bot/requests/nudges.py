"""Approvals that never stall: reminders, escalation to fallback approvers, skipped steps.

Every waiting request whose rule asks for any of them has one entry in the ``nudge`` schedule
(Redis), due at the next one (``steps.next_due``). Any replica's tracker runs it when it is due:
the change is one versioned transition that re-checks it is still due (``steps.still_due``), so
two replicas, or one restarted mid-way, send each reminder and escalation exactly once; the
thread note and the DMs are effects written with it (the outbox delivers them once). A
decision ends it: nothing is due for a request that no longer waits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.i18n import Msg
from bot.requests import effects, steps
from bot.requests.decisions import schedule_nudge, step_people
from bot.requests.effects import Effect
from bot.requests.lifecycle import Event
from bot.requests.model import CloneRequest, utc_now
from bot.requests.policy import ApprovalPolicy
from bot.requests.rules import AppliedRule
from bot.store.requests import RequestStore
from bot.ui.text import Mrkdwn, join, mention_entry, truncate

logger = logging.getLogger(__name__)

# Approvers told by DM at most, per reminder or escalation (a large user group is mentioned in
# the thread instead of messaging every member).
DM_MAX = 25


def duration(seconds: int) -> str:
    """``45m``, ``4h``, ``1d 2h``: how long a request has waited, compactly."""
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else ""]
    parts.append(f"{minutes}m" if minutes and not days else "")
    return " ".join(p for p in parts if p) or f"{int(seconds)}s"


@dataclass
class Nudger:
    store: RequestStore
    policy: ApprovalPolicy
    clock: Callable[[], datetime] = utc_now

    def now_s(self) -> float:
        """The schedule's clock (epoch seconds): the tracker asks for what is due by it."""
        return self.clock().timestamp()

    async def run(self, request_id: str) -> None:
        """Do what is due for ``request_id`` now, then schedule what comes next."""
        record = await self.store.get(request_id)
        if record is None:
            await self.store.unschedule("nudge", request_id)
            return
        rule = self.policy.rule_of(record)
        due = steps.next_due(rule, record)
        if due is not None and due.at <= self.clock():
            await self._do(due, rule, record)
            record = await self.store.require(request_id)
        await schedule_nudge(self.store, rule, record)

    async def _do(self, due: steps.Due, rule: AppliedRule, record: CloneRequest) -> None:
        waited = duration(int((self.clock() - record.step_since).total_seconds()))
        if due.kind == "skip":
            await self._skip(due, rule, record, waited)
        elif due.kind == "escalate":
            await self._escalate(due, rule, record, waited)
        else:
            await self._remind(due, rule, record, waited)

    async def _remind(
        self, due: steps.Due, rule: AppliedRule, record: CloneRequest, waited: str
    ) -> None:
        undecided = self._undecided_entries(rule, record)
        count = due.count + 1
        note = (
            Msg.marked(
                ":bell:",
                "Reminder: {id} has waited {waited} for {who}.",
                id=record.id,
                waited=waited,
                who=_people(undecided),
            )
            if undecided
            else Msg.marked(
                ":bell:",
                "Reminder: {id} has waited {waited} for a decision.",
                id=record.id,
                waited=waited,
            )
        )
        dm = Msg.marked(
            ":bell:",
            "Reminder: {id} from <@{requester}> has waited {waited} for your decision.",
            id=record.id,
            requester=record.requester,
            waited=waited,
        )
        told = await self._users(undecided, record, rule)
        await self._transition(
            due,
            record,
            Event.REMIND,
            {"reminders": count, "reminded_at": self.clock()},
            f"reminder {count} (step {due.step + 1})",
            [effects.card(), effects.note(note), *_dms(told, dm)],
        )

    async def _escalate(
        self, due: steps.Due, rule: AppliedRule, record: CloneRequest, waited: str
    ) -> None:
        fallback = list(rule.escalate_to)
        note = Msg.marked(
            ":rotating_light:",
            "Nobody decided {id} within {waited}: {who} can approve it now too.",
            id=record.id,
            waited=waited,
            who=_people(fallback),
        )
        dm = Msg.marked(
            ":rotating_light:",
            "{id} from <@{requester}> has waited {waited} with nobody deciding: you are asked "
            "to decide on it as a fallback approver.",
            id=record.id,
            requester=record.requester,
            waited=waited,
        )
        told = await self._users(fallback, record, rule)
        await self._transition(
            due,
            record,
            Event.ESCALATE,
            {"escalated": fallback},
            truncate(f"escalated to {', '.join(fallback)} (step {due.step + 1})", 300),
            [effects.card(), effects.note(note), *_dms(told, dm)],
        )

    async def _skip(
        self, due: steps.Due, rule: AppliedRule, record: CloneRequest, waited: str
    ) -> None:
        stages = rule.stages()
        following = stages[due.step + 1]
        note = Msg.marked(
            ":fast_forward:",
            "Nobody decided step {step} of {id} within {waited}, so it was skipped. Step {next} "
            "now waits for {who}.",
            step=due.step + 1,
            id=record.id,
            waited=waited,
            next=due.step + 2,
            who=step_people(following),
        )
        await self._transition(
            due,
            record,
            Event.SKIP,
            steps.moved_on(record, self.clock(), skipped=True),
            f"step {due.step + 1} skipped",
            [effects.card(), effects.note(note)],
        )

    async def _transition(
        self,
        due: steps.Due,
        record: CloneRequest,
        event: Event,
        update: dict[str, object],
        note: str,
        caused: list[Effect],
    ) -> None:
        def change(current: CloneRequest) -> CloneRequest | None:
            if not steps.still_due(due, current):
                return None  # decided meanwhile, or another replica did it
            return current.model_copy(update=update)

        outcome = await self.store.transition(
            record.id, event, change, actor="bot", note=note, effects=caused
        )
        if outcome.changed:
            logger.info("request nudged", extra={"request_id": record.id, "nudge": event.value})

    def _undecided_entries(self, rule: AppliedRule, record: CloneRequest) -> list[str]:
        """The current step's approvers (and fallback ones) who have not approved yet."""
        # One person approves once per request: whoever approved in any step has decided.
        return [e for e in steps.deciders(rule, record) if e not in record.approvals]

    async def _users(
        self, entries: list[str], record: CloneRequest, rule: AppliedRule
    ) -> list[str]:
        """The people ``entries`` name (user groups expanded), who have not approved and may:
        at most ``DM_MAX``."""
        found: list[str] = []
        for entry in entries:
            if entry.startswith("S"):
                members = (
                    await self.policy.groups.members(entry) if self.policy.groups else frozenset()
                )
                found += sorted(members)
            else:
                found.append(entry)
        skip = set(record.approvals) | (set() if rule.self_approval else {record.requester})
        unique = list(dict.fromkeys(u for u in found if u not in skip))
        return unique[:DM_MAX]


def _people(entries: list[str]) -> Mrkdwn:
    return join(", ", [mention_entry(e) for e in entries[:20]]) if entries else Mrkdwn("—")


def _dms(users: list[str], text: Msg) -> list[Effect]:
    return [effects.dm(user, text, decide=True) for user in users]
