"""Redis goes away: users are told to try again, /readyz fails, and the bot recovers by itself."""

from __future__ import annotations

import httpx

from bot.sandbox.slack_emulator import SlackEmulator
from tests.fixtures.bot import BotFactory
from tests.fixtures.redis_server import RedisServer
from tests.support.zstack_login import LOGINS, last_ephemeral_text, open_login, run, submit_login


async def test_redis_down_then_back(
    slack_emu: SlackEmulator, bot_factory: BotFactory, restartable_redis: RedisServer
) -> None:
    bot = await bot_factory(redis_url=restartable_redis.url)
    view_id = await open_login(slack_emu)
    await submit_login(slack_emu, view_id, LOGINS["account"])

    await restartable_redis.astop()
    await run(slack_emu, "whoami")
    text = last_ephemeral_text(slack_emu)
    assert "storage is unavailable" in text and "try again" in text
    assert "Traceback" not in text and "Error" not in text
    async with httpx.AsyncClient(base_url=bot.http_url or "") as http:
        ready = await http.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["redis"] is False

        await restartable_redis.astart()
        await run(slack_emu, "whoami")
        assert "alice" in last_ephemeral_text(slack_emu)  # AOF kept the session
        assert (await http.get("/readyz")).status_code == 200


async def test_login_while_redis_is_down_says_so_in_the_modal(
    slack_emu: SlackEmulator, bot_factory: BotFactory, restartable_redis: RedisServer
) -> None:
    await bot_factory(redis_url=restartable_redis.url)
    view_id = await open_login(slack_emu)
    await restartable_redis.astop()
    text = await submit_login(slack_emu, view_id, LOGINS["account"])
    assert "storage is unavailable" in text
