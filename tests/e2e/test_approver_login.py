"""Approvers who prove their ZStack identity: without a session the approver is sent through the
login and the approval goes ahead right after; a session that cannot see the source is refused;
the clone still runs as the requester, and the approver's ZStack identity is on the card."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.requests.model import CloneRequest, State
from bot.runtime import Runtime
from bot.sandbox.slack_emulator import SlackEmulator
from bot.sandbox.zstack_sim import SimServer
from tests.e2e.helpers import (
    APPROVALS,
    APPROVER,
    GENERAL,
    blocks_text,
    ephemeral_texts,
    login,
    top_view,
)
from tests.fixtures.bot import BotFactory
from tests.support.approval import click, request_clone, wait_card, wait_state

POLICY = """
rules:
  - name: proven
    when: {requestCpu: ">= 1"}
    approver_login: required
"""
ADMIN_LOGIN = {
    "login_kind": {"kind": "account"},
    "account_name": {"value": "admin"},
    "password": {"value": "password"},
}
ML_PLATFORM_LOGIN = {
    "login_kind": {"kind": "account"},
    "account_name": {"value": "ml-platform"},
    "password": {"value": "ml-platform-pass"},
}


async def proving_bot(bot_factory: BotFactory, tmp_path: Path, **settings: Any) -> Runtime:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY, encoding="utf-8")
    return await bot_factory(approval_channel=APPROVALS, policy_file=path, **settings)


def card_text(emu: SlackEmulator, record: CloneRequest) -> str:
    card = emu.state.message(APPROVALS, record.card_ts or "")
    return blocks_text(card.blocks) if card else ""


async def test_an_approver_without_a_session_logs_in_and_the_approval_goes_ahead(
    slack_emu: SlackEmulator, bot_factory: BotFactory, zstack_sim: SimServer, tmp_path: Path
) -> None:
    bot = await proving_bot(bot_factory, tmp_path)
    record = await wait_card(bot, (await request_clone(slack_emu, bot)).id)
    assert record.rule and record.rule.approver_login
    assert "approvers log in to ZStack" in card_text(slack_emu, record)
    await click(slack_emu, APPROVER, record, "request_approve")
    modal = await top_view(slack_emu, APPROVER, "zstack_login")
    assert "prove who they are in ZStack" in blocks_text(modal)
    assert (await bot.deps.requests.require(record.id)).approvals == []
    await slack_emu.submit_view(APPROVER, modal.id, ADMIN_LOGIN)
    done = await top_view(slack_emu, APPROVER, "zstack_login_info")
    assert f"Your approval of {record.id} is counted" in blocks_text(done)
    finished = await wait_state(bot, record.id, State.SUCCEEDED)
    assert finished.approvals == [APPROVER]
    assert finished.approver_accounts == {APPROVER: "admin"}
    await slack_emu.wait_for(lambda: "(ZStack admin)" in card_text(slack_emu, finished))
    # The clone ran with the requester's session, not the approver's.
    (call,) = zstack_sim.state.counters()["clone_calls"]
    assert call["account"] == "alice"
    trail = await bot.deps.requests.history(record.id)
    assert any("approve as ZStack admin" in str(entry) for entry in trail)


async def test_an_approver_whose_session_cannot_see_the_source_is_refused(
    slack_emu: SlackEmulator, bot_factory: BotFactory, tmp_path: Path
) -> None:
    bot = await proving_bot(bot_factory, tmp_path)
    record = await wait_card(bot, (await request_clone(slack_emu, bot)).id)
    await login(slack_emu, APPROVER, ML_PLATFORM_LOGIN)
    await click(slack_emu, APPROVER, record, "request_approve")
    await slack_emu.wait_for(
        lambda: any(
            "Your ZStack login (ml-platform) cannot see the source" in t
            for t in ephemeral_texts(slack_emu, APPROVER)
        )
    )
    still = await bot.deps.requests.require(record.id)
    assert still.state == State.PENDING and still.approvals == []


async def test_a_typed_approval_without_a_session_says_to_log_in(
    slack_emu: SlackEmulator, bot_factory: BotFactory
) -> None:
    bot = await bot_factory(approval_channel=APPROVALS, approver_login="required")
    record = await wait_card(bot, (await request_clone(slack_emu, bot)).id)
    await slack_emu.post_message(APPROVER, APPROVALS, "approve", thread_ts=record.card_ts)
    await slack_emu.wait_for(
        lambda: any("run `/zstack login`" in t for t in ephemeral_texts(slack_emu, APPROVER))
    )
    assert (await bot.deps.requests.require(record.id)).approvals == []
    await slack_emu.slash_command(APPROVER, GENERAL, "/zstack", "login")
    modal = await top_view(slack_emu, APPROVER, "zstack_login")
    await slack_emu.submit_view(APPROVER, modal.id, ADMIN_LOGIN)
    await top_view(slack_emu, APPROVER, "zstack_login_info")
    await slack_emu.post_message(APPROVER, APPROVALS, "approve", thread_ts=record.card_ts)
    done = await wait_state(bot, record.id, State.SUCCEEDED)
    assert done.approver_accounts == {APPROVER: "admin"}
