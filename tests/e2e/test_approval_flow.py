"""From card to cloned model service: approval in the thread, execution as the requester,
job tracking, completion notices (issue: approval, execution, tracking, completion)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import httpx
import pytest

from bot.requests.model import State
from bot.runtime import Runtime
from bot.sandbox.slack_emulator import SlackEmulator
from bot.sandbox.zstack_sim import SimServer
from tests.e2e.helpers import (
    APPROVALS,
    APPROVER,
    APPROVER2,
    OUTSIDER,
    REQUESTER,
    blocks_text,
    login,
    top_view,
)
from tests.fixtures.bot import BotFactory
from tests.support import notices_done
from tests.support.approval import (
    click,
    completion_count,
    request_clone,
    thread_texts,
    wait_completion,
    wait_state,
)


@pytest.fixture
async def bot(bot_factory: BotFactory) -> Runtime:
    return await bot_factory(approval_channel=APPROVALS)


@pytest.mark.parametrize("mode", ["async", "sync"])
async def test_approve_runs_and_succeeds(
    slack_emu: SlackEmulator, bot: Runtime, zstack_sim: SimServer, mode: str
) -> None:
    zstack_sim.state.set_mode(clone=mode)
    record = await request_clone(slack_emu, bot)
    await click(slack_emu, APPROVER, record, "request_approve")
    done = await wait_state(bot, record.id, State.SUCCEEDED)
    await wait_completion(slack_emu, done, "Cloned: example-clone")
    assert done.result and done.result.name == "example-clone"
    assert zstack_sim.state.counters()["clone_calls_by_job"] == {done.job_uuid: 1}
    # The card is drawn last (after the DM and the thread reply).
    card = await slack_emu.wait_for(
        lambda: (
            (m := slack_emu.state.message(APPROVALS, record.card_ts or ""))
            and "Done" in blocks_text(m.blocks)
            and m
        )
    )
    assert "Done" in blocks_text(card.blocks)
    await slack_emu.wait_for(  # and then the parameter reply, its buttons retired
        lambda: (
            "request_approve"
            not in blocks_text(slack_emu.state.thread(APPROVALS, record.card_ts or "")[0].blocks)
        )
    )
    params_reply = slack_emu.state.thread(APPROVALS, record.card_ts or "")[0]
    assert "requestCpu" in blocks_text(params_reply.blocks) or "name" in blocks_text(
        params_reply.blocks
    )
    assert "request_approve" not in blocks_text(params_reply.blocks)  # decided: buttons retired
    assert completion_count(slack_emu, done, "Cloned: example-clone") == (1, 1)
    # The clone really exists and belongs to the requester's account.
    services = zstack_sim.state.snapshot()["model_services"]
    clone = next(s for s in services if s["inventory"]["name"] == "example-clone")
    assert clone["owner_account"] == "alice"
    assert not slack_emu.validation_failures


async def test_failure_shows_the_cause_chain_root_first(
    slack_emu: SlackEmulator, bot: Runtime, zstack_sim: SimServer
) -> None:
    zstack_sim.state.fail_next_clones(1)
    record = await request_clone(slack_emu, bot)
    await click(slack_emu, APPROVER, record, "request_approve")
    failed = await wait_state(bot, record.id, State.FAILED)
    await wait_completion(slack_emu, failed, "Clone failed")
    message = next(t for t in thread_texts(slack_emu, failed) if "Cause chain" in t)
    root = message.index("SYS.1015")
    middle = message.index("SYS.1006", message.index("Cause chain"))
    assert root < middle  # root cause first
    assert "root cause" in message
    assert failed.error and failed.error.cause and failed.error.cause.cause
    assert failed.error.cause.cause.code == "SYS.1015"
    # Raw JSON one click away.
    reply = next(
        m
        for m in slack_emu.state.thread(APPROVALS, failed.card_ts or "")
        if "Cause chain" in blocks_text(m.blocks)
    )
    await slack_emu.click(APPROVER, channel=APPROVALS, ts=reply.ts, action_id="request_raw_error")
    raw = await top_view(slack_emu, APPROVER, "")
    assert "SYS.1015" in blocks_text(raw)


async def test_reject_with_a_reason(slack_emu: SlackEmulator, bot: Runtime) -> None:
    record = await request_clone(slack_emu, bot)
    await click(slack_emu, APPROVER, record, "request_reject")
    view = await top_view(slack_emu, APPROVER, "reject_request")
    await slack_emu.submit_view(APPROVER, view.id, {"reject_reason": {"value": "use the 8B model"}})
    rejected = await wait_state(bot, record.id, State.REJECTED)
    assert rejected.decision_reason == "use the 8B model" and rejected.decided_by == APPROVER
    await slack_emu.wait_for(
        lambda: any("use the 8B model" in m.text for m in slack_emu.state.dms(REQUESTER))
    )


async def test_reject_by_reply_in_the_thread(slack_emu: SlackEmulator, bot: Runtime) -> None:
    record = await request_clone(slack_emu, bot)
    await slack_emu.post_message(
        APPROVER, APPROVALS, "reject: too much memory", thread_ts=record.card_ts
    )
    rejected = await wait_state(bot, record.id, State.REJECTED)
    assert rejected.decision_reason == "too much memory"


async def test_approve_by_reply_in_the_thread(slack_emu: SlackEmulator, bot: Runtime) -> None:
    record = await request_clone(slack_emu, bot)
    await slack_emu.post_message(APPROVER, APPROVALS, "approve", thread_ts=record.card_ts)
    await wait_state(bot, record.id, State.SUCCEEDED)


@pytest.mark.parametrize(
    ("reply", "state", "reason"),
    [("批准", State.SUCCEEDED, None), ("拒绝：内存要得太多", State.REJECTED, "内存要得太多")],
    ids=["approve", "reject"],
)
async def test_decisions_in_chinese_count_like_english(
    slack_emu: SlackEmulator, bot: Runtime, reply: str, state: State, reason: str | None
) -> None:
    record = await request_clone(slack_emu, bot)
    await slack_emu.post_message(APPROVER, APPROVALS, reply, thread_ts=record.card_ts)
    decided = await wait_state(bot, record.id, state)
    assert decided.decision_reason == reason


async def test_cancel_by_requester_only(slack_emu: SlackEmulator, bot: Runtime) -> None:
    record = await request_clone(slack_emu, bot)
    await click(slack_emu, APPROVER, record, "request_cancel")
    await slack_emu.wait_for(
        lambda: any("Only the requester" in m.text for m in slack_emu.state.ephemerals(APPROVER))
    )
    assert (await bot.deps.requests.require(record.id)).state == State.PENDING
    await click(slack_emu, REQUESTER, record, "request_cancel")
    await wait_state(bot, record.id, State.CANCELLED)


async def test_self_approval_and_outsider_are_refused(
    slack_emu: SlackEmulator, bot_factory: BotFactory
) -> None:
    bot = await bot_factory(approval_channel=APPROVALS, approvers=["S0APPROVERS"])
    record = await request_clone(slack_emu, bot)
    await click(slack_emu, REQUESTER, record, "request_approve")
    await click(slack_emu, OUTSIDER, record, "request_approve")
    await slack_emu.wait_for(
        lambda: any("own request" in m.text for m in slack_emu.state.ephemerals(REQUESTER))
    )
    await slack_emu.wait_for(
        lambda: any("approver list" in m.text for m in slack_emu.state.ephemerals(OUTSIDER))
    )
    after = await bot.deps.requests.require(record.id)
    assert (
        after.state == State.PENDING and after.approvals == [] and after.version == record.version
    )


async def test_quorum_of_two(
    slack_emu: SlackEmulator, bot_factory: BotFactory, zstack_sim: SimServer
) -> None:
    bot = await bot_factory(approval_channel=APPROVALS, approvals_required=2)
    record = await request_clone(slack_emu, bot)
    await click(slack_emu, APPROVER, record, "request_approve")
    await slack_emu.wait_for(lambda: any("1/2" in t for t in thread_texts(slack_emu, record)))
    await click(slack_emu, APPROVER, record, "request_approve")  # the same person twice
    await slack_emu.wait_for(
        lambda: any("already approved" in m.text for m in slack_emu.state.ephemerals(APPROVER))
    )
    assert (await bot.deps.requests.require(record.id)).state == State.PENDING
    assert zstack_sim.state.counters()["clone_calls_by_job"] == {}
    await click(slack_emu, APPROVER2, record, "request_approve")
    done = await wait_state(bot, record.id, State.SUCCEEDED)
    assert done.approvals == [APPROVER, APPROVER2]


async def test_expiry_turns_pending_into_expired(
    slack_emu: SlackEmulator, bot_factory: BotFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = await bot_factory(approval_channel=APPROVALS, approval_ttl_s=60)
    record = await request_clone(slack_emu, bot)
    # Time passes: the tracker's clock is two minutes on, and the expiry is due.
    later = record.expires_at + timedelta(minutes=1)
    monkeypatch.setattr("bot.requests.tracker.utc_now", lambda: later)
    await bot.deps.requests.schedule("expiry", record.id, 0)
    expired = await wait_state(bot, record.id, State.EXPIRED)
    await slack_emu.wait_for(
        lambda: any("expired" in m.text for m in slack_emu.state.dms(REQUESTER))
    )
    # The card is drawn after the DM.
    await slack_emu.wait_for(
        lambda: (
            (m := slack_emu.state.message(APPROVALS, expired.card_ts or ""))
            and "request_approve" not in blocks_text(m.blocks)
        )
    )
    await slack_emu.post_message(APPROVER, APPROVALS, "approve", thread_ts=expired.card_ts)
    await slack_emu.wait_for(
        lambda: any("already expired" in m.text for m in slack_emu.state.ephemerals(APPROVER))
    )


async def test_requester_session_expired_parks_then_resumes_after_login(
    slack_emu: SlackEmulator, bot: Runtime, zstack_sim: SimServer
) -> None:
    record = await request_clone(slack_emu, bot)
    zstack_sim.state.expire_sessions(account="alice")
    await bot.deps.redis.client.delete(
        *[k async for k in bot.deps.redis.client.scan_iter("*validated*")] or ["none"]
    )
    await click(slack_emu, APPROVER, record, "request_approve")
    parked = await wait_state(bot, record.id, State.AWAITING_LOGIN)
    await slack_emu.wait_for(
        lambda: any("/zstack login" in m.text for m in slack_emu.state.dms(REQUESTER))
    )
    # The DM goes first; the thread note follows.
    await slack_emu.wait_for(
        lambda: any("/zstack login" in t for t in thread_texts(slack_emu, parked))
    )
    assert zstack_sim.state.counters()["clone_calls_by_job"] == {}
    await login(slack_emu)
    done = await wait_state(bot, record.id, State.SUCCEEDED)
    assert done.attempts == 1


async def test_webhook_completes_the_job(
    slack_emu: SlackEmulator, bot_factory: BotFactory, zstack_sim: SimServer
) -> None:
    zstack_sim.state.set_mode(job_duration_s=0.5)
    bot = await bot_factory(
        approval_channel=APPROVALS,
        public_url="http://127.0.0.1:1",
        poll_initial_s=30,
        poll_max_s=60,
    )
    # The public URL must reach this bot: issue URLs on its real port.
    bot.deps.webhooks.use_public_url(bot.http_url)  # the port is known only now
    record = await request_clone(slack_emu, bot)
    await click(slack_emu, APPROVER, record, "request_approve")
    done = await wait_state(bot, record.id, State.SUCCEEDED, timeout=8)
    for _ in range(100):  # ZStack records the delivery once our 200 has reached it
        deliveries = zstack_sim.state.counters()["webhook_deliveries"]
        if deliveries:
            break
        await asyncio.sleep(0.02)
    assert deliveries and deliveries[0]["status"] == 200
    polls = zstack_sim.state.counters()["requests_by_operation"].get("QueryApiJob", 0)
    assert polls == 1  # no poll was due yet: the webhook's confirmation with ZStack finished it
    assert done.result is not None


async def test_webhook_with_a_bad_hmac_is_refused(slack_emu: SlackEmulator, bot: Runtime) -> None:
    bot.deps.webhooks.use_public_url(bot.http_url)
    record = await request_clone(slack_emu, bot)
    url = f"{bot.http_url}/zstack/webhook/{record.id}/{'a' * 32}/{'0' * 43}"
    body = json.dumps({"inventory": {"uuid": "b" * 32, "name": "forged"}})
    async with httpx.AsyncClient() as http:
        forged = await http.post(
            url, content=body, headers={"X-Job-UUID": "a" * 32, "X-Job-Success": "true"}
        )
        wrong_job = await http.post(
            bot.deps.webhooks.url_for(record.id, "c" * 32) or "",
            content=body,
            headers={"X-Job-UUID": "d" * 32, "X-Job-Success": "true"},
        )
    assert forged.status_code == 403
    assert wrong_job.status_code in (400, 403)
    after = await bot.deps.requests.require(record.id)
    assert after.state == State.PENDING and after.version == record.version


async def test_fifty_simultaneous_approvals_clone_once_and_notify_once(
    slack_emu: SlackEmulator, bot: Runtime, zstack_sim: SimServer
) -> None:
    record = await request_clone(slack_emu, bot)
    clicks = [
        click(slack_emu, APPROVER if i % 2 else APPROVER2, record, "request_approve")
        for i in range(50)
    ]
    await asyncio.gather(*clicks)
    done = await wait_state(bot, record.id, State.SUCCEEDED)
    await wait_completion(slack_emu, done, "Cloned: example-clone")
    await notices_done(bot, done.id)
    assert sum(zstack_sim.state.counters()["clone_calls_by_source"].values()) == 1
    assert completion_count(slack_emu, done, "Cloned: example-clone") == (1, 1)
    history = await bot.deps.requests.history(record.id)
    assert [h["to"] for h in history].count("approved") == 1


async def test_retry_after_failure(
    slack_emu: SlackEmulator, bot_factory: BotFactory, zstack_sim: SimServer
) -> None:
    bot = await bot_factory(approval_channel=APPROVALS, approvers=["S0APPROVERS"])
    zstack_sim.state.fail_next_clones(1)
    record = await request_clone(slack_emu, bot)
    await click(slack_emu, APPROVER, record, "request_approve")
    failed = await wait_state(bot, record.id, State.FAILED)
    await wait_completion(slack_emu, failed, "Clone failed")
    # The card is drawn last, after the DM and the thread reply: its Retry button comes then.
    await slack_emu.wait_for(
        lambda: (
            (card := slack_emu.state.message(APPROVALS, failed.card_ts or ""))
            and "request_retry" in blocks_text(card.blocks)
        )
    )
    await click(slack_emu, OUTSIDER, failed, "request_retry")
    await slack_emu.wait_for(
        lambda: any(
            "requester or an approver" in m.text for m in slack_emu.state.ephemerals(OUTSIDER)
        )
    )
    await click(slack_emu, REQUESTER, failed, "request_retry")
    done = await wait_state(bot, record.id, State.SUCCEEDED)
    assert done.job_uuid != failed.job_uuid


async def test_a_refusal_in_the_thread_is_answered_in_the_thread(
    slack_emu: SlackEmulator, bot: Runtime
) -> None:
    record = await request_clone(slack_emu, bot)
    assert record.card_ts and record.params_ts
    # The requester presses Approve on the parameter reply, then types "approve" there.
    await slack_emu.click(
        REQUESTER, channel=APPROVALS, ts=record.params_ts, action_id="request_approve"
    )
    await slack_emu.post_message(REQUESTER, APPROVALS, "approve", thread_ts=record.card_ts)

    def refusals() -> list[str | None]:
        told = slack_emu.state.ephemerals(REQUESTER)
        return [m.thread_ts for m in told if "own request" in m.text]

    await slack_emu.wait_for(lambda: len(refusals()) == 2)
    assert refusals() == [record.card_ts, record.card_ts]


async def test_a_decision_on_a_finished_request_is_answered_in_words_in_its_thread(
    slack_emu: SlackEmulator, bot: Runtime
) -> None:
    record = await request_clone(slack_emu, bot)
    await click(slack_emu, APPROVER, record, "request_approve")
    await wait_state(bot, record.id, State.SUCCEEDED)
    await slack_emu.post_message(APPROVER, APPROVALS, "approve", thread_ts=record.card_ts)
    told = await slack_emu.wait_for(
        lambda: [m for m in slack_emu.state.ephemerals(APPROVER) if record.id in m.text]
    )
    assert (
        told[0].text == f"{record.id} is already done: <@{APPROVER}> approved it and it was cloned."
    )
    assert told[0].thread_ts == record.card_ts


async def test_a_failure_says_what_to_do_and_the_dm_can_retry(
    slack_emu: SlackEmulator, bot: Runtime, zstack_sim: SimServer
) -> None:
    zstack_sim.state.fail_next_clones(1)
    record = await request_clone(slack_emu, bot)
    await click(slack_emu, APPROVER, record, "request_approve")
    failed = await wait_state(bot, record.id, State.FAILED)
    await wait_completion(slack_emu, failed, "Clone failed")
    assert failed.error is not None
    root = next(cause for depth, cause in failed.error.chain_root_first() if depth > 0)
    # The card is drawn last (after the DM and the thread reply).
    card = await slack_emu.wait_for(
        lambda: (
            (m := slack_emu.state.message(APPROVALS, failed.card_ts or ""))
            and "Root cause" in blocks_text(m.blocks)
            and m
        )
    )
    assert str(root.code) in blocks_text(card.blocks)
    # Retry straight from the failure DM.
    dm = next(m for m in slack_emu.state.dms(REQUESTER) if "request_retry" in blocks_text(m.blocks))
    await slack_emu.click(REQUESTER, channel=dm.channel, ts=dm.ts, action_id="request_retry")
    done = await wait_state(bot, record.id, State.SUCCEEDED)
    await slack_emu.wait_for(
        lambda: (
            (m := slack_emu.state.message(APPROVALS, done.card_ts or ""))
            and f"approved by <@{APPROVER}>" in blocks_text(m.blocks)
        )
    )


async def test_status_list_home_and_the_dm_link_to_the_cards_thread(
    slack_emu: SlackEmulator, bot: Runtime
) -> None:
    record = await request_clone(slack_emu, bot)
    stored = await bot.deps.requests.require(record.id)
    assert stored.card_link and stored.card_ts
    assert stored.card_ts.replace(".", "") in stored.card_link
    await click(slack_emu, APPROVER, record, "request_approve")
    done = await wait_state(bot, record.id, State.SUCCEEDED)
    await wait_completion(slack_emu, done, "Cloned: example-clone")
    dm = next(m for m in slack_emu.state.dms(REQUESTER) if "Cloned:" in blocks_text(m.blocks))
    assert stored.card_link in blocks_text(dm.blocks)
    for text in (f"status {record.id}", "list"):
        await slack_emu.slash_command(REQUESTER, APPROVALS, "/clone-model", text)
    answers = await slack_emu.wait_for(
        lambda: (
            (
                t := [
                    m.text
                    for m in slack_emu.state.ephemerals(REQUESTER)
                    if stored.card_link in m.text
                ]
            )
            and len(t) >= 2
            and t
        )
    )
    assert len(answers) >= 2
    await slack_emu.open_home(REQUESTER)
    await slack_emu.wait_for(
        lambda: (home := slack_emu.state.home(REQUESTER)) and stored.card_link in blocks_text(home)
    )
