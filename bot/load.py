"""Bulk work gives way when the event loop is busy.

One event loop carries Slack's acks (3 s), ZStack's webhooks and the completion DMs as well as
bulk work: a burst of approvals, each submitted to ZStack with its checks. When ZStack answers
at once (nearby, the CPU the limit), every submission in flight is ready on every turn of the
loop, and quick work waits behind all of them at each of its awaits. With 1,000 approvals at 32
in flight (and card draws unbounded), completion DMs came 2.2–2.7 s (p99) after their jobs
ended; with the limits here, 0.4–0.9 s (``make bench``). When ZStack is slow to answer, the
submissions in flight mostly wait on the network instead, and a wide limit is what keeps them
flowing.

So the width is not fixed: ``LoopLag`` measures how late the loop wakes a timer (what every
await of the quick work pays), and an ``AdaptiveLimit`` halves when that lag passes its target
and widens by one after each calm half second, between a floor and a ceiling, as TCP's
congestion window does. A timer's lag is a fraction of the loop turn it fell into, so one sample
over the target says the turns are long, and only a run of calm ones says they are short: a
limit that widened on every calm sample swung between floor and ceiling twice a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable

# Lag samples: often enough to react within a few tenths of a second, rare enough to cost
# nothing (twenty timer wakeups a second).
SAMPLE_EVERY_S = 0.05
# The lag bulk work keeps the loop under: a 20 ms turn, paid at each of the twenty-odd awaits
# between a job's end and its DM, keeps that DM within half a second.
LAG_TARGET_S = 0.02


class LoopLag:
    """How late the running loop wakes a timer, sampled every ``interval_s``; each sample goes
    to every listener."""

    def __init__(
        self,
        interval_s: float = SAMPLE_EVERY_S,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval_s = interval_s
        self._clock = clock
        self._listeners: list[Callable[[float], None]] = []
        self._task: asyncio.Task[None] | None = None

    def subscribe(self, listener: Callable[[float], None]) -> None:
        self._listeners.append(listener)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self._sample())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _sample(self) -> None:
        while True:
            before = self._clock()
            await asyncio.sleep(self.interval_s)
            self.observe(max(0.0, self._clock() - before - self.interval_s))

    def observe(self, lag_s: float) -> None:
        for listener in self._listeners:
            listener(lag_s)


# Calm samples in a row (lag under half the target) before a limit widens by one: half a second.
CALM_SAMPLES = 10


class AdaptiveLimit:
    """At most ``limit`` holders at once (``async with``), in order of arrival. ``limit`` starts
    at ``ceiling``; ``observe`` halves it on a lag over ``target_lag_s`` (``LAG_TARGET_S``
    unless told) and adds one after
    ``calm_samples`` lags in a row under half of that, never below ``floor`` nor above
    ``ceiling``. Holders in excess of a lowered limit finish their work; no new one starts until
    the count is under it again."""

    def __init__(
        self,
        floor: int,
        ceiling: int,
        target_lag_s: float = LAG_TARGET_S,
        *,
        calm_samples: int = CALM_SAMPLES,
    ) -> None:
        if not 1 <= floor <= ceiling:
            raise ValueError(f"need 1 <= floor <= ceiling, got {floor} and {ceiling}")
        self.floor, self.ceiling, self.target_lag_s = floor, ceiling, target_lag_s
        self.calm_samples = calm_samples
        self.limit = ceiling
        self.in_use = 0
        self._calm = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        """How many wait for a place."""
        return sum(not waiter.done() for waiter in self._waiters)

    def observe(self, lag_s: float) -> None:
        if lag_s > self.target_lag_s:
            self.limit = max(self.floor, self.limit // 2)
            self._calm = 0
        elif lag_s >= self.target_lag_s / 2:
            self._calm = 0  # neither long nor short turns: hold
        elif self.limit < self.ceiling:
            self._calm += 1
            if self._calm >= self.calm_samples:
                self._calm = 0
                self.limit += 1
                self._wake()

    async def __aenter__(self) -> None:
        if self.in_use >= self.limit or self._waiters:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    self.in_use -= 1  # its turn came with the cancellation: pass it on
                    self._wake()
                else:
                    self._waiters.remove(waiter)
                raise
        else:
            self.in_use += 1

    async def __aexit__(self, *_exc: object) -> None:
        self.in_use -= 1
        self._wake()

    def _wake(self) -> None:
        """Hand free places to the longest waiting (each counted as holding from now)."""
        while self._waiters and self.in_use < self.limit:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.in_use += 1
                waiter.set_result(None)
