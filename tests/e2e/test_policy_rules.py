"""Approval rules from a policy file, end to end: who approves and how many, auto-approval within
bounds, ``deny`` at submit, and the rule said on the card and in the form."""

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
    APPROVER2,
    EXAMPLE,
    GENERAL,
    REQUESTER,
    blocks_text,
    ephemeral_texts,
    login,
    top_view,
)
from tests.fixtures.bot import BotFactory
from tests.support.approval import click, wait_card, wait_state

POLICY = """
rules:
  - name: huge
    when: {requestCpu: ">= 32"}
    deny: Ask the platform team for services this large.
  - name: small
    when: {requestCpu: "<= 1"}
    auto_approve: true
  - name: large
    when: [{requestCpu: ">= 4"}, {gpu: true}]
    approvers: [S0APPROVERS]
    approvals: 2
"""


async def policy_bot(bot_factory: BotFactory, tmp_path: Path) -> Runtime:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY, encoding="utf-8")
    return await bot_factory(approval_channel=APPROVALS, policy_file=path)


async def open_form(emu: SlackEmulator) -> Any:
    await login(emu)
    await emu.slash_command(REQUESTER, GENERAL, "/clone-model", EXAMPLE)
    return await top_view(emu, REQUESTER, "clone_model")


def rule_line(view: Any) -> str:
    block = next(b for b in view.definition["blocks"] if b.get("block_id") == "rule")
    return blocks_text([block])


async def submitted(emu: SlackEmulator, bot: Runtime, view: Any, cpu: str) -> CloneRequest:
    before = len(emu.state.messages(APPROVALS))
    delivery = await emu.submit_view(
        REQUESTER, view.id, {"reason": {"value": "eval"}, "request_cpu": {"value": cpu}}
    )
    assert delivery.status == 200 and not delivery.body, delivery.body
    await emu.wait_for(lambda: len(emu.state.messages(APPROVALS)) > before)
    record = (await bot.deps.requests.recent("T0CLONE", REQUESTER))[0]
    return await wait_card(bot, record.id)


def card_text(emu: SlackEmulator, record: CloneRequest) -> str:
    card = emu.state.message(APPROVALS, record.card_ts or "")
    return blocks_text(card.blocks) if card else ""


async def test_a_two_approver_rule_needs_both_and_the_card_says_why(
    slack_emu: SlackEmulator, bot_factory: BotFactory, tmp_path: Path
) -> None:
    bot = await policy_bot(bot_factory, tmp_path)
    view = await open_form(slack_emu)
    line = rule_line(view)  # the example source has 1 vCPU: the small rule, said before submit
    assert "small" in line and "approved automatically" in line
    delivery = await slack_emu.submit_view(
        REQUESTER, view.id, {"reason": {"value": "eval"}, "request_cpu": {"value": "8"}}
    )
    # The values meet another rule than the form said: the form says so and waits.
    assert delivery.json()["response_action"] == "update"
    shown = slack_emu.state.view(view.id)
    assert "rule *large* applies" in blocks_text(shown)
    assert "large" in rule_line(shown) and "<!subteam^S0APPROVERS>" in rule_line(shown)
    assert await bot.deps.requests.recent("T0CLONE", REQUESTER) == []
    record = await submitted(slack_emu, bot, shown, "8")
    assert record.rule and record.rule.name == "large" and record.approvals_required == 2
    card = card_text(slack_emu, record)
    assert "Rule *large* (8 vCPU ≥ 4)" in card and "2 approvals" in card
    await click(slack_emu, APPROVER, record, "request_approve")
    await slack_emu.wait_for(lambda: "(1/2:" in card_text(slack_emu, record))
    assert (await bot.deps.requests.require(record.id)).state == State.PENDING
    await click(slack_emu, APPROVER2, record, "request_approve")
    done = await wait_state(bot, record.id, State.SUCCEEDED)
    assert done.approvals == [APPROVER, APPROVER2]


async def test_only_the_rules_approvers_may_approve(
    slack_emu: SlackEmulator, bot_factory: BotFactory, tmp_path: Path
) -> None:
    bot = await policy_bot(bot_factory, tmp_path)
    view = await open_form(slack_emu)
    await slack_emu.submit_view(
        REQUESTER, view.id, {"reason": {"value": "x"}, "request_cpu": {"value": "8"}}
    )
    record = await submitted(slack_emu, bot, slack_emu.state.view(view.id), "8")
    await click(slack_emu, "U0OUT", record, "request_approve")
    await slack_emu.wait_for(
        lambda: any("not on the approver list" in t for t in ephemeral_texts(slack_emu, "U0OUT"))
    )
    assert (await bot.deps.requests.require(record.id)).approvals == []


async def test_a_small_request_under_an_auto_approve_rule_is_cloned_without_a_click(
    slack_emu: SlackEmulator, bot_factory: BotFactory, zstack_sim: SimServer, tmp_path: Path
) -> None:
    bot = await policy_bot(bot_factory, tmp_path)
    view = await open_form(slack_emu)
    record = await submitted(slack_emu, bot, view, "1")
    done = await wait_state(bot, record.id, State.SUCCEEDED)
    assert done.decided_by == "bot" and done.approvals == []
    await slack_emu.wait_for(
        lambda: "approved automatically by rule *small*" in card_text(slack_emu, done)
    )
    thread = slack_emu.state.thread(APPROVALS, done.card_ts or "")
    assert any("Approved automatically by rule *small*" in m.text for m in thread)
    assert len(zstack_sim.state.counters()["clone_calls_by_job"]) == 1


async def test_a_deny_rule_refuses_at_submit_with_its_message(
    slack_emu: SlackEmulator, bot_factory: BotFactory, tmp_path: Path
) -> None:
    bot = await policy_bot(bot_factory, tmp_path)
    view = await open_form(slack_emu)
    delivery = await slack_emu.submit_view(
        REQUESTER, view.id, {"reason": {"value": "eval"}, "request_cpu": {"value": "64"}}
    )
    answer = delivery.json()
    assert answer["response_action"] == "errors"
    assert answer["errors"] == {
        "request_cpu": "Rule huge refuses this request: Ask the platform team for services "
        "this large."
    }
    assert await bot.deps.requests.recent("T0CLONE", REQUESTER) == []


BREAK_GLASS = """
rules:
  - name: two-keys
    approvers: [S0APPROVERS]
    approvals: 2
    break_glass: [U0REQ]
"""


async def test_break_glass_approves_alone_with_a_reason_shown_on_the_card(
    slack_emu: SlackEmulator, bot_factory: BotFactory, tmp_path: Path
) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(BREAK_GLASS, encoding="utf-8")
    bot = await bot_factory(approval_channel=APPROVALS, policy_file=path)
    view = await open_form(slack_emu)
    record = await submitted(slack_emu, bot, view, "2")
    assert "request_break_glass" in card_text(slack_emu, record)
    # Someone the rule does not name is refused.
    await click(slack_emu, APPROVER, record, "request_break_glass")
    await slack_emu.wait_for(
        lambda: any("may override" in t for t in ephemeral_texts(slack_emu, APPROVER))
    )
    # The requester may override, even their own request, with a written reason.
    await click(slack_emu, REQUESTER, record, "request_break_glass")
    modal = await top_view(slack_emu, REQUESTER, "break_glass_request")
    await slack_emu.submit_view(
        REQUESTER, modal.id, {"break_glass_reason": {"value": "prod incident INC-42, on call"}}
    )
    done = await wait_state(bot, record.id, State.SUCCEEDED)
    assert done.override and done.override.by == REQUESTER
    assert done.override.reason == "prod incident INC-42, on call"
    await slack_emu.wait_for(
        lambda: (
            "Break-glass override by <@U0REQ>" in card_text(slack_emu, done)
            and "INC-42" in card_text(slack_emu, done)
        )
    )
    trail = await bot.deps.requests.history(record.id)
    assert any("break-glass override: prod incident INC-42" in str(e) for e in trail)
