from __future__ import annotations

import io
import json
import logging

import pytest

from bot.config import Settings
from bot.logs import SecretRegistry, configure_logging, scrub, secrets
from bot.sandbox.slack_emulator import SlackEmulator
from bot.slack.client import build_web_client
from tests.fixtures.slack import BOT_TOKEN


@pytest.fixture
def captured() -> io.StringIO:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)
    yield stream
    logging.getLogger().handlers.clear()


def test_patterns_are_redacted() -> None:
    text = scrub(
        "Authorization: OAuth 0123456789abcdef0123456789abcdef token xoxb-1-2-abc "
        "app xapp-1-A-xyz GET /v1/accounts/sessions/0123456789abcdef0123456789abcdef/valid "
        '{"password": "5e884898da"}'
    )
    for secret in ("0123456789abcdef", "xoxb-1-2-abc", "xapp-1-A-xyz", "5e884898da"):
        assert secret not in text


def test_registered_values_are_redacted_anywhere() -> None:
    registry = SecretRegistry(limit=2)
    registry.add("first-secret-value", "second-secret-value", "third-secret-value")
    assert list(registry) == ["second-secret-value", "third-secret-value"]
    assert scrub("x third-secret-value y", registry) == "x [redacted] y"


def test_log_lines_are_json_and_scrubbed(captured: io.StringIO) -> None:
    secrets.add("sessionuuid-abcdef-0123456789")
    log = logging.getLogger("bot.test")
    log.info("using %s", "sessionuuid-abcdef-0123456789", extra={"request_id": "CR-1"})
    try:
        raise RuntimeError("failed with OAuth deadbeefdeadbeefdeadbeefdeadbeef")
    except RuntimeError:
        log.exception("boom")
    lines = [json.loads(line) for line in captured.getvalue().splitlines()]
    assert lines[0]["request_id"] == "CR-1"
    assert "sessionuuid-abcdef" not in captured.getvalue()
    assert "deadbeefdeadbeef" not in captured.getvalue()
    assert lines[1]["level"] == "error"


async def test_bolt_does_not_warn_about_the_token_our_client_holds(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    from bot.app import _BOLT_LOGGER

    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    with caplog.at_level(logging.WARNING):
        AsyncApp(client=AsyncWebClient(token="xoxb-test"), signing_secret="s", logger=_BOLT_LOGGER)
        _BOLT_LOGGER.warning("something else Bolt says")
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["something else Bolt says"]


async def test_slack_sdk_formats_no_debug_lines_below_debug(
    slack_emu: SlackEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """slack_sdk formats whole requests and responses whenever its module logger's own level is
    unset; at INFO a Web API call through the bot's client must not pay for that."""
    client = build_web_client(Settings(slack_bot_token=BOT_TOKEN, slack_api_url=slack_emu.api_url))
    formatted: list[str] = []

    def count(message: object, *_args: object, **_kwargs: object) -> None:
        formatted.append(str(message))

    loggers = [client.logger, logging.getLogger("slack_sdk.web.async_slack_response")]
    for each in loggers:
        monkeypatch.setattr(each, "debug", count)
        monkeypatch.setattr(each, "level", logging.NOTSET)
    await client.auth_test()
    assert formatted, "slack_sdk no longer formats debug lines at an unset level"

    formatted.clear()
    configure_logging("INFO", "json", stream=io.StringIO())
    try:
        await client.auth_test()
        await client.chat_postMessage(channel="C0GENERAL", text="hello")
    finally:
        logging.getLogger().handlers.clear()
    assert formatted == []
    assert all(each.level == logging.WARNING for each in loggers)
