"""The simulator's notion of "now": an injectable source plus an offset tests can advance.

ZStack writes dates in the management node's local time with no zone, so "now" is a naive local
datetime. Real waiting (job durations, webhook retry intervals) uses asyncio and is not affected
by the offset; only the things ZStack decides by the wall clock (session expiry, job result
retention) follow it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

# A clock returns a datetime (naive = local time, aware = converted to local) or epoch seconds.
Clock = Callable[[], datetime | float]


def _to_local_naive(value: datetime | float) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone().replace(tzinfo=None) if value.tzinfo else value
    return datetime.fromtimestamp(value)


class SimClock:
    """``now()`` = the injected clock (default: the system clock) + an advanceable offset."""

    def __init__(self, source: Clock | None = None) -> None:
        self._source: Clock = source or datetime.now
        self._offset = timedelta(0)

    def now(self) -> datetime:
        return _to_local_naive(self._source()) + self._offset

    @property
    def offset_s(self) -> float:
        """How far ``advance`` has moved "now", in seconds."""
        return self._offset.total_seconds()

    def advance(self, seconds: float) -> None:
        """Move "now" forward (or back, with a negative value) by ``seconds``."""
        self._offset += timedelta(seconds=seconds)
