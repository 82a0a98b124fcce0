"""A request whose card was not posted (a crash, or Slack trouble) gets its card later, once.

The card is the request's first effect, written with the record: a process that dies right
after storing the request leaves it in the outbox, and another replica posts it within seconds.
"""

from __future__ import annotations

import time

from bot.requests.intake import CloneFlow
from bot.requests.model import CloneRequest, State
from bot.runtime import Runtime
from bot.sandbox.slack_emulator import SlackEmulator
from bot.store.requests import TAKEOVER_S, RequestStore
from bot.ui.clone_form import validate_form
from tests.e2e.helpers import APPROVALS, EXAMPLE, REQUESTER, blocks_text
from tests.fixtures.bot import BotFactory
from tests.support import settled, wait_until


async def stored_by_a_dead_process(bot: Runtime, name: str) -> CloneRequest:
    """The request as a replica stores it just before it dies: nothing of it carried out."""
    dead = RequestStore(bot.deps.redis)  # no worker behind it
    flow = CloneFlow(bot.deps.settings, bot.deps.zstack, dead, bot.deps.sessions)
    form, errors = validate_form({"source": EXAMPLE, "name": name, "reason": "crash test"})
    assert form is not None, errors
    return await flow.create(
        team_id="T0CLONE",
        requester=REQUESTER,
        origin_channel=APPROVALS,
        form=form,
        source_name="example",
    )


async def test_a_stored_request_without_a_card_is_posted_by_another_replica_within_seconds(
    slack_emu: SlackEmulator, bot_factory: BotFactory
) -> None:
    bot = await bot_factory(approval_channel=APPROVALS)
    stored_at = time.monotonic()
    record = await stored_by_a_dead_process(bot, "swept")
    assert slack_emu.state.messages(APPROVALS) == []
    cards = await slack_emu.wait_for(lambda: slack_emu.state.messages(APPROVALS), timeout=15)
    taken_over_s = time.monotonic() - stored_at
    assert record.id in blocks_text(cards[0].blocks)
    assert taken_over_s < TAKEOVER_S + 3  # the safety net's delay, plus a tracker tick or two

    async def recorded() -> bool:
        stored = await bot.deps.requests.require(record.id)
        return stored.card_ts == cards[0].ts and not await bot.deps.requests.effects(record.id)

    await wait_until(recorded)
    await settled(bot)
    assert len(slack_emu.state.messages(APPROVALS)) == 1
    assert (await bot.deps.requests.require(record.id)).state == State.PENDING


async def test_slack_trouble_delays_the_card_instead_of_dropping_the_request(
    slack_emu: SlackEmulator, bot_factory: BotFactory
) -> None:
    bot = await bot_factory(approval_channel=APPROVALS)
    slack_emu.inject_fault("chat.postMessage", error="internal_error", count=1)
    form, _ = validate_form({"source": EXAMPLE, "name": "later", "reason": "outage"})
    assert form is not None
    record = await bot.deps.clone.create(
        team_id="T0CLONE",
        requester=REQUESTER,
        origin_channel=APPROVALS,
        form=form,
        source_name="example",
    )

    async def waiting_with_one_attempt() -> bool:
        pending = await bot.deps.requests.effects(record.id)
        return [e.attempts for _slot, e in pending if e.kind == "publish"] == [1]

    await wait_until(waiting_with_one_attempt)
    still = await bot.deps.requests.require(record.id)
    assert still.state == State.PENDING and still.card_ts is None  # kept, not withdrawn
    cards = await slack_emu.wait_for(lambda: slack_emu.state.messages(APPROVALS), timeout=15)
    assert record.id in blocks_text(cards[0].blocks)
    await settled(bot)
    assert len(slack_emu.state.messages(APPROVALS)) == 1


async def test_a_card_posted_by_a_worker_that_died_is_found_not_posted_again(
    slack_emu: SlackEmulator, bot_factory: BotFactory
) -> None:
    bot = await bot_factory(approval_channel=APPROVALS)
    record = await stored_by_a_dead_process(bot, "half-done")
    # The dead worker had marked the card as on its way and posted it, then died.
    [(slot, publish)] = [
        (slot, e) for slot, e in await bot.deps.requests.effects(record.id) if e.kind == "publish"
    ]
    await bot.deps.requests.effect_update(
        record.id, slot, publish.model_copy(update={"sending": True})
    )
    posted = await bot.client.chat_postMessage(
        channel=APPROVALS, text=f"Clone request {record.id}: example → half-done"
    )
    cards = await slack_emu.wait_for(lambda: slack_emu.state.messages(APPROVALS))
    assert len(cards) == 1

    async def adopted() -> bool:
        stored = await bot.deps.requests.require(record.id)
        return stored.card_ts == posted["ts"]

    await wait_until(adopted, timeout=15)
    await settled(bot)
    assert len(slack_emu.state.messages(APPROVALS)) == 1  # no second card
    # The found card gets what its poster left undone: the parameter reply in its thread.
    thread = slack_emu.state.thread(APPROVALS, str(posted["ts"]))
    assert thread and record.id in thread[0].text
