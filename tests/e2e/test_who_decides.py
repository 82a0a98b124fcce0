"""Only real people of the workspace decide: no bot, no edit or deletion, no event without a user,
no one from another organisation (Slack Connect), whether by thread reply or by button."""

from __future__ import annotations

import copy
import logging
from typing import Any

import httpx
import pytest

from bot.requests.model import State
from bot.runtime import Runtime
from bot.sandbox.slack_emulator import SlackEmulator
from tests.e2e.helpers import APPROVALS, APPROVER
from tests.fixtures.bot import BotFactory
from tests.fixtures.slack import SIGNING_SECRET
from tests.support import settled, signed_delivery, wait_until
from tests.support.approval import click, request_clone, wait_state

OTHER_ORG = "T0OTHERORG"


async def send(bot: Runtime, kind: str, payload: dict[str, Any]) -> int:
    body, headers = signed_delivery(SIGNING_SECRET, kind, payload)
    async with httpx.AsyncClient(base_url=bot.http_url or "") as http:
        return (await http.post("/slack/events", content=body, headers=headers)).status_code


def forged_reply(template: dict[str, Any], number: int, **changes: Any) -> dict[str, Any]:
    """A thread-reply event built from a real one, with its own event id and ``changes``."""
    payload = copy.deepcopy(template)
    payload["event_id"] = f"Ev0FORGED{number:04d}"
    event = payload["event"]
    event["text"] = "approve"
    for key, value in changes.items():
        if value is None:
            event.pop(key, None)
        else:
            event[key] = value
    return payload


@pytest.mark.parametrize(
    "changes",
    [
        {"user": None},
        {"user": ""},
        {"bot_id": "B0OTHERBOT"},
        {"subtype": "bot_message", "user": None, "bot_id": "B0OTHERBOT"},
        {"subtype": "message_changed"},
        {"subtype": "message_deleted"},
        {"subtype": "thread_broadcast"},
        {"user_team": OTHER_ORG},
        {"team": OTHER_ORG},
    ],
    ids=[
        "no-user",
        "empty-user",
        "bot-id",
        "bot-message",
        "changed",
        "deleted",
        "broadcast",
        "other-org-user-team",
        "other-org-team",
    ],
)
async def test_only_a_person_of_the_workspace_approves_by_reply(
    slack_emu: SlackEmulator,
    bot_factory: BotFactory,
    changes: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="handlers.approval")
    bot = await bot_factory(approval_channel=APPROVALS)
    record = await request_clone(slack_emu, bot)
    # A real reply that is no decision gives a template with every field Slack sends.
    template = await slack_emu.post_message(APPROVER, APPROVALS, "looks fine", record.card_ts)
    assert template is not None
    status = await send(bot, "events_api", forged_reply(template.payload, 1, **changes))
    if status == 200:  # let in, and ignored by the listener
        await wait_until(lambda: "not written by a person" in caplog.text)
    else:  # or refused at the door (an id that is no Slack id)
        assert status == 400
    assert (await bot.deps.requests.require(record.id)).approvals == []
    # The genuine reply of the same person still counts: only the forged one was ignored.
    await slack_emu.post_message(APPROVER, APPROVALS, "approve", record.card_ts)
    approved = await wait_state(
        bot, record.id, State.APPROVED, State.SUBMITTING, State.RUNNING, State.SUCCEEDED
    )
    assert approved.approvals == [APPROVER]
    assert "None" not in approved.approvals


async def test_a_button_click_from_another_organisation_is_refused(
    slack_emu: SlackEmulator, bot_factory: BotFactory
) -> None:
    """A Slack Connect guest's click carries their own ``user.team_id``: it changes nothing and
    they are told why."""
    bot = await bot_factory(approval_channel=APPROVALS)
    record = await request_clone(slack_emu, bot)
    # Reject only opens a dialog: its click is a template that decides nothing.
    await click(slack_emu, APPROVER, record, "request_reject")
    real = next(d for d in reversed(slack_emu.state.deliveries) if d.type == "block_actions")
    await settled(bot)
    guest = copy.deepcopy(real.payload)
    guest["user"]["team_id"] = OTHER_ORG
    guest["trigger_id"] = "1.2.guest"
    guest["actions"][0]["action_id"] = "request_approve"
    told_before = len(slack_emu.state.ephemerals(APPROVER))
    assert await send(bot, "interactive", guest) == 200
    await wait_until(lambda: len(slack_emu.state.ephemerals(APPROVER)) > told_before)
    assert "workspace this request was made in" in slack_emu.state.ephemerals(APPROVER)[-1].text
    assert (await bot.deps.requests.require(record.id)).state == State.PENDING
