"""Slack failing the bot: rate limits, 5xx, missing channels, expired triggers.

Transient errors are retried (slack_sdk's retry handlers, then the outbox); permanent
ones are reported to a person. A completion notice is never lost and never doubled.
"""

from __future__ import annotations

import pytest

from bot.requests.model import State
from bot.runtime import Runtime
from bot.sandbox.slack_emulator import SlackEmulator
from bot.sandbox.zstack_sim import SimServer
from tests.e2e.helpers import APPROVALS, APPROVER, EXAMPLE, GENERAL, REQUESTER, login, top_view
from tests.fixtures.bot import BotFactory
from tests.support import notices_done, wait_until
from tests.support.approval import (
    click,
    completion_count,
    request_clone,
    wait_completion,
    wait_state,
)

DONE = "Cloned: example-clone"


@pytest.fixture
async def bot(bot_factory: BotFactory, zstack_sim: SimServer) -> Runtime:
    zstack_sim.state.set_mode(job_duration_s=0.5)
    return await bot_factory(approval_channel=APPROVALS)


async def approve_and_wait_running(emu: SlackEmulator, bot: Runtime) -> str:
    record = await request_clone(emu, bot)
    await click(emu, APPROVER, record, "request_approve")
    await wait_state(bot, record.id, State.RUNNING)
    await wait_until(  # the "approved" thread note is out
        lambda: any("approved" in m.text for m in emu.state.thread(APPROVALS, record.card_ts or ""))
    )
    return record.id


def failed_calls(emu: SlackEmulator, method: str, status: int) -> int:
    return sum(c.status == status for c in emu.state.calls(method))


@pytest.mark.parametrize("method", ["chat.postMessage", "chat.update"])
@pytest.mark.parametrize(
    ("status", "retry_after"), [(429, 1), (500, None), (503, None)], ids=["429", "500", "503"]
)
async def test_completion_rides_out_rate_limits_and_server_errors(
    slack_emu: SlackEmulator, bot: Runtime, method: str, status: int, retry_after: int | None
) -> None:
    request_id = await approve_and_wait_running(slack_emu, bot)
    slack_emu.inject_fault(method, status=status, retry_after=retry_after, count=2)
    done = await wait_state(bot, request_id, State.SUCCEEDED)
    await wait_completion(slack_emu, done, DONE)
    await slack_emu.wait_for(
        lambda: "Done" in str((slack_emu.state.message(APPROVALS, done.card_ts or "")).blocks)  # type: ignore[union-attr]
    )
    await notices_done(bot, request_id)
    assert completion_count(slack_emu, done, DONE) == (1, 1)
    assert failed_calls(slack_emu, method, status) == 2  # both were retried
    final = await bot.deps.requests.require(request_id)
    assert {"thread", "card", "dm"} <= set(final.notified)


async def test_completion_post_failing_for_a_while_is_delivered_later_exactly_once(
    slack_emu: SlackEmulator, bot: Runtime
) -> None:
    """Every chat.postMessage fails (5xx, beyond the client's retries) for a few seconds: the
    completion effect stays in the outbox, its attempts counted in Redis, until Slack takes
    it; then it is posted once."""
    request_id = await approve_and_wait_running(slack_emu, bot)
    slack_emu.inject_fault("chat.postMessage", status=500, count=None)
    done = await wait_state(bot, request_id, State.SUCCEEDED)
    await slack_emu.wait_for(
        lambda: failed_calls(slack_emu, "chat.postMessage", 500) >= 8, timeout=15
    )
    pending = await bot.deps.requests.require(request_id)
    assert "thread" not in pending.notified

    async def retried() -> bool:  # the round (which goes on to draw the card) has ended
        [(_slot, completion)] = await bot.deps.requests.effects(request_id)
        return completion.kind == "completion" and completion.attempts >= 1

    await wait_until(retried)
    assert await bot.deps.requests.score("outbox", request_id) is not None
    slack_emu.clear_faults()
    await wait_completion(slack_emu, done, DONE)
    await slack_emu.wait_for(lambda: len(slack_emu.state.thread(APPROVALS, done.card_ts or "")))
    # Every step recorded and nothing left in the outbox: a wrongly recorded second round would
    # keep an entry there and never settle.
    await notices_done(bot, request_id)
    assert completion_count(slack_emu, done, DONE) == (1, 1)
    assert await bot.deps.requests.effects(request_id) == []


async def test_views_update_rate_limited_still_shows_the_form(
    slack_emu: SlackEmulator, bot: Runtime
) -> None:
    await login(slack_emu)
    slack_emu.inject_fault("views.update", status=429, retry_after=1, count=1)
    slack_emu.inject_fault("views.update", status=500, count=1)
    await slack_emu.slash_command(REQUESTER, GENERAL, "/clone-model", EXAMPLE)
    view = await top_view(slack_emu, REQUESTER, "clone_model", timeout=10)
    assert "example" in str(view.definition)
    assert failed_calls(slack_emu, "views.update", 429) == 1


@pytest.mark.parametrize("error", ["channel_not_found", "not_in_channel"])
async def test_card_that_cannot_be_posted_is_withdrawn_and_the_requester_told(
    slack_emu: SlackEmulator, bot: Runtime, error: str
) -> None:
    await login(slack_emu)
    await slack_emu.slash_command(REQUESTER, GENERAL, "/clone-model", EXAMPLE)
    view = await top_view(slack_emu, REQUESTER, "clone_model")
    slack_emu.inject_fault("chat.postMessage", error=error, count=1)
    await slack_emu.submit_view(
        REQUESTER, view.id, {"reason": {"value": "eval"}, "name": {"value": "example-clone"}}
    )
    dm = await slack_emu.wait_for(
        lambda: next((m for m in slack_emu.state.dms(REQUESTER) if error in m.text), None)
    )
    assert "could not be posted" in dm.text and "invite the bot" in dm.text
    request_id = dm.text.split("request ", 1)[1].split(" ", 1)[0]
    record = await bot.deps.requests.require(request_id)
    assert record.state == State.CANCELLED and record.card_ts is None
    assert record.decision_reason and error in record.decision_reason
    assert "Traceback" not in dm.text


@pytest.mark.parametrize(("command", "text"), [("/clone-model", EXAMPLE), ("/zstack", "login")])
async def test_expired_trigger_id_tells_the_user(
    slack_emu: SlackEmulator, bot: Runtime, command: str, text: str
) -> None:
    slack_emu.inject_fault("views.open", error="expired_trigger_id", count=1)
    delivery = await slack_emu.slash_command(REQUESTER, GENERAL, command, text)
    assert delivery.status == 200

    def told() -> list[str]:
        said = [m.text for m in slack_emu.state.ephemerals(REQUESTER)]
        said += [m.text for m in slack_emu.state.dms(REQUESTER)]
        said += [c.params.get("text", "") for c in slack_emu.state.calls("response_url")]
        return [t for t in said if t]

    texts = await slack_emu.wait_for(told)
    assert not any("Traceback" in t or "SlackApiError" in t for t in texts)
    assert any("Please try again" in t and "ERR-" not in t for t in texts)  # says what to do
    assert not slack_emu.state.open_views(REQUESTER)
