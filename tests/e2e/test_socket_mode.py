"""The same flows over Socket Mode: the bot connects with its app token; no HTTP from Slack."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import Settings
from bot.requests.model import State
from bot.runtime import Runtime
from bot.sandbox.slack_emulator import SlackEmulator
from bot.sandbox.zstack_sim import SimServer
from tests.e2e.helpers import APPROVALS, APPROVER, REQUESTER, login
from tests.fixtures.bot import SESSION_KEY
from tests.fixtures.slack import APP_TOKEN, BOT_TOKEN
from tests.support.approval import click, request_clone, wait_completion, wait_state


@pytest.fixture
async def socket_bot(
    slack_emu_socket: SlackEmulator, zstack_sim: SimServer, redis_url: str, tmp_path: Path
) -> AsyncIterator[Runtime]:
    settings = Settings(
        slack_bot_token=BOT_TOKEN,
        slack_app_token=APP_TOKEN,
        slack_api_url=slack_emu_socket.api_url,
        zstack_url=zstack_sim.url,
        redis_url=redis_url,
        session_key=SESSION_KEY,
        data_dir=tmp_path / "data",
        approval_channel=APPROVALS,
        poll_initial_s=0.05,
        poll_max_s=0.2,
    )
    runtime = await Runtime.start(settings)
    try:
        await runtime.serve_http("127.0.0.1", 0)
        await runtime.start_socket_mode()
        await slack_emu_socket.wait_socket_connections(1)
        yield runtime
    finally:
        await runtime.aclose()


async def test_login_and_a_whole_clone_over_socket_mode(
    slack_emu_socket: SlackEmulator, socket_bot: Runtime
) -> None:
    emu = slack_emu_socket
    await login(emu)
    record = await request_clone(emu, socket_bot)
    await click(emu, APPROVER, record, "request_approve")
    done = await wait_state(socket_bot, record.id, State.SUCCEEDED)
    await wait_completion(emu, done, "Cloned: example-clone")
    assert all(d.via == "socket" for d in emu.state.deliveries)
    assert emu.state.dms(REQUESTER)
    assert not emu.validation_failures
