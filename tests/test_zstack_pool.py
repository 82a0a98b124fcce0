"""The ZStack client's bound on requests in flight: a burst waits for a slot in the client (not
in httpcore's queue), at most ``max_connections`` reach ZStack at once, and a slot that stays busy
past the pool timeout is a timeout of a request never sent."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr

from bot.errors import ZStackTimeout, ZStackUnavailable
from bot.sandbox.zstack_sim import SimServer
from bot.zstack.client import KEEPALIVE_CONNECTIONS, MAX_IN_FLIGHT, ZStackClient
from bot.zstack.lanes import PoolLanes
from tests.fixtures.zstack import alice_session


class CountingTransport(httpx.AsyncBaseTransport):
    """The real transport, counting the requests it has in flight."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.in_flight = 0
        self.peak = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            response = await self._inner.handle_async_request(request)
            await response.aread()
            return response
        finally:
            self.in_flight -= 1

    async def aclose(self) -> None:
        await self._inner.aclose()


def test_the_default_pool_fits_a_burst_and_keeps_few_idle_connections() -> None:
    # 200 commands at once, two lookups each, all in flight together.
    assert MAX_IN_FLIGHT >= 400
    assert KEEPALIVE_CONNECTIONS <= 64


async def test_requests_in_flight_never_exceed_the_bound(zstack_sim: SimServer) -> None:
    transport = CountingTransport()
    async with ZStackClient(
        zstack_sim.url,
        timeout=httpx.Timeout(5.0),
        transport=transport,
        limits=httpx.Limits(max_connections=3),
    ) as client:
        session = await alice_session(client)
        zstack_sim.state.set_latency(0.2, ["QueryModelService"])
        found = await asyncio.gather(
            *(
                client.model_services_named(session, "example", exact=True, limit=10)
                for _ in range(10)
            )
        )
    assert all(len(each) == 1 for each in found)
    assert transport.peak == 3


async def test_waiting_longer_than_the_pool_timeout_for_a_slot_is_a_timeout(
    zstack_sim: SimServer,
) -> None:
    transport = CountingTransport()
    async with ZStackClient(
        zstack_sim.url,
        timeout=httpx.Timeout(5.0, pool=0.1),
        transport=transport,
        limits=httpx.Limits(max_connections=1),
    ) as client:
        session = await alice_session(client)
        zstack_sim.state.set_latency(0.5, ["QueryModelService"])
        first = asyncio.create_task(
            client.model_services_named(session, "example", exact=True, limit=10)
        )
        while transport.in_flight == 0:  # the first holds the only slot
            await asyncio.sleep(0.01)
        with pytest.raises(ZStackTimeout) as waited:
            await client.model_services_named(session, "example", exact=True, limit=10)
        assert waited.value.maybe_received is False
        assert len(await first) == 1


@contextlib.asynccontextmanager
async def _four_lanes(
    zstack_sim: SimServer,
) -> AsyncIterator[tuple[PoolLanes, ZStackClient, SecretStr]]:
    """A client over four lanes of 10 connections (2 kept alive each), logged in."""
    lanes = PoolLanes(httpx.Limits(max_connections=40, max_keepalive_connections=8), lanes=4)
    async with ZStackClient(zstack_sim.url, timeout=httpx.Timeout(5.0), transport=lanes) as client:
        yield lanes, client, await alice_session(client)


async def test_the_lanes_share_a_burst_and_free_each_slot_when_the_answer_is_read(
    zstack_sim: SimServer,
) -> None:
    async with _four_lanes(zstack_sim) as (lanes, client, session):
        zstack_sim.state.set_latency(0.3, ["QueryModelService"])
        burst = [
            asyncio.create_task(
                client.model_services_named(session, "example", exact=True, limit=10)
            )
            for _ in range(20)
        ]
        while sum(lanes.busy) < 20:  # all sent: each lane took its share
            await asyncio.sleep(0.01)
        assert lanes.busy == [5, 5, 5, 5]
        assert all(len(found) == 1 for found in await asyncio.gather(*burst))
        assert lanes.busy == [0, 0, 0, 0]


async def test_a_request_that_fails_gives_its_lane_back() -> None:
    lanes = PoolLanes(httpx.Limits(max_connections=8), lanes=2)
    async with ZStackClient(
        "http://127.0.0.1:9", timeout=httpx.Timeout(2.0), transport=lanes
    ) as client:  # nothing listens there
        for _ in range(3):
            with pytest.raises(ZStackUnavailable):
                await client.model_services_named(SecretStr("s"), "example", exact=True, limit=10)
    assert lanes.busy == [0, 0] and lanes.served == [3, 0]


async def test_one_request_at_a_time_always_takes_the_first_lane(
    zstack_sim: SimServer,
) -> None:
    async with _four_lanes(zstack_sim) as (lanes, client, session):
        for _ in range(5):
            await client.model_services_named(session, "example", exact=True, limit=10)
        assert lanes.busy == [0, 0, 0, 0]
        assert lanes.served == [6, 0, 0, 0]  # the login and five queries, on the first lane
