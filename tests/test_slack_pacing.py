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


def test_post_message_across_channels_stays_under_the_workspace_wide_limit() -> None:
    clock = Clock()
    pacer = Pacer(clock=clock)
    admitted = 0
    for index in range(6000):  # a post to a new channel every 10 ms for a minute
        if pacer.admit("chat.postMessage", f"U{index}") == 0.0:
            admitted += 1
        clock.now += 0.01
    # Every channel had room; the workspace's budget (540 a minute, 30 at once) decided.
    assert 0.8 * 540 <= admitted <= 600


def test_a_429_holds_its_channel_and_a_second_channels_429_holds_them_all_for_retry_after() -> None:
    clock = Clock()
    pacer = Pacer(clock=clock)
    pacer.hold("chat.postMessage", "C1", 1.0)
    # One channel refused: most likely its own limit; the others go on.
    assert pacer.wait_s("chat.postMessage", "C1") == pytest.approx(1.0)
    assert pacer.admit("chat.postMessage", "U1") == 0.0
    # Another channel refused while the first still waits: the workspace's limit. Nobody posts
    # anywhere until Retry-After, not even in a channel never refused.
    clock.now += 0.2
    pacer.hold("chat.postMessage", "U1", 2.0)
    assert pacer.wait_s("chat.postMessage", "U2") == pytest.approx(2.0)
    assert pacer.admit("chat.postMessage", "U3") == pytest.approx(2.0)
    assert pacer.wait_s("chat.postMessage", "C1") == pytest.approx(2.0)
    # ... and no longer than that: posting starts again (from an empty workspace bucket,
    # one turn apart at first), the hold is gone.
    clock.now += 2.0
    assert pacer.admit("chat.postMessage", "U2") == 0.0
    assert pacer.admit("chat.postMessage", "C1") == pytest.approx(60 / 540)
    clock.now += 1.0
    assert [pacer.admit("chat.postMessage", c) for c in ("C1", "U1")] == [0.0] * 2
    clock.now += 5.0
    pacer.hold("chat.postMessage", "C1", 1.0)  # a lone 429 again holds only its channel
    assert pacer.admit("chat.postMessage", "U4") == 0.0
