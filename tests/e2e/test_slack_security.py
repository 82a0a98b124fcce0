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

from bot.logs import configure_logging
from bot.runtime import Runtime
from bot.sandbox.slack_emulator import SlackEmulator
from bot.sandbox.zstack_sim import SimServer
from tests.e2e.test_zstack_login import LOGINS, open_login, run, submit_login
from tests.fixtures.slack import SIGNING_SECRET

COMMAND = urlencode(
    {
        "team_id": "T0CLONE",
        "channel_id": "C0GENERAL",
        "user_id": "U0REQ",
        "command": "/zstack",
        "text": "login",
        "trigger_id": "1.2.abc",
        "response_url": "http://127.0.0.1:9/none",
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
