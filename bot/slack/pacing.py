"""The bot's own pace per Web API method, so that Slack's rate limits rarely answer 429.

Slack limits each method per app and workspace (``chat.update`` Tier 3, about 50 a minute;
``views.*`` Tier 4; ``usergroups.users.list`` Tier 2) and ``chat.postMessage`` per channel (about
one a second) and across the workspace (a limit Slack does not publish: the bot keeps under
``WORKSPACE_BUDGETS``, 540 a minute). ``Pacer`` keeps a token bucket per method (per method and
channel for ``chat.postMessage``, plus one for all its channels) a little inside those limits, and
the ``Retry-After`` of every 429: until then, no caller in the process calls that method again
(in that channel). Slack's 429 does not say whether a channel's limit or the workspace's was
hit: the channel waits; when a second channel is refused while another still waits, it is the
workspace's, and every channel waits out the ``Retry-After`` (no channel is left calling into a
workspace that refuses, none waits longer than it was told).

``Pacer.admit`` never sleeps: it answers how long the caller must wait (0: go now, the call is
counted). The Web API client (``bot.slack.client``) waits that long for a caller on a person's
path (a form to fill, an ephemeral), up to its patience; the outbox has no patience and puts the
effect back with its ``next_at`` instead, so nothing else waits behind it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

# Calls per minute the bot allows itself, a little under each Slack tier (1, 20, 50, 100).
TIER_BUDGET: dict[int, float] = {1: 1.0, 2: 18.0, 3: 45.0, 4: 90.0}
METHOD_TIERS: dict[str, int] = {
    "chat.update": 3,
    "chat.delete": 3,
    "chat.postEphemeral": 4,
    "views.open": 4,
    "views.update": 4,
    "views.publish": 4,
    "views.push": 4,
    "conversations.open": 3,
    "conversations.history": 3,
    "conversations.replies": 3,
    "users.info": 4,
    "usergroups.users.list": 2,
}
# chat.postMessage: one a second per channel (Slack allows a short burst above that).
POST_MESSAGE_PER_MINUTE = 60.0
# Calls let through at once: a tenth of a minute's budget, enough for one request's burst
# (card, parameter reply) without spending Slack's own burst allowance.
BURST_FRACTION = 0.1
PER_CHANNEL = frozenset({"chat.postMessage"})
# The key of a per-channel method's bucket for all its channels together.
EVERY_CHANNEL = "*"


@dataclass(frozen=True)
class Budget:
    per_minute: float
    burst: int

    @property
    def interval_s(self) -> float:
        return 60.0 / self.per_minute


def default_budgets() -> dict[str, Budget]:
    budgets = {
        method: Budget(TIER_BUDGET[tier], max(1, int(TIER_BUDGET[tier] * BURST_FRACTION)))
        for method, tier in METHOD_TIERS.items()
    }
    budgets["chat.postMessage"] = Budget(POST_MESSAGE_PER_MINUTE, 2)
    return budgets


def default_workspace_budgets() -> dict[str, Budget]:
    """chat.postMessage across every channel: Slack publishes no figure ("a workspace-wide
    limit"); several hundred a minute is what integrations meet, the bot stays under 540."""
    return {"chat.postMessage": Budget(540.0, 30)}


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class Pacer:
    """Per-method budgets and ``Retry-After`` deadlines, shared by every caller in the process."""

    budgets: dict[str, Budget] = field(default_factory=default_budgets)
    # A per-channel method's budget over all its channels together.
    workspace_budgets: dict[str, Budget] = field(default_factory=default_workspace_budgets)
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[tuple[str, str], _Bucket] = field(default_factory=dict)
    _not_before: dict[tuple[str, str], float] = field(default_factory=dict)
    _queue: dict[tuple[str, str], float] = field(default_factory=dict)  # next one turned away

    @staticmethod
    def key(method: str, channel: str | None) -> tuple[str, str]:
        return (method, (channel or "") if method in PER_CHANNEL else "")

    def _keys(self, method: str, channel: str | None) -> list[tuple[str, str]]:
        """The buckets a call takes from: its method's (or channel's), and all channels'."""
        keys = [self.key(method, channel)]
        if method in PER_CHANNEL and (method in self.workspace_budgets or self._held_everywhere):
            keys.append((method, EVERY_CHANNEL))
        return keys

    @property
    def _held_everywhere(self) -> bool:
        return any(k[1] == EVERY_CHANNEL for k in self._not_before)

    def _budget(self, key: tuple[str, str]) -> Budget | None:
        if key[1] == EVERY_CHANNEL:
            return self.workspace_budgets.get(key[0])
        return self.budgets.get(key[0])

    def admit(self, method: str, channel: str | None = None) -> float:
        """0 when the call may go now (and is counted), else the seconds until it may."""
        return self._wait(method, channel, take=True)

    def wait_s(self, method: str, channel: str | None = None) -> float:
        """How long until ``method`` may be called (0: now), counting nothing."""
        return self._wait(method, channel, take=False)

    def _wait(self, method: str, channel: str | None, *, take: bool) -> float:
        now = self.clock()
        waits = {key: self._wait_now(key, now) for key in self._keys(method, channel)}
        wait = max(waits.values())
        if wait <= 0:
            if take:
                for key in waits:
                    if (bucket := self._buckets.get(key)) is not None:
                        bucket.tokens -= 1.0
            return 0.0
        if not take:
            return wait
        # Callers turned away come back one turn apart (of each limit that turned them away),
        # not all at the same instant.
        blocking = [key for key, w in waits.items() if w > 0]
        back_at = max([now + wait] + [self._queue.get(key, 0.0) for key in blocking])
        for key in blocking:
            if (budget := self._budget(key)) is not None:
                self._queue[key] = back_at + budget.interval_s
        return back_at - now

    def _wait_now(self, key: tuple[str, str], now: float) -> float:
        """Seconds until ``key``'s bucket has a call (its hold included), refilled to ``now``."""
        blocked = self._not_before.get(key, 0.0) - now
        if blocked > 0:
            return blocked
        budget = self._budget(key)
        if budget is None:
            return 0.0
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(budget.burst), now)
        bucket.tokens = min(
            float(budget.burst), bucket.tokens + (now - bucket.at) / budget.interval_s
        )
        bucket.at = now
        if bucket.tokens >= 1.0 - 1e-9:  # float sums fall a hair short
            return 0.0
        return (1.0 - bucket.tokens) * budget.interval_s

    def hold(self, method: str, channel: str | None, retry_after_s: float) -> None:
        """Slack said 429: nobody calls ``method`` (in ``channel``) for ``retry_after_s``; when
        another channel of it is still held, nobody calls it in any channel."""
        key = self.key(method, channel)
        now = self.clock()
        until = now + retry_after_s
        held = [key]
        if method in PER_CHANNEL and any(
            k[0] == method and k != key and t > now for k, t in self._not_before.items()
        ):
            held.append((method, EVERY_CHANNEL))
        for k in held:
            self._not_before[k] = max(self._not_before.get(k, 0.0), until)
            bucket = self._buckets.get(k)
            if bucket is not None:  # Slack counts differently from us: start again from empty
                bucket.tokens, bucket.at = 1.0, until
        # Holds that ran out say nothing any more.
        self._not_before = {k: t for k, t in self._not_before.items() if t > now}
