"""The door in front of Bolt for Slack's HTTP requests (reference slack-platform.md §1).

Nothing of a request reaches Bolt — no listener, no middleware, no error handler — before its
signature is verified over the raw bytes and its body parses as a Slack payload with the parts
the listeners read (``bot.slack.payloads``). Bolt's own
verifier raises on a timestamp that is not an integer, and its error handler then runs on the
unverified body; checking the headers' form here first removes that path altogether.

A rejected request gets 401 (not from Slack) or 400 (signed, but not a payload), and the log gets
at most one warning line a minute that counts what was turned away.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from slack_bolt.request.internals import parse_body
from slack_sdk.signature import Clock, SignatureVerifier

from bot.slack.payloads import shape_problem

logger = logging.getLogger(__name__)

# Slack sends Unix seconds and ``v0=`` + 64 lowercase hex digits; anything else is not Slack.
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
_SIGNATURE = re.compile(r"^v0=[0-9a-f]{64}$")
# One warning line at most this often, however many requests are turned away.
REJECTION_LOG_INTERVAL_S = 60.0


@dataclass(frozen=True)
class Rejection:
    status: int
    reason: str


@dataclass(frozen=True)
class Verified:
    """A request that Slack signed: its body as text and as the parsed payload."""

    text: str
    payload: dict[str, Any]


@dataclass
class RejectionLog:
    """Counts rejections and logs them in one line per interval (a flood costs one line)."""

    interval_s: float = REJECTION_LOG_INTERVAL_S
    clock: Callable[[], float] = time.monotonic
    _counts: Counter[str] = field(default_factory=Counter)
    _last: float | None = None

    def add(self, reason: str) -> None:
        self._counts[reason] += 1
        now = self.clock()
        if self._last is not None and now - self._last < self.interval_s:
            return
        self._last = now
        summary = ", ".join(f"{why}: {n}" for why, n in sorted(self._counts.items()))
        logger.warning(
            "turned away requests that are not from Slack",
            extra={"count": sum(self._counts.values()), "reasons": summary},
        )
        self._counts.clear()


class _EpochClock(Clock):
    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now

    def now(self) -> float:
        return self._now()


class SlackRequestGate:
    """Verifies a request's signature and form; ``None`` for the secret turns everything away
    (Socket Mode needs no HTTP door)."""

    def __init__(
        self,
        signing_secret: str | None,
        *,
        clock: Callable[[], float] = time.time,
        log: RejectionLog | None = None,
        on_reject: Callable[[Rejection], None] | None = None,
        trusted_response_url: Callable[[str], bool] | None = None,
    ) -> None:
        self._verifier = (
            SignatureVerifier(signing_secret, clock=_EpochClock(clock)) if signing_secret else None
        )
        self.log = log or RejectionLog()
        self._on_reject = on_reject
        self._trusted_response_url = trusted_response_url

    def check(self, headers: Mapping[str, str], raw: bytes) -> Verified | Rejection:
        verdict = self._check(headers, raw)
        if isinstance(verdict, Rejection):
            self.log.add(verdict.reason)
            if self._on_reject is not None:
                self._on_reject(verdict)
        return verdict

    def _check(self, headers: Mapping[str, str], raw: bytes) -> Verified | Rejection:
        if self._verifier is None:
            return Rejection(401, "no signing secret configured")
        timestamp = headers.get("X-Slack-Request-Timestamp", "")
        signature = headers.get("X-Slack-Signature", "")
        if not _TIMESTAMP.match(timestamp) or not _SIGNATURE.match(signature):
            return Rejection(401, "missing or malformed signature headers")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return Rejection(401, "body is not UTF-8")
        if not self._verifier.is_valid(text, timestamp, signature):
            return Rejection(401, "bad or stale signature")
        try:
            payload = parse_body(text, headers.get("Content-Type", "").split(";")[0].strip())
        except (ValueError, RecursionError):  # json.JSONDecodeError is a ValueError
            return Rejection(400, "signed body is not a Slack payload")
        if not isinstance(payload, dict) or not payload:
            return Rejection(400, "signed body is not a Slack payload")
        if (problem := shape_problem(payload, self._trusted_response_url)) is not None:
            return Rejection(400, f"signed payload without {problem}")
        return Verified(text=text, payload=payload)
