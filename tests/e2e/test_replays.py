"""Replays and retries create nothing: every payload that creates or changes something is acted
on once (clone and login submissions, block actions, commands, Events API deliveries).

Each replay is the captured, signed body posted again as an attacker would (or re-signed, as
Slack does for its Events API retries), through the bot's real HTTP door.
"""

from __future__ import annotations

import httpx

from bot.requests.model import State
from bot.runtime import Runtime
from bot.sandbox.slack_emulator import SlackEmulator
from bot.sandbox.slack_emulator.records import Delivery
from bot.sandbox.zstack_sim import SimServer
from tests.e2e.helpers import (
    ALICE_LOGIN,
    APPROVALS,
    APPROVER,
    APPROVER2,
    EXAMPLE,
    GENERAL,
    REQUESTER,
    login,
    top_view,
)
from tests.fixtures.bot import BotFactory
from tests.fixtures.slack import SIGNING_SECRET
from tests.support import counter, settled, signed_delivery, wait_until
from tests.support.approval import click, request_clone


async def post_again(
    bot: Runtime, delivery: Delivery, times: int = 5, *, retry: bool = False
) -> list[int]:
    """POST a captured delivery again: byte for byte (a replay), or re-signed with
    ``X-Slack-Retry-Num`` (how Slack retries an Events API delivery)."""
    body, headers = signed_delivery(SIGNING_SECRET, delivery.kind, delivery.payload)
    ignored_before = repeated(bot)
    statuses = []
    async with httpx.AsyncClient(base_url=bot.http_url or "") as http:
        for attempt in range(1, times + 1):
            if retry:
                body, headers = signed_delivery(SIGNING_SECRET, delivery.kind, delivery.payload)
                headers["X-Slack-Retry-Num"] = str(attempt)
                headers["X-Slack-Retry-Reason"] = "http_timeout"
            answer = await http.post("/slack/events", content=body, headers=headers)
            statuses.append(answer.status_code)
    # The bot says it ignored each one: only then is "nothing changed" a finding.
    await wait_until(lambda: repeated(bot) == ignored_before + times)
    await settled(bot)
    return statuses


def repeated(bot: Runtime) -> float:
    return sum(
        counter(bot, "clonebot_repeated_slack_deliveries", kind=kind)
        for kind in ("command", "shortcut", "action", "event", "view", "login")
    )


def last_delivery(emu: SlackEmulator, type_: str) -> Delivery:
    return next(d for d in reversed(emu.state.deliveries) if d.type == type_)


async def test_a_replayed_clone_submission_creates_one_request_and_one_card(
    slack_emu: SlackEmulator, bot_factory: BotFactory
) -> None:
    bot = await bot_factory(approval_channel=APPROVALS)
    record = await request_clone(slack_emu, bot)
    submission = last_delivery(slack_emu, "view_submission")
    await settled(bot)
    cards_before = len(slack_emu.state.messages(APPROVALS))
    assert await post_again(bot, submission) == [200] * 5
    assert len(slack_emu.state.messages(APPROVALS)) == cards_before
    assert [r.id for r in await bot.deps.requests.recent("T0CLONE", REQUESTER)] == [record.id]


async def test_a_clone_form_refused_with_field_errors_can_be_corrected_and_submitted(
    slack_emu: SlackEmulator, bot_factory: BotFactory
) -> None:
    """Only a submission that became a request claims its view: errors, then a fix, still work."""
    bot = await bot_factory(approval_channel=APPROVALS)
    await login(slack_emu)
    await slack_emu.slash_command(REQUESTER, GENERAL, "/clone-model", EXAMPLE)
    view = await top_view(slack_emu, REQUESTER, "clone_model")
    refused = await slack_emu.submit_view(
        REQUESTER, view.id, {"reason": {"value": "eval"}, "description": {"value": "bad\x07bell"}}
    )
    assert '"errors"' in (refused.body or "")
    await slack_emu.submit_view(
        REQUESTER, view.id, {"reason": {"value": "eval"}, "description": {"value": "fixed"}}
    )
    await slack_emu.wait_for(lambda: slack_emu.state.messages(APPROVALS))
    assert len(await bot.deps.requests.recent("T0CLONE", REQUESTER)) == 1


async def test_a_replayed_login_submission_logs_in_once(
    slack_emu: SlackEmulator, bot: Runtime, zstack_sim: SimServer
) -> None:
    await slack_emu.slash_command(REQUESTER, GENERAL, "/zstack", "login")
    view = await top_view(slack_emu, REQUESTER, "zstack_login")
    await slack_emu.submit_view(REQUESTER, view.id, ALICE_LOGIN)
    await top_view(slack_emu, REQUESTER, "zstack_login_info")
    submission = last_delivery(slack_emu, "view_submission")
    logins = zstack_sim.state.counters()["requests_by_operation"].get("LogInByAccount")
    assert logins == 1
    assert await post_again(bot, submission) == [200] * 5
    assert zstack_sim.state.counters()["requests_by_operation"].get("LogInByAccount") == 1


async def test_a_replayed_block_action_is_acted_on_once(
    slack_emu: SlackEmulator, bot_factory: BotFactory
) -> None:
    """A replayed Approve neither votes again nor tells the approver "you already approved"."""
    bot = await bot_factory(approval_channel=APPROVALS, approvals_required=2)
    record = await request_clone(slack_emu, bot)
    await click(slack_emu, APPROVER, record, "request_approve")
    await settled(bot)
    told_before = len(slack_emu.state.ephemerals(APPROVER))
    assert await post_again(bot, last_delivery(slack_emu, "block_actions")) == [200] * 5
    after = await bot.deps.requests.require(record.id)
    assert after.state == State.PENDING and after.approvals == [APPROVER]
    assert len(slack_emu.state.ephemerals(APPROVER)) == told_before


async def test_a_replayed_command_answers_once(slack_emu: SlackEmulator, bot: Runtime) -> None:
    await slack_emu.slash_command(REQUESTER, GENERAL, "/clone-model", "list")
    await settled(bot)
    command = last_delivery(slack_emu, "/clone-model")
    answered = len(slack_emu.state.calls("response_url"))
    assert answered == 1
    assert await post_again(bot, command) == [200] * 5
    assert len(slack_emu.state.calls("response_url")) == answered


async def test_events_api_retries_count_a_thread_reply_once(
    slack_emu: SlackEmulator, bot_factory: BotFactory
) -> None:
    """Slack re-signs and resends an event it thinks was lost (``X-Slack-Retry-Num``); the
    ``event_id`` decides, so an ``approve`` reply is one vote however often it arrives."""
    bot = await bot_factory(approval_channel=APPROVALS, approvals_required=2)
    record = await request_clone(slack_emu, bot)
    event = await slack_emu.post_message(APPROVER, APPROVALS, "approve", thread_ts=record.card_ts)
    assert event is not None
    await wait_until(lambda: thread_mentions(slack_emu, record.card_ts, APPROVER))
    voted = await bot.deps.requests.require(record.id)
    assert voted.approvals == [APPROVER]
    statuses = await post_again(bot, event, 3, retry=True)
    assert statuses == [200] * 3
    assert (await bot.deps.requests.require(record.id)).approvals == [APPROVER]
    # A second person's reply is a new event and counts.
    await slack_emu.post_message(APPROVER2, APPROVALS, "approve", thread_ts=record.card_ts)
    await wait_until(lambda: thread_mentions(slack_emu, record.card_ts, APPROVER2))
    final = await bot.deps.requests.require(record.id)
    assert final.approvals == [APPROVER, APPROVER2]


def thread_mentions(emu: SlackEmulator, ts: str | None, user: str) -> bool:
    """The bot noted in the thread that ``user`` approved."""
    return any(
        m.user != user and f"<@{user}> approved" in m.text
        for m in emu.state.thread(APPROVALS, ts or "")
    )
