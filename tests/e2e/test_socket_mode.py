"""The same flows over Socket Mode: the bot connects with its app token; no HTTP from Slack."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.requests.model import State
from bot.runtime import Runtime
from bot.sandbox.slack_emulator import SlackEmulator
from bot.sandbox.zstack_sim import SimServer
from tests.e2e.helpers import APPROVALS, APPROVER, REQUESTER, login
from tests.fixtures.bot import bot_settings
from tests.fixtures.slack import APP_TOKEN
from tests.support.approval import click, request_clone, wait_completion, wait_state


@pytest.fixture
async def socket_bot(
    slack_emu_socket: SlackEmulator, zstack_sim: SimServer, redis_url: str, tmp_path: Path
) -> AsyncIterator[Runtime]:
    # Socket Mode: the app token, and no signing secret (Socket Mode requests are not signed).
    settings = bot_settings(
        slack_emu_socket,
        zstack_sim,
        tmp_path,
        redis_url=redis_url,
        slack_app_token=APP_TOKEN,
        slack_signing_secret=None,
        approval_channel=APPROVALS,
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
