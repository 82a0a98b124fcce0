"""The one place that creates Redis connections (redis.asyncio), from ``REDIS_URL``.

``connect_redis(settings)`` builds the bot's ``RedisHandle`` (``bot.store.handle``): for the URL
forms ``bot.store.urls`` parses (one Redis over TCP, TLS or a Unix socket; Sentinel; Cluster), or,
when ``REDIS_URL`` is unset, for the embedded server (``bot.store.embedded``).

Every client gets explicit timeouts, a health check on idle connections and bounded retries with
exponential backoff on connection errors, so the bot rides out a Redis restart by itself. Building a
handle makes no network call (except starting the embedded server); ``RedisHandle.ping()`` tells
whether Redis answers (``/readyz``). Redis exceptions never leave ``bot/``: see
``bot.store.errors``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from redis.asyncio import Redis, RedisCluster
from redis.asyncio.cluster import ClusterNode
from redis.asyncio.connection import BlockingConnectionPool, UnixDomainSocketConnection
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import ExponentialBackoff
from redis.driver_info import DriverInfo

from bot.config import Settings
from bot.store.embedded import EmbeddedRedis
from bot.store.handle import RedisHandle
from bot.store.urls import RedisTarget, parse_redis_url

logger = logging.getLogger(__name__)

# Time allowed to open a TCP connection (and the TLS handshake).
SOCKET_CONNECT_TIMEOUT_S = 3.0
# Time allowed for one command's answer. Blocking commands (BLPOP, XREAD BLOCK) need their own.
SOCKET_TIMEOUT_S = 5.0
# An idle pooled connection is PINGed before reuse when it was idle longer than this.
HEALTH_CHECK_INTERVAL_S = 15
# Retries of one command after a connection error or timeout (reconnecting each time).
RETRIES = 3
# Backoff between those retries: base * 2**n seconds, capped.
BACKOFF_BASE_S = 0.05
BACKOFF_CAP_S = 1.0
# Client name shown by CLIENT LIST.
CLIENT_NAME = "clonebot"

# A burst waits for a free connection (up to POOL_WAIT_S) instead of failing at once: redis-py's
# default pool raises "Too many connections" on the first command over the limit. A command holds
# its connection for one round trip (no blocking commands), so a few dozen carry all one event
# loop sends, and each connection a burst opens costs a connect and two or three round trips
# (HELLO, CLIENT SETNAME, SETINFO): in a burst of 200 /clone-model, 32 filled the forms
# 0.2-0.25 s sooner (p99) than 100.
MAX_CONNECTIONS = 32
# The acks' own connections (``RedisHandle.acks``): with one shared pool of 32, the replay claims
# of 64 commands in flight waited behind the forms being filled (ack p99 0.95-1.1 s, 0.6-0.8 s
# with 100).
ACK_CONNECTIONS = 8
POOL_WAIT_S = 30.0

# What each connection tells Redis about its client (CLIENT SETINFO), worked out once: left to
# redis-py, every new connection reads the package's metadata from disk to find its version,
# a tenth of the bot's CPU while a burst grows the pool.
DRIVER_INFO = DriverInfo()


def _retry() -> Retry:
    return Retry(ExponentialBackoff(cap=BACKOFF_CAP_S, base=BACKOFF_BASE_S), RETRIES)


def _common_kwargs() -> dict[str, Any]:
    return {
        "socket_timeout": SOCKET_TIMEOUT_S,
        "socket_connect_timeout": SOCKET_CONNECT_TIMEOUT_S,
        "health_check_interval": HEALTH_CHECK_INTERVAL_S,
        "retry": _retry(),
        "client_name": CLIENT_NAME,
        "driver_info": DRIVER_INFO,
    }


async def connect_redis(settings: Settings) -> RedisHandle:
    """Build the bot's ``RedisHandle`` from settings (start the embedded server when unset).

    Raises ``ConfigError`` for an unusable URL and ``StoreUnavailable`` when the embedded server
    cannot start. Remote servers are not contacted here: use ``ping()``.
    """
    prefix = settings.key_prefix
    if not settings.redis_url:
        embedded = await asyncio.to_thread(
            EmbeddedRedis.start, settings.data_dir, socket_timeout_s=SOCKET_TIMEOUT_S
        )

        def pool(size: int) -> BlockingConnectionPool:
            return BlockingConnectionPool(
                connection_class=UnixDomainSocketConnection,
                path=embedded.socket_path,
                max_connections=size,
                timeout=POOL_WAIT_S,
                **_common_kwargs(),
            )

        client = Redis.from_pool(pool(MAX_CONNECTIONS))  # the client owns (and closes) its pool
        logger.info("Using embedded Redis with data in %s", embedded.data_dir)
        return RedisHandle(
            client,
            kind="embedded",
            prefix=prefix,
            description=f"embedded:{embedded.data_dir}",
            address=embedded.socket_path,
            embedded=embedded,
            acks=Redis.from_pool(pool(ACK_CONNECTIONS)),
        )
    target = parse_redis_url(settings.redis_url)
    return build_handle(target, prefix=prefix)


def build_handle(target: RedisTarget, *, prefix: str) -> RedisHandle:
    """A ``RedisHandle`` for a parsed URL (no network call)."""
    common = _common_kwargs()
    if target.kind in ("redis", "unix"):

        def pool(size: int) -> BlockingConnectionPool:
            return BlockingConnectionPool.from_url(
                target.url, max_connections=size, timeout=POOL_WAIT_S, **common
            )

        return RedisHandle(
            Redis.from_pool(pool(MAX_CONNECTIONS)),  # the client owns (and closes) its pool
            kind=target.kind,
            prefix=prefix,
            description=target.redacted,
            address=target.address,
            acks=Redis.from_pool(pool(ACK_CONNECTIONS)),
        )
    if target.kind == "sentinel":
        assert target.service_name is not None
        sentinel_kwargs: dict[str, Any] = {
            "socket_timeout": SOCKET_TIMEOUT_S,
            "socket_connect_timeout": SOCKET_CONNECT_TIMEOUT_S,
            "retry": _retry(),
        }
        if target.sentinel_password is not None:
            sentinel_kwargs["password"] = target.sentinel_password
        if target.sentinel_username is not None:
            sentinel_kwargs["username"] = target.sentinel_username
        sentinel = Sentinel(  # type: ignore[no-untyped-call]
            list(target.hosts), sentinel_kwargs=sentinel_kwargs
        )
        master = sentinel.master_for(
            target.service_name,
            db=target.db,
            username=target.username,
            password=target.password,
            ssl=target.ssl,
            **common,
        )
        return RedisHandle(
            master,
            kind="sentinel",
            prefix=prefix,
            description=target.redacted,
            address=target.address,
            sentinel=sentinel,
        )
    cluster = RedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in target.hosts],
        username=target.username,
        password=target.password,
        ssl=target.ssl,
        **common,
    )
    return RedisHandle(
        cluster,
        kind="cluster",
        prefix=prefix,
        description=target.redacted,
        address=target.address,
    )
