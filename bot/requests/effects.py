"""What a transition causes, recorded with it: the request's outbox (DESIGN §3, "Delivery").

Deciding code never calls Slack or ZStack after a change. It names the effects of the change —
re-render the card, a thread note, a DM, post the card, send the clone, deliver the completion
notices — and the store writes them in the same atomic step as the record (one Lua script, one
hash slot). Workers on any replica carry them out (``bot.requests.outbox``): a crash between the
decision and its effects delays them, it never loses them.

Effects run in three lanes. ``submit`` talks to ZStack and never waits behind Slack (a card stuck
behind a rate limit must not hold up a clone); card re-renders wait for ``chat.update`` on their
own (they draw the record as it then stands, so a late one loses nothing); the other Slack effects
keep their order, so a thread reads in the order things happened; DMs go in their own lane and
first (``PRIORITY``): under Slack's rate limits the requester hears first, and a completion held
back behind thread notes sends its DM ahead (``Outbox``).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from bot.i18n import Msg
from bot.ui.text import Mrkdwn

Kind = Literal["publish", "card", "note", "dm", "completion", "submit", "preflight"]
# Effects that post a new message: marked as being sent first, so a retry after a crash looks
# for the message in Slack instead of posting it twice (the card's poster does its own looking:
# ``Notifier.perform`` is told the effect was on its way by ``sending``).
POSTING: frozenset[Kind] = frozenset({"note", "dm", "publish"})
ZSTACK_LANE: frozenset[Kind] = frozenset({"submit", "preflight"})
# The order a round carries out what is pending (ties keep the order they were caused in): the
# requester's DM (and the card's first post, which tells them where it is), then thread notes and
# completion notices, then card re-renders.
PRIORITY: dict[Kind, int] = {
    "submit": 0,
    "preflight": 0,
    "dm": 1,
    "publish": 1,
    "note": 2,
    "completion": 2,
    "card": 3,
}


class StoredMsg(BaseModel):
    """A ``Msg`` as JSON: which values are mrkdwn already (not to be escaped again) and which
    are dates (shown in the reader's language when rendered) is kept."""

    template: str
    emoji: str = ""
    values: dict[str, str | int | float] = Field(default_factory=dict)
    mrkdwn: list[str] = Field(default_factory=list)
    dates: list[str] = Field(default_factory=list)

    @classmethod
    def of(cls, msg: Msg) -> StoredMsg:
        values: dict[str, str | int | float] = {}
        for name, value in msg.values.items():
            if isinstance(value, datetime):
                values[name] = value.isoformat()
            else:
                values[name] = value if isinstance(value, int | float | str) else str(value)
        marked = [name for name, value in msg.values.items() if isinstance(value, Mrkdwn)]
        dates = [name for name, value in msg.values.items() if isinstance(value, datetime)]
        return cls(
            template=msg.template, emoji=msg.emoji, values=values, mrkdwn=marked, dates=dates
        )

    def msg(self) -> Msg:
        values: dict[str, Any] = {}
        for name, value in self.values.items():
            if name in self.mrkdwn:
                values[name] = Mrkdwn(str(value))
            elif name in self.dates:
                values[name] = datetime.fromisoformat(str(value))
            else:
                values[name] = value
        return Msg(self.template, values, self.emoji)


class Effect(BaseModel):
    """One thing to do because of a transition, with how often it was tried."""

    kind: Kind
    text: StoredMsg | None = None  # note, dm
    user: str | None = None  # dm: to whom
    resubmit: bool = False  # dm: with the requester's "Edit and resubmit"
    decide: bool = False  # dm: with Approve / Reject, while the request still waits
    at: float = Field(default_factory=time.time)  # when it was caused (epoch s)
    attempts: int = 0
    next_at: float | None = None  # not before (after a failed try)
    sending: bool = False  # a post went out and may have landed; check before posting again

    @property
    def lane(self) -> str:
        if self.kind in ZSTACK_LANE:
            return "zstack"
        if self.kind == "dm":
            return "dm"  # another channel: it waits for no thread note
        return "card" if self.kind == "card" else "slack"


def card() -> Effect:
    """Re-render the card (and retire the thread's buttons once decided) from the record."""
    return Effect(kind="card")


def note(text: Msg) -> Effect:
    """A note in the card's thread, in the workspace language."""
    return Effect(kind="note", text=StoredMsg.of(text))


def dm(user: str, text: Msg, *, resubmit: bool = False, decide: bool = False) -> Effect:
    """A direct message, in the reader's language; ``resubmit``: with "Edit and resubmit" and
    a link to the request's thread; ``decide``: with Approve / Reject (to an approver)."""
    return Effect(kind="dm", user=user, text=StoredMsg.of(text), resubmit=resubmit, decide=decide)


def publish() -> Effect:
    """Post the card and its parameter reply, then tell the requester where it is."""
    return Effect(kind="publish")


def submit() -> Effect:
    """Send the approved request to ZStack (the executor's write-ahead makes it once)."""
    return Effect(kind="submit")


def completion() -> Effect:
    """The result in the thread, on the card and in the requester's DMs (each step once)."""
    return Effect(kind="completion")


def preflight() -> Effect:
    """Run the pre-flight checks with the requester's session and show them on the card."""
    return Effect(kind="preflight")
