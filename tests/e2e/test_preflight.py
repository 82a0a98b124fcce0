"""Pre-flight checks, run with the requester's session: on the card while the request waits, a
failed one that makes the clone certain to fail blocks Approve, and all run again at approval."""

from __future__ import annotations

from bot.requests.model import State
from bot.runtime import Runtime
from bot.sandbox.slack_emulator import SlackEmulator
from bot.sandbox.zstack_sim import SimServer
from tests.e2e.helpers import (
    APPROVALS,
    APPROVER,
    EXAMPLE,
    GENERAL,
    REQUESTER,
    blocks_text,
    top_view,
)
from tests.fixtures.bot import BotFactory
from tests.support import wait_until
from tests.support.approval import click, request_clone, wait_state


async def checked(bot: Runtime, request_id: str) -> None:
    async def done() -> bool:
        return bool((await bot.deps.requests.require(request_id)).checks)

    await wait_until(done)


def card_text(emu: SlackEmulator, ts: str | None) -> str:
    card = emu.state.message(APPROVALS, ts or "")
    return blocks_text(card.blocks) if card else ""


async def test_the_card_shows_the_checks(slack_emu: SlackEmulator, bot_factory: BotFactory) -> None:
    bot = await bot_factory(approval_channel=APPROVALS)
    record = await request_clone(slack_emu, bot, name="fresh-name")
    await checked(bot, record.id)
    text = await slack_emu.wait_for(
        lambda: "Pre-flight checks" in (t := card_text(slack_emu, record.card_ts)) and t
    )
    assert "No model service is named *fresh-name* yet" in text
    assert "The source still exists" in text
    assert "ZStack session is valid until" in text


async def test_a_name_that_is_taken_blocks_approve(
    slack_emu: SlackEmulator, bot_factory: BotFactory, zstack_sim: SimServer
) -> None:
    bot = await bot_factory(approval_channel=APPROVALS)
    record = await request_clone(slack_emu, bot, name="example")  # the source's own name
    await checked(bot, record.id)
    await slack_emu.wait_for(lambda: "already exists" in card_text(slack_emu, record.card_ts))
    await click(slack_emu, APPROVER, record, "request_approve")
    await slack_emu.wait_for(
        lambda: any("can't be approved" in m.text for m in slack_emu.state.ephemerals(APPROVER))
    )
    still = await bot.deps.requests.require(record.id)
    assert still.state == State.PENDING and still.approvals == []
    assert zstack_sim.state.counters()["clone_calls_by_job"] == {}


async def test_the_checks_run_again_at_approval(
    slack_emu: SlackEmulator, bot_factory: BotFactory, zstack_sim: SimServer
) -> None:
    bot = await bot_factory(approval_channel=APPROVALS)
    first = await request_clone(slack_emu, bot, name="twin")
    second = await request_clone(slack_emu, bot, name="twin")
    await checked(bot, first.id)
    await checked(bot, second.id)  # both free when asked
    await click(slack_emu, APPROVER, first, "request_approve")
    await wait_state(bot, first.id, State.SUCCEEDED)
    await click(slack_emu, APPROVER, second, "request_approve")
    failed = await wait_state(bot, second.id, State.FAILED)
    assert failed.error_text and "already exists" in failed.error_text
    assert len(zstack_sim.state.counters()["clone_calls_by_job"]) == 1  # the twin was not sent


async def test_the_suggested_name_skips_names_already_taken(
    slack_emu: SlackEmulator, bot_factory: BotFactory
) -> None:
    bot = await bot_factory(approval_channel=APPROVALS)
    record = await request_clone(slack_emu, bot)  # example → example-clone
    await click(slack_emu, APPROVER, record, "request_approve")
    await wait_state(bot, record.id, State.SUCCEEDED)
    slack_emu.modals.clear(REQUESTER, reason="close")
    await slack_emu.slash_command(REQUESTER, GENERAL, "/clone-model", EXAMPLE)
    view = await top_view(slack_emu, REQUESTER, "clone_model")
    name = next(b for b in view.definition["blocks"] if b.get("block_id") == "name")
    assert name["element"]["initial_value"] == "example-clone-2"
    # By name, the free-name query runs beside the lookup and still sees the taken name.
    slack_emu.modals.clear(REQUESTER, reason="close")
    await slack_emu.slash_command(REQUESTER, GENERAL, "/clone-model", "example")
    by_name = await top_view(slack_emu, REQUESTER, "clone_model")
    name = next(b for b in by_name.definition["blocks"] if b.get("block_id") == "name")
    assert name["element"]["initial_value"] == "example-clone-2"
