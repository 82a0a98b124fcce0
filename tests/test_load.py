"""Bulk work's adaptive limit (``bot.load``): how it narrows and widens with the event loop's lag,
who holds it, and the lag it is fed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from bot.load import AdaptiveLimit, LoopLag

TARGET_S = 0.02
CALM = 0.001  # under half the target
MIDDLE = 0.015  # between half the target and the target
SLOW = 0.05  # over the target


def limit(floor: int = 2, ceiling: int = 16, calm_samples: int = 3) -> AdaptiveLimit:
    return AdaptiveLimit(floor, ceiling, TARGET_S, calm_samples=calm_samples)


def test_a_lag_over_the_target_halves_the_limit_down_to_the_floor() -> None:
    gate = limit()
    seen = []
    for _ in range(5):
        gate.observe(SLOW)
        seen.append(gate.limit)
    assert seen == [8, 4, 2, 2, 2]


def test_the_limit_widens_by_one_after_each_run_of_calm_samples_up_to_the_ceiling() -> None:
    gate = limit(floor=2, ceiling=4, calm_samples=3)
    gate.observe(SLOW)  # 4 -> 2
    seen = []
    for _ in range(9):
        gate.observe(CALM)
        seen.append(gate.limit)
    assert seen == [2, 2, 3, 3, 3, 4, 4, 4, 4]


def test_a_lag_neither_short_nor_long_holds_the_limit_and_restarts_the_calm_run() -> None:
    gate = limit(calm_samples=3)
    gate.observe(SLOW)  # 16 -> 8
    for lag in (CALM, CALM, MIDDLE, CALM, CALM):
        gate.observe(lag)
    assert gate.limit == 8  # no run of three calm samples yet
    gate.observe(CALM)
    assert gate.limit == 9
    gate.observe(MIDDLE)
    assert gate.limit == 9


@pytest.mark.parametrize(("floor", "ceiling"), [(0, 4), (5, 4)])
def test_a_floor_outside_one_to_the_ceiling_is_refused(floor: int, ceiling: int) -> None:
    with pytest.raises(ValueError, match="floor"):
        AdaptiveLimit(floor, ceiling, TARGET_S)


async def _hold(gate: AdaptiveLimit, name: str, log: list[str], release: asyncio.Event) -> None:
    async with gate:
        log.append(name)
        await release.wait()


async def _until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.001)


async def test_holders_beyond_the_limit_wait_their_turn_in_order_of_arrival() -> None:
    gate = limit(floor=1, ceiling=2)
    release = {name: asyncio.Event() for name in "abcd"}
    started: list[str] = []
    tasks = [asyncio.create_task(_hold(gate, n, started, release[n])) for n in "abcd"]
    await _until(lambda: len(started) == 2)
    await asyncio.sleep(0.01)
    assert started == ["a", "b"]
    assert gate.in_use == 2
    release["b"].set()
    await _until(lambda: len(started) == 3)
    assert started == ["a", "b", "c"]
    for event in release.values():
        event.set()
    await asyncio.gather(*tasks)
    assert started == ["a", "b", "c", "d"]
    assert gate.in_use == 0


async def test_a_narrowed_limit_lets_holders_finish_and_starts_no_one_until_under_it() -> None:
    gate = limit(floor=1, ceiling=4, calm_samples=1)
    release = asyncio.Event()
    started: list[str] = []
    first = [asyncio.create_task(_hold(gate, n, started, release)) for n in "abcd"]
    await _until(lambda: len(started) == 4)
    gate.observe(SLOW)  # 4 -> 2: four are holding, none is stopped
    later_release = asyncio.Event()
    later = asyncio.create_task(_hold(gate, "e", started, later_release))
    await asyncio.sleep(0.01)
    assert "e" not in started
    release.set()
    await asyncio.gather(*first)
    await _until(lambda: "e" in started)
    assert gate.in_use == 1
    later_release.set()
    await later


async def test_a_widened_limit_wakes_a_waiter_at_once() -> None:
    gate = limit(floor=1, ceiling=2, calm_samples=1)
    gate.observe(SLOW)  # 2 -> 1
    release = asyncio.Event()
    started: list[str] = []
    tasks = [asyncio.create_task(_hold(gate, n, started, release)) for n in "ab"]
    await _until(lambda: len(started) == 1)
    gate.observe(CALM)  # 1 -> 2: b goes ahead without anyone leaving
    await _until(lambda: len(started) == 2)
    release.set()
    await asyncio.gather(*tasks)


async def test_a_waiter_cancelled_in_its_queue_takes_no_place() -> None:
    gate = limit(floor=1, ceiling=1)
    release = asyncio.Event()
    started: list[str] = []
    holder = asyncio.create_task(_hold(gate, "a", started, release))
    await _until(lambda: started == ["a"])
    waiter = asyncio.create_task(_hold(gate, "b", started, asyncio.Event()))
    await asyncio.sleep(0.01)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    release.set()
    await holder
    assert gate.in_use == 0
    async with gate:
        assert gate.in_use == 1


async def test_a_waiter_cancelled_as_its_turn_came_passes_the_place_on() -> None:
    gate = limit(floor=1, ceiling=1)
    await gate.__aenter__()  # the only place, held here
    started: list[str] = []
    cancelled = asyncio.create_task(_hold(gate, "b", started, asyncio.Event()))
    after = asyncio.Event()
    last = asyncio.create_task(_hold(gate, "c", started, after))
    await asyncio.sleep(0.01)
    await gate.__aexit__(None, None, None)  # the place goes to b, which has not run yet ...
    cancelled.cancel()  # ... and is cancelled before it could
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    await _until(lambda: "c" in started)
    assert started == ["c"]
    after.set()
    await last
    assert gate.in_use == 0


async def test_the_loop_lag_is_how_late_a_timer_ran_and_reaches_every_listener() -> None:
    lag = LoopLag(interval_s=0.01)
    gate = limit(floor=1, ceiling=16)
    samples: list[float] = []
    lag.subscribe(samples.append)
    lag.subscribe(gate.observe)
    lag.start()
    try:
        await _until(lambda: len(samples) >= 3)
        assert max(samples) < 0.2  # an idle loop wakes its timers in time
        time.sleep(0.2)  # the loop busy elsewhere, as under a burst of work
        await _until(lambda: max(samples) >= 0.15)
        assert gate.limit < 16
    finally:
        await lag.stop()
    count = len(samples)
    await asyncio.sleep(0.05)
    assert len(samples) == count  # stopped: no more samples
