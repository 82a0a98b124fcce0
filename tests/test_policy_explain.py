"""``clone-bot policy explain REQUEST.json``: the rule a request would meet and who may approve,
with user groups resolved by the Slack emulator (``usergroups.users.list``) over real HTTP."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from bot.sandbox.slack_emulator import SlackEmulator
from bot.sandbox.slack_emulator.workspace import APPROVER_1, APPROVER_2, APPROVERS_GROUP
from tests.fixtures.slack import BOT_TOKEN

POLICY = """
rules:
  - name: huge
    when: {requestCpu: ">= 32"}
    deny: Ask the platform team for services this large.
  - name: small
    when: {requestCpu: "<= 1", gpu: false}
    auto_approve: true
  - name: gpu-or-large
    when: [{gpu: true, channel: C0ML}, {requestCpu: ">= 8"}]
    approvers: [S0APPROVERS, U0LEAD]
    approvals: 2
    ttl: 4h
    approver_login: required
    break_glass: [U0ONCALL]
  - name: approvers-own
    when: {requester: S0APPROVERS, source_name: "llama-*"}
    approvals: 1
    self_approval: true
  - name: two-steps
    when: {type: [Endpoint]}
    steps:
      - name: team lead
        approvers: [U0LEAD, S0APPROVERS]
        skip_after: 2h
      - approvers: [U0OWN1, U0OWN2]
        need: all
    ttl: 1d
    remind_after: 1h
    remind_every: 3h
    remind_max: 4
    escalate_after: 6h
    escalate_to: [U0ONCALL, S0APPROVERS]
    approval_comment: required
  - name: stalled
    when: {type: [FineTune]}
    approvers: [U0LEAD]
    ttl: 2h
    remind_after: 30m
    remind_every: 1h
    remind_max: 5
    escalate_after: 2h
    escalate_to: [U0LEAD]
"""


@pytest.fixture
def policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY, encoding="utf-8")
    monkeypatch.setenv("CLONEBOT_POLICY_FILE", str(path))
    return path


@pytest.fixture
def with_slack(monkeypatch: pytest.MonkeyPatch, slack_emu: SlackEmulator) -> SlackEmulator:
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_API_URL", slack_emu.api_url)
    return slack_emu


def request_file(tmp_path: Path, content: Any) -> Path:
    path = tmp_path / "request.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content), "utf-8")
    return path


async def explained(
    capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, dict[str, str], str]:
    """Exit code, the output's lines by their label, and stderr."""
    # The emulator lives on this loop: the command's own asyncio.run goes to a thread.
    code = await asyncio.to_thread(main, ["policy", "explain", *args])
    captured = capsys.readouterr()
    lines: dict[str, str] = {}
    for line in captured.out.splitlines():
        label, _, text = line.partition(": ")
        lines[label] = f"{lines[label]}\n{text}" if label in lines else text
    return code, lines, captured.err


async def test_a_matching_rule_with_its_conditions_and_resolved_approvers(
    tmp_path: Path, policy: Path, with_slack: SlackEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    body = {
        "params": {"name": "copy", "requestCpu": 16, "requestMemory": 65536},
        "systemTags": [],
        "requester": "U0REQ",
        "channel": "C0GENERAL",
        "sourceName": "mistral-7b",
    }
    code, out, err = await explained(capsys, str(request_file(tmp_path, body)))
    assert (code, err) == (0, "")
    assert out["Rule"] == "gpu-or-large (16 vCPU ≥ 8)"
    members = ", ".join(sorted([APPROVER_1, APPROVER_2]))
    assert out["Approvers"] == f"{APPROVERS_GROUP} (user group: {members}), U0LEAD"
    assert out["Approvals needed"] == "2"
    assert out["Expires"] == "4 h after the request if nobody decides"
    assert out["Self-approval"] == "not allowed"
    assert out["Approver login"].startswith("required")
    assert out["Break-glass"].startswith("U0ONCALL (may approve alone")
    assert "Note" not in out
    assert out["Request"].startswith("16 vCPU, 65536 MiB, no GPU spec, source mistral-7b")
    asked = [c.params.get("usergroup") for c in with_slack.state.calls("usergroups.users.list")]
    assert asked == [APPROVERS_GROUP]


async def test_a_gpu_spec_in_the_wire_body_and_the_channel(
    tmp_path: Path, policy: Path, with_slack: SlackEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    body = {
        "params": {"requestCpu": 4, "vendorToSpecUuidsMap": {"NVIDIA": ["a100"]}},
        "requester": "U0REQ",
        "channel": "C0ML",
    }
    code, out, _ = await explained(capsys, str(request_file(tmp_path, body)))
    assert code == 0
    assert out["Rule"] == "gpu-or-large (a GPU spec, from #C0ML)"


async def test_a_rule_on_the_requesters_group_is_resolved_in_slack(
    tmp_path: Path, policy: Path, with_slack: SlackEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    body = {"params": {"requestCpu": 4}, "requester": APPROVER_1, "sourceName": "llama-3-70b"}
    code, out, _ = await explained(capsys, str(request_file(tmp_path, body)))
    assert code == 0
    assert (
        out["Rule"]
        == f"approvers-own (source name matches llama-*, requester in {APPROVERS_GROUP})"
    )
    assert out["Self-approval"] == "allowed"
    # Not a member: the next rule does not apply, and the settings do.
    body["requester"] = "U0REQ"
    code, out, _ = await explained(capsys, str(request_file(tmp_path, body)))
    assert out["Rule"] == "default (no rule of the policy file matched; the settings apply)"


async def test_without_slack_groups_are_named_and_said_unresolved(
    tmp_path: Path, policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = {"params": {"requestCpu": 12}, "requester": "U0REQ"}
    code, out, _ = await explained(capsys, str(request_file(tmp_path, body)))
    assert code == 0
    assert out["Approvers"] == (
        f"{APPROVERS_GROUP} (user group, not resolved: SLACK_BOT_TOKEN is unset), U0LEAD"
    )
    assert (
        "user groups not resolved (rules on the requester's groups do not match): " in out["Note"]
    )


async def test_the_default_rule_is_the_settings(
    tmp_path: Path,
    policy: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CLONEBOT_APPROVERS", "U0ADA,U0BOB")
    monkeypatch.setenv("CLONEBOT_APPROVALS_REQUIRED", "2")
    monkeypatch.setenv("CLONEBOT_APPROVAL_TTL_S", "5400")
    body = {"params": {"name": "copy", "requestMemory": 2048}}
    code, out, _ = await explained(capsys, str(request_file(tmp_path, body)))
    assert code == 0
    assert out["Rule"] == "default (no rule of the policy file matched; the settings apply)"
    assert out["Approvers"] == "U0ADA, U0BOB"
    assert (out["Approvals needed"], out["Expires"]) == (
        "2",
        "1 h 30 min after the request if nobody decides",
    )
    assert out["Approver login"] == "off (Slack identity)"
    assert out["Break-glass"] == "nobody"
    # The CPU is the source's, which explain does not know: said, not guessed.
    assert "requestCpu left to the source" in out["Note"]
    assert "no requester given" in out["Note"]
    # Without a policy file, every request meets the settings' rule.
    monkeypatch.delenv("CLONEBOT_POLICY_FILE")
    code, out, _ = await explained(capsys, str(request_file(tmp_path, body)))
    assert out["Rule"] == "default (no policy file: the settings apply to every request)"


async def test_deny_and_auto_approve(
    tmp_path: Path, policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = await explained(
        capsys, str(request_file(tmp_path, {"params": {"requestCpu": 48}}))
    )
    assert code == 0 and out["Rule"] == "huge (48 vCPU ≥ 32)"
    assert out["Outcome"] == "refused at submit: Ask the platform team for services this large."
    assert "Approvers" not in out
    code, out, _ = await explained(
        capsys, str(request_file(tmp_path, {"params": {"requestCpu": 1}}))
    )
    assert out["Rule"] == "small (1 vCPU ≤ 1, no GPU)"
    assert out["Outcome"].startswith("approved automatically, without a click")


async def test_a_bad_policy_file_prints_its_problems_and_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - name: x\n    when: {requestCpu: lots}\n    approvals: 0\n", "utf-8")
    code, out, err = await explained(
        capsys, str(request_file(tmp_path, {"params": {}})), "--policy-file", str(bad)
    )
    assert code == 2 and out == {}
    assert err.splitlines() == [
        "clone-bot: configuration: bad.yaml: rules[0] (x).when[0].requestCpu: bad threshold "
        '\'lots\': write it like ">= 16" or "<= 2"',
        "clone-bot: configuration: bad.yaml: rules[0] (x).approvals: Input should be greater "
        "than or equal to 1",
    ]


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ('{"params": {"requestCpu": 8,}}', "request.json: not JSON (Expecting property name"),
        ("[1, 2]", 'request.json: not a JSON object like {"params": {...}}'),
        (
            {"params": {"requestCpu": "lots", "cpus": 2}, "requester": "alice"},
            "request.json: params.requestCpu: Input should be a valid integer, unable to parse "
            "string as an integer; params.cpus: unknown field; requester: 'alice' is not "
            "a Slack user id (U…/W…)",
        ),
        ({"systemTags": []}, "request.json: params: Field required"),
    ],
)
async def test_a_bad_request_file_is_one_line_and_exit_2(
    tmp_path: Path, policy: Path, capsys: pytest.CaptureFixture[str], content: Any, says: str
) -> None:
    code, out, err = await explained(capsys, str(request_file(tmp_path, content)))
    assert code == 2 and out == {}
    assert len(err.splitlines()) == 1
    assert err.startswith(f"clone-bot: {says}"), err


async def test_a_missing_request_file(
    tmp_path: Path, policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = await explained(capsys, str(tmp_path / "nope.json"))
    assert code == 2
    assert (
        err == f"clone-bot: {tmp_path / 'nope.json'}: cannot read it: No such file or directory\n"
    )


async def test_the_steps_reminders_escalation_and_comment_a_request_would_get(
    tmp_path: Path, policy: Path, with_slack: SlackEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    body = {"params": {"requestCpu": 2, "type": "Endpoint"}, "requester": "U0REQ"}
    code, out, err = await explained(capsys, str(request_file(tmp_path, body)))
    assert (code, err) == (0, "")
    assert out["Rule"] == "two-steps (type Endpoint)"
    members = ", ".join(sorted([APPROVER_1, APPROVER_2]))
    group = f"{APPROVERS_GROUP} (user group: {members})"
    # The steps stand in for the approvers and the quorum.
    assert "Approvers" not in out and "Approvals needed" not in out
    assert out["Steps"] == "2, in order (each must be done before the next one starts)"
    assert out["Step 1 (team lead)"] == (
        f"any one of U0LEAD, {group}; skipped after 2 h if nobody decides"
    )
    assert out["Step 2"] == "all of U0OWN1, U0OWN2"
    assert out["Expires"] == "24 h after the request if nobody decides"
    assert out["Reminders"] == (
        "after 1 h without a decision, then every 3 h, at most 4 in each step, to the approvers "
        "who have not decided (in the thread, and by DM with the buttons)"
    )
    assert out["Escalation"] == (
        f"after 6 h without a decision, U0ONCALL, {group} may approve too (once in each step), "
        "told in the thread and by DM"
    )
    assert out["Approval comment"].startswith("required (each approver writes one")
    assert "Note" not in out
    # The group was looked up once, for the step and the escalation.
    asked = [c.params.get("usergroup") for c in with_slack.state.calls("usergroups.users.list")]
    assert asked == [APPROVERS_GROUP]


async def test_reminders_and_escalation_that_cannot_happen_are_said(
    tmp_path: Path, policy: Path, with_slack: SlackEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    body = {"params": {"requestCpu": 2, "type": "FineTune"}, "requester": "U0REQ"}
    code, out, _ = await explained(capsys, str(request_file(tmp_path, body)))
    assert code == 0 and out["Rule"] == "stalled (type FineTune)"
    assert out["Approvers"] == "U0LEAD" and out["Approvals needed"] == "1"
    assert out["Reminders"].startswith(
        "after 30 min without a decision, then every 1 h, at most 5,"
    )
    assert out["Escalation"].startswith(
        "after 2 h without a decision, U0LEAD may approve too (once)"
    )
    # 30 min and 1 h 30 min fit in the 2 h TTL; the escalation at 2 h never comes.
    assert out["Note"].splitlines() == [
        "only 2 of the 5 reminders (after 30m, every 1h) fit: the request expires after 2h",
        "escalation after 2h never happens: the request expires after 2h",
    ]


async def test_the_default_rule_takes_its_reminders_and_escalation_from_the_settings(
    tmp_path: Path,
    policy: Path,
    with_slack: SlackEmulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    body = {"params": {"requestCpu": 2}, "requester": "U0REQ"}
    code, out, _ = await explained(capsys, str(request_file(tmp_path, body)))
    assert code == 0 and out["Rule"].startswith("default")
    assert (out["Reminders"], out["Escalation"], out["Approval comment"]) == (
        "none",
        "none",
        "optional",
    )
    monkeypatch.setenv("CLONEBOT_APPROVERS", "U0ADA")
    monkeypatch.setenv("CLONEBOT_REMIND_AFTER_S", "7200")
    monkeypatch.setenv("CLONEBOT_ESCALATE_AFTER_S", "14400")
    monkeypatch.setenv("CLONEBOT_ESCALATE_TO", "U0BOB")
    monkeypatch.setenv("CLONEBOT_APPROVAL_COMMENT", "required")
    code, out, _ = await explained(capsys, str(request_file(tmp_path, body)))
    assert code == 0
    # No CLONEBOT_REMIND_EVERY_S: one reminder.
    assert out["Reminders"] == (
        "once, after 2 h without a decision, to the approvers who have not decided (in the "
        "thread, and by DM with the buttons)"
    )
    assert out["Escalation"] == (
        "after 4 h without a decision, U0BOB may approve too (once), told in the thread and by DM"
    )
    assert out["Approval comment"].startswith("required")
    assert "Note" not in out
    # A rule that sets none of them takes the settings' (approvers-own is met by nobody here;
    # gpu-or-large sets its own approvers and TTL, and no reminders).
    body = {"params": {"requestCpu": 12}, "requester": "U0REQ"}
    code, out, _ = await explained(capsys, str(request_file(tmp_path, body)))
    assert out["Rule"] == "gpu-or-large (12 vCPU ≥ 8)"
    assert out["Reminders"].startswith("once, after 2 h")
    assert out["Escalation"].startswith("after 4 h without a decision, U0BOB")
    # Its TTL (4 h) leaves no room for the settings' escalation at 4 h: said.
    assert "escalation after 4h never happens: the request expires after 4h" in out["Note"]
