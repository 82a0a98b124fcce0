"""``clone-bot audit`` and ``clone-bot policy explain`` on what the running bot stored: requests
made in the emulator, approved by two people or by a rule, cloned in the simulator."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from bot.requests.model import CloneRequest, State, utc_now
from bot.runtime import Runtime
from bot.sandbox.slack_emulator import SlackEmulator
from tests.e2e.helpers import (
    APPROVALS,
    APPROVER,
    APPROVER2,
    EXAMPLE,
    GENERAL,
    OUTSIDER,
    REQUESTER,
    login,
    top_view,
)
from tests.fixtures.bot import BotFactory
from tests.fixtures.slack import BOT_TOKEN
from tests.support.approval import click, wait_card, wait_state

POLICY = """
rules:
  - name: small
    when: {requestCpu: "<= 1"}
    auto_approve: true
  - name: large
    when: [{requestCpu: ">= 4"}, {gpu: true}]
    approvers: [S0APPROVERS]
    approvals: 2
    approver_login: required
"""
ADMIN_LOGIN = {
    "login_kind": {"kind": "account"},
    "account_name": {"value": "admin"},
    "password": {"value": "password"},
}


def run(argv: list[str]) -> tuple[int, str, str]:
    """``main(argv)`` with its stdout and stderr (run in a thread: the servers use this loop)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


async def submit(emu: SlackEmulator, bot: Runtime, cpu: str) -> CloneRequest:
    """The requester asks for a clone of the example with ``cpu`` vCPU (sending the form again
    when the rule it shows changed on the way)."""
    await emu.slash_command(REQUESTER, GENERAL, "/clone-model", EXAMPLE)
    view = await top_view(emu, REQUESTER, "clone_model")
    before = len(emu.state.messages(APPROVALS))
    values = {"reason": {"value": "eval"}, "request_cpu": {"value": cpu}}
    delivery = await emu.submit_view(REQUESTER, view.id, values)
    if delivery.body and delivery.json().get("response_action") == "update":
        await emu.submit_view(REQUESTER, view.id, values)
    await emu.wait_for(lambda: len(emu.state.messages(APPROVALS)) > before)
    record = (await bot.deps.requests.recent("T0CLONE", REQUESTER))[0]
    return await wait_card(bot, record.id)


async def wait_votes(bot: Runtime, request_id: str, count: int, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while len((await bot.deps.requests.require(request_id)).approvals) < count:
        assert asyncio.get_running_loop().time() < deadline, f"{request_id}: no {count} votes"
        await asyncio.sleep(0.05)


async def test_the_audit_and_explain_agree_with_what_the_bot_stored(
    slack_emu: SlackEmulator,
    bot_factory: BotFactory,
    redis_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    bot = await bot_factory(approval_channel=APPROVALS, policy_file=policy)
    await login(slack_emu)
    await login(slack_emu, APPROVER, ADMIN_LOGIN)
    await login(slack_emu, APPROVER2)  # alice, who owns the source
    large = await submit(slack_emu, bot, "8")
    await click(slack_emu, APPROVER, large, "request_approve")
    await wait_votes(bot, large.id, 1)
    await click(slack_emu, APPROVER2, large, "request_approve")
    large = await wait_state(bot, large.id, State.SUCCEEDED)
    small = await wait_state(bot, (await submit(slack_emu, bot, "1")).id, State.SUCCEEDED)

    for name, value in {
        "REDIS_URL": redis_url,
        "CLONEBOT_POLICY_FILE": str(policy),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_API_URL": slack_emu.api_url,
    }.items():
        monkeypatch.setenv(name, value)
    code, out, _ = await asyncio.to_thread(run, ["audit"])
    assert code == 0
    records = {r["id"]: r for r in map(json.loads, out.splitlines())}
    assert set(records) == {large.id, small.id}
    two = records[large.id]
    assert two["decision"] == "approved" and two["rule"]["name"] == "large"
    assert two["approved_by"] == [
        {"slack": APPROVER, "zstack": "admin"},
        {"slack": APPROVER2, "zstack": "alice"},
    ]
    assert two["decided_by"] == {"slack": APPROVER2, "zstack": "alice"}
    assert two["job_uuid"] == large.job_uuid and two["job_uuid"]
    assert large.result is not None
    assert two["result"] == {"uuid": large.result.uuid, "name": large.result.name}
    assert two["params"] == large.body.to_wire() and two["params"]["params"]["requestCpu"] == 8
    assert two["waiting_s"] > 0 and two["cloning_s"] >= 0
    approvals = [e for e in two["events"] if e["note"].startswith("approve")]
    assert [(e["by"], e["by_zstack"], e["to"]) for e in approvals] == [
        (APPROVER, "admin", "pending"),
        (APPROVER2, "alice", "approved"),
    ]
    assert records[small.id]["decision"] == "auto_approved"
    assert records[small.id]["decided_by"] == {"slack": "bot", "zstack": None}
    session = await bot.deps.sessions.peek("T0CLONE", REQUESTER)
    assert session is not None and session.inventory.uuid.get_secret_value() not in out

    # The stored request, explained: the same rule, for the same reasons.
    described: dict[str, Any] = {
        **large.body.to_wire(),
        "requester": large.requester,
        "channel": large.origin_channel,
        "sourceName": large.source_name,
        "sourceUuid": large.source_uuid,
    }
    request = tmp_path / "request.json"
    request.write_text(json.dumps(described), encoding="utf-8")
    code, out, err = await asyncio.to_thread(run, ["policy", "explain", str(request)])
    assert (code, err) == (0, "")
    assert large.rule is not None and large.rule.because[0].value == 8
    assert "Rule: large (8 vCPU ≥ 4)" in out.splitlines()
    assert f"Approvers: S0APPROVERS (user group: {APPROVER}, {APPROVER2})" in out.splitlines()
    assert "Approvals needed: 2" in out.splitlines()
    assert any(line.startswith("Approver login: required") for line in out.splitlines())


STEPPED = f"""
rules:
  - name: stepped
    steps:
      - name: leads
        approvers: [{APPROVER}]
        skip_after: 3h
      - name: owners
        approvers: [{APPROVER2}]
    remind_after: 1h
    escalate_after: 2h
    escalate_to: [{OUTSIDER}]
    approval_comment: required
"""


async def wait_record(
    bot: Runtime, request_id: str, holds: Callable[[CloneRequest], bool], timeout: float = 10.0
) -> CloneRequest:
    deadline = asyncio.get_running_loop().time() + timeout
    while not holds(record := await bot.deps.requests.require(request_id)):
        assert asyncio.get_running_loop().time() < deadline, f"{request_id}: {record}"
        await asyncio.sleep(0.05)
    return record


async def test_the_audit_records_the_reminders_escalation_skipped_step_and_comment(
    slack_emu: SlackEmulator,
    bot_factory: BotFactory,
    redis_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(STEPPED, encoding="utf-8")
    bot = await bot_factory(approval_channel=APPROVALS, policy_file=policy)
    ahead = timedelta()

    def clock() -> datetime:
        return utc_now() + ahead

    # The nudge schedule runs on this clock: hours pass without waiting for them.
    bot.deps.nudger.clock = clock
    await login(slack_emu)
    record = await submit(slack_emu, bot, "2")
    assert record.rule is not None and record.rule.name == "stepped"
    ahead = timedelta(minutes=61)
    await wait_record(bot, record.id, lambda r: r.reminders == 1)
    ahead = timedelta(minutes=121)
    await wait_record(bot, record.id, lambda r: r.escalated == [OUTSIDER])
    ahead = timedelta(minutes=181)
    await wait_record(bot, record.id, lambda r: r.step == 1)
    ahead = timedelta(minutes=242)
    await wait_record(bot, record.id, lambda r: r.reminders == 1)
    # The rule wants a comment: a bare approve counts for nothing.
    await slack_emu.post_message(APPROVER2, APPROVALS, "approve", thread_ts=record.card_ts)
    await slack_emu.post_message(
        APPROVER2, APPROVALS, "approve: owners agree", thread_ts=record.card_ts
    )
    done = await wait_state(bot, record.id, State.SUCCEEDED)
    assert [(v.user, v.step, v.comment) for v in done.votes] == [(APPROVER2, 1, "owners agree")]

    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    code, out, _ = await asyncio.to_thread(run, ["audit"])
    assert code == 0
    entry = json.loads(out)
    assert entry["rule"]["approval_comment"] is True
    assert [
        (s["name"], s["outcome"], s["reminders"], s["escalated_to"], s["approved_by"])
        for s in entry["steps"]
    ] == [
        ("leads", "skipped", 1, [OUTSIDER], []),
        ("owners", "approved", 1, [], [APPROVER2]),
    ]
    assert (entry["step"], entry["skipped"], entry["reminders"], entry["escalated_to"]) == (
        2,
        [1],
        2,
        [OUTSIDER],
    )
    assert [(v["slack"], v["step"], v["comment"]) for v in entry["votes"]] == [
        (APPROVER2, 2, "owners agree")
    ]
    notes = [e["note"] for e in entry["events"] if e["to"] == "pending" and e["by"] == "bot"]
    assert notes[-4:] == [
        "reminder 1 (step 1)",
        f"escalated to {OUTSIDER} (step 1)",
        "step 1 skipped",
        "reminder 1 (step 2)",
    ]
