"""The one retry rule: capped exponential backoff with jitter, and a bound on attempts.

Everything the bot tries again — job polls, resends of a clone ZStack never received, Slack
effects (cards, notes, DMs, completion notices) — waits ``RetryPolicy.delay(attempt)`` and gives
up after ``attempts``. The attempt counts live in Redis with the work they belong to (the record's
send count, the request's poll counter, each effect in the outbox), so a restart or another
replica carries on where the last try stopped. Below this sit the libraries' own transport
retries (slack_sdk's retry handlers for 429/5xx/resets within one call, redis-py's reconnects).
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    base_s: float
    cap_s: float
    # Tries in all, the first one included; None: keep trying (at ``cap_s`` intervals).
    attempts: int | None = None
    jitter: float = 0.2
    multiplier: float = 2.0

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after try number ``attempt`` (1 = the first) failed, ±``jitter``."""
        exponent = max(0, attempt - 1)
        # Past the cap the exponent no longer matters (and must not overflow a float).
        grown = self.base_s * self.multiplier ** min(exponent, 60)
        base = min(self.cap_s, grown)
        spread = base * self.jitter
        return max(0.0, base + (rng or random).uniform(-spread, spread))

    def exhausted(self, attempts: int) -> bool:
        """Whether ``attempts`` tries are all this policy allows."""
        return self.attempts is not None and attempts >= self.attempts
