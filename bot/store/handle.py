"""``RedisHandle``, what ``connect_redis`` hands out: the bot's one Redis client, a readiness
ping that never raises, and one ``aclose()`` for the client, the Sentinel clients and the
embedded server."""

from __future__ import annotations

import asyncio
import logging
from typing import Literal, TypeAlias

from redis.asyncio import Redis, RedisCluster
from redis.asyncio.sentinel import Sentinel

from bot.store.embedded import EmbeddedRedis
from bot.store.errors import REDIS_EXCEPTIONS

logger = logging.getLogger(__name__)

# ``ping()`` gives up after this long (readiness probes must answer quickly).
PING_TIMEOUT_S = 3.0

AsyncRedis: TypeAlias = Redis | RedisCluster
RedisKind = Literal["redis", "unix", "sentinel", "cluster", "embedded"]

_PING_ERRORS: tuple[type[Exception], ...] = (TimeoutError, *REDIS_EXCEPTIONS)


class RedisHandle:
    """The bot's Redis: one client (and its pool), plus what must be closed with it.

    ``client`` is a ``redis.asyncio.Redis`` (standalone, Unix socket, Sentinel master, embedded) or
    a ``redis.asyncio.RedisCluster``. Stores use it inside ``store_errors(...)``.
    """

    def __init__(
        self,
        client: AsyncRedis,
        *,
        kind: RedisKind,
        prefix: str,
        description: str,
        sentinel: Sentinel | None = None,
        embedded: EmbeddedRedis | None = None,
    ) -> None:
        self.client = client
        self.kind: RedisKind = kind
        self.prefix = prefix
        self.description = description  # safe for logs: no password
        self._sentinel = sentinel
        self._embedded = embedded
        self._closed = False

    def __repr__(self) -> str:
        return f"RedisHandle(kind={self.kind!r}, target={self.description!r})"

    @property
    def embedded(self) -> EmbeddedRedis | None:
        """The embedded server, when this handle started one."""
        return self._embedded

    async def ping(self) -> bool:
        """True when Redis answers PING in time (for ``/readyz``); never raises."""
        try:
            async with asyncio.timeout(PING_TIMEOUT_S):
                return bool(await self.client.ping())
        except _PING_ERRORS as exc:
            logger.debug("Redis ping failed: %s", type(exc).__name__)
            return False

    async def aclose(self) -> None:
        """Close the client and its pool, the Sentinel clients, and stop the embedded server."""
        if self._closed:
            return
        self._closed = True
        try:
            await self.client.aclose()
            if self._sentinel is not None:
                await self._sentinel.aclose()
        finally:
            if self._embedded is not None:
                await asyncio.to_thread(self._embedded.stop)

    async def __aenter__(self) -> RedisHandle:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
