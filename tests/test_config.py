from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import REDIS_URL_SCHEMES, Settings
from bot.errors import ConfigError
from bot.store.urls import parse_redis_url


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


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({}, None),
        ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}, None),
        ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"}, None),
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET is missing: HTTP mode needs it"),
        ({"SLACK_SIGNING_SECRET": "s"}, "SLACK_BOT_TOKEN is missing: HTTP mode needs"),
        ({"SLACK_APP_TOKEN": "xapp-1"}, "SLACK_BOT_TOKEN is missing: Socket Mode needs"),
        (
            {"SLACK_SIGNING_SECRET": "s", "SLACK_APP_TOKEN": "xapp-1"},
            "SLACK_BOT_TOKEN is missing: both Socket Mode",
        ),
    ],
)
def test_partial_slack_credentials_name_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], missing: str | None
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    said = Settings.load().missing_slack_credentials()
    if missing is None:
        assert said is None
    else:
        assert said is not None and said.startswith(missing) and "\n" not in said


def test_approvers_that_are_not_slack_ids_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLONEBOT_APPROVERS", "U0APP1, W0GRID, S0GROUP, avery, @jordan, u0low")
    with pytest.raises(ConfigError) as caught:
        Settings.load()
    (problem,) = caught.value.problems
    assert problem.startswith("CLONEBOT_APPROVERS: not Slack IDs: avery, @jordan, u0low (")


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://:hunter2@cache:6379/0", "REDIS_URL: unknown scheme http://: use redis://"),
        ("cache:6379", "REDIS_URL: not a URL: use redis://"),
        ("hunter2@cache://x", "REDIS_URL: unknown scheme the scheme: use redis://"),
    ],
)
def test_a_redis_url_of_an_unknown_scheme_is_refused_without_its_password(
    monkeypatch: pytest.MonkeyPatch, url: str, problem: str
) -> None:
    monkeypatch.setenv("REDIS_URL", url)
    with pytest.raises(ConfigError) as caught:
        Settings.load()
    (said,) = caught.value.problems
    assert said.startswith(problem)
    assert "hunter2" not in said


def test_every_redis_scheme_the_settings_accept_is_one_the_store_parses() -> None:
    for scheme in REDIS_URL_SCHEMES:
        url = f"{scheme}://" + ("/run/redis.sock" if scheme == "unix" else "h:1/svc")
        if "cluster" in scheme:
            url = f"{scheme}://h:1"
        assert Settings(redis_url=url).redis_url == url
        assert parse_redis_url(url).address
