"""The emulator's memory of the workspace, and the readers tests use.

Everything lives in one :class:`EmulatorState` owned by the server's event loop. Every change
calls :meth:`EmulatorState.notify`, which wakes :meth:`SlackEmulator.wait_for` waiters.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import secrets
import string
from collections import Counter
from dataclasses import fields
from typing import Any

from .clock import Clock
from .records import (
    JSON,
    ApiCall,
    CommandRecord,
    Delivery,
    Fault,
    Message,
    OpenView,
    ResponseUrl,
    Trigger,
    ValidationFailure,
)
from .workspace import Channel, Workspace

_ID_ALPHABET = string.ascii_uppercase + string.digits

# Version of :meth:`EmulatorState.export_state`'s layout; a different one is refused on import.
SAVED_FORMAT = 1
_MESSAGE_FIELDS = tuple(f.name for f in fields(Message) if f.name != "replies")
_CHANNEL_FIELDS = tuple(f.name for f in fields(Channel))


def new_id(prefix: str, length: int = 10) -> str:
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


class EmulatorState:
    """Workspace data plus everything that happened: messages, views, calls, deliveries."""

    def __init__(self, workspace: Workspace, clock: Clock) -> None:
        self._initial = copy.deepcopy(workspace)
        self.clock = clock
        self.version = 0
        self._changed = asyncio.Event()
        self.reset()

    def reset(self) -> None:
        """Back to the workspace given at construction, with no history."""
        self.workspace = copy.deepcopy(self._initial)
        self._timeline: dict[str, list[Message]] = {}
        self._index: dict[tuple[str, str], Message] = {}
        self._ephemerals: list[Message] = []
        self.views: dict[str, OpenView] = {}
        self.stacks: dict[str, list[str]] = {}
        # App Home: the home view published for each user (view id).
        self.homes: dict[str, str] = {}
        self.triggers: dict[str, Trigger] = {}
        self.commands: list[CommandRecord] = []
        self.response_urls: dict[str, ResponseUrl] = {}
        self.api_calls: list[ApiCall] = []
        self.deliveries: list[Delivery] = []
        self.validation_failures: list[ValidationFailure] = []
        self.faults: list[Fault] = []
        self._last_ts_us = 0
        self.notify()

    # -- change notification -------------------------------------------------------------------

    def notify(self) -> None:
        self.version += 1
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_changed(self, within: float) -> None:
        """Return on the next change, or after ``within`` seconds."""
        event = self._changed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), within)

    # -- ids and timestamps --------------------------------------------------------------------

    def next_ts(self) -> str:
        """A message ``ts`` like ``"1712345678.000100"``: unique and increasing."""
        micros = int(self.clock.time() * 1_000_000)
        micros = max(micros, self._last_ts_us + 1)
        self._last_ts_us = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    # -- conversations --------------------------------------------------------------------------

    def channel(self, ref: str) -> Channel | None:
        """A conversation by id, ``#name`` or ``name``; a user id means the bot's DM with them."""
        found = self.workspace.find_channel(ref)
        if found is None and ref in self.workspace.users:
            return self.workspace.im_for(ref)
        return found

    def _require_channel(self, ref: str) -> Channel:
        channel = self.channel(ref)
        if channel is None:
            raise KeyError(f"no channel {ref!r}")
        return channel

    def add_message(self, message: Message, *, broadcast: bool = False) -> Message:
        """Store a top-level message or a thread reply (``thread_ts`` naming its parent)."""
        channel = message.channel
        if message.thread_ts and message.thread_ts != message.ts:
            parent = self._index[(channel, message.thread_ts)]
            parent.thread_ts = parent.ts
            message.parent_user_id = parent.user
            parent.replies.append(message)
            if broadcast:
                message.subtype = "thread_broadcast"
                self._timeline.setdefault(channel, []).append(message)
        else:
            self._timeline.setdefault(channel, []).append(message)
        self._index[(channel, message.ts)] = message
        self.notify()
        return message

    def find_message(self, channel: str, ts: str) -> Message | None:
        return self._index.get((channel, ts))

    def delete_message(self, message: Message) -> None:
        if message.ephemeral_to is not None:
            self._ephemerals = [m for m in self._ephemerals if m is not message]
        else:
            self._index.pop((message.channel, message.ts), None)
            timeline = self._timeline.get(message.channel, [])
            self._timeline[message.channel] = [m for m in timeline if m is not message]
            if message.is_reply and message.thread_ts:
                parent = self._index.get((message.channel, message.thread_ts))
                if parent is not None:
                    parent.replies = [r for r in parent.replies if r is not message]
        self.notify()

    def add_ephemeral(self, message: Message) -> Message:
        self._ephemerals.append(message)
        self.notify()
        return message

    def find_ephemeral(self, channel: str, ts: str, user: str) -> Message | None:
        for message in self._ephemerals:
            if (message.channel, message.ts, message.ephemeral_to) == (channel, ts, user):
                return message
        return None

    # -- readers for tests ----------------------------------------------------------------------

    def messages(self, channel: str) -> list[Message]:
        """Top-level messages of a channel (``C…``, ``#name``, a ``D…`` id or a user's id for
        their DM with the bot), oldest first; thread broadcasts included."""
        found = self._require_channel(channel)
        return list(self._timeline.get(found.id, []))

    def message(self, channel: str, ts: str) -> Message | None:
        return self._index.get((self._require_channel(channel).id, ts))

    def thread(self, channel: str, ts: str) -> list[Message]:
        """The replies in the thread under ``ts`` (the parent itself excluded), oldest first."""
        parent = self.message(channel, ts)
        return [] if parent is None else list(parent.replies)

    def ephemerals(self, user: str, channel: str | None = None) -> list[Message]:
        """Ephemeral messages only ``user`` can see, oldest first."""
        channel_id = None if channel is None else self._require_channel(channel).id
        return [
            m
            for m in self._ephemerals
            if m.ephemeral_to == user and (channel_id is None or m.channel == channel_id)
        ]

    def dms(self, user: str) -> list[Message]:
        """Top-level messages in the bot's DM with ``user``."""
        for channel in self.workspace.channels.values():
            if channel.is_im and channel.im_user == user:
                return list(self._timeline.get(channel.id, []))
        return []

    def home(self, user: str) -> OpenView | None:
        """The App Home view the app published for ``user`` (``views.publish``), if any."""
        view_id = self.homes.get(user)
        return None if view_id is None else self.views.get(view_id)

    def open_views(self, user: str) -> list[OpenView]:
        """The user's modal stack, root first."""
        return [self.views[view_id] for view_id in self.stacks.get(user, [])]

    def view(self, view_id: str) -> OpenView:
        """A view by id, open or closed (``KeyError`` when unknown)."""
        return self.views[view_id]

    def calls(self, method: str | None = None) -> list[ApiCall]:
        """Recorded Web API calls (``"response_url"`` for response URL posts), oldest first."""
        return [c for c in self.api_calls if method is None or c.method == method]

    # -- snapshots --------------------------------------------------------------------------------

    def _message_dict(self, message: Message) -> JSON:
        out = message.to_dict()
        out["channel"] = message.channel
        out["source"] = message.source
        if message.replies:
            out["replies"] = [self._message_dict(r) for r in message.replies]
        return out

    def snapshot(self) -> JSON:
        """Everything, JSON-ready: the ``GET /_emu/state`` body."""
        ws = self.workspace
        channels = []
        for ch in ws.channels.values():
            channels.append(
                {
                    "id": ch.id,
                    "name": ch.name,
                    "type": ch.channel_type,
                    "members": sorted(ch.members) if not ch.is_im else [ch.im_user],
                    "bot_member": ch.bot_member,
                    "messages": [self._message_dict(m) for m in self._timeline.get(ch.id, [])],
                }
            )
        ephemerals: dict[str, list[JSON]] = {}
        for m in self._ephemerals:
            ephemerals.setdefault(m.ephemeral_to or "", []).append(self._message_dict(m))
        dms = {
            ch.im_user: ch.id for ch in ws.channels.values() if ch.is_im and ch.im_user is not None
        }
        views = []
        for v in self.views.values():
            d = v.to_dict()
            d.update(user=v.user, open=v.open, errors=v.errors, closed_by=v.closed_by)
            views.append(d)
        return {
            "team": {"id": ws.team_id, "domain": ws.team_domain, "name": ws.team_name},
            "bot": {"user_id": ws.bot_user_id, "bot_id": ws.bot_id, "app_id": ws.app_id},
            "users": [u.to_dict(ws.team_id, include_locale=True) for u in ws.users.values()],
            "usergroups": [
                {"id": g.id, "handle": g.handle, "name": g.name, "users": g.members}
                for g in ws.usergroups.values()
            ],
            "channels": channels,
            "dms": dms,
            "ephemerals": ephemerals,
            "views": views,
            "stacks": self.stacks,
            "commands": [
                {
                    "command": c.command,
                    "text": c.text,
                    "user": c.user,
                    "channel": c.channel,
                    "sent_at": c.sent_at,
                    "views_open_delay": c.views_open_delay,
                }
                for c in self.commands
            ],
            "calls": {
                "count": len(self.api_calls),
                "by_method": dict(Counter(c.method for c in self.api_calls)),
                "errors": dict(Counter(f"{c.method}:{c.error}" for c in self.api_calls if c.error)),
                "recent": [c.to_dict() for c in self.api_calls[-50:]],
            },
            "deliveries": [d.to_dict() for d in self.deliveries[-50:]],
            "validation_failures": [f.to_dict() for f in self.validation_failures],
            "faults": [f.to_dict() for f in self.faults],
        }

    # -- saving across restarts -------------------------------------------------------------------

    def export_state(self) -> JSON:
        """The workspace's lasting part, for :meth:`import_state` after a restart: conversations
        (DMs included), messages with their threads, and ephemerals. Open views, triggers,
        response URLs, commands, faults and the call and delivery logs are left out, as a
        restarted Slack client would not see them either.

        The result shares nested values (blocks, metadata) with the live state: serialise it
        before the next change."""
        channels = []
        for ch in self.workspace.channels.values():
            saved = {name: getattr(ch, name) for name in _CHANNEL_FIELDS}
            saved["members"] = sorted(ch.members)
            channels.append(saved)
        return {
            "format": SAVED_FORMAT,
            "channels": channels,
            "messages": [_saved_message(m) for m in self._index.values()],
            "timeline": {ch: [m.ts for m in msgs] for ch, msgs in self._timeline.items()},
            "ephemerals": [_saved_message(m) for m in self._ephemerals],
            "last_ts_us": self._last_ts_us,
        }

    def import_state(self, data: JSON) -> None:
        """Replace the history with what :meth:`export_state` saved (on top of the construction
        workspace: saved conversations are added or updated, people stay as built). Raises
        ``ValueError`` for data of another format or that does not hang together; the state is
        then reset."""
        if not isinstance(data, dict) or data.get("format") != SAVED_FORMAT:
            raise ValueError(f"not a saved emulator state of format {SAVED_FORMAT}")
        self.reset()
        try:
            for saved in data["channels"]:
                channel = Channel(**{k: saved[k] for k in _CHANNEL_FIELDS if k in saved})
                channel.members = set(channel.members)
                self.workspace.channels[channel.id] = channel
            replies: list[tuple[Message, list[str]]] = []
            for saved in data["messages"]:
                message = _restored_message(saved)
                self._index[(message.channel, message.ts)] = message
                replies.append((message, list(saved.get("replies", []))))
            for message, reply_ts in replies:
                message.replies = [self._index[(message.channel, ts)] for ts in reply_ts]
            for channel_id, timeline in data["timeline"].items():
                self._timeline[channel_id] = [self._index[(channel_id, ts)] for ts in timeline]
            self._ephemerals = [_restored_message(m) for m in data.get("ephemerals", [])]
        except (KeyError, TypeError, AttributeError) as exc:
            self.reset()
            raise ValueError(f"inconsistent saved emulator state: {exc!r}") from exc
        stamps = [_ts_us(m.ts) for m in [*self._index.values(), *self._ephemerals]]
        self._last_ts_us = max([int(data.get("last_ts_us") or 0), *stamps])
        self.notify()

    def summary(self) -> str:
        """A few lines for assertion messages: what is where, what was called, what failed."""
        lines = []
        for ch in self.workspace.channels.values():
            timeline = self._timeline.get(ch.id, [])
            if not timeline:
                continue
            lines.append(f"  {ch.id} ({ch.name}): {len(timeline)} message(s)")
            for m in timeline[-5:]:
                lines.append(f"    {m.ts} {m.user}: {_short(m.text)} [{m.reply_count} replies]")
        for m in self._ephemerals[-5:]:
            lines.append(f"  ephemeral to {m.ephemeral_to} in {m.channel}: {_short(m.text)}")
        for user, stack in self.stacks.items():
            if stack:
                titles = [f"{v}:{self.views[v].callback_id}" for v in stack]
                lines.append(f"  open views of {user}: {titles}")
        calls = [f"{c.method}{'' if c.ok else '!' + str(c.error)}" for c in self.api_calls[-15:]]
        lines.append(f"  last calls: {calls}")
        deliveries = [
            f"{d.type}:{d.status}{'(timeout)' if d.timed_out else ''}"
            for d in self.deliveries[-10:]
        ]
        lines.append(f"  last deliveries: {deliveries}")
        if self.validation_failures:
            lines.append(
                f"  validation failures: {[f.to_dict() for f in self.validation_failures]}"
            )
        return "\n".join(lines)


def _saved_message(message: Message) -> JSON:
    saved: JSON = {name: getattr(message, name) for name in _MESSAGE_FIELDS}
    saved["replies"] = [r.ts for r in message.replies]
    return saved


def _restored_message(saved: Any) -> Message:
    if not isinstance(saved, dict):
        raise TypeError(f"a saved message must be an object, not {type(saved).__name__}")
    return Message(**{k: saved[k] for k in _MESSAGE_FIELDS if k in saved})


def _ts_us(ts: str) -> int:
    seconds, _, micros = ts.partition(".")
    try:
        return int(seconds) * 1_000_000 + int(micros.ljust(6, "0")[:6] or 0)
    except ValueError:
        return 0


def _short(text: str, limit: int = 80) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"
