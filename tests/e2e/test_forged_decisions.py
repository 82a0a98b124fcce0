"""Signed payloads that claim what their sender may not do change nothing: a resubmission naming
someone else's request, a break-glass override by someone the rule does not name. The bot
checks the policy on the stored request, never trusts the dialog's metadata."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import httpx

from bot.requests.model import State
from bot.runtime import Runtime
from bot.sandbox.slack_emulator import SlackEmulator
from tests.e2e.helpers import APPROVALS, APPROVER, OUTSIDER, REQUESTER
from tests.fixtures.bot import BotFactory
from tests.fixtures.slack import SIGNING_SECRET
from tests.support import settled, signed_delivery
from tests.support.approval import click, request_clone, wait_card, wait_state


async def send(bot: Runtime, payload: dict[str, Any]) -> httpx.Response:
    body, headers = signed_delivery(SIGNING_SECRET, "interactive", payload)
    async with httpx.AsyncClient(base_url=bot.http_url or "") as http:
        return await http.post("/slack/events", content=body, headers=headers)


def submission(emu: SlackEmulator) -> dict[str, Any]:
    """The payload of the last form submission the emulator delivered, to forge from."""
    delivery = next(d for d in reversed(emu.state.deliveries) if d.type == "view_submission")
    return copy.deepcopy(delivery.payload)


def as_user(payload: dict[str, Any], user: str, view_id: str) -> dict[str, Any]:
    payload["user"] = {**payload["user"], "id": user, "username": user, "name": user}
    payload["view"]["id"] = view_id
    return payload


async def test_a_resubmission_naming_someone_elses_request_is_refused(
    slack_emu: SlackEmulator, bot_factory: BotFactory
) -> None:
    bot = await bot_factory(approval_channel=APPROVALS)
    victim = await request_clone(slack_emu, bot, name="victim")
    await click(slack_emu, REQUESTER, victim, "request_cancel")
    await wait_state(bot, victim.id, State.CANCELLED)
    forged = as_user(submission(slack_emu), OUTSIDER, "VFORGEDRESUB1")
    meta = json.loads(forged["view"]["private_metadata"] or "{}")
    forged["view"]["private_metadata"] = json.dumps({**meta, "supersedes": victim.id})
    response = await send(bot, forged)
    assert response.status_code == 200
    answer = response.json()
    assert answer["response_action"] == "errors"
    assert "Only <@U0REQ> can edit and resubmit" in answer["errors"]["reason"]
    await settled(bot)
    assert (await bot.deps.requests.require(victim.id)).superseded_by is None
    assert await bot.deps.requests.recent("T0CLONE", OUTSIDER) == []


async def test_a_break_glass_override_by_someone_the_rule_does_not_name_is_refused(
    slack_emu: SlackEmulator, bot_factory: BotFactory, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "rules:\n  - name: two-keys\n    approvals: 2\n    break_glass: [U0REQ]\n",
        encoding="utf-8",
    )
    bot = await bot_factory(approval_channel=APPROVALS, policy_file=policy)
    record = await wait_card(bot, (await request_clone(slack_emu, bot)).id)
    forged = as_user(submission(slack_emu), APPROVER, "VFORGEDGLASS1")
    forged["view"]["callback_id"] = "break_glass_request"
    forged["view"]["private_metadata"] = json.dumps({"request_id": record.id})
    reason = {"value": {"type": "plain_text_input", "value": "it is urgent, trust me"}}
    forged["view"]["state"] = {"values": {"break_glass_reason": reason}}
    assert (await send(bot, forged)).status_code == 200
    await slack_emu.wait_for(
        lambda: (
            any("may override" in m.text for m in slack_emu.state.ephemerals(APPROVER))
            or any("may override" in m.text for m in slack_emu.state.dms(APPROVER))
        )
    )
    await settled(bot)
    still = await bot.deps.requests.require(record.id)
    assert still.state == State.PENDING and still.override is None and still.approvals == []
