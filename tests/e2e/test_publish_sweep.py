"""A request whose card was not posted (a crash, or Slack trouble) gets its card later, once."""

from __future__ import annotations

from bot.requests.model import State
from bot.sandbox.slack_emulator import SlackEmulator
from bot.ui.clone_form import validate_form
from tests.e2e.helpers import APPROVALS, EXAMPLE, REQUESTER, blocks_text
from tests.fixtures.bot import BotFactory
from tests.support import settled, wait_until


async def test_a_stored_request_without_a_card_is_posted_by_the_sweep(
    slack_emu: SlackEmulator, bot_factory: BotFactory
) -> None:
    bot = await bot_factory(approval_channel=APPROVALS)
    form, errors = validate_form({"source": EXAMPLE, "name": "swept", "reason": "crash test"})
    assert form is not None, errors
    # The process "died" right after storing the request: nothing was posted.
    record = await bot.deps.clone.create(
        team_id="T0CLONE",
        requester=REQUESTER,
        origin_channel=APPROVALS,
        form=form,
        source_name="example",
    )
    assert slack_emu.state.messages(APPROVALS) == []
    await bot.deps.requests.schedule("publish", record.id, 0)  # its retry time has come
    cards = await slack_emu.wait_for(lambda: slack_emu.state.messages(APPROVALS))
    assert record.id in blocks_text(cards[0].blocks)

    # Posted and recorded, and no publish entry left: nothing can post it again.
    async def nothing_to_publish() -> bool:
        return await bot.deps.requests.due("publish", 1e12) == []

    await wait_until(nothing_to_publish)
    await settled(bot)
    assert len(slack_emu.state.messages(APPROVALS)) == 1
    stored = await bot.deps.requests.require(record.id)
    assert stored.card_ts == cards[0].ts and stored.state == State.PENDING


async def test_slack_trouble_delays_the_card_instead_of_dropping_the_request(
    slack_emu: SlackEmulator, bot_factory: BotFactory
) -> None:
    bot = await bot_factory(approval_channel=APPROVALS)
    form, _ = validate_form({"source": EXAMPLE, "name": "later", "reason": "outage"})
    assert form is not None
    record = await bot.deps.clone.create(
        team_id="T0CLONE",
        requester=REQUESTER,
        origin_channel=APPROVALS,
        form=form,
        source_name="example",
    )
    slack_emu.inject_fault("chat.postMessage", error="internal_error", count=1)
    await bot.deps.clone.publish(bot.client, record)
    assert slack_emu.state.messages(APPROVALS) == []
    still = await bot.deps.requests.require(record.id)
    assert still.state == State.PENDING and still.card_ts is None  # kept, not withdrawn
    assert record.id in await bot.deps.requests.due("publish", 1e12)
    await bot.deps.requests.schedule("publish", record.id, 0)
    await slack_emu.wait_for(lambda: slack_emu.state.messages(APPROVALS))
