"""``clone-bot policy explain REQUEST.json``: which rule a request would meet, and who may approve.

REQUEST.json is the CloneModelService body (``{"params": {...}, "systemTags": [...]}``, wire
names) with, at its top level, what rules look at that the body does not hold: ``requester`` (a
Slack user id), ``channel``, ``sourceName`` (and ``sourceUuid``, for the reader). The rules are the
ones the bot would use (the policy file, then the settings' default rule); user groups are resolved
with Slack's ``usergroups.users.list`` when ``SLACK_BOT_TOKEN`` is set. Nothing is written.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.errors import SlackError
from bot.i18n import tr
from bot.requests.intake import facts_of
from bot.requests.rules import (
    DEFAULT_RULE,
    GROUP_ID,
    USER_ID,
    AppliedRule,
    Facts,
    Rules,
    default_rule,
    load_policy,
    never_due,
)
from bot.slack.client import build_web_client, slack_errors
from bot.ui.cards import rule_conditions
from bot.ui.clone_inputs import values_of_request
from bot.ui.text import plain_text
from bot.zstack.models import CloneParams, CloneRequestBody

# Seconds allowed for one user group's lookup.
GROUP_LOOKUP_TIMEOUT_S = 10.0
# The parameters a threshold looks at, by their wire names, as ``Facts`` holds them.
_NUMBERS = (("requestCpu", "request_cpu"), ("requestMemory", "request_memory"), ("size", "size"))


class RequestFileError(ValueError):
    """REQUEST.json cannot be read or does not describe a request; ``str()`` is one line."""


class RequestFile(BaseModel):
    """REQUEST.json: the wire body, and who asks, from where, to clone what."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    params: CloneParams
    system_tags: list[str] = Field(default_factory=list, alias="systemTags")
    user_tags: list[str] = Field(default_factory=list, alias="userTags")
    requester: str | None = None
    channel: str | None = None
    source_name: str | None = Field(None, alias="sourceName")
    source_uuid: str | None = Field(None, alias="sourceUuid")

    @field_validator("requester")
    @classmethod
    def _user_id(cls, value: str | None) -> str | None:
        if value is not None and not USER_ID.match(value):
            raise ValueError(f"{value[:40]!r} is not a Slack user id (U…/W…)")
        return value

    @property
    def body(self) -> CloneRequestBody:
        return CloneRequestBody(
            params=self.params, system_tags=self.system_tags, user_tags=self.user_tags
        )

    def facts(self) -> Facts:
        """What rules look at, read as the form's values are (the clone's name is no source
        name: a request without ``sourceName`` matches no ``source_name`` condition)."""
        values = values_of_request(self.body)
        values.pop("name", None)
        return facts_of(values, None, self.source_name, self.channel, self.requester or "")


def read_request_file(path: Path) -> RequestFile:
    """The request REQUEST.json describes, or ``RequestFileError`` in one line."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RequestFileError(f"{path}: cannot read it: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise RequestFileError(f"{path.name}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise RequestFileError(f"{path.name}: not JSON ({exc.msg}, {where})") from None
    if not isinstance(raw, dict):
        raise RequestFileError(f'{path.name}: not a JSON object like {{"params": {{...}}}}')
    try:
        return RequestFile.model_validate(raw)
    except ValidationError as exc:
        problems = [_problem(error) for error in exc.errors()]
        raise RequestFileError(f"{path.name}: {'; '.join(problems)}") from None


def _problem(error: Any) -> str:
    where = ".".join(str(step) for step in error["loc"]) or "the file"
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown field"
    return f"{where}: {message}"


@dataclass
class GroupLookup:
    """User groups' members from Slack, each looked up once; why not, when Slack cannot say."""

    client: AsyncWebClient | None
    members_of: dict[str, frozenset[str]] = field(default_factory=dict)
    unresolved: dict[str, str] = field(default_factory=dict)

    async def members(self, group: str) -> frozenset[str]:
        if group not in self.members_of and group not in self.unresolved:
            await self._look_up(group)
        return self.members_of.get(group, frozenset())

    async def _look_up(self, group: str) -> None:
        if self.client is None:
            self.unresolved[group] = "not resolved: SLACK_BOT_TOKEN is unset"
            return
        try:
            with slack_errors("usergroups.users.list"):
                async with asyncio.timeout(GROUP_LOOKUP_TIMEOUT_S):
                    answer = await self.client.usergroups_users_list(usergroup=group)
        except SlackError as exc:
            self.unresolved[group] = f"not resolved: Slack answered {exc.code}"
            return
        self.members_of[group] = frozenset(str(user) for user in answer.get("users") or [])


@dataclass
class Explanation:
    request: RequestFile
    facts: Facts
    rule: AppliedRule
    from_file: bool  # whether a policy file gave rules
    groups: GroupLookup
    thresholds: set[str]  # the parameters (wire names) some rule has a threshold on
    on_requester: bool  # whether some rule looks at the requester


async def explain(request: RequestFile, rules: Rules, groups: GroupLookup) -> Explanation:
    """The rule the request meets (user groups resolved through ``groups``)."""
    facts = request.facts()
    rule = await rules.applied(facts, groups.members)
    named = [entry for step in rule.stages() for entry in step.approvers]
    for entry in [*named, *rule.break_glass, *rule.escalate_to]:
        if GROUP_ID.match(entry):
            await groups.members(entry)
    conditions = [match for each in rules.rules for match in each.when]
    thresholds = {
        wire for wire, name in _NUMBERS for match in conditions if getattr(match, name) is not None
    }
    on_requester = any(match.requester for match in conditions)
    return Explanation(request, facts, rule, bool(rules.rules), groups, thresholds, on_requester)


def explanation_lines(found: Explanation) -> list[str]:
    """The explanation as the terminal shows it, one fact a line."""
    rule = found.rule
    lines = [f"Request: {_described(found)}"]
    if rule.name != DEFAULT_RULE:
        why = ", ".join(plain_text(text) for text in rule_conditions(rule))
        lines.append(f"Rule: {rule.name}" + (f" ({why})" if why else " (matches every request)"))
    elif found.from_file:
        lines.append("Rule: default (no rule of the policy file matched; the settings apply)")
    else:
        lines.append("Rule: default (no policy file: the settings apply to every request)")
    if rule.deny:
        lines.append(f"Outcome: refused at submit: {rule.deny}")
    elif rule.auto_approve:
        lines.append("Outcome: approved automatically, without a click (logged and shown so)")
    else:
        lines += _who_approves(rule, found.groups)
        lines += [
            f"Expires: {_took(rule.ttl_s)} after the request if nobody decides",
            "Self-approval: " + ("allowed" if rule.self_approval else "not allowed"),
            "Approver login: "
            + (
                "required (each approver's own ZStack session must see the source)"
                if rule.approver_login
                else "off (Slack identity)"
            ),
            "Break-glass: "
            + (
                f"{_people(rule.break_glass, found.groups)} (may approve alone, or their own "
                "request, with a written reason)"
                if rule.break_glass
                else "nobody"
            ),
            "Approval comment: "
            + (
                "required (each approver writes one with the approval; it is on the card and "
                "in the audit)"
                if rule.approval_comment
                else "optional"
            ),
            f"Reminders: {_reminders(rule)}",
            f"Escalation: {_escalation(rule, found.groups)}",
        ]
    lines += _notes(found)
    return lines


def _took(seconds: int) -> str:
    return tr("en").duration(seconds)


def _who_approves(rule: AppliedRule, groups: GroupLookup) -> list[str]:
    """``Approvers`` and ``Approvals needed``, or, for a rule with steps, one line a step."""
    if not rule.steps:
        return [
            f"Approvers: {_approvers(rule.approvers, groups)}",
            f"Approvals needed: {rule.approvals}",
        ]
    count = len(rule.steps)
    lines = [f"Steps: {count}, in order (each must be done before the next one starts)"]
    for number, step in enumerate(rule.steps, 1):
        name = f" ({step.name})" if step.name else ""
        if step.needs_all:
            needed = f"all of {_people(step.approvers, groups)}"
        elif step.need == 1:
            needed = f"any one of {_people(step.approvers, groups)}"
        else:
            needed = f"{step.need} of {_people(step.approvers, groups)}"
        if step.skip_after_s:
            needed += f"; skipped after {_took(step.skip_after_s)} if nobody decides"
        lines.append(f"Step {number}{name}: {needed}")
    return lines


def _reminders(rule: AppliedRule) -> str:
    if not rule.remind_after_s:
        return "none"
    per_step = " in each step" if len(rule.stages()) > 1 else ""
    who = "the approvers who have not decided (in the thread, and by DM with the buttons)"
    if rule.remind_every_s and rule.remind_max > 1:
        return (
            f"after {_took(rule.remind_after_s)} without a decision, then every "
            f"{_took(rule.remind_every_s)}, at most {rule.remind_max}{per_step}, to {who}"
        )
    return f"once, after {_took(rule.remind_after_s)} without a decision{per_step}, to {who}"


def _escalation(rule: AppliedRule, groups: GroupLookup) -> str:
    if not (rule.escalate_after_s and rule.escalate_to):
        return "none"
    per_step = " (once in each step)" if len(rule.stages()) > 1 else " (once)"
    return (
        f"after {_took(rule.escalate_after_s)} without a decision, "
        f"{_people(rule.escalate_to, groups)} may approve too{per_step}, told in the thread "
        "and by DM"
    )


def _described(found: Explanation) -> str:
    facts, request = found.facts, found.request
    parts = [
        f"{facts.request_cpu} vCPU" if facts.request_cpu is not None else "source's vCPU",
        f"{facts.request_memory} MiB" if facts.request_memory is not None else "source's memory",
    ]
    if facts.size is not None:
        parts.append(f"size {facts.size}")
    parts.append("a GPU spec" if facts.gpu else "no GPU spec")
    parts += [f"type {facts.type}"] if facts.type else []
    parts += [f"model source {facts.model_source}"] if facts.model_source else []
    source = request.source_name or request.source_uuid
    parts += [f"source {source}"] if source else []
    parts += [f"channel {facts.channel}"] if facts.channel else []
    parts.append(f"requester {facts.requester}" if facts.requester else "no requester given")
    return ", ".join(parts)


def _approvers(entries: Sequence[str], groups: GroupLookup) -> str:
    if not entries:
        return "anyone but the requester (no approvers named)"
    return _people(entries, groups)


def _people(entries: Sequence[str], groups: GroupLookup) -> str:
    """Users as ids; a user group with its members, or why they are not known."""
    shown = []
    for entry in entries:
        if entry in groups.members_of:
            members = ", ".join(sorted(groups.members_of[entry])) or "no members"
            shown.append(f"{entry} (user group: {members})")
        elif entry in groups.unresolved:
            shown.append(f"{entry} (user group, {groups.unresolved[entry]})")
        else:
            shown.append(entry)
    return ", ".join(shown)


def _notes(found: Explanation) -> list[str]:
    notes = []
    unknown = [
        wire
        for wire, name in _NUMBERS
        if wire in found.thresholds and getattr(found.facts, name) is None
    ]
    if unknown:
        notes.append(
            f"Note: {', '.join(unknown)} left to the source: not known here, so no threshold "
            "on it matches (the bot matches the source's value)"
        )
    if found.on_requester and not found.request.requester:
        notes.append("Note: no requester given, so no rule on the requester matches")
    if not (found.rule.deny or found.rule.auto_approve):
        notes += [f"Note: {problem.text}" for problem in never_due(found.rule)]
    if found.groups.unresolved:
        notes.append(
            "Note: user groups not resolved (rules on the requester's groups do not match): "
            + ", ".join(sorted(found.groups.unresolved))
        )
    return notes


def run_explain_command(settings: Settings, path: Path, *, policy_file: Path | None = None) -> int:
    """Print the explanation; 2 when REQUEST.json is bad (the policy file's problems leave as
    ``ConfigError``, one line each)."""
    chosen = policy_file or settings.policy_file
    rules = Rules(load_policy(chosen).rules if chosen else [], default_rule(settings))
    try:
        request = read_request_file(path)
    except RequestFileError as exc:
        print(f"clone-bot: {exc}", file=sys.stderr)
        return 2
    found = asyncio.run(_explained(settings, request, rules))
    print("\n".join(explanation_lines(found)))
    return 0


async def _explained(settings: Settings, request: RequestFile, rules: Rules) -> Explanation:
    if settings.slack_bot_token is None:
        return await explain(request, rules, GroupLookup(None))
    async with aiohttp.ClientSession() as session:
        client = build_web_client(settings, session=session)
        return await explain(request, rules, GroupLookup(client))
