"""Requests that are not from Slack change nothing; secrets never reach Redis or the logs."""

from __future__ import annotations

import io
import logging
import time
from hashlib import sha512
from urllib.parse import urlencode

import httpx
import pytest
from slack_sdk.signature import SignatureVerifier

from bot.errors import StoreUnavailable
from bot.logs import configure_logging
from bot.runtime import Runtime
from bot.sandbox.slack_emulator import SlackEmulator
from bot.sandbox.zstack_sim import SimServer
from tests.fixtures.slack import SIGNING_SECRET
from tests.support import Canary, redis_snapshot, signed_delivery
from tests.support.zstack_login import LOGINS, open_login, run, submit_login

COMMAND = urlencode(
    {
        "team_id": "T0CLONE",
        "channel_id": "C0GENERAL",
        "user_id": "U0REQ",
        "command": "/zstack",
        "text": "login",
        "trigger_id": "1.2.abc",
        "response_url": "https://hooks.slack.com/commands/T0CLONE/1/xyz",
    }
)


def signed(body: str, *, secret: str = SIGNING_SECRET, age_s: int = 0) -> dict[str, str]:
    timestamp = str(int(time.time()) - age_s)
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    return {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature or "",
        "Content-Type": "application/x-www-form-urlencoded",
    }


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "application/x-www-form-urlencoded"},
        signed(COMMAND, secret="not-the-secret"),
        signed(COMMAND, age_s=6 * 60),
        {**signed(COMMAND), "X-Slack-Signature": "v0=" + "0" * 64},
    ],
    ids=["missing", "wrong-secret", "six-minutes-old", "forged"],
)
async def test_unsigned_or_stale_requests_get_401_and_change_nothing(
    bot: Runtime, slack_emu: SlackEmulator, headers: dict[str, str]
) -> None:
    calls_before = len(slack_emu.state.calls())
    async with httpx.AsyncClient(base_url=bot.http_url or "") as http:
        response = await http.post("/slack/events", content=COMMAND, headers=headers)
    assert response.status_code == 401
    assert len(slack_emu.state.calls()) == calls_before
    assert await bot.deps.redis.client.dbsize() == 0


async def test_a_correctly_signed_request_is_accepted(bot: Runtime) -> None:
    async with httpx.AsyncClient(base_url=bot.http_url or "") as http:
        response = await http.post("/slack/events", content=COMMAND, headers=signed(COMMAND))
    assert response.status_code == 200, response.text


async def test_redis_and_logs_never_hold_a_session_uuid_or_password(
    bot: Runtime, slack_emu: SlackEmulator, zstack_sim: SimServer
) -> None:
    stream = io.StringIO()
    configure_logging("DEBUG", "json", stream=stream)
    tokens: set[str] = set()  # every session ZStack handed out during the flow
    try:
        for kind in ("account", "user", "iam2", "account"):
            view_id = await open_login(slack_emu)
            await submit_login(slack_emu, view_id, LOGINS[kind])
            tokens |= set(zstack_sim.state.identity.sessions)
            await run(slack_emu, "whoami")
        await run(slack_emu, "logout")
    finally:
        logging.getLogger().handlers.clear()
    assert len(tokens) == 4
    passwords = {"alice-pass", "bob-pass", "carol-pass"}
    forbidden = tokens | passwords | {sha512(p.encode()).hexdigest() for p in passwords}
    client = bot.deps.redis.client
    dump = []
    async for key in client.scan_iter("*"):
        dump.append(str(key))
        kind = (await client.type(key)).decode()
        if kind == "string":
            dump.append(str(await client.get(key)))
        elif kind == "hash":
            dump.append(str(await client.hgetall(key)))
    everything = "\n".join(dump) + stream.getvalue()
    assert stream.getvalue(), "the flow logged something"
    for secret in forbidden:
        assert secret not in everything


# -- nothing acts on an unverified request ------------------------------------------------------


def hostile_command(response_url: str) -> str:
    """A command body naming an outside response_url and real user ids, as an attacker sends."""
    return urlencode(
        {
            "team_id": "T0CLONE",
            "channel_id": "C0GENERAL",
            "user_id": "U0REQ",
            "command": "/clone-model",
            "text": "status CR-AAAAAA",
            "trigger_id": "1.2.abc",
            "response_url": response_url,
        }
    )


@pytest.mark.parametrize(
    "timestamp", ["abc", "1.5", "", "+5", "0x10", "1_700_000_000", "9" * 40, "-5"]
)
async def test_a_malformed_timestamp_is_refused_before_anything_reads_the_body(
    bot: Runtime, slack_emu: SlackEmulator, timestamp: str
) -> None:
    """Bolt's verifier raises on such a timestamp and its error handler then answered the
    unverified body's response_url; now the request stops at the door."""
    async with Canary() as canary:
        body = hostile_command(canary.url)
        before = await redis_snapshot(bot.deps.redis.client)
        calls_before = len(slack_emu.state.calls())
        headers = {
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": "v0=" + "0" * 64,
            "Content-Type": "application/x-www-form-urlencoded",
        }
        async with httpx.AsyncClient(base_url=bot.http_url or "") as http:
            response = await http.post("/slack/events", content=body, headers=headers)
        assert response.status_code == 401
        assert canary.hits == []
    assert len(slack_emu.state.calls()) == calls_before
    assert await redis_snapshot(bot.deps.redis.client) == before


@pytest.mark.parametrize(
    "body",
    [b"\xff\xfe\x00garbage", b"{not json", b"payload=%7Bnot-json", b"[1,2,3]", b"x" * 5000],
    ids=["binary", "broken-json", "broken-payload", "json-list", "noise"],
)
async def test_unsigned_garbage_gets_401_and_one_warning_line_not_a_traceback(
    bot: Runtime, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with httpx.AsyncClient(base_url=bot.http_url or "") as http:
        statuses = [
            (
                await http.post("/slack/events", content=body, headers={"Content-Type": ct})
            ).status_code
            for ct in ("application/json", "application/x-www-form-urlencoded") * 10
        ]
    assert statuses == [401] * 20
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) <= 1, [r.getMessage() for r in warnings]
    assert not any(r.exc_info for r in caplog.records)


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", "{not json"),
        ("application/json", "[1, 2]"),
        ("application/x-www-form-urlencoded", "payload=%7Bbroken"),
        ("application/json", "[" * 5000),
        ("application/x-www-form-urlencoded", "garbage"),
        ("application/x-www-form-urlencoded", "foo=bar"),
        ("text/plain", "foo=bar"),
        ("application/json", '{"hello": "world"}'),
    ],
    ids=[
        "broken-json",
        "json-list",
        "broken-payload",
        "deep-json",
        "form-word",
        "form-pair",
        "text-pair",
        "untyped-json",
    ],
)
async def test_a_signed_body_that_is_not_a_payload_gets_400(
    bot: Runtime, slack_emu: SlackEmulator, content_type: str, body: str
) -> None:
    calls_before = len(slack_emu.state.calls())
    headers = {**signed(body), "Content-Type": content_type}
    async with httpx.AsyncClient(base_url=bot.http_url or "") as http:
        response = await http.post("/slack/events", content=body, headers=headers)
    assert response.status_code == 400
    assert len(slack_emu.state.calls()) == calls_before


async def test_a_signed_payload_missing_what_listeners_read_gets_400(
    bot: Runtime, slack_emu: SlackEmulator
) -> None:
    """Signed but not what Slack sends (no user on a view submission): no listener runs, no 500."""
    payload = {"type": "view_submission", "view": {"id": "V1", "callback_id": "clone_model"}}
    body, headers = signed_delivery(SIGNING_SECRET, "interactive", payload)
    calls_before = len(slack_emu.state.calls())
    async with httpx.AsyncClient(base_url=bot.http_url or "") as http:
        response = await http.post("/slack/events", content=body, headers=headers)
    assert response.status_code == 400
    assert len(slack_emu.state.calls()) == calls_before


async def test_the_error_handler_never_calls_a_response_url_outside_slack(
    bot: Runtime, slack_emu: SlackEmulator
) -> None:
    """Behind the door's own check: given a body naming an outside response_url, the error
    handler answers through the Web API instead (an ephemeral), never through that URL."""
    async with Canary() as canary:
        body = {"user_id": "U0REQ", "channel_id": "C0GENERAL", "response_url": canary.url}
        await bot.deps.reporter.report(StoreUnavailable("redis down"), body, bot.client)
        told = await slack_emu.wait_for(lambda: slack_emu.state.ephemerals("U0REQ"))
        assert "storage is unavailable" in told[-1].text
        assert canary.hits == []


async def test_a_signed_request_naming_a_response_url_outside_slack_gets_400(
    bot: Runtime, slack_emu: SlackEmulator
) -> None:
    """The bot posts to a payload's response_url (``respond()``), so even a signed payload may
    name only Slack's hooks host: anything else is refused at the door and never called."""
    async with Canary() as canary:
        body = hostile_command(canary.url).replace("status+CR-AAAAAA", "help")
        calls_before = len(slack_emu.state.calls())
        async with httpx.AsyncClient(base_url=bot.http_url or "") as http:
            response = await http.post("/slack/events", content=body, headers=signed(body))
        assert response.status_code == 400
        assert canary.hits == []
    assert len(slack_emu.state.calls()) == calls_before
