"""Time sources for the emulator.

Every time the emulator *reasons* about (trigger expiry, ``response_url`` expiry, message ``ts``,
recorded call times) comes from a :class:`Clock`, so tests can move time by hand with
:class:`ManualClock`. Network deadlines (the 3-second ack window) use the event loop's real time.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Monotonic seconds for durations, wall-clock seconds for ``ts`` values and signatures."""

    def monotonic(self) -> float: ...

    def time(self) -> float: ...


class SystemClock:
    """The real clocks."""

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()


class ManualClock:
    """A clock that moves only when told to; both readings advance together."""

    def __init__(self, wall: float | None = None, monotonic: float = 1000.0) -> None:
        self._wall = time.time() if wall is None else wall
        self._mono = monotonic

    def monotonic(self) -> float:
        return self._mono

    def time(self) -> float:
        return self._wall

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        self._mono += seconds
        self._wall += seconds
