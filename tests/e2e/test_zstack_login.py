"""``/zstack`` end to end: the emulator plays Slack, the simulator plays ZStack, Redis is real."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

from bot.runtime import Runtime
from bot.sandbox.slack_emulator import SlackEmulator
from bot.sandbox.zstack_sim import SimServer
from tests.fixtures.bot import BotFactory
from tests.support.zstack_login import (
    LOGINS,
    USER,
    last_ephemeral_text,
    open_login,
    run,
    submit_login,
)

IDENTITIES = {"account": "alice", "user": "alice/bob", "iam2": "carol"}


@pytest.mark.parametrize("kind", sorted(LOGINS))
async def test_login_then_whoami_shows_identity_and_expiry(
    slack_emu: SlackEmulator, bot: Runtime, kind: str
) -> None:
    view_id = await open_login(slack_emu)
    text = await submit_login(slack_emu, view_id, LOGINS[kind])
    assert "Logged in to ZStack" in text and IDENTITIES[kind] in text
    await run(slack_emu, "whoami")
    whoami = last_ephemeral_text(slack_emu)
    assert IDENTITIES[kind] in whoami
    assert "expires <!date^" in whoami
    assert not slack_emu.validation_failures


async def test_wrong_password_shows_zstack_reason_in_the_form(
    slack_emu: SlackEmulator, bot: Runtime
) -> None:
    view_id = await open_login(slack_emu)
    values = {**LOGINS["account"], "password": {"value": "wrong"}}
    text = await submit_login(slack_emu, view_id, values)
    assert "wrong account name or password" in text
    assert "Log in" in text  # back on the form, not closed
    await run(slack_emu, "whoami")
    assert "not logged in" in last_ephemeral_text(slack_emu)


async def test_missing_fields_are_field_errors(slack_emu: SlackEmulator, bot: Runtime) -> None:
    view_id = await open_login(slack_emu)
    delivery = await slack_emu.submit_view(
        USER, view_id, {"login_kind": {"kind": "user"}, "password": {"value": "x"}}
    )
    assert delivery.json()["response_action"] == "errors"
    errors = slack_emu.state.view(view_id).errors
    assert set(errors) == {"account_name", "user_name"}


async def test_zstack_unreachable_is_said_in_the_modal(
    slack_emu: SlackEmulator, bot_factory: BotFactory
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    await bot_factory(zstack_url=dead)
    view_id = await open_login(slack_emu)
    text = await submit_login(slack_emu, view_id, LOGINS["account"])
    assert "not reachable" in text


async def test_logout_then_whoami_says_logged_out(
    slack_emu: SlackEmulator, bot: Runtime, zstack_sim: SimServer
) -> None:
    view_id = await open_login(slack_emu)
    await submit_login(slack_emu, view_id, LOGINS["account"])
    await run(slack_emu, "logout")
    assert "Logged out" in last_ephemeral_text(slack_emu)
    await run(slack_emu, "whoami")
    assert "not logged in" in last_ephemeral_text(slack_emu)
    sessions = zstack_sim.state.snapshot()["sessions"]
    assert all(not s["valid"] for s in sessions)


async def test_session_expired_in_zstack_is_reported_and_forgotten(
    slack_emu: SlackEmulator, bot: Runtime, zstack_sim: SimServer, redis_url: str
) -> None:
    view_id = await open_login(slack_emu)
    await submit_login(slack_emu, view_id, LOGINS["account"])
    zstack_sim.state.expire_sessions(account="alice")
    await bot.deps.redis.client.delete(
        *[k async for k in bot.deps.redis.client.scan_iter("*validated*")]
    )
    await run(slack_emu, "whoami")
    assert "expired" in last_ephemeral_text(slack_emu)
    assert [k async for k in bot.deps.redis.client.scan_iter("*:session")] == []


async def test_help_and_unknown_subcommand(slack_emu: SlackEmulator, bot: Runtime) -> None:
    await run(slack_emu, "help")
    assert "/zstack login" in last_ephemeral_text(slack_emu)
    await run(slack_emu, "frobnicate")
    assert "don't know" in last_ephemeral_text(slack_emu)


async def test_health_and_readiness(bot: Runtime) -> None:
    async with httpx.AsyncClient(base_url=bot.http_url or "") as http:
        assert (await http.get("/healthz")).status_code == 200
        ready = await http.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"redis": True, "zstack": True}
        metrics = await http.get("/metrics")
        assert "clonebot_zstack_calls_total" in metrics.text


async def test_a_burst_of_readiness_probes_costs_one_zstack_call(
    bot: Runtime, zstack_sim: SimServer
) -> None:
    before = zstack_sim.state.counters()["requests_by_operation"].get("ValidateSession", 0)
    async with httpx.AsyncClient(base_url=bot.http_url or "") as http:
        answers = await asyncio.gather(*(http.get("/readyz") for _ in range(20)))
    assert [a.status_code for a in answers] == [200] * 20
    after = zstack_sim.state.counters()["requests_by_operation"].get("ValidateSession", 0)
    assert after - before == 1
