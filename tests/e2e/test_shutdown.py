"""Shutting down lets the work a delivery started finish, outbox runs it starts included."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.runtime import Runtime
from bot.sandbox.slack_emulator import SlackEmulator
from bot.sandbox.zstack_sim import SimServer
from tests.e2e.helpers import APPROVALS
from tests.fixtures.bot import bot_settings
from tests.support import wait_until
from tests.support.approval import request_clone


async def test_an_outbox_run_started_while_shutting_down_is_not_left_behind(
    slack_emu: SlackEmulator, zstack_sim: SimServer, redis_url: str, tmp_path: Path
) -> None:
    settings = bot_settings(
        slack_emu, zstack_sim, tmp_path, redis_url=redis_url, approval_channel=APPROVALS
    )
    bot = await Runtime.start(settings)
    port = await bot.serve_http("127.0.0.1", 0)
    slack_emu.app_url = f"http://127.0.0.1:{port}/slack/events"
    record = await request_clone(slack_emu, bot)
    release = asyncio.Event()

    async def late_work() -> None:  # a delivery's work that changes a request at the very end
        await release.wait()
        bot.deps.outbox.kick(record.id)

    bot.deps.background.spawn(late_work(), body={}, client=bot.deps.notifier.client)
    closing = asyncio.ensure_future(bot.aclose())
    # The listener is closed (no new deliveries): the work already started goes on.
    await wait_until(lambda: all(runner.server is None for runner in bot.runners))
    release.set()
    await closing
    assert bot.deps.background.in_flight == 0
    assert bot.deps.outbox.in_flight == 0, "an outbox run outlived the shutdown"
