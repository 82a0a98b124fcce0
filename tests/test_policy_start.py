"""A bad policy file stops the bot at start, one clear line per problem, before anything runs."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.cli import main
from bot.sandbox.slack_emulator import SlackEmulator
from tests.fixtures.slack import BOT_TOKEN, SIGNING_SECRET


@pytest.fixture
def slack_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    monkeypatch.setenv("CLONEBOT_DATA_DIR", str(tmp_path / "data"))
    policy = tmp_path / "policy.yaml"
    monkeypatch.setenv("CLONEBOT_POLICY_FILE", str(policy))
    return policy


def test_a_bad_policy_file_stops_the_bot_with_one_line_per_problem(
    slack_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    slack_env.write_text(
        "rules:\n"
        "  - name: big\n"
        "    when: {requestCpu: 'lots'}\n"
        "    approvals: 2\n"
        "    approver: [U0APP1]\n",
        encoding="utf-8",
    )
    assert main(["run"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "clone-bot: configuration: policy.yaml: rules[0] (big).when[0].requestCpu: bad "
        'threshold \'lots\': write it like ">= 16" or "<= 2"',
        "clone-bot: configuration: policy.yaml: rules[0] (big).approver: unknown field",
    ]
    assert not (slack_env.parent / "data").exists()  # nothing was written


async def test_a_policy_naming_an_unknown_user_group_stops_the_bot(
    slack_env: Path,
    slack_emu: SlackEmulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SLACK_API_URL", slack_emu.api_url)
    slack_env.write_text(
        "rules:\n  - name: leads\n    approvers: [S0APPROVERS, S0NOSUCH]\n", encoding="utf-8"
    )
    assert await asyncio.to_thread(main, ["run"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "clone-bot: configuration: policy.yaml: no user group S0NOSUCH in this Slack workspace"
    ]


async def test_a_user_group_named_in_a_step_or_escalate_to_is_checked_at_start(
    slack_env: Path,
    slack_emu: SlackEmulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SLACK_API_URL", slack_emu.api_url)
    slack_env.write_text(
        "rules:\n"
        "  - name: stepped\n"
        "    steps:\n"
        "      - approvers: [S0APPROVERS]\n"
        "      - approvers: [S0NOLEADS]\n"
        "    escalate_after: 2h\n"
        "    escalate_to: [S0NOONCALL]\n",
        encoding="utf-8",
    )
    assert await asyncio.to_thread(main, ["run"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert sorted(err) == [
        "clone-bot: configuration: policy.yaml: no user group S0NOLEADS in this Slack workspace",
        "clone-bot: configuration: policy.yaml: no user group S0NOONCALL in this Slack workspace",
    ]
    asked = {str(c.params.get("usergroup")) for c in slack_emu.state.calls("usergroups.users.list")}
    assert asked == {"S0APPROVERS", "S0NOLEADS", "S0NOONCALL"}
