"""Approval rules by risk: the optional policy file (``CLONEBOT_POLICY_FILE``, YAML).

Rules are tried in order and the first that matches a request decides who approves it, how many
approvals it needs, how long it waits, whether the requester may approve it, whether approvers
must prove their ZStack identity, who may override (break-glass) — or refuses it (``deny``), or
approves it without a click (``auto_approve``, only with explicit bounds). A request no rule
matches gets the default rule: the settings (``CLONEBOT_APPROVERS``, ``…_APPROVALS_REQUIRED``,
``…_APPROVAL_TTL_S``, ``…_ALLOW_SELF_APPROVAL``, ``CLONEBOT_APPROVER_LOGIN``).

A rule's ``when`` is a mapping (every condition holds) or a list of them (any one does)::

    rules:
      - name: large-or-gpu
        when: [{gpu: true}, {requestCpu: "> 8"}]
        approvers: [S0PLATFORM]
        approvals: 2
        approver_login: required
      - name: small
        when: {requestCpu: "<= 2", gpu: false}
        auto_approve: true

A parameter the request leaves to the source is matched with the source's value; one nobody
knows matches no threshold.
"""

from __future__ import annotations

import fnmatch
import logging
import operator
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.config import Settings
from bot.errors import ConfigError

logger = logging.getLogger(__name__)

DEFAULT_RULE = "default"
# Slack user ids (U…, W… for Enterprise Grid) and user-group ids (S…).
USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
GROUP_ID = re.compile(r"^S[A-Z0-9]{2,}$")
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
}
_THRESHOLD = re.compile(r"^\s*(>=|<=|>|<|==)?\s*(\d+)\s*$")
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
Op = Literal[">=", "<=", ">", "<", "=="]


class Threshold(BaseModel):
    """``">= 16"``, ``"< 4"``, or a bare number (equal to it)."""

    op: Op
    bound: int

    def holds(self, value: float | None) -> bool:
        return value is not None and _OPS[self.op](value, self.bound)

    @property
    def upper(self) -> bool:
        return self.op in ("<=", "<", "==")


def _threshold(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError('write a threshold like ">= 16" or "<= 2"')
    if isinstance(value, int):
        return {"op": "==", "bound": value}
    if isinstance(value, str):
        found = _THRESHOLD.match(value)
        if not found:
            raise ValueError(f'bad threshold {value[:40]!r}: write it like ">= 16" or "<= 2"')
        return {"op": found.group(1) or "==", "bound": int(found.group(2))}
    return value


def _listed(value: Any) -> Any:
    """One value or a list of them."""
    return [value] if isinstance(value, str) else value


def _seconds(value: Any) -> Any:
    """``3600``, ``"90m"``, ``"4h"``, ``"2d"``."""
    if isinstance(value, str):
        found = _DURATION.match(value)
        if not found:
            raise ValueError(f"bad duration {value[:40]!r}: write it like 3600, 90m, 4h or 2d")
        return int(found.group(1)) * _UNIT_S[found.group(2)]
    return value


ThresholdField = Annotated[Threshold | None, BeforeValidator(_threshold)]
Names = Annotated[list[str], BeforeValidator(_listed)]


def _people(ids: list[str], *, groups: bool = True) -> list[str]:
    for entry in ids:
        if not (USER_ID.match(entry) or (groups and GROUP_ID.match(entry))):
            kinds = "a Slack user id (U…/W…) or user-group id (S…)" if groups else "a user id"
            raise ValueError(f"{entry[:40]!r} is not {kinds}")
    return ids


class Match(BaseModel):
    """The conditions of one ``when`` mapping; every one given must hold."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    request_cpu: ThresholdField = Field(None, alias="requestCpu")
    request_memory: ThresholdField = Field(None, alias="requestMemory")
    size: ThresholdField = None
    gpu: bool | None = None
    type: Names = Field(default_factory=list)
    model_source: Names = Field(default_factory=list, alias="source")
    source_name: Names = Field(default_factory=list)
    channel: Names = Field(default_factory=list)
    requester: Names = Field(default_factory=list)

    @field_validator("requester")
    @classmethod
    def _requesters(cls, value: list[str]) -> list[str]:
        return _people(value)

    @model_validator(mode="after")
    def _not_empty(self) -> Match:
        if not self.model_fields_set:
            raise ValueError("an empty condition: leave out `when` to match every request")
        return self


Duration = Annotated[int | None, BeforeValidator(_seconds)]


class Step(BaseModel):
    """One approval step of a rule: who approves in it, how many of them, and optionally how
    long it waits before it is skipped."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=64)
    approvers: Names = Field(min_length=1)
    need: Literal["any", "all"] | Annotated[int, Field(ge=1, le=10)] = "any"
    skip_after: Duration = Field(None, ge=60)

    @field_validator("approvers")
    @classmethod
    def _ids(cls, value: list[str]) -> list[str]:
        return _people(value)

    @model_validator(mode="after")
    def _countable(self) -> Step:
        if self.need == "all" and any(GROUP_ID.match(a) for a in self.approvers):
            raise ValueError(
                "need: all names each approver: list user ids (U…), or use a count with a group"
            )
        users_only = all(USER_ID.match(a) for a in self.approvers)
        if isinstance(self.need, int) and users_only and self.need > len(self.approvers):
            raise ValueError(f"need: {self.need} is more than the {len(self.approvers)} listed")
        return self


class Rule(BaseModel):
    """One rule of the policy file; what it leaves out comes from the settings."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    when: list[Match] = Field(default_factory=list)
    approvers: Names | None = None
    approvals: int | None = Field(None, ge=1, le=10)
    ttl: Duration = Field(None, ge=60)
    self_approval: bool | None = None
    approver_login: Literal["required", "off"] | None = None
    break_glass: Names = Field(default_factory=list)
    deny: str | None = Field(None, min_length=1, max_length=500)
    auto_approve: bool = False
    steps: list[Step] = Field(default_factory=list, max_length=5)
    remind_after: Duration = Field(None, ge=60)
    remind_every: Duration = Field(None, ge=60)
    remind_max: int | None = Field(None, ge=1, le=20)
    escalate_after: Duration = Field(None, ge=60)
    escalate_to: Names = Field(default_factory=list)
    approval_comment: Literal["required", "off"] | None = None

    @field_validator("when", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, dict) else value

    @field_validator("approvers", "break_glass", "escalate_to")
    @classmethod
    def _ids(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _people(value)

    @model_validator(mode="after")
    def _coherent(self) -> Rule:
        if self.deny and self.auto_approve:
            raise ValueError("a rule cannot both deny and auto-approve")
        if self.steps and (self.approvers is not None or self.approvals is not None):
            raise ValueError("a rule with steps names its approvers in the steps, not above them")
        if self.steps and self.steps[-1].skip_after:
            raise ValueError("the last step cannot be skipped: nobody would have approved")
        if self.remind_every and not self.remind_after:
            raise ValueError("remind_every needs remind_after")
        if bool(self.escalate_after) != bool(self.escalate_to):
            raise ValueError("escalate_after and escalate_to go together")
        if self.auto_approve:
            # Auto-approval only within explicit bounds: a CPU ceiling in every alternative of
            # `when` (and, as the author sees fit, a memory ceiling or gpu: false).
            bounded = self.when and all(
                m.request_cpu is not None and m.request_cpu.upper for m in self.when
            )
            if not bounded:
                raise ValueError(
                    'auto_approve needs bounds in `when`: requestCpu "<= N" (and gpu: false, '
                    "requestMemory …)"
                )
        return self


class PolicyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[Rule] = Field(default_factory=list)

    @field_validator("rules")
    @classmethod
    def _unique(cls, rules: list[Rule]) -> list[Rule]:
        names = [r.name for r in rules]
        twice = sorted({n for n in names if names.count(n) > 1} | ({DEFAULT_RULE} & set(names)))
        if twice:
            raise ValueError(f"rule names must be unique and not {DEFAULT_RULE!r}: {twice[0]}")
        return rules

    def groups(self) -> set[str]:
        """Every user group the file names (checked with Slack at start and by ``check``)."""
        named: set[str] = set()
        for rule in self.rules:
            named.update(rule.approvers or [])
            named.update(rule.break_glass)
            named.update(rule.escalate_to)
            for step in rule.steps:
                named.update(step.approvers)
            for match in rule.when:
                named.update(match.requester)
        return {entry for entry in named if GROUP_ID.match(entry)}


def load_policy(path: Path) -> PolicyFile:
    """The policy file, or ``ConfigError`` with one line per problem."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError([f"CLONEBOT_POLICY_FILE: cannot read {path}: {exc.strerror}"]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not YAML"
        raise ConfigError([f"{path.name}: {problem}{where}"]) from None
    try:
        return PolicyFile.model_validate(raw if raw is not None else {})
    except ValidationError as exc:
        raise ConfigError([_line(path, error, raw) for error in exc.errors()]) from None


def _line(path: Path, error: Any, raw: Any) -> str:
    """``policy.yaml: rules[1] (big).when[0].requestCpu: bad threshold …``."""
    parts: list[str] = []
    for step in error["loc"]:
        if isinstance(step, int):
            parts[-1:] = [f"{parts[-1]}[{step}]" if parts else f"[{step}]"]
        else:
            parts.append(str(step))
    where = ".".join(parts) or "the file"
    rules = raw.get("rules") if isinstance(raw, dict) else None
    loc = error["loc"]
    if len(loc) > 1 and loc[0] == "rules" and isinstance(loc[1], int) and isinstance(rules, list):
        rule = rules[loc[1]] if loc[1] < len(rules) else None
        if isinstance(rule, dict) and isinstance(rule.get("name"), str):
            where = where.replace(f"rules[{loc[1]}]", f"rules[{loc[1]}] ({rule['name'][:40]})", 1)
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown field"
    return f"{path.name}: {where}: {message}"


# --- matching ---------------------------------------------------------------------------


BecauseKind = Literal[
    "cpu", "memory", "size", "gpu", "type", "model_source", "source_name", "channel", "requester"
]


class Because(BaseModel):
    """One condition a request met, to say why a rule applied (rendered per language)."""

    kind: Literal[
        "cpu",
        "memory",
        "size",
        "gpu",
        "type",
        "model_source",
        "source_name",
        "channel",
        "requester",
    ]
    value: str | int | bool | None = None
    op: Op | None = None
    bound: int | None = None


class AppliedStep(BaseModel):
    """One step as a request keeps it: ``need`` approvals of ``approvers`` (0: every one)."""

    name: str | None = None
    approvers: list[str] = Field(default_factory=list)
    need: int = 1  # 0: all of them
    skip_after_s: int | None = None

    @property
    def needs_all(self) -> bool:
        return self.need == 0

    def required(self) -> int:
        """How many approvals satisfy the step."""
        return len(self.approvers) if self.needs_all else self.need

    @classmethod
    def of(cls, step: Step) -> AppliedStep:
        need = 0 if step.need == "all" else 1 if step.need == "any" else int(step.need)
        return cls(
            name=step.name, approvers=step.approvers, need=need, skip_after_s=step.skip_after
        )


class AppliedRule(BaseModel):
    """The rule a request met, kept on the request: its approvals follow it, the card shows it."""

    name: str = DEFAULT_RULE
    because: list[Because] = Field(default_factory=list)
    approvers: list[str] = Field(default_factory=list)
    approvals: int = 1
    ttl_s: int = 86400
    self_approval: bool = False
    approver_login: bool = False
    break_glass: list[str] = Field(default_factory=list)
    deny: str | None = None
    auto_approve: bool = False
    steps: list[AppliedStep] = Field(default_factory=list)  # empty: one step, as above
    remind_after_s: int | None = None
    remind_every_s: int | None = None
    remind_max: int = 1
    escalate_after_s: int | None = None
    escalate_to: list[str] = Field(default_factory=list)
    approval_comment: bool = False

    def stages(self) -> list[AppliedStep]:
        """The steps a request goes through: the rule's, or the one its approvers make."""
        return self.steps or [AppliedStep(approvers=self.approvers, need=self.approvals)]

    @property
    def nudges(self) -> bool:
        """Whether anything is scheduled while the request waits (reminders, escalation,
        skipped steps)."""
        return bool(
            self.remind_after_s
            or self.escalate_after_s
            or any(step.skip_after_s for step in self.steps)
        )


def duration_text(seconds: int) -> str:
    """``2d``, ``4h``, ``90m``, ``45s``: a duration as the policy file writes it."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


class NeverDue(NamedTuple):
    """Something a rule's reminders, escalation or skipped steps promise that cannot happen (one
    line), and what to change: ``timing`` (a duration against the TTL), ``approvers`` or
    ``escalate_to``."""

    text: str
    change: Literal["timing", "approvers", "escalate_to"] = "timing"


def never_due(rule: AppliedRule) -> list[NeverDue]:
    """What a rule's reminders, escalation and skipped steps promise that cannot happen: each is
    counted from when its step began and never comes at or after the request's expiry (for
    ``check`` and ``policy explain``)."""
    ttl = rule.ttl_s
    expires = f"the request expires after {duration_text(ttl)}"
    found: list[NeverDue] = []
    if rule.remind_after_s:
        after = rule.remind_after_s
        if after >= ttl:
            found.append(
                NeverDue(f"reminders after {duration_text(after)} never happen: {expires}")
            )
        elif rule.remind_every_s and rule.remind_max > 1:
            fit = min(rule.remind_max, -(-(ttl - after) // rule.remind_every_s))
            if fit < rule.remind_max:
                found.append(
                    NeverDue(
                        f"only {fit} of the {rule.remind_max} reminders (after "
                        f"{duration_text(after)}, every {duration_text(rule.remind_every_s)}) "
                        f"fit: {expires}"
                    )
                )
        if any(not step.approvers for step in rule.stages()):
            found.append(
                NeverDue(
                    "reminders are a thread note only, with nobody to mention or DM: no "
                    "approvers are named (anyone but the requester may approve)",
                    "approvers",
                )
            )
    if rule.escalate_after_s and rule.escalate_to:
        if rule.escalate_after_s >= ttl:
            found.append(
                NeverDue(
                    f"escalation after {duration_text(rule.escalate_after_s)} never happens: "
                    f"{expires}"
                )
            )
        elif all(
            step.approvers and set(rule.escalate_to) <= set(step.approvers)
            for step in rule.stages()
        ):
            found.append(
                NeverDue(
                    f"escalation adds nobody: {', '.join(rule.escalate_to)} approve in every "
                    "step already",
                    "escalate_to",
                )
            )
    for number, step in enumerate(rule.steps, 1):
        if step.skip_after_s and step.skip_after_s >= ttl:
            found.append(
                NeverDue(
                    f"step {number} is never skipped after {duration_text(step.skip_after_s)}: "
                    f"{expires}"
                )
            )
    return found


@dataclass(frozen=True)
class Facts:
    """What rules look at: the request's parameters (the source's where it left them), the
    source's name, the channel it came from, who asks."""

    request_cpu: int | None = None
    request_memory: int | None = None
    size: int | None = None
    gpu: bool = False
    type: str | None = None
    model_source: str | None = None
    source_name: str | None = None
    channel: str | None = None
    requester: str = ""


Members = Callable[[str], Awaitable[frozenset[str]]]


@dataclass
class Rules:
    """The policy: the file's rules in order, then the settings' default rule."""

    rules: list[Rule]
    default: AppliedRule

    async def applied(self, facts: Facts, members: Members | None = None) -> AppliedRule:
        for rule in self.rules:
            because = await self._match(rule, facts, members)
            if because is not None:
                return self._apply(rule, because)
        return self.default

    def resolved(self, rule: Rule) -> AppliedRule:
        """``rule`` as a request meeting it would keep it (the settings fill what it leaves
        out), without the reasons it matched."""
        return self._apply(rule, [])

    def _apply(self, rule: Rule, because: list[Because]) -> AppliedRule:
        d = self.default
        return AppliedRule(
            name=rule.name,
            because=because,
            approvers=rule.approvers if rule.approvers is not None else d.approvers,
            approvals=rule.approvals or d.approvals,
            ttl_s=rule.ttl or d.ttl_s,
            self_approval=d.self_approval if rule.self_approval is None else rule.self_approval,
            approver_login=(
                d.approver_login
                if rule.approver_login is None
                else rule.approver_login == "required"
            ),
            break_glass=rule.break_glass,
            deny=rule.deny,
            auto_approve=rule.auto_approve,
            steps=[AppliedStep.of(step) for step in rule.steps],
            **_nudging(rule, d),
            approval_comment=(
                d.approval_comment
                if rule.approval_comment is None
                else rule.approval_comment == "required"
            ),
        )

    async def _match(
        self, rule: Rule, facts: Facts, members: Members | None
    ) -> list[Because] | None:
        if not rule.when:
            return []
        for match in rule.when:
            because = await _holds(match, facts, members)
            if because is not None:
                return because
        return None


async def _holds(match: Match, facts: Facts, members: Members | None) -> list[Because] | None:
    """What made every condition of ``match`` hold, or None when one does not."""
    found = [_numbers(match, facts), _words(match, facts)]
    if match.requester:
        who = await _among(facts.requester, match.requester, members)
        found.append([Because(kind="requester", value=who)] if who else None)
    if any(part is None for part in found):
        return None
    return [because for part in found for because in part or []]


def _numbers(match: Match, facts: Facts) -> list[Because] | None:
    because: list[Because] = []
    numeric: tuple[tuple[BecauseKind, Threshold | None, int | None], ...] = (
        ("cpu", match.request_cpu, facts.request_cpu),
        ("memory", match.request_memory, facts.request_memory),
        ("size", match.size, facts.size),
    )
    for kind, threshold, value in numeric:
        if threshold is None:
            continue
        if not threshold.holds(value):
            return None
        because.append(Because(kind=kind, value=value, op=threshold.op, bound=threshold.bound))
    if match.gpu is not None:
        if match.gpu != facts.gpu:
            return None
        because.append(Because(kind="gpu", value=facts.gpu))
    return because


def _words(match: Match, facts: Facts) -> list[Because] | None:
    because: list[Because] = []
    listed: tuple[tuple[BecauseKind, list[str], str | None], ...] = (
        ("type", match.type, facts.type),
        ("model_source", match.model_source, facts.model_source),
        ("channel", match.channel, facts.channel),
    )
    for kind, allowed, value in listed:
        if allowed:
            if value not in allowed:
                return None
            because.append(Because(kind=kind, value=value))
    if match.source_name:
        name = facts.source_name or ""
        pattern = next((p for p in match.source_name if fnmatch.fnmatchcase(name, p)), None)
        if pattern is None:
            return None
        because.append(Because(kind="source_name", value=pattern))
    return because


async def _among(user: str, entries: list[str], members: Members | None) -> str | None:
    """The entry (the user, or a group they are in) that names ``user``."""
    if user in entries:
        return user
    for group in (e for e in entries if GROUP_ID.match(e)):
        if members is not None and user in await members(group):
            return group
    return None


def default_rule(settings: Settings) -> AppliedRule:
    """The rule the settings make: what applies when no rule of the file matches."""
    return AppliedRule(
        approvers=list(settings.approvers),
        approvals=settings.approvals_required,
        ttl_s=settings.approval_ttl_s,
        self_approval=settings.allow_self_approval,
        approver_login=settings.approver_login == "required",
        remind_after_s=settings.remind_after_s,
        remind_every_s=settings.remind_every_s,
        remind_max=settings.remind_max if settings.remind_every_s else 1,
        escalate_after_s=settings.escalate_after_s,
        escalate_to=list(settings.escalate_to),
        approval_comment=settings.approval_comment == "required",
    )


def _nudging(rule: Rule, default: AppliedRule) -> dict[str, Any]:
    """A rule's reminders and escalation: its own when it sets them, else the default's."""
    if rule.remind_after:
        every = rule.remind_every
        reminders: dict[str, Any] = {
            "remind_after_s": rule.remind_after,
            "remind_every_s": every,
            "remind_max": (rule.remind_max or 3) if every else 1,
        }
    else:
        reminders = {
            "remind_after_s": default.remind_after_s,
            "remind_every_s": default.remind_every_s,
            "remind_max": default.remind_max,
        }
    if rule.escalate_after:
        escalation: dict[str, Any] = {
            "escalate_after_s": rule.escalate_after,
            "escalate_to": rule.escalate_to,
        }
    else:
        escalation = {
            "escalate_after_s": default.escalate_after_s,
            "escalate_to": default.escalate_to,
        }
    return reminders | escalation


def rules_from(settings: Settings) -> Rules:
    """The policy the settings name (``ConfigError`` when its file is bad)."""
    file = load_policy(settings.policy_file) if settings.policy_file else PolicyFile()
    return Rules(file.rules, default_rule(settings))
