"""The ack-path baseline: a bare ``AsyncApp`` whose ``/clone-model`` listener only acks.

It is served exactly like the bot (``python -m bot run``): settings from the environment, the
bot's logging set-up and Web API client, Bolt's aiohttp adapter behind ``POST /slack/events`` on
an aiohttp server, ``GET /healthz``. Only the listeners differ, so the difference in ack figures
is what the bot's own code costs. Run as ``python -m tests.bench.bare``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.config import Settings
from bot.logs import configure_logging
from bot.server import MAX_BODY_BYTES
from bot.slack.client import build_web_client


def build_bare_app(settings: Settings, session: aiohttp.ClientSession) -> web.Application:
    secret = settings.slack_signing_secret
    bolt = AsyncApp(
        client=build_web_client(settings, session=session),
        signing_secret=secret.get_secret_value() if secret else None,
        process_before_response=False,
        logger=logging.getLogger("slack_bolt.app"),
    )

    async def only_ack(ack: AsyncAck) -> None:
        await ack()

    bolt.command("/clone-model")(only_ack)

    async def slack_events(request: web.Request) -> web.Response:
        bolt_request = await to_bolt_request(request)
        bolt_response = await bolt.async_dispatch(bolt_request)
        return await to_aiohttp_response(bolt_response)

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app.router.add_post("/slack/events", slack_events)
    app.router.add_get("/healthz", healthz)
    return app


async def serve(settings: Settings) -> None:
    async with aiohttp.ClientSession() as session:
        runner = web.AppRunner(build_bare_app(settings, session), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, settings.host, settings.port).start()
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()


def main() -> None:
    settings = Settings.load()
    configure_logging(settings.log_level, settings.log_format)

    async def guarded() -> None:
        task = asyncio.ensure_future(serve(settings))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(guarded())


if __name__ == "__main__":
    main()
