"""JSON logs: every line written while a request is being handled names the request."""

from __future__ import annotations

import io
import json
import logging

from bot.logs import configure_logging
from bot.requests.model import State
from bot.sandbox.slack_emulator import SlackEmulator
from tests.e2e.helpers import APPROVALS, APPROVER
from tests.fixtures.bot import BotFactory
from tests.support.approval import click, request_clone, wait_completion, wait_state


async def test_request_lines_carry_the_request_id(
    slack_emu: SlackEmulator, bot_factory: BotFactory
) -> None:
    bot = await bot_factory(approval_channel=APPROVALS)
    record = await request_clone(slack_emu, bot)
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)
    try:
        slack_emu.inject_fault("chat.update", error="message_not_found", count=1)  # a warning line
        await click(slack_emu, APPROVER, record, "request_approve")
        done = await wait_state(bot, record.id, State.SUCCEEDED)
        await wait_completion(slack_emu, done, "Cloned: example-clone")
    finally:
        logging.getLogger().handlers.clear()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    ours = [line for line in lines if str(line.get("logger", "")).startswith("bot.")]
    assert len(ours) >= 4  # transitions: approved, submitting, running, succeeded
    assert all(line.get("request_id") == record.id for line in ours), ours
    transitions = [line for line in ours if line["event"] == "request transition"]
    assert [t["to_state"] for t in transitions][:1] == ["approved"]
    assert all("job_uuid" in t and "slack_user" in t for t in transitions)
