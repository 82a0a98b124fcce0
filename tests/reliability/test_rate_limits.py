"""Delivery within Slack's rate limits: the emulator enforces them (squeezed here so a test
takes seconds, not minutes), the bot paces itself, honours ``Retry-After``, sends the
requester's DM before the thread reply and the card, draws a card once in its latest state and
delivers every notice exactly once."""

from __future__ import annotations

import itertools

import pytest

from bot.requests.model import CloneRequest, State
from bot.runtime import Runtime
from bot.sandbox.slack_emulator import SlackEmulator
from bot.sandbox.slack_emulator.records import ApiCall
from bot.sandbox.zstack_sim import SimServer
from bot.slack.client import PacedWebClient
from bot.slack.pacing import Budget, Pacer
from tests.e2e.helpers import APPROVALS, APPROVER, REQUESTER, blocks_text
from tests.fixtures.bot import BotFactory
from tests.support import notices_done
from tests.support.approval import (
    click,
    completion_count,
    request_clone,
    thread_texts,
    wait_completion,
    wait_state,
)

DONE = "Cloned: example-clone"


# How long after Slack answered a 429 the bot may still have calls on their way.
IN_FLIGHT_S = 0.05


def done_marker(index: int) -> str:
    return f"{DONE}-{index}"


@pytest.fixture
async def bot(bot_factory: BotFactory, zstack_sim: SimServer) -> Runtime:
    zstack_sim.state.set_mode(job_duration_s=0.3)
    return await bot_factory(approval_channel=APPROVALS, slack_pace=True)


def pacer(bot: Runtime) -> Pacer:
    client = bot.deps.notifier.client
    assert isinstance(client, PacedWebClient)
    return client.pacer


def calls(emu: SlackEmulator, method: str, since: float = 0.0) -> list[ApiCall]:
    return [c for c in emu.state.calls(method) if c.received_at >= since]


def card_updates(emu: SlackEmulator, record: CloneRequest, since: float = 0.0) -> list[ApiCall]:
    return [c for c in calls(emu, "chat.update", since) if c.params.get("ts") == record.card_ts]


async def approve_all(emu: SlackEmulator, bot: Runtime, count: int) -> list[CloneRequest]:
    records = [await request_clone(emu, bot, name=f"example-clone-{i}") for i in range(count)]
    for record in records:
        await click(emu, APPROVER, record, "request_approve")
    return records


async def all_delivered(emu: SlackEmulator, bot: Runtime, records: list[CloneRequest]) -> None:
    for record in records:
        done = await wait_state(bot, record.id, State.SUCCEEDED, timeout=20)
        await notices_done(bot, record.id, timeout=30)
        await emu.wait_for(
            lambda done=done: (
                "Done" in blocks_text(emu.state.message(APPROVALS, done.card_ts or "").blocks)
            ),  # type: ignore[union-attr]
            timeout=10,
        )


async def test_the_bot_stays_within_the_tier_without_429s(
    slack_emu: SlackEmulator, bot: Runtime
) -> None:
    slack_emu.rate_limits.enabled = True
    slack_emu.rate_limits.set_limit("chat.update", per_minute=150, burst=2)
    pacer(bot).budgets["chat.update"] = Budget(per_minute=120, burst=1)
    started = slack_emu.clock.monotonic()
    records = await approve_all(slack_emu, bot, 3)
    await all_delivered(slack_emu, bot, records)
    for record in records:  # the parameter reply waited its turn, it was not left out
        assert (await bot.deps.requests.require(record.id)).params_ts
    updates = calls(slack_emu, "chat.update", started)
    assert len(updates) >= 6
    assert [c for c in updates if c.status == 429] == []
    # Paced: never two chat.updates closer than the bot's own interval (0.5 s), less jitter.
    times = sorted(c.received_at for c in updates)
    assert min(b - a for a, b in itertools.pairwise(times)) >= 0.45


async def test_no_call_of_a_method_before_its_retry_after(
    slack_emu: SlackEmulator, bot: Runtime
) -> None:
    slack_emu.rate_limits.enabled = True
    # Slack allows fewer than the bot would send: it has to learn from the 429s.
    slack_emu.rate_limits.set_limit("chat.update", per_minute=60, burst=1)
    del pacer(bot).budgets["chat.update"]
    started = slack_emu.clock.monotonic()
    records = await approve_all(slack_emu, bot, 2)
    await all_delivered(slack_emu, bot, records)
    updates = sorted(calls(slack_emu, "chat.update", started), key=lambda c: c.received_at)
    limited = [c for c in updates if c.status == 429]
    assert limited, "the emulator never said 429: the test proves nothing"
    for refused in limited:
        retry_after = 1.0  # whole seconds; the emulator's answers here are all 1
        # A call already on its way when the 429 was answered (another request's) is no
        # breach: count from a moment after it.
        learned = refused.received_at + IN_FLIGHT_S
        too_soon = [
            c for c in updates if learned < c.received_at < refused.received_at + retry_after
        ]
        assert too_soon == [], f"called {len(too_soon)}x within Retry-After of a 429"
    for index, record in enumerate(records):
        assert completion_count(slack_emu, record, done_marker(index)) == (1, 1)


async def test_the_dm_goes_out_before_the_thread_reply_and_the_card(
    slack_emu: SlackEmulator, bot: Runtime
) -> None:
    [record] = await approve_all(slack_emu, bot, 1)
    await wait_state(bot, record.id, State.RUNNING, State.SUCCEEDED)
    # Slack constrained: one post a second per channel, one chat.update every 2 s.
    slack_emu.rate_limits.enabled = True
    slack_emu.rate_limits.set_limit("chat.postMessage", per_minute=60, burst=1)
    slack_emu.rate_limits.set_limit("chat.update", per_minute=30, burst=1)
    started = slack_emu.clock.monotonic()
    await all_delivered(slack_emu, bot, [record])
    ok = [c for c in slack_emu.state.api_calls if c.received_at >= started and c.ok]
    done_dm = next(
        c for c in ok if c.method == "chat.postMessage" and c.params.get("channel") == REQUESTER
    )
    reply = next(
        c
        for c in ok
        if c.method == "chat.postMessage"
        and c.params.get("thread_ts")
        and " done: " in str(c.params.get("text"))
    )
    final_card = [
        c for c in ok if c.method == "chat.update" and c.params.get("ts") == record.card_ts
    ][-1]
    assert done_dm.received_at <= reply.received_at <= final_card.received_at
    assert completion_count(slack_emu, record, done_marker(0)) == (1, 1)


async def test_a_card_changed_while_chat_update_is_held_back_is_drawn_once_in_its_last_state(
    slack_emu: SlackEmulator, bot: Runtime
) -> None:
    record = await request_clone(slack_emu, bot)
    # Slack refuses every chat.update while the request is approved, submitted, running and
    # done, each asking for the card to be drawn again.
    slack_emu.inject_fault("chat.update", status=429, retry_after=1, count=None)
    started = slack_emu.clock.monotonic()
    await click(slack_emu, APPROVER, record, "request_approve")
    done = await wait_state(bot, record.id, State.SUCCEEDED, timeout=20)
    await wait_completion(slack_emu, done, DONE)  # the DM and the thread reply went out
    assert card_updates(slack_emu, record, started), "chat.update was never even tried"
    slack_emu.clear_faults()
    allowed = slack_emu.clock.monotonic()
    await all_delivered(slack_emu, bot, [record])
    drawn = card_updates(slack_emu, record, allowed)
    assert [c.status for c in drawn] == [200]
    assert "Done" in blocks_text(drawn[0].params.get("blocks"))
    assert completion_count(slack_emu, record, DONE) == (1, 1)


async def test_every_notice_exactly_once_under_429s(slack_emu: SlackEmulator, bot: Runtime) -> None:
    slack_emu.rate_limits.enabled = True
    # Slack is stricter than the bot thinks on posts and updates: 429s on both.
    slack_emu.rate_limits.set_limit("chat.postMessage", per_minute=40, burst=1)
    slack_emu.rate_limits.set_limit("chat.update", per_minute=60, burst=1)
    budgets = pacer(bot).budgets
    budgets["chat.postMessage"] = Budget(per_minute=120, burst=2)
    budgets["chat.update"] = Budget(per_minute=120, burst=2)
    started = slack_emu.clock.monotonic()
    records = await approve_all(slack_emu, bot, 3)
    await all_delivered(slack_emu, bot, records)
    assert any(c.status == 429 for c in calls(slack_emu, "chat.postMessage", started))
    for index, record in enumerate(records):
        assert completion_count(slack_emu, record, done_marker(index)) == (1, 1)
        approved = [t for t in thread_texts(slack_emu, record) if "approved" in t.lower()]
        assert len(approved) == 1, approved


async def test_a_workspace_wide_limit_on_posts_holds_every_channel_and_loses_nothing(
    slack_emu: SlackEmulator, bot: Runtime
) -> None:
    slack_emu.rate_limits.enabled = True
    # Slack's workspace-wide limit on chat.postMessage, far stricter than the bot believes (it
    # keeps no workspace budget here): every channel has room, the workspace does not.
    slack_emu.rate_limits.set_workspace_limit("chat.postMessage", per_minute=60, burst=1)
    del pacer(bot).workspace_budgets["chat.postMessage"]
    started = slack_emu.clock.monotonic()
    records = await approve_all(slack_emu, bot, 2)
    await all_delivered(slack_emu, bot, records)
    posts = sorted(calls(slack_emu, "chat.postMessage", started), key=lambda c: c.received_at)
    refused = [c for c in posts if c.status == 429]
    assert refused, "the emulator never said 429: the test proves nothing"
    # Once two channels were refused within a Retry-After (the workspace's limit, then), no
    # channel posts until it has passed: the bot does not keep calling from other channels.
    for first, second in itertools.pairwise(refused):
        if first.params.get("channel") == second.params.get("channel"):
            continue
        if second.received_at - first.received_at >= 1.0:
            continue
        learned = second.received_at + IN_FLIGHT_S
        too_soon = [c for c in posts if learned < c.received_at < second.received_at + 1.0]
        assert too_soon == [], f"posted {len(too_soon)}x while the workspace said wait"
    assert len(refused) <= len(posts) - len(refused), "more refused posts than delivered ones"
    for index, record in enumerate(records):
        assert completion_count(slack_emu, record, done_marker(index)) == (1, 1)


async def test_a_card_whose_parameter_reply_waits_for_its_turn_is_not_drawn_again(
    slack_emu: SlackEmulator, bot: Runtime
) -> None:
    # One chat.update every 6 s: after a card draw, the parameter reply's turn is further off
    # than a draw waits for it, so the draw comes back for it later.
    pacer(bot).budgets["chat.update"] = Budget(per_minute=10, burst=1)
    record = await request_clone(slack_emu, bot)
    started = slack_emu.clock.monotonic()
    await click(slack_emu, APPROVER, record, "request_approve")
    await all_delivered(slack_emu, bot, [record])
    done = await bot.deps.requests.require(record.id)
    await slack_emu.wait_for(
        lambda: any(c.params.get("ts") == done.params_ts for c in calls(slack_emu, "chat.update")),
        timeout=20,
    )
    draws = [c for c in card_updates(slack_emu, record, started) if c.ok]
    finals = [c for c in draws if "Done" in blocks_text(c.params.get("blocks"))]
    assert len(finals) == 1, f"the final card was drawn {len(finals)}x"
    # Approved, perhaps running, done: each state drawn once at most, never the same again.
    texts = [blocks_text(c.params.get("blocks")) for c in draws]
    assert len(texts) == len(set(texts)), "a card was drawn again as it already stood"
    replies = [
        c for c in calls(slack_emu, "chat.update", started) if c.params.get("ts") == done.params_ts
    ]
    assert [c.status for c in replies] == [200]  # the parameter reply retired once
