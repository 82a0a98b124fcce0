"""Ordered approval steps and required approval comments, end to end: a request moves through
its rule's steps on exactly the votes each needs, in order; a skipped step hands over to the
next; a rule that wants a comment gets one with each approval, on the card and in the audit."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.requests.audit import audit_entries
from bot.requests.model import CloneRequest, State
from bot.runtime import Runtime
from bot.sandbox.slack_emulator import SlackEmulator
from bot.sandbox.slack_emulator.actor import InputRejected
from bot.sandbox.slack_emulator.workspace import User, UserGroup
from bot.sandbox.zstack_sim import SimServer
from tests.e2e.helpers import (
    APPROVALS,
    APPROVER,
    APPROVER2,
    OUTSIDER,
    blocks_text,
    ephemeral_texts,
    top_view,
)
from tests.fixtures.bot import BotFactory
from tests.support import wait_until
from tests.support.approval import click, request_clone, thread_texts, wait_state

LEADS = "S0LEADS"
LEAD1, LEAD2 = "U0LEAD1", "U0LEAD2"
OWNER_A, OWNER_B = "U0OWNA", "U0OWNB"

TWO_STEPS = f"""
rules:
  - name: two-step
    steps:
      - name: lead
        approvers: [{LEADS}]
        need: any
      - name: platform
        approvers: [{OWNER_A}, {OWNER_B}]
        need: all
"""

SKIPPABLE = f"""
rules:
  - name: skippable
    steps:
      - name: lead
        approvers: [{LEADS}]
        skip_after: 1h
      - name: platform
        approvers: [{OWNER_A}]
"""

COMMENTED = f"""
rules:
  - name: commented
    approvers: [{APPROVER}, {APPROVER2}]
    approvals: 2
    approval_comment: required
"""


@pytest.fixture(autouse=True)
def quick_clones(zstack_sim: SimServer) -> None:
    # The clone itself is not what these tests look at: ZStack answers it at once.
    zstack_sim.state.set_mode(clone="sync")


def add_people(emu: SlackEmulator) -> None:
    """Two team leads (a user group) and two platform owners, in the approval channel."""
    ws = emu.state.workspace
    people = {
        LEAD1: ("lee", "Lee Park"),
        LEAD2: ("kai", "Kai Moreno"),
        OWNER_A: ("ash", "Ash Okafor"),
        OWNER_B: ("bo", "Bo Lindqvist"),
    }
    for user, (name, real_name) in people.items():
        ws.add_user(User(user, name, real_name, email=f"{name}@example.com"))
        ws.channels[APPROVALS].members.add(user)
    ws.add_usergroup(UserGroup(LEADS, "team-leads", "Team leads", [LEAD1, LEAD2]))


async def policy_bot(
    emu: SlackEmulator, bot_factory: BotFactory, tmp_path: Path, text: str
) -> Runtime:
    add_people(emu)
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return await bot_factory(approval_channel=APPROVALS, policy_file=path)


def card(emu: SlackEmulator, record: CloneRequest) -> str:
    message = emu.state.message(APPROVALS, record.card_ts or "")
    return blocks_text(message.blocks) if message else ""


def clones(sim: SimServer) -> int:
    return sum(sim.state.counters()["clone_calls_by_source"].values())


async def refused(emu: SlackEmulator, user: str, text: str) -> None:
    await emu.wait_for(lambda: any(text in t for t in ephemeral_texts(emu, user)))


async def test_two_steps_need_exactly_their_votes_in_order(
    slack_emu: SlackEmulator, bot_factory: BotFactory, zstack_sim: SimServer, tmp_path: Path
) -> None:
    bot = await policy_bot(slack_emu, bot_factory, tmp_path, TWO_STEPS)
    record = await request_clone(slack_emu, bot)
    assert record.rule is not None and len(record.rule.stages()) == 2
    await slack_emu.wait_for(lambda: "step 1 of 2" in card(slack_emu, record))
    shown = card(slack_emu, record)
    assert "Step 1: *lead*: one of <!subteam^S0LEADS>" in shown
    assert "Step 2: *platform*: all of <@U0OWNA>, <@U0OWNB>" in shown

    # Step 1: a platform owner may not approve yet, nor may someone no step names.
    await click(slack_emu, OWNER_A, record, "request_approve")
    await refused(
        slack_emu, OWNER_A, f"{record.id} is at step 1 of 2; you approve in another step."
    )
    await click(slack_emu, OUTSIDER, record, "request_approve")
    await refused(slack_emu, OUTSIDER, "not on the approver list")
    stored = await bot.deps.requests.require(record.id)
    assert (stored.step, stored.approvals) == (0, [])

    # One lead is enough for step 1: step 2 waits for the owners, and the thread says so.
    await click(slack_emu, LEAD1, record, "request_approve")
    await slack_emu.wait_for(
        lambda: any(
            "step 1 of 2 is done. Step 2 now waits for <@U0OWNA>, <@U0OWNB>" in t
            for t in thread_texts(slack_emu, record)
        )
    )
    stored = await bot.deps.requests.require(record.id)
    assert (stored.step, stored.state, stored.approvals) == (1, State.PENDING, [LEAD1])
    await slack_emu.wait_for(lambda: "step 2 of 2" in card(slack_emu, record))

    # The other lead's turn is over.
    await click(slack_emu, LEAD2, record, "request_approve")
    await refused(slack_emu, LEAD2, f"{record.id} is at step 2 of 2; you approve in another step.")

    # One owner is not enough, nor is the same owner twice.
    await click(slack_emu, OWNER_A, record, "request_approve")
    await slack_emu.wait_for(lambda: "1/2: <@U0OWNA>" in card(slack_emu, record))
    await click(slack_emu, OWNER_A, record, "request_approve")
    await refused(slack_emu, OWNER_A, "already approved")
    stored = await bot.deps.requests.require(record.id)
    assert stored.state == State.PENDING and stored.approvals == [LEAD1, OWNER_A]
    assert clones(zstack_sim) == 0

    # Both owners: approved and cloned, once.
    await click(slack_emu, OWNER_B, record, "request_approve")
    done = await wait_state(bot, record.id, State.SUCCEEDED)
    assert done.approvals == [LEAD1, OWNER_A, OWNER_B]
    assert [(v.user, v.step) for v in done.votes] == [(LEAD1, 0), (OWNER_A, 1), (OWNER_B, 1)]
    assert clones(zstack_sim) == 1
    # The card, drawn last, marks both steps done.
    await slack_emu.wait_for(lambda: card(slack_emu, record).count(":white_check_mark: Step") == 2)


async def test_a_step_nobody_decides_in_time_is_skipped(
    slack_emu: SlackEmulator, bot_factory: BotFactory, zstack_sim: SimServer, tmp_path: Path
) -> None:
    bot = await policy_bot(slack_emu, bot_factory, tmp_path, SKIPPABLE)
    record = await request_clone(slack_emu, bot)
    assert (
        await bot.deps.requests.score("nudge", record.id)
        == (record.created_at + timedelta(hours=1)).timestamp()
    )
    await click(slack_emu, OWNER_A, record, "request_approve")
    await refused(slack_emu, OWNER_A, "is at step 1 of 2")

    later = at(record, hours=1)
    bot.deps.nudger.clock = later
    note = await slack_emu.wait_for(
        lambda: next((t for t in thread_texts(slack_emu, record) if ":fast_forward:" in t), None)
    )
    assert f"Nobody decided step 1 of {record.id} within 1h, so it was skipped" in note
    assert "Step 2 now waits for <@U0OWNA>" in note
    skipped = await bot.deps.requests.require(record.id)
    assert (skipped.step, skipped.skipped, skipped.step_started_at) == (1, [0], later())
    await slack_emu.wait_for(lambda: ":fast_forward: Step 1: *lead*" in card(slack_emu, record))

    # The lead's step is over; the owner's is on.
    await click(slack_emu, LEAD1, record, "request_approve")
    await refused(slack_emu, LEAD1, "is at step 2 of 2")
    assert clones(zstack_sim) == 0
    await click(slack_emu, OWNER_A, record, "request_approve")
    done = await wait_state(bot, record.id, State.SUCCEEDED)
    assert done.approvals == [OWNER_A] and clones(zstack_sim) == 1
    trail = [e["note"] for e in (await audit(bot, record.id))["events"]]
    assert "step 1 skipped" in trail


def at(record: CloneRequest, **after: float) -> Callable[[], datetime]:
    moment = record.created_at + timedelta(**after)
    return lambda: moment


async def audit(bot: Runtime, request_id: str) -> dict[str, Any]:
    """The request's record in the audit export (``clone-bot audit``)."""
    entries = [e async for e in audit_entries(bot.deps.requests)]
    return next(e for e in entries if e["id"] == request_id)


def approve_button(emu: SlackEmulator, record: CloneRequest) -> dict[str, Any]:
    message = emu.state.message(APPROVALS, record.card_ts or "")
    assert message is not None
    for block in message.blocks:
        for element in block.get("elements", []):
            if isinstance(element, dict) and element.get("action_id") == "request_approve":
                return element
    raise AssertionError("no Approve button on the card")


async def test_a_required_comment_is_asked_for_enforced_and_shown(
    slack_emu: SlackEmulator, bot_factory: BotFactory, tmp_path: Path
) -> None:
    bot = await policy_bot(slack_emu, bot_factory, tmp_path, COMMENTED)
    record = await request_clone(slack_emu, bot)
    assert "confirm" not in approve_button(slack_emu, record)  # the dialog confirms instead

    # The Approve button opens the comment dialog.
    await click(slack_emu, APPROVER, record, "request_approve")
    modal = await top_view(slack_emu, APPROVER, "approve_request")
    # Slack's client refuses an empty field; a blank one reaches the bot, which refuses it.
    with pytest.raises(InputRejected):
        await slack_emu.submit_view(APPROVER, modal.id, {"approve_comment": {"value": ""}})
    blank = await slack_emu.submit_view(APPROVER, modal.id, {"approve_comment": {"value": "   "}})
    assert blank.json() == {
        "response_action": "errors",
        "errors": {"approve_comment": "Write a comment: this request's rule asks for one."},
    }
    assert (await bot.deps.requests.require(record.id)).approvals == []
    done = await slack_emu.submit_view(
        APPROVER, modal.id, {"approve_comment": {"value": "looks right"}}
    )
    assert done.status == 200 and not done.body

    async def voted(count: int) -> bool:
        return len((await bot.deps.requests.require(record.id)).votes) == count

    await wait_until(lambda: voted(1), timeout=5)
    await slack_emu.wait_for(
        lambda: f":speech_balloon: <@{APPROVER}>: “looks right”" in card(slack_emu, record)
    )
    assert any(
        f"<@{APPROVER}> approved: “looks right” (1/2 approvals)" in t
        for t in thread_texts(slack_emu, record)
    )

    # A bare "approve" in the thread is refused with the hint (in jordan's language, zh-CN);
    # one with a comment counts.
    await slack_emu.post_message(APPROVER2, APPROVALS, "approve", thread_ts=record.card_ts)
    await refused(
        slack_emu,
        APPROVER2,
        f"{record.id} 的每个批准都需要附上评论：请使用“批准”按钮，或在其讨论串中回复 "
        "`approve: <你的评论>`。",
    )
    assert len((await bot.deps.requests.require(record.id)).votes) == 1
    await slack_emu.post_message(
        APPROVER2, APPROVALS, "approve: ship it, capacity checked", thread_ts=record.card_ts
    )
    approved = await wait_state(bot, record.id, State.SUCCEEDED)
    assert [(v.user, v.comment) for v in approved.votes] == [
        (APPROVER, "looks right"),
        (APPROVER2, "ship it, capacity checked"),
    ]
    assert approved.decision_reason == "ship it, capacity checked"
    await slack_emu.wait_for(
        lambda: (
            f":speech_balloon: <@{APPROVER2}>: “ship it, capacity checked”"
            in card(slack_emu, record)
        )
    )
    assert f":speech_balloon: <@{APPROVER}>: “looks right”" in card(slack_emu, record)

    # The audit export keeps each comment with its approval.
    entry = await audit(bot, record.id)
    trail = [e["note"] for e in entry["events"]]
    assert "approve: looks right" in trail
    assert "approve: ship it, capacity checked" in trail
    assert entry["decision_reason"] == "ship it, capacity checked"


BOSS = "U0BOSS"
NUDGED_STEPS = f"""
rules:
  - name: two-step
    steps:
      - name: lead
        approvers: [{LEADS}]
      - name: platform
        approvers: [{OWNER_A}, {OWNER_B}]
        need: all
    remind_after: 1h
    escalate_after: 2h
    escalate_to: [{BOSS}]
"""


def texts_with(emu: SlackEmulator, record: CloneRequest, marker: str) -> list[str]:
    return [t for t in thread_texts(emu, record) if marker in t]


def dm_count(emu: SlackEmulator, user: str, marker: str) -> int:
    return sum(marker in m.text for m in emu.state.dms(user))


async def test_reminders_and_escalation_follow_the_current_step(
    slack_emu: SlackEmulator, bot_factory: BotFactory, zstack_sim: SimServer, tmp_path: Path
) -> None:
    ws = slack_emu.state.workspace
    ws.add_user(User(BOSS, "morgan", "Morgan Reyes", email="morgan@example.com"))
    ws.channels[APPROVALS].members.add(BOSS)
    bot = await policy_bot(slack_emu, bot_factory, tmp_path, NUDGED_STEPS)
    record = await request_clone(slack_emu, bot)
    # The fallback approver is no step's approver: not told to wait for another step.
    await click(slack_emu, BOSS, record, "request_approve")
    await refused(slack_emu, BOSS, "not on the approver list")

    # Step 1's reminder names the leads' group and reaches each lead.
    bot.deps.nudger.clock = at(record, hours=1)
    note = (await slack_emu.wait_for(lambda: texts_with(slack_emu, record, ":bell: Reminder")))[0]
    assert f"has waited 1h for <!subteam^{LEADS}>" in note
    await slack_emu.wait_for(
        lambda: all(dm_count(slack_emu, lead, ":bell: Reminder") == 1 for lead in (LEAD1, LEAD2))
    )
    assert dm_count(slack_emu, OWNER_A, ":bell: Reminder") == 0

    # A lead approves (at the real time): step 2 begins, and its own clock with it.
    await click(slack_emu, LEAD1, record, "request_approve")

    async def at_step_two() -> CloneRequest | None:
        current = await bot.deps.requests.require(record.id)
        return current if current.step == 1 else None

    await wait_until(at_step_two, timeout=5)
    began = await at_step_two()
    assert began is not None and began.reminders == 0 and began.step_started_at is not None
    assert await bot.deps.requests.score("nudge", record.id) == pytest.approx(
        (began.step_started_at + timedelta(hours=1)).timestamp(), abs=0.01
    )
    step_two = began.step_started_at
    bot.deps.nudger.clock = lambda: step_two + timedelta(hours=1)
    await slack_emu.wait_for(lambda: len(texts_with(slack_emu, record, ":bell: Reminder")) == 2)
    second = texts_with(slack_emu, record, ":bell: Reminder")[1]
    assert f"has waited 1h for <@{OWNER_A}>, <@{OWNER_B}>" in second
    await slack_emu.wait_for(
        lambda: all(dm_count(slack_emu, o, ":bell: Reminder") == 1 for o in (OWNER_A, OWNER_B))
    )
    assert dm_count(slack_emu, LEAD1, ":bell: Reminder") == 1  # not reminded of step 2

    # One owner approves; nobody else does in time: the fallback approver is added, and in an
    # `all` step their approval stands in for the owner who did not decide.
    await click(slack_emu, OWNER_A, record, "request_approve")
    await slack_emu.wait_for(lambda: "1/2: <@U0OWNA>" in card(slack_emu, record))
    bot.deps.nudger.clock = lambda: step_two + timedelta(hours=2)
    await slack_emu.wait_for(lambda: texts_with(slack_emu, record, ":rotating_light:"))
    await slack_emu.wait_for(lambda: dm_count(slack_emu, BOSS, "fallback approver") == 1)
    assert clones(zstack_sim) == 0
    await click(slack_emu, BOSS, record, "request_approve")
    done = await wait_state(bot, record.id, State.SUCCEEDED)
    assert done.approvals == [LEAD1, OWNER_A, BOSS] and clones(zstack_sim) == 1


async def test_a_step_left_half_done_by_a_rejection_is_not_marked_done(
    slack_emu: SlackEmulator, bot_factory: BotFactory, zstack_sim: SimServer, tmp_path: Path
) -> None:
    bot = await policy_bot(slack_emu, bot_factory, tmp_path, TWO_STEPS)
    record = await request_clone(slack_emu, bot)
    await click(slack_emu, LEAD1, record, "request_approve")
    await slack_emu.wait_for(lambda: "step 2 of 2" in card(slack_emu, record))
    await click(slack_emu, OWNER_A, record, "request_approve")
    await slack_emu.wait_for(lambda: "1/2: <@U0OWNA>" in card(slack_emu, record))
    # The other owner rejects: step 2 had one of its two approvals.
    await slack_emu.post_message(
        OWNER_B, APPROVALS, "reject: not this quarter", thread_ts=record.card_ts
    )
    await wait_state(bot, record.id, State.REJECTED)
    shown = await slack_emu.wait_for(
        lambda: (text := card(slack_emu, record)) and "request_approve" not in text and text
    )
    assert ":white_check_mark: Step 1: *lead*" in shown
    assert ":white_check_mark: Step 2" not in shown
    assert "◦ Step 2: *platform*: all of <@U0OWNA>, <@U0OWNB> · 1/2: <@U0OWNA>" in shown
    assert clones(zstack_sim) == 0


THREE_STEPS = f"""
rules:
  - name: three-step
    steps:
      - approvers: [{LEADS}]
        skip_after: 1h
      - approvers: [{OWNER_A}]
        skip_after: 1h
      - approvers: [{OWNER_B}]
"""


async def test_two_replicas_skip_a_step_once(
    slack_emu: SlackEmulator, bot_factory: BotFactory, tmp_path: Path
) -> None:
    one = await policy_bot(slack_emu, bot_factory, tmp_path, THREE_STEPS)
    two = await bot_factory(approval_channel=APPROVALS, policy_file=tmp_path / "policy.yaml")
    record = await request_clone(slack_emu, one)
    # Both replicas find step 1's skip due at the same moment (their trackers, and each
    # replica's nudger run side by side); step 2's is an hour after it began.
    for bot in (one, two):
        bot.deps.nudger.clock = at(record, hours=1, minutes=30)
    await asyncio.gather(one.deps.nudger.run(record.id), two.deps.nudger.run(record.id))

    async def skipped_once() -> CloneRequest | None:
        current = await two.deps.requests.require(record.id)
        due = await two.deps.requests.score("nudge", record.id)
        return current if current.step == 1 and due is not None else None

    await wait_until(skipped_once, timeout=5)
    current = await skipped_once()
    assert current is not None and current.skipped == [0]
    assert await two.deps.requests.score("nudge", record.id) == pytest.approx(
        (record.created_at + timedelta(hours=2, minutes=30)).timestamp(), abs=0.01
    )
    await slack_emu.wait_for(lambda: texts_with(slack_emu, record, ":fast_forward:"))
    await click(slack_emu, OWNER_A, record, "request_approve")
    await wait_until(lambda: _step_is(one, record, 2), timeout=5)
    assert len(texts_with(slack_emu, record, ":fast_forward:")) == 1
    final = await one.deps.requests.require(record.id)
    assert (final.skipped, [v.user for v in final.votes]) == ([0], [OWNER_A])


async def _step_is(bot: Runtime, record: CloneRequest, step: int) -> bool:
    return (await bot.deps.requests.require(record.id)).step == step


async def test_an_approval_comment_is_escaped_where_slack_reads_it(
    slack_emu: SlackEmulator, bot_factory: BotFactory, tmp_path: Path
) -> None:
    bot = await policy_bot(slack_emu, bot_factory, tmp_path, COMMENTED)
    record = await request_clone(slack_emu, bot)
    await slack_emu.post_message(
        APPROVER, APPROVALS, "approve: <!channel> R&D *ok*", thread_ts=record.card_ts
    )
    escaped = "&lt;!channel&gt; R&amp;D *ok*"
    note = await slack_emu.wait_for(
        lambda: next((t for t in thread_texts(slack_emu, record) if "approved:" in t), None)
    )
    assert f"<@{APPROVER}> approved: “{escaped}” (1/2 approvals)" in note
    await slack_emu.wait_for(lambda: escaped in card(slack_emu, record))
    posted = [
        m.text + blocks_text(m.blocks)
        for m in slack_emu.state.thread(APPROVALS, record.card_ts or "")
        if m.user == slack_emu.state.workspace.bot_user_id
    ]
    assert any(escaped in text for text in posted)
    for text in [card(slack_emu, record), *posted]:
        assert "<!channel>" not in text and "&amp;amp;" not in text
    stored = await bot.deps.requests.require(record.id)
    assert stored.votes[0].comment == "<!channel> R&D *ok*"  # kept as written


OVERLAPPING = f"""
rules:
  - name: overlapping
    steps:
      - name: lead
        approvers: [{LEADS}, {OWNER_A}]
      - name: platform
        approvers: [{OWNER_A}, {OWNER_B}]
        need: all
"""


async def test_a_person_a_later_all_step_needs_keeps_their_approval_for_it(
    slack_emu: SlackEmulator, bot_factory: BotFactory, tmp_path: Path, zstack_sim: SimServer
) -> None:
    # Spent on step 1, the owner's one approval could never satisfy step 2: the request would
    # wait for nothing until it expired. They are told to leave step 1 to a lead.
    bot = await policy_bot(slack_emu, bot_factory, tmp_path, OVERLAPPING)
    record = await request_clone(slack_emu, bot)
    await click(slack_emu, OWNER_A, record, "request_approve")
    await refused(slack_emu, OWNER_A, "Step 2 of")
    assert (await bot.deps.requests.require(record.id)).approvals == []
    await click(slack_emu, LEAD1, record, "request_approve")
    await wait_until(lambda: _at_step(bot, record, 1))
    for owner in (OWNER_A, OWNER_B):
        await click(slack_emu, owner, record, "request_approve")
    done = await wait_state(bot, record.id, State.SUCCEEDED)
    assert done.approvals == [LEAD1, OWNER_A, OWNER_B] and clones(zstack_sim) == 1


async def _at_step(bot: Runtime, record: CloneRequest, step: int) -> bool:
    return (await bot.deps.requests.require(record.id)).step == step
