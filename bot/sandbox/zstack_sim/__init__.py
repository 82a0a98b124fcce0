"""A ZStack management node simulator (reference/zstack-api.md), for tests and the sandbox.

Modules: ``rest`` (the ``/zstack/v1`` REST layer), ``state`` (the node's state and operations),
``identity`` (accounts, users, sessions), ``query`` (query grammar), ``clone``
(CloneModelService), ``jobs`` (async jobs and webhooks), ``control`` (``/_sim`` API),
``seed`` (demo data), ``server`` (``SimServer``, ``run_simulator``).
"""

from bot.sandbox.zstack_sim.clock import Clock, SimClock
from bot.sandbox.zstack_sim.identity import sha512_hex
from bot.sandbox.zstack_sim.seed import (
    DEMO_ACCOUNTS,
    DEMO_USERS,
    DEMO_VIRTUAL_IDS,
    EXAMPLE_SERVICE_UUID,
)
from bot.sandbox.zstack_sim.server import SimServer, build_app, run_simulator
from bot.sandbox.zstack_sim.state import CloneMode, FaultPhase, SimConfig, ZStackSimulator

__all__ = [
    "DEMO_ACCOUNTS",
    "DEMO_USERS",
    "DEMO_VIRTUAL_IDS",
    "EXAMPLE_SERVICE_UUID",
    "Clock",
    "CloneMode",
    "FaultPhase",
    "SimClock",
    "SimConfig",
    "SimServer",
    "ZStackSimulator",
    "build_app",
    "run_simulator",
    "sha512_hex",
]
