"""Each person reads the bot in their Slack language; channel posts use CLONEBOT_LOCALE."""

from __future__ import annotations

import re

from bot.requests.model import State
from bot.sandbox.slack_emulator import SlackEmulator
from tests.e2e.helpers import APPROVALS, APPROVER2, GENERAL, blocks_text
from tests.fixtures.bot import BotFactory
from tests.support.approval import click, request_clone, wait_state

CJK = re.compile(r"[\u4e00-\u9fff]")
JORDAN = APPROVER2  # locale zh-CN in the emulator's workspace


async def test_a_chinese_locale_gets_chinese_answers(
    slack_emu: SlackEmulator, bot_factory: BotFactory
) -> None:
    await bot_factory(approval_channel=APPROVALS)
    await slack_emu.slash_command(JORDAN, GENERAL, "/zstack", "help")
    await slack_emu.slash_command("U0REQ", GENERAL, "/zstack", "help")
    jordan = await slack_emu.wait_for(lambda: slack_emu.state.ephemerals(JORDAN))
    riley = await slack_emu.wait_for(lambda: slack_emu.state.ephemerals("U0REQ"))
    assert "ZStack 会话命令" in jordan[-1].text
    assert not CJK.search(riley[-1].text)


async def test_workspace_locale_for_cards_and_personal_language_for_refusals(
    slack_emu: SlackEmulator, bot_factory: BotFactory
) -> None:
    bot = await bot_factory(approval_channel=APPROVALS, locale="zh")
    record = await request_clone(slack_emu, bot)
    card = slack_emu.state.message(APPROVALS, record.card_ts or "")
    assert card is not None and "克隆申请" in blocks_text(card.blocks)
    await click(slack_emu, "U0REQ", record, "request_approve")  # self-approval: refused
    refusal = await slack_emu.wait_for(
        lambda: [m.text for m in slack_emu.state.ephemerals("U0REQ") if "request" in m.text]
    )
    assert "own request" in refusal[-1]  # riley reads English
    assert not CJK.search(refusal[-1])
    await click(slack_emu, JORDAN, record, "request_approve")
    done = await wait_state(bot, record.id, State.SUCCEEDED)
    # The notice is delivered right after the state change: wait for it.
    await slack_emu.wait_for(
        lambda: any(
            "克隆完成" in blocks_text(m.blocks)
            for m in slack_emu.state.thread(APPROVALS, done.card_ts or "")
        )
    )
