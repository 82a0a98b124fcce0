"""Several small connection pools in place of one big one, for the ZStack client.

httpcore looks at every connection of a pool (``has_expired``: a socket call each) whenever a
request starts or ends, so one pool sized for a burst (hundreds of connections) costs time in
proportion to its size on every request. ``PoolLanes`` gives each request the least busy of a
few pools, each a fraction of the size: the bookkeeping stays small, the total is the same.
"""

from __future__ import annotations

import math
import ssl
from collections.abc import AsyncIterator, Callable

import httpx

from bot.zstack.network import AsyncioTransport

LANES = 8


class PoolLanes(httpx.AsyncBaseTransport):
    """``lanes`` HTTP transports sharing ``limits`` (connections and idle ones alike). Taking
    the least busy lane spreads concurrent requests evenly, and one request at a time always
    goes to the first lane, reusing its connection."""

    def __init__(
        self, limits: httpx.Limits, *, verify: bool | ssl.SSLContext = True, lanes: int = LANES
    ) -> None:
        most, idle = limits.max_connections, limits.max_keepalive_connections
        per_lane = httpx.Limits(
            max_connections=math.ceil(most / lanes) if most else None,
            max_keepalive_connections=math.ceil(idle / lanes) if idle else idle,
            keepalive_expiry=limits.keepalive_expiry,
        )
        self._lanes = [AsyncioTransport(verify=verify, limits=per_lane) for _ in range(lanes)]
        self._busy = [0] * lanes
        self._served = [0] * lanes

    @property
    def busy(self) -> list[int]:
        """Requests in flight per lane (until each response is closed)."""
        return list(self._busy)

    @property
    def served(self) -> list[int]:
        """Requests each lane took."""
        return list(self._served)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        lane = min(range(len(self._lanes)), key=self._busy.__getitem__)
        self._busy[lane] += 1
        self._served[lane] += 1
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._busy[lane] -= 1

        try:
            response = await self._lanes[lane].handle_async_request(request)
        except BaseException:
            release()
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _Counted(response.stream, release)
        return response

    async def aclose(self) -> None:
        for lane in self._lanes:
            await lane.aclose()


class _Counted(httpx.AsyncByteStream):
    """A response body that tells its lane when it is closed (its connection is free then)."""

    def __init__(self, stream: httpx.AsyncByteStream, on_close: Callable[[], None]) -> None:
        self._stream = stream
        self._on_close = on_close

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            self._on_close()
