"""A full clone flow moves the Prometheus counters an operator watches."""

from __future__ import annotations

import re

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bot.requests.model import State
from bot.sandbox.slack_emulator import SlackEmulator
from tests.e2e.helpers import APPROVALS, APPROVER, login
from tests.fixtures.bot import BotFactory
from tests.support.approval import click, request_clone, wait_completion, wait_state


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: dict, name: str, **labels: str) -> float:  # type: ignore[type-arg]
    return float(found.get((name, tuple(sorted(labels.items()))), 0.0))


async def test_a_clone_flow_moves_the_counters(
    slack_emu: SlackEmulator, bot_factory: BotFactory
) -> None:
    bot = await bot_factory(approval_channel=APPROVALS)
    record = await request_clone(slack_emu, bot)
    await click(slack_emu, APPROVER, record, "request_approve")
    done = await wait_state(bot, record.id, State.SUCCEEDED)
    await wait_completion(slack_emu, done, "Cloned: example-clone")
    async with httpx.AsyncClient(base_url=bot.http_url or "") as http:
        response = await http.get("/metrics")
    assert response.status_code == 200
    assert re.match(r"text/plain", response.headers["content-type"])
    found = samples(response.text)
    # Every state entered is counted, from the store's one transition path (pending included).
    for state in ("pending", "approved", "submitting", "running", "succeeded"):
        assert value(found, "clonebot_requests_total", state=state) == 1, state
    assert value(found, "clonebot_approval_latency_seconds_count") == 1
    assert value(found, "clonebot_clone_duration_seconds_count", outcome="succeeded") == 1
    assert value(found, "clonebot_zstack_logins_total", outcome="ok") == 1
    clone_calls = value(
        found, "clonebot_zstack_calls_total", operation="CloneModelService", status="202", code=""
    )
    assert clone_calls == 1
    polls = sum(
        v
        for (name, labels), v in found.items()
        if name == "clonebot_zstack_calls_total" and ("operation", "QueryJob") in labels
    )
    assert polls >= 1
    assert value(found, "clonebot_zstack_call_seconds_count", operation="CloneModelService") == 1
    assert ("clonebot_jobs_tracked", ()) in found
    # The command, the form's submission and the click on Approve were answered, each timed.
    assert value(found, "clonebot_slack_answer_seconds_count") >= 3
    assert value(found, "clonebot_slack_answer_seconds_bucket", le="3.0") >= 3
    assert value(found, "clonebot_notification_retries_total") == 0


async def test_a_parked_request_that_resumes_counts_approved_twice(
    slack_emu: SlackEmulator, bot_factory: BotFactory
) -> None:
    """Resuming after a login enters "approved" again: it used to go uncounted."""
    bot = await bot_factory(approval_channel=APPROVALS)
    record = await request_clone(slack_emu, bot)
    await bot.deps.sessions.logout("T0CLONE", record.requester)
    await click(slack_emu, APPROVER, record, "request_approve")
    await wait_state(bot, record.id, State.AWAITING_LOGIN)
    await login(slack_emu)
    await wait_state(bot, record.id, State.SUCCEEDED)
    found = samples(bot.deps.metrics.render().decode())
    assert value(found, "clonebot_requests_total", state="awaiting_login") == 1
    assert value(found, "clonebot_requests_total", state="approved") == 2
