"""The bot's own pace per Web API method, so that Slack's rate limits rarely answer 429.

Slack limits each method per app and workspace (``chat.update`` Tier 3, about 50 a minute;
``views.*`` Tier 4; ``usergroups.users.list`` Tier 2) and ``chat.postMessage`` per channel (about
one a second). ``Pacer`` keeps a token bucket per method (per method and channel for
``chat.postMessage``) a little inside those limits, and the ``Retry-After`` of every 429: until
then, no caller in the process calls that method again.

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


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class Pacer:
    """Per-method budgets and ``Retry-After`` deadlines, shared by every caller in the process."""

    budgets: dict[str, Budget] = field(default_factory=default_budgets)
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[tuple[str, str], _Bucket] = field(default_factory=dict)
    _not_before: dict[tuple[str, str], float] = field(default_factory=dict)
    _queue: dict[tuple[str, str], float] = field(default_factory=dict)  # next one turned away

    @staticmethod
    def key(method: str, channel: str | None) -> tuple[str, str]:
        return (method, (channel or "") if method in PER_CHANNEL else "")

    def admit(self, method: str, channel: str | None = None) -> float:
        """0 when the call may go now (and is counted), else the seconds until it may."""
        return self._wait(method, channel, take=True)

    def wait_s(self, method: str, channel: str | None = None) -> float:
        """How long until ``method`` may be called (0: now), counting nothing."""
        return self._wait(method, channel, take=False)

    def _wait(self, method: str, channel: str | None, *, take: bool) -> float:
        key = self.key(method, channel)
        now = self.clock()
        wait = self._wait_now(key, now, take=take)
        budget = self.budgets.get(method)
        if not take or wait <= 0 or budget is None:
            return wait
        # Callers turned away come back one turn apart, not all at the same instant.
        back_at = max(now + wait, self._queue.get(key, 0.0))
        self._queue[key] = back_at + budget.interval_s
        return back_at - now

    def _wait_now(self, key: tuple[str, str], now: float, *, take: bool) -> float:
        blocked = self._not_before.get(key, 0.0) - now
        if blocked > 0:
            return blocked
        budget = self.budgets.get(key[0])
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
            if take:
                bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) * budget.interval_s

    def hold(self, method: str, channel: str | None, retry_after_s: float) -> None:
        """Slack said 429: nobody calls ``method`` (in ``channel``) for ``retry_after_s``."""
        key = self.key(method, channel)
        until = self.clock() + retry_after_s
        self._not_before[key] = max(self._not_before.get(key, 0.0), until)
        bucket = self._buckets.get(key)
        if bucket is not None:  # Slack counts differently from us: start again from empty
            bucket.tokens, bucket.at = 1.0, until
