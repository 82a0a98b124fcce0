"""Each ZStack fault with its defined outcome (clone POST, job polls, webhooks, sessions).

Already covered elsewhere (tests/e2e/test_resilience.py): an answer lost before or after
acceptance (read timeout) and a refused connection; tests/e2e/test_approval_flow.py: a job that
fails with a cause chain, a session found expired before submission.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from bot.requests.model import State
from bot.sandbox.slack_emulator import SlackEmulator
from bot.sandbox.zstack_sim import SimServer
from tests.e2e.helpers import APPROVALS, APPROVER, REQUESTER, login
from tests.fixtures.bot import BotFactory
from tests.support import settled
from tests.support.approval import (
    click,
    completion_count,
    request_clone,
    wait_completion,
    wait_state,
)

CHAIN = {
    "code": "SYS.1006",
    "description": "An operation failed",
    "details": "failed to clone model service",
    "cause": {
        "code": "SYS.1015",
        "description": "Cannot make a HTTP request",
        "details": "connection refused: 10.0.0.5:8989",
    },
}


def clone_calls(sim: SimServer) -> int:
    return sum(sim.state.counters()["clone_calls_by_source"].values())


def services_named(sim: SimServer, name: str) -> int:
    return sum(s["inventory"]["name"] == name for s in sim.state.snapshot()["model_services"])


async def test_503_chain_on_the_clone_post_fails_with_the_chain_root_first(
    slack_emu: SlackEmulator, bot_factory: BotFactory, zstack_sim: SimServer
) -> None:
    bot = await bot_factory(approval_channel=APPROVALS)
    record = await request_clone(slack_emu, bot)
    zstack_sim.state.inject_clone_reply(
        503, json.dumps({"error": CHAIN}), content_type="application/json"
    )
    await click(slack_emu, APPROVER, record, "request_approve")
    failed = await wait_state(bot, record.id, State.FAILED)
    assert failed.error is not None and failed.error.cause is not None
    assert failed.error.cause.code == "SYS.1015"
    await wait_completion(slack_emu, failed, "SYS.1015")
    assert completion_count(slack_emu, failed, "SYS.1015") == (1, 1)
    assert clone_calls(zstack_sim) == 1  # a business failure is final: never resent


@pytest.mark.parametrize(
    ("status", "text"),
    [
        (400, "Invalid value for field[requestCpu]: a number expected"),
        (404, "no api mapping to /v1/ai/model-services/x"),
        (500, "java.lang.NullPointerException: model service is null"),
    ],
)
async def test_plain_text_refusal_of_the_clone_post_fails_with_the_text(
    slack_emu: SlackEmulator,
    bot_factory: BotFactory,
    zstack_sim: SimServer,
    status: int,
    text: str,
) -> None:
    bot = await bot_factory(approval_channel=APPROVALS)
    record = await request_clone(slack_emu, bot)
    zstack_sim.state.inject_clone_reply(status, text)
    await click(slack_emu, APPROVER, record, "request_approve")
    failed = await wait_state(bot, record.id, State.FAILED)
    assert failed.error_text is not None
    assert f"HTTP {status}" in failed.error_text and text in failed.error_text
    await wait_completion(slack_emu, failed, f"HTTP {status}")
    assert clone_calls(zstack_sim) == 1
    assert services_named(zstack_sim, "example-clone") == 0


@pytest.mark.parametrize("body", ['{"location": "http://10.0.0.5:8080/zstack/v1/api-jo', "<html>"])
async def test_garbage_202_still_follows_the_job_by_its_uuid(
    slack_emu: SlackEmulator, bot_factory: BotFactory, zstack_sim: SimServer, body: str
) -> None:
    """Accepted, but the 202's body is truncated or not JSON: the job UUID is ours anyway."""
    bot = await bot_factory(approval_channel=APPROVALS)
    record = await request_clone(slack_emu, bot)
    zstack_sim.state.inject_clone_reply(202, body, content_type="application/json", accept=True)
    await click(slack_emu, APPROVER, record, "request_approve")
    done = await wait_state(bot, record.id, State.SUCCEEDED, State.FAILED)
    assert done.state == State.SUCCEEDED and done.attempts == 1
    assert clone_calls(zstack_sim) == 1
    assert services_named(zstack_sim, "example-clone") == 1


async def test_unreadable_answer_without_a_job_is_resent_under_a_new_uuid(
    slack_emu: SlackEmulator, bot_factory: BotFactory, zstack_sim: SimServer
) -> None:
    """A truncated 200 and no job behind it: the job UUID says "never taken", so it is resent
    once, after the submission's grace period, and cloned exactly once."""
    bot = await bot_factory(approval_channel=APPROVALS, zstack_timeout_s=0.5)
    record = await request_clone(slack_emu, bot)
    zstack_sim.state.inject_clone_reply(
        200, '{"inventory": {"uuid": "12', content_type="application/json"
    )
    await click(slack_emu, APPROVER, record, "request_approve")
    done = await wait_state(bot, record.id, State.SUCCEEDED, State.FAILED, timeout=20)
    assert done.state == State.SUCCEEDED and done.attempts == 2
    assert clone_calls(zstack_sim) == 2
    assert services_named(zstack_sim, "example-clone") == 1


async def test_garbage_on_a_few_polls_is_ridden_out(
    slack_emu: SlackEmulator, bot_factory: BotFactory, zstack_sim: SimServer
) -> None:
    bot = await bot_factory(approval_channel=APPROVALS)
    record = await request_clone(slack_emu, bot)
    zstack_sim.state.inject_poll_reply(200, '{"inventory": {"name": "exa', count=3)
    zstack_sim.state.inject_poll_reply(500, "java.lang.IllegalStateException", count=1)
    zstack_sim.state.inject_poll_reply(200, "not json at all", count=2)
    await click(slack_emu, APPROVER, record, "request_approve")
    done = await wait_state(bot, record.id, State.SUCCEEDED, State.FAILED, timeout=15)
    assert done.state == State.SUCCEEDED, done.error_text
    assert clone_calls(zstack_sim) == 1, zstack_sim.state.counters()["clone_calls"]


async def test_garbage_on_every_poll_fails_at_the_deadline(
    slack_emu: SlackEmulator, bot_factory: BotFactory, zstack_sim: SimServer
) -> None:
    """ZStack keeps answering, but never readably: the request fails at the job deadline with
    a clear message instead of being polled for ever."""
    bot = await bot_factory(approval_channel=APPROVALS, job_timeout_cap_s=2)
    record = await request_clone(slack_emu, bot)
    zstack_sim.state.inject_poll_reply(200, "{{{", count=100_000)
    await click(slack_emu, APPROVER, record, "request_approve")
    failed = await wait_state(bot, record.id, State.FAILED, timeout=15)
    assert failed.error_text is not None and "could not be read" in failed.error_text
    await wait_completion(slack_emu, failed, "could not be read")


async def test_job_purged_after_three_hours_fails_with_a_clear_message(
    slack_emu: SlackEmulator, bot_factory: BotFactory, zstack_sim: SimServer
) -> None:
    """The job finished, but by the first poll ZStack has purged its result (kept 3 h)."""
    bot = await bot_factory(approval_channel=APPROVALS, poll_initial_s=3, poll_max_s=3)
    record = await request_clone(slack_emu, bot)
    await click(slack_emu, APPROVER, record, "request_approve")
    running = await wait_state(bot, record.id, State.RUNNING)
    job = zstack_sim.state.jobs.jobs[running.job_uuid or ""]
    for _ in range(100):
        if job.finished is not None:
            break
        await asyncio.sleep(0.05)
    assert (await bot.deps.requests.require(record.id)).state == State.RUNNING
    zstack_sim.state.advance_clock(3 * 3600 + 60)
    failed = await wait_state(bot, record.id, State.FAILED, timeout=10)
    assert failed.error_text is not None
    assert "no longer knows job" in failed.error_text and "3 hours" in failed.error_text
    await wait_completion(slack_emu, failed, "no longer knows job")


async def test_a_webhook_that_never_comes_is_covered_by_polling(
    slack_emu: SlackEmulator, bot_factory: BotFactory, zstack_sim: SimServer
) -> None:
    zstack_sim.state.set_mode(webhook_retry_interval_s=0.1)
    bot = await bot_factory(approval_channel=APPROVALS, public_url="http://127.0.0.1:9")
    record = await request_clone(slack_emu, bot)
    await click(slack_emu, APPROVER, record, "request_approve")
    done = await wait_state(bot, record.id, State.SUCCEEDED, timeout=10)
    await wait_completion(slack_emu, done, "Cloned: example-clone")
    counters = zstack_sim.state.counters()
    assert counters["requests_by_operation"].get("QueryApiJob", 0) >= 1
    await slack_emu.wait_for(lambda: zstack_sim.state.counters()["webhook_deliveries"])
    deliveries = zstack_sim.state.counters()["webhook_deliveries"]
    assert deliveries and not any(d["success"] for d in deliveries)
    assert "127.0.0.1:9/zstack/webhook/" in deliveries[0]["url"]
    assert completion_count(slack_emu, done, "Cloned: example-clone") == (1, 1)


async def test_session_expiring_after_approval_parks_the_request(
    slack_emu: SlackEmulator, bot_factory: BotFactory, zstack_sim: SimServer
) -> None:
    """ZStack takes the job and then refuses the session (202, then 503 ID.1001 on the poll):
    nothing was cloned, so the request waits for the requester's login, then clones once."""
    bot = await bot_factory(approval_channel=APPROVALS)
    record = await request_clone(slack_emu, bot)
    zstack_sim.state.fail_next_clones(1, {"code": "ID.1001", "details": "Session expired"})
    await click(slack_emu, APPROVER, record, "request_approve")
    parked = await wait_state(bot, record.id, State.AWAITING_LOGIN, State.FAILED, timeout=10)
    assert parked.state == State.AWAITING_LOGIN, parked.error_text
    await slack_emu.wait_for(
        lambda: any("/zstack login" in m.text for m in slack_emu.state.dms(REQUESTER))
    )
    assert services_named(zstack_sim, "example-clone") == 0
    await login(slack_emu)
    done = await wait_state(bot, record.id, State.SUCCEEDED, timeout=10)
    assert done.attempts == 2 and done.job_uuid != parked.job_uuid
    assert services_named(zstack_sim, "example-clone") == 1
    await wait_completion(slack_emu, done, "Cloned: example-clone")
    await settled(bot)
    assert completion_count(slack_emu, done, "Cloned: example-clone") == (1, 1)


async def test_session_expiry_reported_by_webhook_parks_the_request(
    slack_emu: SlackEmulator, bot_factory: BotFactory, zstack_sim: SimServer
) -> None:
    """The same, when the webhook brings the ID.1001 (no poll is due yet): the callback's one
    confirming poll reads it from ZStack."""
    bot = await bot_factory(
        approval_channel=APPROVALS,
        public_url="http://127.0.0.1:1",
        poll_initial_s=30,
        poll_max_s=60,
    )
    bot.deps.webhooks.use_public_url(bot.http_url)
    record = await request_clone(slack_emu, bot)
    zstack_sim.state.fail_next_clones(1, {"code": "ID.1001", "details": "Session expired"})
    await click(slack_emu, APPROVER, record, "request_approve")
    parked = await wait_state(bot, record.id, State.AWAITING_LOGIN, State.FAILED, timeout=10)
    assert parked.state == State.AWAITING_LOGIN, parked.error_text
    assert zstack_sim.state.counters()["requests_by_operation"].get("QueryApiJob", 0) == 1
