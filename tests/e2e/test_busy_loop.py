"""When the event loop lags, bulk work gives way (``bot.load``): the running bot's limits follow
the lag it measures, and a completion's DM does not wait for a place in the Slack bulk lane that
its thread reply and card wait for."""

from __future__ import annotations

import asyncio
import time

from bot.load import AdaptiveLimit
from bot.requests.model import State
from bot.runtime import Runtime
from bot.sandbox.slack_emulator import SlackEmulator
from bot.sandbox.zstack_sim import SimServer
from tests.e2e.helpers import APPROVALS, APPROVER, REQUESTER, blocks_text
from tests.fixtures.bot import BotFactory
from tests.support import notices_done, settled, wait_until
from tests.support.approval import click, completion_count, request_clone, wait_state

DONE = "Cloned: example-clone"


def dm_arrived(emu: SlackEmulator) -> bool:
    return any(DONE in m.text + blocks_text(m.blocks) for m in emu.state.dms(REQUESTER))


async def test_the_bots_limits_narrow_while_its_loop_lags_and_widen_again(
    bot_factory: BotFactory,
) -> None:
    bot = await bot_factory(approval_channel=APPROVALS)
    limits = (bot.deps.executor.submissions, bot.deps.notifier.bulk)
    time.sleep(0.3)  # the loop held up, as by a burst of work on it
    await wait_until(lambda: all(limit.limit < limit.ceiling for limit in limits), timeout=5)
    registry = bot.deps.metrics.registry
    assert (registry.get_sample_value("clonebot_event_loop_lag_seconds_count") or 0) > 0
    shown = registry.get_sample_value("clonebot_work_limit", {"work": "submissions"})
    assert shown is not None and shown < limits[0].ceiling
    await wait_until(lambda: limits[0].limit > limits[0].floor, timeout=10)  # calm again


async def test_a_completion_dm_goes_while_its_thread_reply_and_card_wait_for_the_bulk_lane(
    slack_emu: SlackEmulator, bot_factory: BotFactory, zstack_sim: SimServer
) -> None:
    zstack_sim.state.set_mode(job_duration_s=3.0)
    bot = await bot_factory(approval_channel=APPROVALS)
    record = await request_clone(slack_emu, bot)
    await click(slack_emu, APPROVER, record, "request_approve")
    await wait_state(bot, record.id, State.RUNNING)
    await wait_until(lambda: _no_effects(bot, record.id))  # the approval's notes and card
    await settled(bot)
    assert bot.lag is not None
    await bot.lag.stop()  # the limit stays as this test sets it
    bulk = bot.deps.notifier.bulk
    for _ in range(8):
        bulk.observe(1.0)  # a loop lagging a second: the lane narrows to its floor
    release = asyncio.Event()
    holders = [asyncio.create_task(_hold(bulk, release)) for _ in range(bulk.floor)]
    await wait_until(lambda: bulk.in_use == bulk.floor)
    await wait_until(lambda: dm_arrived(slack_emu) and bulk.waiting == 1)
    # The DM went; the thread reply waits for a place, and the card with it.
    assert completion_count(slack_emu, record, DONE) == (0, 1)
    card = slack_emu.state.message(APPROVALS, record.card_ts or "")
    assert card is not None and "Done" not in blocks_text(card.blocks)
    release.set()
    await asyncio.gather(*holders)
    await notices_done(bot, record.id)
    assert completion_count(slack_emu, record, DONE) == (1, 1)
    card = slack_emu.state.message(APPROVALS, record.card_ts or "")
    assert card is not None and "Done" in blocks_text(card.blocks)


async def _no_effects(bot: Runtime, request_id: str) -> bool:
    return not await bot.deps.requests.effects(request_id)


async def _hold(limit: AdaptiveLimit, release: asyncio.Event) -> None:
    async with limit:
        await release.wait()
