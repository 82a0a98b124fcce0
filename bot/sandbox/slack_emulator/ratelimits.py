"""Slack's Web API rate limits, per method for the one app and workspace the emulator serves.

Slack applies its tiers "per API method per workspace per app" and lets short bursts through
(reference: slack-platform.md, Rate limiting): Tier 1 about 1 call a minute, Tier 2 about 20,
Tier 3 about 50, Tier 4 about 100. ``chat.postMessage`` is special: about one message a second
per channel, with a short burst, "while also maintaining a workspace-wide limit". Slack does not
publish that workspace-wide figure; the emulator assumes ``WORKSPACE_POST_PER_MINUTE`` (600 a
minute, ten a second, with a burst of ``WORKSPACE_POST_BURST``) — an assumption, several hundred a
minute as integrations report meeting, changeable per emulator (``set_workspace_limit``). Each
limit is a token bucket (``burst`` calls at once, refilled at the tier's rate); a post takes a
token from its channel's bucket and from the workspace's, and goes only when both have one. A
call that finds a bucket empty is answered 429 with ``Retry-After`` in whole seconds (the longer
wait of the two) and ``{"ok": false, "error": "ratelimited"}``, as Slack does.

Off by default (the test fixtures stay fast); ``SlackEmulator(rate_limits=True)``,
``emu.rate_limits.enabled = True`` or ``POST /_emu/rate-limits`` turns it on. Times come from the
emulator's clock, so a test with a ``ManualClock`` moves through a minute at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .clock import Clock

# Calls per minute of each tier.
TIER_PER_MINUTE: dict[int, float] = {1: 1.0, 2: 20.0, 3: 50.0, 4: 100.0}
# The reference's tiers for the methods the emulator serves; "special" ones are below.
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
# chat.postMessage: about one a second per channel, a few more at once.
POST_MESSAGE_PER_MINUTE = 60.0
POST_MESSAGE_BURST = 3
# chat.postMessage across every channel of the workspace: not published by Slack, assumed here.
WORKSPACE_POST_PER_MINUTE = 600.0
WORKSPACE_POST_BURST = 60
# Slack does not publish its burst allowance; a tenth of a minute's calls at once (at least one).
BURST_FRACTION = 0.1


@dataclass(frozen=True)
class Limit:
    per_minute: float
    burst: int

    @property
    def interval_s(self) -> float:
        return 60.0 / self.per_minute


def tier_limit(tier: int) -> Limit:
    per_minute = TIER_PER_MINUTE[tier]
    return Limit(per_minute, max(1, int(per_minute * BURST_FRACTION)))


def default_limits() -> dict[str, Limit]:
    limits = {method: tier_limit(tier) for method, tier in METHOD_TIERS.items()}
    limits["chat.postMessage"] = Limit(POST_MESSAGE_PER_MINUTE, POST_MESSAGE_BURST)
    return limits


def default_workspace_limits() -> dict[str, Limit]:
    return {"chat.postMessage": Limit(WORKSPACE_POST_PER_MINUTE, WORKSPACE_POST_BURST)}


# Methods limited per channel rather than per workspace (and per workspace on top, where
# ``workspace_limits`` says so).
PER_CHANNEL = frozenset({"chat.postMessage"})
# The key of a per-channel method's workspace-wide bucket.
_WORKSPACE = "*"


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class RateLimits:
    """Whether a call may go through now; when it may not, how long until it may."""

    clock: Clock
    enabled: bool = False
    limits: dict[str, Limit] = field(default_factory=default_limits)
    # Per-channel methods' limit across the whole workspace.
    workspace_limits: dict[str, Limit] = field(default_factory=default_workspace_limits)
    _buckets: dict[tuple[str, str], _Bucket] = field(default_factory=dict)

    def set_limit(self, method: str, per_minute: float, burst: int = 1) -> None:
        """Change one method's limit (a test squeezes ``chat.update`` to see the bot wait)."""
        self.limits[method] = Limit(per_minute, burst)
        self._buckets = {k: b for k, b in self._buckets.items() if k[0] != method}

    def set_workspace_limit(self, method: str, per_minute: float, burst: int = 1) -> None:
        """Change a per-channel method's workspace-wide limit (the unpublished one)."""
        self.workspace_limits[method] = Limit(per_minute, burst)
        self._buckets.pop((method, _WORKSPACE), None)

    def reset(self) -> None:
        self._buckets.clear()

    def check(self, method: str, channel: str | None = None) -> int | None:
        """Take one call from ``method``'s bucket(s): None when it may go, else ``Retry-After``."""
        limit = self.limits.get(method)
        if not self.enabled or limit is None:
            return None
        now = self.clock.monotonic()
        buckets = [(self._bucket((method, ""), limit, now), limit)]
        if method in PER_CHANNEL:
            buckets = [(self._bucket((method, channel or ""), limit, now), limit)]
            if (everywhere := self.workspace_limits.get(method)) is not None:
                buckets.append((self._bucket((method, _WORKSPACE), everywhere, now), everywhere))
        waits = [(1.0 - b.tokens) * lim.interval_s for b, lim in buckets if b.tokens < 1.0 - 1e-9]
        if waits:  # float sums fall a hair short of 1.0: the tolerance above
            return max(1, math.ceil(max(waits)))
        for bucket, _limit in buckets:
            bucket.tokens -= 1.0
        return None

    def _bucket(self, key: tuple[str, str], limit: Limit, now: float) -> _Bucket:
        """``key``'s bucket, refilled up to ``now``."""
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(limit.burst), now)
        bucket.tokens = min(
            float(limit.burst), bucket.tokens + (now - bucket.at) / limit.interval_s
        )
        bucket.at = now
        return bucket

    def to_dict(self) -> dict[str, object]:
        return {
            "enabled": self.enabled,
            "limits": {
                m: {"per_minute": limit.per_minute, "burst": limit.burst}
                for m, limit in sorted(self.limits.items())
            },
            "workspace_limits": {
                m: {"per_minute": limit.per_minute, "burst": limit.burst}
                for m, limit in sorted(self.workspace_limits.items())
            },
        }
