"""``RedisHandle``, what ``connect_redis`` hands out: the bot's one Redis client, a readiness
ping that never raises, the start-up wait for a Redis that does not answer yet, and one
``aclose()`` for the client, the Sentinel clients and the embedded server."""

from __future__ import annotations

import asyncio
import logging
from typing import Literal, TypeAlias

import redis.exceptions as redis_exceptions
from redis.asyncio import Redis, RedisCluster
from redis.asyncio.sentinel import Sentinel

from bot.errors import StoreUnavailable
from bot.retry import RetryPolicy
from bot.store.embedded import EmbeddedRedis
from bot.store.errors import REDIS_EXCEPTIONS

logger = logging.getLogger(__name__)

# ``ping()`` gives up after this long (readiness probes must answer quickly).
PING_TIMEOUT_S = 3.0

AsyncRedis: TypeAlias = Redis | RedisCluster
RedisKind = Literal["redis", "unix", "sentinel", "cluster", "embedded"]

_PING_ERRORS: tuple[type[Exception], ...] = (TimeoutError, *REDIS_EXCEPTIONS)
_REFUSED = (redis_exceptions.AuthenticationError, redis_exceptions.AuthorizationError)
# At start, a Redis that does not answer yet (it starts after the bot, it restarts) is asked again
# at these intervals until it does.
START_RETRY = RetryPolicy(base_s=0.5, cap_s=5.0)


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
        address: str | None = None,
        sentinel: Sentinel | None = None,
        embedded: EmbeddedRedis | None = None,
        acks: Redis | None = None,
    ) -> None:
        self.client = client
        # For the commands Slack's acks wait on: a client with its own few connections where
        # ``client``'s pool makes a command wait for a free one (follow-up work fills it in a
        # burst); the same client where its pools never make a command wait (Sentinel, Cluster).
        self.acks: AsyncRedis = acks if acks is not None else client
        self.kind: RedisKind = kind
        self.prefix = prefix
        self.description = description  # safe for logs: no password
        self.address = address or description  # where it connects: no user, no password
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

    async def wait_until_reachable(self, retry: RetryPolicy = START_RETRY) -> None:
        """Return once Redis answers PING. If it does not at first: one warning that says where,
        then quiet retries, and one line when it answers. ``StoreUnavailable`` at once when Redis
        refuses the credentials: waiting would not change that."""
        attempt = 0
        while True:
            attempt += 1
            try:
                async with asyncio.timeout(PING_TIMEOUT_S):
                    await self.client.ping()
            except _REFUSED as exc:
                raise StoreUnavailable(
                    f"Redis at {self.address} refused the credentials in REDIS_URL"
                ) from exc
            except _PING_ERRORS as exc:
                if attempt == 1:
                    logger.warning(
                        "Redis at %s %s; the bot starts when it answers (retrying quietly)",
                        self.address,
                        "did not answer in time"
                        if isinstance(exc, TimeoutError | redis_exceptions.TimeoutError)
                        else "cannot be reached",
                    )
                logger.debug("Redis still unreachable", extra={"attempt": attempt})
                await asyncio.sleep(retry.delay(attempt))
                continue
            if attempt > 1:
                logger.info("Redis at %s answers now", self.address)
            return

    async def aclose(self) -> None:
        """Close the client and its pool, the Sentinel clients, and stop the embedded server."""
        if self._closed:
            return
        self._closed = True
        try:
            await self.client.aclose()
            if self.acks is not self.client:
                await self.acks.aclose()
            if self._sentinel is not None:
                await self._sentinel.aclose()
        finally:
            if self._embedded is not None:
                await asyncio.to_thread(self._embedded.stop)

    async def __aenter__(self) -> RedisHandle:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
