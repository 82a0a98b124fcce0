"""The bot's own pace per Slack method (``bot.slack.pacing``), on a clock moved by hand."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bot.slack.pacing import Budget, Pacer


@dataclass
class Clock:
    now: float = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_tier_lets_its_burst_through_then_one_call_per_interval() -> None:
    clock = Clock()
    pacer = Pacer(budgets={"chat.update": Budget(per_minute=45.0, burst=4)}, clock=clock)
    assert [pacer.admit("chat.update") for _ in range(4)] == [0.0] * 4
    wait = pacer.admit("chat.update")
    assert wait == pytest.approx(60 / 45)
    clock.now += wait
    assert pacer.admit("chat.update") == 0.0
    # Methods without a budget are not paced.
    assert pacer.admit("auth.test") == 0.0


def test_the_default_budgets_stay_inside_slacks_tiers_over_a_minute() -> None:
    clock = Clock()
    pacer = Pacer(clock=clock)
    limits = {"chat.update": 50, "views.update": 100, "usergroups.users.list": 20}
    for method, slack_per_minute in limits.items():
        admitted = 0
        for _ in range(6000):  # a call asked for every 10 ms for a minute
            if pacer.admit(method) == 0.0:
                admitted += 1
            clock.now += 0.01
        assert 0.8 * slack_per_minute <= admitted <= slack_per_minute, method


def test_post_message_is_paced_per_channel() -> None:
    pacer = Pacer(clock=Clock())
    assert [pacer.admit("chat.postMessage", "C1") for _ in range(2)] == [0.0, 0.0]
    assert pacer.admit("chat.postMessage", "C1") > 0
    assert pacer.admit("chat.postMessage", "U1") == 0.0


def test_retry_after_holds_the_method_back_for_every_caller_until_it_passes() -> None:
    clock = Clock()
    pacer = Pacer(clock=clock)
    pacer.hold("chat.update", None, 7.0)
    assert pacer.wait_s("chat.update") == pytest.approx(7.0)
    clock.now += 6.9
    assert pacer.admit("chat.update") > 0
    clock.now += 0.1
    assert pacer.admit("chat.update") == 0.0
    # A peek counts nothing.
    assert pacer.wait_s("views.open") == 0.0


def test_callers_turned_away_are_sent_back_one_turn_apart() -> None:
    clock = Clock()
    pacer = Pacer(budgets={"chat.update": Budget(per_minute=60.0, burst=1)}, clock=clock)
    assert pacer.admit("chat.update") == 0.0
    waits = [pacer.admit("chat.update") for _ in range(3)]
    assert waits == pytest.approx([1.0, 2.0, 3.0])
