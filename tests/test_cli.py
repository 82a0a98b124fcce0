from __future__ import annotations

import pytest

from bot.cli import main


def test_run_without_slack_credentials_points_to_the_sandbox(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["run"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "no Slack credentials" in err[0] and "clone-bot sandbox" in err[0]


def test_bad_configuration_is_one_line_per_problem(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLONEBOT_PORT", "x")
    monkeypatch.setenv("ZSTACK_URL", "nope")
    assert main(["run"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2
    assert all(line.startswith("clone-bot: configuration: ") for line in err)
    assert "Traceback" not in "".join(err)
