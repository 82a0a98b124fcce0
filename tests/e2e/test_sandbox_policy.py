"""The sandbox's example policy at work: a 4-vCPU request waits for jordan, who is reminded; when
jordan does not decide, avery is brought in and approves. The sandbox runs whole (embedded
Redis, simulator, emulator, bot); the nudge schedule runs on a clock the test moves ahead."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.config import Settings
from bot.requests.model import CloneRequest, State, utc_now
from bot.requests.rules import load_policy, never_due, rules_from
from bot.sandbox.launcher import POLICY_FILE, Sandbox
from tests.e2e.helpers import (
    APPROVALS,
    APPROVER,
    APPROVER2,
    GENERAL,
    REQUESTER,
    blocks_text,
    login,
    top_view,
)

pytestmark = pytest.mark.timeout(90)
README = Path(__file__).parents[2] / "README.md"


def test_the_example_policy_reminds_escalates_and_is_the_readmes() -> None:
    policy = load_policy(POLICY_FILE)
    by_name = {rule.name: rule for rule in policy.rules}
    assert by_name["small"].remind_after and by_name["medium"].escalate_to == [APPROVER]
    assert by_name["gpu-or-large"].approval_comment == "required"
    # Nothing it promises comes after a request has expired.
    rules = rules_from(Settings(policy_file=POLICY_FILE))
    assert all(never_due(rules.resolved(rule)) == [] for rule in policy.rules)
    # The README shows the file as it is.
    assert POLICY_FILE.read_text(encoding="utf-8") in README.read_text(encoding="utf-8")


async def wait_record(
    sandbox: Sandbox, request_id: str, holds: Callable[[CloneRequest], bool]
) -> CloneRequest:
    for _ in range(200):
        record = await sandbox.runtime.deps.requests.require(request_id)
        if holds(record):
            return record
        await asyncio.sleep(0.05)
    raise AssertionError(f"{request_id}: {record}")


async def test_a_medium_request_reminds_jordan_then_lets_avery_approve(tmp_path: Path) -> None:
    async with Sandbox(tmp_path / "data", port=0) as sandbox:
        emu, bot = sandbox.emulator, sandbox.runtime
        ahead = timedelta()

        def clock() -> datetime:
            return utc_now() + ahead

        bot.deps.nudger.clock = clock
        await login(emu)
        await emu.slash_command(REQUESTER, GENERAL, "/clone-model", "example")
        view = await top_view(emu, REQUESTER, "clone_model", timeout=10)
        values = {
            "reason": {"value": "eval"},
            "name": {"value": "mid"},
            "request_cpu": {"value": "4"},
        }
        delivery = await emu.submit_view(REQUESTER, view.id, values)
        if delivery.body and delivery.json().get("response_action") == "update":
            await emu.submit_view(REQUESTER, view.id, values)  # the form said which rule
        card = await emu.wait_for(
            lambda: next((m for m in emu.state.messages(APPROVALS) if "mid" in m.text), None)
        )
        request_id = ""
        for _ in range(100):
            request_id = await bot.deps.requests.by_thread(APPROVALS, card.ts) or ""
            if request_id:
                break
            await asyncio.sleep(0.05)
        record = await bot.deps.requests.require(request_id)
        assert record.rule is not None and record.rule.name == "medium"

        # avery is not the approver of this one, yet.
        await emu.click(APPROVER, channel=APPROVALS, ts=card.ts, action_id="request_approve")
        await emu.wait_for(lambda: emu.state.ephemerals(APPROVER))
        assert (await bot.deps.requests.require(request_id)).approvals == []

        # jordan is reminded in their language (zh-CN).
        ahead = timedelta(minutes=5, seconds=5)
        await wait_record(sandbox, request_id, lambda r: r.reminders == 1)
        await emu.wait_for(
            lambda: any("提醒" in m.text and request_id in m.text for m in emu.state.dms(APPROVER2))
        )
        ahead = timedelta(minutes=10, seconds=5)
        await wait_record(sandbox, request_id, lambda r: r.escalated == [APPROVER])
        await emu.wait_for(
            lambda: any(request_id in m.text for m in emu.state.dms(APPROVER)), timeout=10
        )
        await emu.wait_for(
            lambda: any(
                APPROVER in m.text + blocks_text(m.blocks)
                for m in emu.state.thread(APPROVALS, card.ts)
                if ":rotating_light:" in m.text
            ),
            timeout=10,
        )
        await emu.click(APPROVER, channel=APPROVALS, ts=card.ts, action_id="request_approve")
        done = await wait_record(sandbox, request_id, lambda r: r.state == State.SUCCEEDED)
        assert done.approvals == [APPROVER]
