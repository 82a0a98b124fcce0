"""Approvals that never stall, end to end: reminders to the approvers who have not decided,
escalation to fallback approvers, once each, across two replicas and a restart.

Time is the nudger's injected clock (``bot.deps.nudger.clock``): the tracker asks it what is
due, so a test moves it past ``remind_after`` instead of waiting. Where a test proves that
nothing is sent, it makes the nudge due at once and waits until the tracker has handled it
(the entry is rescheduled or dropped), then counts what reached Slack.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.i18n import lang_of_locale
from bot.requests.audit import audit_entries
from bot.requests.model import CloneRequest, State
from bot.runtime import Runtime
from bot.sandbox.slack_emulator import SlackEmulator
from bot.sandbox.slack_emulator.records import Message
from bot.sandbox.slack_emulator.workspace import User, UserGroup
from bot.sandbox.zstack_sim import SimServer
from tests.e2e.helpers import (
    APPROVALS,
    APPROVER,
    APPROVER2,
    OUTSIDER,
    REQUESTER,
    blocks_text,
    ephemeral_texts,
    top_view,
)
from tests.fixtures.bot import BotFactory
from tests.support import settled, wait_until
from tests.support.approval import click, request_clone, thread_texts, wait_state

BOSS = "U0BOSS"
ONCALL = "S0ONCALL"
REMINDER = ":bell: Reminder:"
ESCALATED = ":rotating_light: Nobody decided"
FALLBACK_DM = "as a fallback approver"
# Each person is written to in their Slack language: jordan (APPROVER2, zh-CN) reads Chinese.
IN_CHINESE = {REMINDER: ":bell: 提醒：", FALLBACK_DM: "作为后备审批人"}


@pytest.fixture(autouse=True)
def quick_clones(zstack_sim: SimServer) -> None:
    # The clone itself is not what these tests look at: ZStack answers it at once.
    zstack_sim.state.set_mode(clone="sync")


def add_oncall(emu: SlackEmulator) -> None:
    """A fallback approver, in the approval channel and in the on-call user group."""
    ws = emu.state.workspace
    ws.add_user(User(BOSS, "morgan", "Morgan Reyes", email="morgan@example.com"))
    ws.channels[APPROVALS].members.add(BOSS)
    ws.add_usergroup(UserGroup(ONCALL, "on-call", "On call", [BOSS]))


def at(record: CloneRequest, **after: float) -> Callable[[], datetime]:
    """A clock standing still ``after`` the request was made."""
    moment = record.created_at + timedelta(**after)
    return lambda: moment


def set_clock(bots: list[Runtime], clock: Callable[[], datetime]) -> None:
    for bot in bots:
        bot.deps.nudger.clock = clock


async def handled_at(bot: Runtime, record: CloneRequest, expected: datetime | None) -> None:
    """Make the request's nudge due now and wait until the tracker has handled it: it is due
    at ``expected`` again (nothing was due yet), or gone (nothing is left to do)."""
    await bot.deps.requests.schedule("nudge", record.id, 0)
    want = None if expected is None else expected.timestamp()
    await wait_until(lambda: _score_is(bot, record, want), timeout=5)


async def _score_is(bot: Runtime, record: CloneRequest, want: float | None) -> bool:
    score = await bot.deps.requests.score("nudge", record.id)
    return score == want if want is None or score is None else abs(score - want) < 0.01


async def quiet(bot: Runtime, record: CloneRequest) -> None:
    """Every effect of the request delivered: nothing more can reach Slack for it."""

    async def nothing_left() -> bool:
        return not await bot.deps.requests.effects(record.id)

    await wait_until(nothing_left, timeout=5)
    await settled(bot, timeout=5)


def notes(emu: SlackEmulator, record: CloneRequest, marker: str) -> list[str]:
    return [t for t in thread_texts(emu, record) if marker in t]


def dms(emu: SlackEmulator, user: str, marker: str) -> list[Message]:
    """``user``'s DMs that carry ``marker``, as it reads in their language."""
    if lang_of_locale(emu.state.workspace.users[user].locale) == "zh":
        marker = IN_CHINESE[marker]
    return [m for m in emu.state.dms(user) if marker in m.text + blocks_text(m.blocks)]


def card(emu: SlackEmulator, record: CloneRequest) -> str:
    message = emu.state.message(APPROVALS, record.card_ts or "")
    return blocks_text(message.blocks) if message else ""


async def test_a_reminder_comes_once_at_remind_after_and_its_dm_decides(
    slack_emu: SlackEmulator, bot_factory: BotFactory
) -> None:
    # No policy file: the settings' default rule reminds.
    bot = await bot_factory(
        approval_channel=APPROVALS,
        approvers=[APPROVER, APPROVER2],
        approvals_required=2,
        remind_after_s=3600,
    )
    record = await request_clone(slack_emu, bot)
    assert record.rule is not None and record.rule.remind_after_s == 3600
    due = record.created_at + timedelta(hours=1)
    assert await bot.deps.requests.score("nudge", record.id) == due.timestamp()
    await click(slack_emu, APPROVER, record, "request_approve")
    await slack_emu.wait_for(lambda: "(1/2:" in card(slack_emu, record))

    # A second before remind_after: nothing yet.
    set_clock([bot], at(record, seconds=3599))
    await handled_at(bot, record, due)
    assert notes(slack_emu, record, REMINDER) == [] and dms(slack_emu, APPROVER2, REMINDER) == []

    # At remind_after: one note naming the approver who has not decided, one DM to them.
    set_clock([bot], at(record, hours=1))
    note = (await slack_emu.wait_for(lambda: notes(slack_emu, record, REMINDER)))[0]
    assert f"{record.id} has waited 1h for <@{APPROVER2}>" in note
    assert f"<@{APPROVER}>" not in note
    dm = (await slack_emu.wait_for(lambda: dms(slack_emu, APPROVER2, REMINDER)))[0]
    assert record.id in dm.text and "request_approve" in blocks_text(dm.blocks)
    assert "request_reject" in blocks_text(dm.blocks)
    await slack_emu.wait_for(lambda: "reminded once" in card(slack_emu, record))
    # Who already approved, and the requester, are not reminded.
    assert dms(slack_emu, APPROVER, REMINDER) == [] and dms(slack_emu, REQUESTER, REMINDER) == []

    # Later still: nothing more is due (one reminder without remind_every).
    await wait_until(lambda: _score_is(bot, record, None), timeout=5)
    set_clock([bot], at(record, hours=20))
    await handled_at(bot, record, None)
    await quiet(bot, record)
    assert len(notes(slack_emu, record, REMINDER)) == 1
    assert len(dms(slack_emu, APPROVER2, REMINDER)) == 1
    assert (await bot.deps.requests.require(record.id)).reminders == 1

    # The DM's Approve button decides.
    await slack_emu.click(APPROVER2, channel=dm.channel, ts=dm.ts, action_id="request_approve")
    done = await wait_state(bot, record.id, State.SUCCEEDED)
    assert done.approvals == [APPROVER, APPROVER2]
    trail = [e["note"] for e in (await _audit(bot, record.id))["events"]]
    assert "reminder 1 (step 1)" in trail


async def _audit(bot: Runtime, request_id: str) -> dict[str, Any]:
    """The request's record in the audit export (``clone-bot audit``)."""
    entries = [e async for e in audit_entries(bot.deps.requests)]
    return next(e for e in entries if e["id"] == request_id)


async def test_no_reminder_after_a_decision(
    slack_emu: SlackEmulator, bot_factory: BotFactory
) -> None:
    bot = await bot_factory(
        approval_channel=APPROVALS, approvers=[APPROVER, APPROVER2], remind_after_s=3600
    )
    record = await request_clone(slack_emu, bot)
    await click(slack_emu, APPROVER, record, "request_approve")
    await wait_state(bot, record.id, State.SUCCEEDED)
    # The approval dropped the nudge; made due after remind_after, it does nothing.
    assert await bot.deps.requests.score("nudge", record.id) is None
    set_clock([bot], at(record, hours=2))
    await handled_at(bot, record, None)
    await quiet(bot, record)
    assert notes(slack_emu, record, REMINDER) == []
    assert dms(slack_emu, APPROVER2, REMINDER) == []
    assert (await bot.deps.requests.require(record.id)).reminders == 0


async def test_remind_every_gives_exactly_remind_max_reminders(
    slack_emu: SlackEmulator, bot_factory: BotFactory
) -> None:
    bot = await bot_factory(
        approval_channel=APPROVALS,
        approvers=[APPROVER, APPROVER2],
        remind_after_s=3600,
        remind_every_s=1800,
        remind_max=3,
    )
    record = await request_clone(slack_emu, bot)
    start = record.created_at

    async def reminders(count: int) -> bool:
        return (await bot.deps.requests.require(record.id)).reminders == count

    set_clock([bot], at(record, hours=1))
    await wait_until(lambda: reminders(1), timeout=5)
    await wait_until(lambda: _score_is(bot, record, (start + timedelta(hours=1.5)).timestamp()))
    # A minute before the second one: still one.
    set_clock([bot], at(record, minutes=89))
    await handled_at(bot, record, start + timedelta(hours=1.5))
    assert (await bot.deps.requests.require(record.id)).reminders == 1
    # Long after (the bot was down, say): one reminder for the slots missed, not two at once;
    # the last a full interval after it, then no more.
    set_clock([bot], at(record, hours=12))
    await wait_until(lambda: reminders(2), timeout=5)
    await wait_until(lambda: _score_is(bot, record, (start + timedelta(hours=12.5)).timestamp()))
    assert (await bot.deps.requests.require(record.id)).reminders == 2
    set_clock([bot], at(record, hours=12.5))
    await wait_until(lambda: reminders(3), timeout=5)
    await wait_until(lambda: _score_is(bot, record, None), timeout=5)
    await handled_at(bot, record, None)
    await quiet(bot, record)
    assert len(notes(slack_emu, record, REMINDER)) == 3
    for approver in (APPROVER, APPROVER2):
        assert len(dms(slack_emu, approver, REMINDER)) == 3
    waited = [
        n.split("has waited ")[1].split(" for")[0] for n in notes(slack_emu, record, REMINDER)
    ]
    assert waited == ["1h", "12h", "12h 30m"]
    await slack_emu.wait_for(lambda: "reminded 3×" in card(slack_emu, record))


ESCALATION = f"""
rules:
  - name: escalating
    approvers: [{APPROVER}]
    ttl: 4h
    escalate_after: 2h
    escalate_to: [{ONCALL}]
"""


async def escalating_bot(
    emu: SlackEmulator, bot_factory: BotFactory, tmp_path: Path, text: str = ESCALATION
) -> Runtime:
    add_oncall(emu)
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return await bot_factory(approval_channel=APPROVALS, policy_file=path)


async def test_escalation_adds_the_fallback_approvers_once_and_they_can_approve(
    slack_emu: SlackEmulator, bot_factory: BotFactory, tmp_path: Path
) -> None:
    bot = await escalating_bot(slack_emu, bot_factory, tmp_path)
    record = await request_clone(slack_emu, bot)
    # Before the escalation the fallback approver may neither approve nor reject.
    await click(slack_emu, BOSS, record, "request_approve")
    await click(slack_emu, BOSS, record, "request_reject")
    await slack_emu.wait_for(
        lambda: sum("not on the approver list" in t for t in ephemeral_texts(slack_emu, BOSS)) == 2
    )
    set_clock([bot], at(record, minutes=119))
    await handled_at(bot, record, record.created_at + timedelta(hours=2))
    assert notes(slack_emu, record, ESCALATED) == [] and dms(slack_emu, BOSS, FALLBACK_DM) == []

    set_clock([bot], at(record, hours=2))
    note = (await slack_emu.wait_for(lambda: notes(slack_emu, record, ESCALATED)))[0]
    assert f"{record.id} within 2h: <!subteam^{ONCALL}> can approve it now too" in note
    dm = (await slack_emu.wait_for(lambda: dms(slack_emu, BOSS, FALLBACK_DM)))[0]
    assert dm.text.startswith(f":rotating_light: {record.id} from <@{REQUESTER}> has waited 2h")
    assert "request_approve" in blocks_text(dm.blocks)
    await slack_emu.wait_for(lambda: f"escalated to <!subteam^{ONCALL}>" in card(slack_emu, record))
    escalated = await bot.deps.requests.require(record.id)
    assert escalated.escalated == [ONCALL] and escalated.state == State.PENDING

    # Once: later, nothing more.
    set_clock([bot], at(record, hours=3))
    await handled_at(bot, record, None)
    await quiet(bot, record)
    assert len(notes(slack_emu, record, ESCALATED)) == 1
    assert len(dms(slack_emu, BOSS, FALLBACK_DM)) == 1
    assert dms(slack_emu, OUTSIDER, FALLBACK_DM) == []

    # The fallback approver approves from the DM.
    await slack_emu.click(BOSS, channel=dm.channel, ts=dm.ts, action_id="request_approve")
    done = await wait_state(bot, record.id, State.SUCCEEDED)
    assert done.approvals == [BOSS]
    trail = [e["note"] for e in (await _audit(bot, record.id))["events"]]
    assert f"escalated to {ONCALL} (step 1)" in trail


async def test_the_ttl_still_expires_an_escalated_request(
    slack_emu: SlackEmulator,
    bot_factory: BotFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bot = await escalating_bot(slack_emu, bot_factory, tmp_path)
    record = await request_clone(slack_emu, bot)
    set_clock([bot], at(record, hours=2))
    dm = (await slack_emu.wait_for(lambda: dms(slack_emu, BOSS, FALLBACK_DM)))[0]
    # Nobody decides, not even the fallback approvers: the TTL (4h) ends the request.
    later = record.expires_at + timedelta(minutes=1)
    monkeypatch.setattr("bot.requests.tracker.utc_now", lambda: later)
    await bot.deps.requests.schedule("expiry", record.id, 0)
    await wait_state(bot, record.id, State.EXPIRED)
    await slack_emu.click(BOSS, channel=dm.channel, ts=dm.ts, action_id="request_approve")
    await slack_emu.wait_for(
        lambda: any("already expired" in t for t in ephemeral_texts(slack_emu, BOSS))
    )
    assert (await bot.deps.requests.require(record.id)).approvals == []


NUDGED = f"""
rules:
  - name: nudged
    approvers: [{APPROVER}, {APPROVER2}]
    remind_after: 1h
    remind_every: 30m
    remind_max: 2
    escalate_after: 2h
    escalate_to: [{ONCALL}]
"""


async def all_nudged(bot: Runtime, record: CloneRequest) -> bool:
    """Both reminders sent, the escalation done, nothing left scheduled."""
    current = await bot.deps.requests.require(record.id)
    left = await bot.deps.requests.score("nudge", record.id)
    return current.reminders == 2 and current.escalated == [ONCALL] and left is None


def assert_once_each(
    emu: SlackEmulator, records: list[CloneRequest], *, fallback_reminded: bool = False
) -> None:
    """Two reminders and one escalation per request, in its thread and in DMs (the fallback
    approver is reminded too when the second reminder came after the escalation)."""
    for record in records:
        assert len(notes(emu, record, REMINDER)) == 2, thread_texts(emu, record)
        assert len(notes(emu, record, ESCALATED)) == 1, thread_texts(emu, record)
    for approver in (APPROVER, APPROVER2):
        assert len(dms(emu, approver, REMINDER)) == 2 * len(records)
    assert len(dms(emu, BOSS, FALLBACK_DM)) == len(records)
    assert len(dms(emu, BOSS, REMINDER)) == (len(records) if fallback_reminded else 0)


async def test_two_replicas_send_each_reminder_and_escalation_once(
    slack_emu: SlackEmulator, bot_factory: BotFactory, tmp_path: Path
) -> None:
    one = await escalating_bot(slack_emu, bot_factory, tmp_path, NUDGED)
    path = tmp_path / "policy.yaml"
    two = await bot_factory(approval_channel=APPROVALS, policy_file=path)
    records = [await request_clone(slack_emu, one, name=f"clone-{i}") for i in range(3)]
    # Both replicas' trackers find everything due at once, and each replica's nudger runs the
    # first of it side by side with the other's.
    # Three hours on: the first reminder and the escalation; an hour later the second
    # reminder (missed slots are not caught up all at once).
    for hours in (3, 4):
        set_clock([one, two], at(records[-1], hours=hours))
        for record in records:
            await asyncio.gather(one.deps.nudger.run(record.id), two.deps.nudger.run(record.id))
    for record in records:
        await wait_until(lambda: all_nudged(two, record), timeout=5)  # noqa: B023
        await quiet(one, record)
        await quiet(two, record)
    assert_once_each(slack_emu, records, fallback_reminded=True)


async def test_a_restart_neither_repeats_nor_loses_a_reminder_or_the_escalation(
    slack_emu: SlackEmulator, bot_factory: BotFactory, tmp_path: Path
) -> None:
    first = await escalating_bot(slack_emu, bot_factory, tmp_path, NUDGED)
    record = await request_clone(slack_emu, first)
    set_clock([first], at(record, hours=1))

    async def reminded_once() -> bool:
        current = await first.deps.requests.require(record.id)
        return current.reminders == 1

    await wait_until(reminded_once, timeout=5)
    await quiet(first, record)
    assert len(notes(slack_emu, record, REMINDER)) == 1
    await first.aclose()

    # Another runtime takes over (Redis and Slack as they were), hours later.
    second = await bot_factory(approval_channel=APPROVALS, policy_file=tmp_path / "policy.yaml")
    slack_emu.app_url = f"{second.http_url}/slack/events"
    set_clock([second], at(record, hours=3))
    await wait_until(lambda: all_nudged(second, record), timeout=5)
    await quiet(second, record)
    assert_once_each(slack_emu, [record])
    dm = dms(slack_emu, BOSS, FALLBACK_DM)[0]
    await slack_emu.click(BOSS, channel=dm.channel, ts=dm.ts, action_id="request_approve")
    done = await wait_state(second, record.id, State.SUCCEEDED)
    assert done.approvals == [BOSS]


COMMENTED = f"""
rules:
  - name: commented
    approvers: [{APPROVER}]
    remind_after: 1h
    approval_comment: required
"""


async def test_a_reminder_dm_asks_for_the_comment_the_rule_requires(
    slack_emu: SlackEmulator, bot_factory: BotFactory, tmp_path: Path
) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(COMMENTED, encoding="utf-8")
    bot = await bot_factory(approval_channel=APPROVALS, policy_file=path)
    record = await request_clone(slack_emu, bot)
    set_clock([bot], at(record, hours=1))
    dm = (await slack_emu.wait_for(lambda: dms(slack_emu, APPROVER, REMINDER)))[0]
    await slack_emu.click(APPROVER, channel=dm.channel, ts=dm.ts, action_id="request_approve")
    modal = await top_view(slack_emu, APPROVER, "approve_request")
    await slack_emu.submit_view(
        APPROVER, modal.id, {"approve_comment": {"value": "checked the quota"}}
    )
    done = await wait_state(bot, record.id, State.SUCCEEDED)
    assert [(v.user, v.comment) for v in done.votes] == [(APPROVER, "checked the quota")]
