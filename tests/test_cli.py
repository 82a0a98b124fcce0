from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import NO_SLACK, main


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


# --- `clone-bot run` as an operator starts it: a separate process, a clean environment -------

BOT_TOKEN = "xoxb-startup-test"
SECRET = "startup-signing-secret"
CONFIG = "clone-bot: configuration: "


def bot_env(**values: str) -> dict[str, str]:
    """The environment without any setting of ours, plus ``values``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "ZSTACK_", "CLONEBOT_", "REDIS_"))
    }
    # Slack is never called at start; should it be, the call goes nowhere.
    env["SLACK_API_URL"] = "http://127.0.0.1:9/api/"
    return env | values


def run_bot(cwd: Path, **values: str) -> subprocess.CompletedProcess[str]:
    cwd.mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        cwd=cwd,
        env=bot_env(**values),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "line"),
    [
        (
            {"SLACK_BOT_TOKEN": BOT_TOKEN},
            "clone-bot: SLACK_SIGNING_SECRET is missing: HTTP mode needs it with SLACK_BOT_TOKEN "
            "(or set SLACK_APP_TOKEN for Socket Mode)",
        ),
        (
            {"SLACK_APP_TOKEN": "xapp-1-startup"},
            "clone-bot: SLACK_BOT_TOKEN is missing: Socket Mode needs the bot token (xoxb-…) "
            "with SLACK_APP_TOKEN",
        ),
        (
            {"SLACK_SIGNING_SECRET": SECRET},
            "clone-bot: SLACK_BOT_TOKEN is missing: HTTP mode needs the bot token (xoxb-…) "
            "with SLACK_SIGNING_SECRET",
        ),
        (
            {"SLACK_SIGNING_SECRET": SECRET, "SLACK_APP_TOKEN": "xapp-1-startup"},
            "clone-bot: SLACK_BOT_TOKEN is missing: both Socket Mode (SLACK_APP_TOKEN) and HTTP "
            "mode (SLACK_SIGNING_SECRET) need the bot token (xoxb-…) too",
        ),
        ({}, NO_SLACK),
    ],
    ids=["bot-token-alone", "app-token-alone", "secret-alone", "no-bot-token", "none"],
)
def test_incomplete_slack_credentials_say_what_is_missing(
    tmp_path: Path, env: dict[str, str], line: str
) -> None:
    done = run_bot(tmp_path, **env)
    assert (done.returncode, done.stdout, done.stderr) == (2, "", line + "\n")
    assert list(tmp_path.iterdir()) == []


def test_bad_settings_are_refused_together_before_anything_is_written(tmp_path: Path) -> None:
    done = run_bot(
        tmp_path,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SECRET,
        CLONEBOT_APPROVERS="U0APP1,avery,@jordan",
        REDIS_URL="http://:hunter2@cache.example:6379/0",
        CLONEBOT_PORT="eighty",
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines() == [
        CONFIG + "REDIS_URL: unknown scheme http://: use redis://, rediss://, unix://, "
        "redis+sentinel:// or redis+cluster://",
        CONFIG + "CLONEBOT_APPROVERS: not Slack IDs: avery, @jordan (use member IDs U… or W…, "
        "from the profile's ⋮ → Copy member ID, and user-group IDs S…, not names)",
        CONFIG + "CLONEBOT_PORT: Input should be a valid integer, unable to parse string as an "
        "integer",
    ]
    assert "hunter2" not in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_malformed_redis_url_is_refused_before_the_session_key_is_written(
    tmp_path: Path,
) -> None:
    # The scheme is right, the port is not: the store's own parser says so, still first.
    done = run_bot(
        tmp_path,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SECRET,
        REDIS_URL="redis://:hunter2@cache.example:99999/0",
    )
    assert (done.returncode, done.stdout, done.stderr) == (
        2,
        "",
        CONFIG + "REDIS_URL (redis://:***@cache.example:99999/0): Port out of range 0-65535\n",
    )
    assert list(tmp_path.iterdir()) == []
