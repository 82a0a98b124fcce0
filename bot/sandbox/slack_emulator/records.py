"""What the emulator remembers: messages, views, triggers, response URLs, calls and deliveries."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

JSON = dict[str, Any]
PayloadKind = Literal["slash_commands", "interactive", "events_api"]


@dataclass
class Message:
    """A channel message, a thread reply, or an ephemeral (``ephemeral_to`` set)."""

    channel: str
    ts: str
    text: str
    user: str
    blocks: list[JSON] = field(default_factory=list)
    bot_id: str | None = None
    app_id: str | None = None
    team: str | None = None
    thread_ts: str | None = None
    subtype: str | None = None
    replies: list[Message] = field(default_factory=list)
    edited_ts: str | None = None
    ephemeral_to: str | None = None
    source: str = "chat.postMessage"
    metadata: JSON | None = None
    attachments: list[JSON] | None = None
    parent_user_id: str | None = None

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts

    @property
    def reply_count(self) -> int:
        return len(self.replies)

    def to_dict(self) -> JSON:
        """The message object as Slack returns it (``chat.postMessage`` ``message``, payloads)."""
        out: JSON = {"type": "message", "ts": self.ts, "text": self.text, "user": self.user}
        if self.subtype:
            out["subtype"] = self.subtype
        if self.bot_id:
            out["bot_id"] = self.bot_id
            out["app_id"] = self.app_id
        if self.team:
            out["team"] = self.team
        if self.blocks:
            out["blocks"] = self.blocks
        if self.attachments:
            out["attachments"] = self.attachments
        if self.metadata:
            out["metadata"] = self.metadata
        if self.edited_ts:
            out["edited"] = {"user": self.user, "ts": self.edited_ts}
        if self.thread_ts:
            out["thread_ts"] = self.thread_ts
        if self.is_reply:
            out["parent_user_id"] = self.parent_user_id
        elif self.replies:
            users = list(dict.fromkeys(r.user for r in self.replies))
            out["reply_count"] = len(self.replies)
            out["reply_users"] = users
            out["reply_users_count"] = len(users)
            out["latest_reply"] = self.replies[-1].ts
        return out


@dataclass
class OpenView:
    """A modal (or home view) and where it stands: its stack, state, and the errors shown on it."""

    id: str
    user: str
    definition: JSON
    hash: str
    team_id: str
    app_id: str
    bot_id: str
    root_view_id: str
    previous_view_id: str | None = None
    values: dict[str, dict[str, JSON]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    open: bool = True
    closed_by: str | None = None

    @property
    def callback_id(self) -> str:
        return str(self.definition.get("callback_id") or "")

    @property
    def external_id(self) -> str:
        return str(self.definition.get("external_id") or "")

    @property
    def private_metadata(self) -> str:
        return str(self.definition.get("private_metadata") or "")

    @property
    def blocks(self) -> list[JSON]:
        blocks = self.definition.get("blocks") or []
        return list(blocks)

    @property
    def title(self) -> str:
        title = self.definition.get("title") or {}
        return str(title.get("text", "")) if isinstance(title, dict) else str(title)

    def to_dict(self, values: dict[str, dict[str, JSON]] | None = None) -> JSON:
        """The view object as the Web API and payloads carry it."""
        d = self.definition
        return {
            "id": self.id,
            "team_id": self.team_id,
            "type": d.get("type", "modal"),
            "blocks": self.blocks,
            "private_metadata": self.private_metadata,
            "callback_id": self.callback_id,
            "state": {"values": self.values if values is None else values},
            "hash": self.hash,
            "title": d.get("title"),
            "clear_on_close": bool(d.get("clear_on_close", False)),
            "notify_on_close": bool(d.get("notify_on_close", False)),
            "close": d.get("close"),
            "submit": d.get("submit"),
            "previous_view_id": self.previous_view_id,
            "root_view_id": self.root_view_id,
            "app_id": self.app_id,
            "external_id": self.external_id,
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }


@dataclass
class Trigger:
    id: str
    user: str
    issued_at: float
    origin: str
    used_at: float | None = None


@dataclass
class CommandRecord:
    """One slash command: when it was sent, and when the first ``views.open`` for it arrived."""

    command: str
    text: str
    user: str
    channel: str
    trigger_id: str
    response_url: str
    sent_at: float
    sent_wall: float
    views_open_at: float | None = None

    @property
    def views_open_delay(self) -> float | None:
        return None if self.views_open_at is None else self.views_open_at - self.sent_at


@dataclass
class ResponseUrl:
    id: str
    url: str
    user: str
    channel: str
    created_at: float
    origin: str
    message_ts: str | None = None
    thread_ts: str | None = None
    uses: int = 0


@dataclass
class ApiCall:
    method: str
    params: JSON
    http_method: str
    received_at: float
    received_wall: float
    ok: bool = False
    error: str | None = None
    status: int = 200

    def to_dict(self) -> JSON:
        return {
            "method": self.method,
            "params": self.params,
            "http_method": self.http_method,
            "received_at": self.received_at,
            "received_wall": self.received_wall,
            "ok": self.ok,
            "error": self.error,
            "status": self.status,
        }


@dataclass
class Delivery:
    """One payload sent to the app and what came back."""

    kind: PayloadKind
    type: str
    payload: JSON
    sent_at: float
    status: int | None = None
    body: str = ""
    latency: float = 0.0
    timed_out: bool = False
    error: str | None = None
    trigger_id: str | None = None
    response_url: str | None = None
    options: list[JSON] | None = None
    via: str = "http"
    connection: str | None = None
    envelope_id: str | None = None
    retry_attempt: int = 0

    @property
    def ok(self) -> bool:
        return self.status == 200 and not self.timed_out

    def json(self) -> Any:
        """The response body parsed as JSON, or ``None`` when it is empty or not JSON."""
        if not self.body.strip():
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def to_dict(self) -> JSON:
        return {
            "kind": self.kind,
            "type": self.type,
            "status": self.status,
            "body": self.body,
            "latency": self.latency,
            "timed_out": self.timed_out,
            "error": self.error,
            "trigger_id": self.trigger_id,
            "response_url": self.response_url,
            "options": self.options,
            "sent_at": self.sent_at,
            "via": self.via,
            "connection": self.connection,
            "envelope_id": self.envelope_id,
            "retry_attempt": self.retry_attempt,
        }


@dataclass
class ValidationFailure:
    source: str
    code: str
    messages: list[str]
    payload: Any = None

    def to_dict(self) -> JSON:
        return {"source": self.source, "code": self.code, "messages": self.messages}


@dataclass
class Fault:
    """An injected failure for ``method`` (``"*"``: any; ``"response_url"``: response URLs)."""

    method: str
    error: str | None = None
    status: int = 200
    retry_after: int | None = None
    count: int | None = 1
    delay: float = 0.0
    # Only slow: after ``delay`` the call is answered as usual.
    passes: bool = False

    @property
    def code(self) -> str:
        if self.error:
            return self.error
        if self.status == 429:
            return "ratelimited"
        return "internal_error" if self.status >= 500 else "fatal_error"

    def to_dict(self) -> JSON:
        return {
            "method": self.method,
            "error": self.code,
            "status": self.status,
            "retry_after": self.retry_after,
            "count": self.count,
            "delay": self.delay,
            "passes": self.passes,
        }
