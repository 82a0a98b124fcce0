"""A clone request as stored in Redis, and its states (DESIGN §4)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from bot.requests.effects import StoredMsg
from bot.requests.rules import AppliedRule
from bot.zstack.models import CloneRequestBody, ErrorCode, ModelServiceInventory

# Crockford's base32 without I, L, O, U: ids read aloud or typed back stay unambiguous.
_ID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ID_PREFIX = "CR-"


def new_request_id() -> str:
    """``CR-`` and six characters: about a billion ids, checked for collisions on create."""
    return ID_PREFIX + "".join(secrets.choice(_ID_ALPHABET) for _ in range(6))


def looks_like_request_id(text: str) -> bool:
    text = text.strip().upper()
    return (
        text.startswith(ID_PREFIX)
        and len(text) == len(ID_PREFIX) + 6
        and all(c in _ID_ALPHABET for c in text[len(ID_PREFIX) :])
    )


class State(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    SUBMITTING = "submitting"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    AWAITING_LOGIN = "awaiting_login"


TERMINAL = frozenset({State.SUCCEEDED, State.REJECTED, State.CANCELLED, State.EXPIRED})
# Failed is final unless retried.
FINISHED = TERMINAL | {State.FAILED}
WAITING_FOR_DECISION = frozenset({State.PENDING})
IN_FLIGHT = frozenset({State.APPROVED, State.SUBMITTING, State.RUNNING})
# The requester may edit and resubmit a request that is waiting or ended without a clone.
RESUBMITTABLE = frozenset(
    {State.PENDING, State.REJECTED, State.FAILED, State.EXPIRED, State.CANCELLED}
)


def utc_now() -> datetime:
    return datetime.now(UTC)


class ParamChange(BaseModel):
    """One parameter the clone sets differently from its source (``before`` None: unset there),
    as people read it (``bot.requests.changes``)."""

    wire: str
    before: str | None = None
    after: str | None = None


class PreflightCheck(BaseModel):
    """One pre-flight check, run with the requester's session (``bot.requests.preflight``):
    ``blocking`` ones make the clone certain to fail and block Approve."""

    kind: Literal["name", "source", "session"]
    ok: bool
    blocking: bool = False
    until: AwareDatetime | None = None  # session: when it expires


class Override(BaseModel):
    """A break-glass approval: who overrode the rule's approvals, why, when."""

    by: str
    reason: str
    at: AwareDatetime


class Vote(BaseModel):
    """One approval: who, in which step of the rule, when, and what they wrote with it."""

    user: str
    step: int = 0
    at: AwareDatetime
    comment: str | None = None


class CloneRequest(BaseModel):
    """Everything about one request; ``version`` increases with every stored change."""

    id: str
    version: int = 0
    state: State = State.PENDING
    team_id: str
    requester: str
    origin_channel: str | None = None
    channel: str
    card_ts: str | None = None
    params_ts: str | None = None
    card_link: str | None = None  # the card's permalink: DMs, status, list and App Home link it
    source_uuid: str
    source_name: str | None = None
    body: CloneRequestBody
    reason: str
    created_at: AwareDatetime
    updated_at: AwareDatetime
    expires_at: AwareDatetime
    approvals_required: int = 1
    approvals: list[str] = Field(default_factory=list)
    decided_by: str | None = None
    decision_reason: str | None = None
    approved_at: AwareDatetime | None = None
    job_uuid: str | None = None
    job_api_timeout_s: float | None = None
    attempts: int = 0
    submitted_at: AwareDatetime | None = None
    finished_at: AwareDatetime | None = None
    result: ModelServiceInventory | None = None  # the new model service
    error: ErrorCode | None = None  # ZStack's error with its cause chain
    error_text: str | None = None  # the error in one English line (logs, metrics)
    # What the bot found wrong (not ZStack's error), kept as a template: each reader's language.
    failure: StoredMsg | None = None
    notified: list[str] = Field(default_factory=list)
    # What the clone changes against the source; None when the source's values were not known.
    changes: list[ParamChange] | None = None
    checks: list[PreflightCheck] = Field(default_factory=list)  # the last pre-flight run
    # Edit and resubmit: the request this one replaces (and its card), the one replacing it.
    # The approval rule the request met (None: made before rules, the settings apply).
    rule: AppliedRule | None = None
    # Approvers' ZStack identities (Slack user → "account/user"), when the rule made them log in.
    approver_accounts: dict[str, str] = Field(default_factory=dict)
    override: Override | None = None  # break-glass
    # Where the request stands in its rule's steps, and what was done because nobody decided
    # in the current one (reminders sent, fallback approvers added); ``votes`` hold each
    # approval with its step and comment (``approvals`` lists the same people, in order).
    step: int = 0
    step_started_at: AwareDatetime | None = None
    votes: list[Vote] = Field(default_factory=list)
    reminders: int = 0
    reminded_at: AwareDatetime | None = None  # the last reminder in the current step
    escalated: list[str] = Field(default_factory=list)
    skipped: list[int] = Field(default_factory=list)
    supersedes: str | None = None
    supersedes_link: str | None = None
    superseded_by: str | None = None

    @property
    def new_name(self) -> str:
        return self.body.params.name or f"{self.source_name or self.source_uuid}-clone"

    @property
    def step_since(self) -> datetime:
        """When the current step began (the request's creation, for the first)."""
        return self.step_started_at or self.created_at

    def elapsed_s(self) -> float | None:
        if self.finished_at is None:
            return None
        start = self.approved_at or self.created_at
        return (self.finished_at - start).total_seconds()
