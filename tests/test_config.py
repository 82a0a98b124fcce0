from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Settings
from bot.errors import ConfigError


def test_defaults_need_nothing() -> None:
    settings = Settings.load()
    assert settings.port == 3000
    assert settings.host == "127.0.0.1"
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.approvals_required == 1
    assert not settings.has_slack_credentials


def test_environment_names_from_the_design(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": "s3cret",
        "SLACK_API_URL": "http://127.0.0.1:9/api",
        "ZSTACK_URL": "http://zs.example:8080/",
        "ZSTACK_TIMEOUT_S": "7.5",
        "CLONEBOT_APPROVERS": "U1, S2 ,",
        "CLONEBOT_APPROVALS_REQUIRED": "2",
        "CLONEBOT_ALLOW_SELF_APPROVAL": "true",
        "CLONEBOT_PUBLIC_URL": "https://bot.example/",
        "CLONEBOT_LOG_LEVEL": "debug",
        "CLONEBOT_LOG_FORMAT": "json",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = Settings.load()
    assert settings.has_slack_credentials and not settings.socket_mode
    assert settings.slack_api_url.endswith("/api/")
    assert settings.zstack_url == "http://zs.example:8080"
    assert settings.zstack_timeout_s == 7.5
    assert settings.approvers == ["U1", "S2"]
    assert settings.approvals_required == 2 and settings.allow_self_approval
    assert settings.public_url == "https://bot.example"
    assert settings.log_level == "DEBUG" and settings.log_format == "json"


def test_dotenv_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("CLONEBOT_PORT=4100\nSLACK_APP_TOKEN=xapp-1-abc\n")
    monkeypatch.chdir(tmp_path)
    settings = Settings.load()
    assert settings.port == 4100
    assert settings.socket_mode


def test_every_problem_is_one_line_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLONEBOT_PORT", "eighty")
    monkeypatch.setenv("ZSTACK_URL", "zstack.example")
    monkeypatch.setenv("CLONEBOT_APPROVALS_REQUIRED", "0")
    monkeypatch.setenv("CLONEBOT_LOG_FORMAT", "xml")
    monkeypatch.setenv("ZSTACK_CA_BUNDLE", "/nonexistent/ca.pem")
    with pytest.raises(ConfigError) as caught:
        Settings.load()
    problems = caught.value.problems
    assert len(problems) == 5
    names = [p.split(":", 1)[0] for p in problems]
    assert set(names) == {
        "CLONEBOT_PORT",
        "ZSTACK_URL",
        "CLONEBOT_APPROVALS_REQUIRED",
        "CLONEBOT_LOG_FORMAT",
        "ZSTACK_CA_BUNDLE",
    }
    assert all("\n" not in p for p in problems)


def test_token_values_never_appear_in_problems(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "not-a-bot-token-SECRETVALUE")
    with pytest.raises(ConfigError) as caught:
        Settings.load()
    assert "SECRETVALUE" not in str(caught.value)
    assert "SLACK_BOT_TOKEN" in str(caught.value)


def test_blank_secrets_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "  ")
    assert Settings.load().slack_bot_token is None
