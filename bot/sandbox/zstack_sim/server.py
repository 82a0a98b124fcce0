"""Serving the simulator: the aiohttp application, ``SimServer`` for tests, ``run_simulator``."""

from __future__ import annotations

import asyncio
import logging
from types import TracebackType

from aiohttp import web

from bot.sandbox.zstack_sim import seed
from bot.sandbox.zstack_sim.clock import Clock
from bot.sandbox.zstack_sim.control import add_control_routes
from bot.sandbox.zstack_sim.rest import SIM_KEY, dispatch
from bot.sandbox.zstack_sim.state import CloneMode, SimConfig, ZStackSimulator

log = logging.getLogger(__name__)

# In-flight requests (e.g. a simulated hang) must not hold a shutdown for long.
_SHUTDOWN_TIMEOUT_S = 1.0


def build_app(sim: ZStackSimulator) -> web.Application:
    """The aiohttp application: ZStack's REST API under ``/zstack`` and the ``/_sim`` controls."""
    app = web.Application()
    app[SIM_KEY] = sim
    app.router.add_route("*", "/zstack", dispatch)
    app.router.add_route("*", "/zstack/{tail:.*}", dispatch)
    add_control_routes(app)

    async def _close(app: web.Application) -> None:
        await app[SIM_KEY].close()

    app.on_cleanup.append(_close)
    return app


class SimServer:
    """``async with SimServer() as sim:`` serves a fresh simulator on a real port.

    ``sim.url`` is the address to call (the real port, even with ``port=0``); ``sim.state`` is
    the ``ZStackSimulator``. Leaving the block cancels running jobs and webhook deliveries.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        clock: Clock | None = None,
        advertised_base_url: str | None = None,
        config: SimConfig | None = None,
    ) -> None:
        config = config or SimConfig()
        if advertised_base_url is not None:
            config.advertised_base_url = advertised_base_url
        self.host = host
        self.port = port
        self.state = ZStackSimulator(clock=clock, config=config)
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> SimServer:
        runner = web.AppRunner(
            build_app(self.state), access_log=None, shutdown_timeout=_SHUTDOWN_TIMEOUT_S
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"http://{host}:{self.port}"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.state.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


async def run_simulator(
    host: str, port: int, *, sync: bool = False, advertised_base_url: str | None = None
) -> None:
    """Serve the simulator until cancelled, logging its URL and the demo identities."""
    config = SimConfig(clone_mode=CloneMode.SYNC if sync else CloneMode.ASYNC)
    async with SimServer(host, port, advertised_base_url=advertised_base_url, config=config) as sim:
        log.info(
            "ZStack simulator on %s/zstack/v1 (controls: %s/_sim/state); clone mode %s;"
            " job locations advertise %s",
            sim.url,
            sim.url,
            config.clone_mode.value,
            sim.state.config.advertised_base_url,
        )
        for acc in seed.DEMO_ACCOUNTS:
            log.info("  account %s / %s", acc.name, acc.password)
        for user in seed.DEMO_USERS:
            log.info("  IAM user %s (account %s) / %s", user.name, user.account, user.password)
        for vid in seed.DEMO_VIRTUAL_IDS:
            log.info("  IAM2 virtual ID %s / %s", vid.name, vid.password)
        await asyncio.Event().wait()
