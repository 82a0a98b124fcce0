"""A webhook is a hint, not the truth: whoever obtains a callback URL cannot fail a job that ZStack
completes, nor post an invented inventory. The bot asks ZStack (``GET /v1/api-jobs/{uuid}``)."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from bot.requests.model import State
from bot.runtime import Runtime
from bot.sandbox.slack_emulator import SlackEmulator
from bot.sandbox.zstack_sim import SimServer
from tests.e2e.helpers import APPROVALS, APPROVER
from tests.fixtures.bot import BotFactory
from tests.support.approval import click, request_clone, wait_state

FORGED_UUID = "f" * 32


async def running_job(
    emu: SlackEmulator, factory: BotFactory, sim: SimServer
) -> tuple[Runtime, str, str]:
    """A request whose clone runs in ZStack for a few seconds; (bot, request id, job uuid)."""
    sim.state.set_mode(job_duration_s=3.0, webhook_retry_interval_s=0.2)
    bot = await factory(approval_channel=APPROVALS, poll_initial_s=30, poll_max_s=60)
    bot.deps.webhooks.use_public_url(bot.http_url)
    record = await request_clone(emu, bot)
    await click(emu, APPROVER, record, "request_approve")
    running = await wait_state(bot, record.id, State.RUNNING)
    assert running.job_uuid is not None
    return bot, record.id, running.job_uuid


async def callback(
    bot: Runtime, request_id: str, job_uuid: str, success: bool, body: object
) -> dict:
    url = bot.deps.webhooks.url_for(request_id, job_uuid)
    assert url is not None
    headers = {"X-Job-UUID": job_uuid, "X-Job-Success": "true" if success else "false"}
    async with httpx.AsyncClient() as http:
        answer = await http.post(url, content=json.dumps(body), headers=headers)
    assert answer.status_code == 200
    return dict(answer.json())


@pytest.mark.parametrize(
    ("success", "body"),
    [
        (False, {"error": {"code": "SYS.1006", "details": "forged failure"}}),
        (True, {"inventory": {"uuid": FORGED_UUID, "name": "invented"}}),
    ],
    ids=["forged-failure", "invented-inventory"],
)
async def test_a_callback_that_disagrees_with_zstack_changes_nothing(
    slack_emu: SlackEmulator,
    bot_factory: BotFactory,
    zstack_sim: SimServer,
    caplog: pytest.LogCaptureFixture,
    success: bool,
    body: object,
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.requests.executor")
    bot, request_id, job_uuid = await running_job(slack_emu, bot_factory, zstack_sim)
    before = await bot.deps.requests.require(request_id)
    answer = await callback(bot, request_id, job_uuid, success, body)
    assert answer == {"ok": True, "applied": False}
    after = await bot.deps.requests.require(request_id)
    assert after.state == State.RUNNING and after.version == before.version
    assert "webhook disagrees with ZStack" in caplog.text
    # ZStack's own end of the job (its real callback) decides.
    done = await wait_state(bot, request_id, State.SUCCEEDED, timeout=15)
    assert done.result is not None and done.result.uuid != FORGED_UUID
    assert done.result.uuid in zstack_sim.state.services


async def test_zstacks_own_callback_ends_the_job_after_one_confirming_poll(
    slack_emu: SlackEmulator, bot_factory: BotFactory, zstack_sim: SimServer
) -> None:
    bot, request_id, _job = await running_job(slack_emu, bot_factory, zstack_sim)
    polls_before = zstack_sim.state.counters()["requests_by_operation"].get("QueryApiJob", 0)
    done = await wait_state(bot, request_id, State.SUCCEEDED, timeout=15)
    assert done.result is not None and done.result.uuid in zstack_sim.state.services
    polls = zstack_sim.state.counters()["requests_by_operation"].get("QueryApiJob", 0)
    assert polls - polls_before == 1  # the callback's confirmation, not a poll schedule


@pytest.mark.parametrize("mac", ["%C3%A9", "%E2%82%AC" * 15, "A" * 43, "0" * 42, "../x"])
async def test_a_mac_not_of_the_bots_form_is_refused_quietly(
    bot: Runtime, mac: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A MAC with non-ASCII characters made the comparison raise: 500 and a traceback each."""
    caplog.set_level(logging.WARNING)
    url = f"{bot.http_url}/zstack/webhook/CR-AAAAAA/{'a' * 32}/{mac}"
    async with httpx.AsyncClient() as http:
        answer = await http.post(url, headers={"X-Job-UUID": "a" * 32, "X-Job-Success": "true"})
    assert answer.status_code in (403, 404)
    assert not any(r.exc_info for r in caplog.records)
