from __future__ import annotations

import asyncio
import importlib.metadata
import inspect
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis.exceptions as redis_exceptions
from redis.asyncio import Redis, RedisCluster

from bot.config import Settings
from bot.errors import ConfigError, StoreUnavailable
from bot.store.connection import build_handle, connect_redis
from bot.store.embedded import EMBEDDED_AOF_NAME, EMBEDDED_RDB_NAME
from bot.store.errors import REDIS_EXCEPTIONS, guarded, store_errors
from bot.store.handle import RedisHandle
from bot.store.urls import parse_redis_url, redact_url
from tests.fixtures.redis_server import (
    RedisServer,
    SentinelInfo,
    cluster_url,
    sync_client,
)

# --- URL parsing -----------------------------------------------------------------------------


def test_parse_plain_redis_url() -> None:
    target = parse_redis_url("redis://:s3cret@cache.example:6380/2")
    assert target.kind == "redis"
    assert target.db == 2
    assert target.password == "s3cret"
    assert target.ssl is False
    assert "s3cret" not in target.redacted
    assert "s3cret" not in repr(target)


def test_parse_tls_url() -> None:
    target = parse_redis_url("rediss://user:pw@cache.example:6380/0")
    assert (target.kind, target.ssl, target.username, target.password) == (
        "redis",
        True,
        "user",
        "pw",
    )


def test_parse_unix_url() -> None:
    target = parse_redis_url("unix:///run/redis/redis.sock?db=3")
    assert target.kind == "unix"
    assert target.db == 3


def test_parse_sentinel_url_with_several_sentinels() -> None:
    target = parse_redis_url(
        "redis+sentinel://:p%40ss@s1.example:26379,s2.example,[::1]:26380/mymaster/4"
        "?sentinel_password=sp"
    )
    assert target.kind == "sentinel"
    assert target.hosts == (("s1.example", 26379), ("s2.example", 26379), ("::1", 26380))
    assert target.service_name == "mymaster"
    assert target.db == 4
    assert target.password == "p@ss"
    assert target.sentinel_password == "sp"
    assert target.ssl is False
    assert "p%40ss" not in target.redacted and "sp" not in target.redacted.split("?")[1]


def test_parse_sentinel_url_defaults() -> None:
    target = parse_redis_url("rediss+sentinel://s1/main")
    assert (target.hosts, target.service_name, target.db, target.ssl) == (
        (("s1", 26379),),
        "main",
        0,
        True,
    )
    assert target.password is None


def test_parse_cluster_url() -> None:
    target = parse_redis_url("redis+cluster://u:pw@n1:7000,n2:7001,n3")
    assert target.kind == "cluster"
    assert target.hosts == (("n1", 7000), ("n2", 7001), ("n3", 6379))
    assert (target.username, target.password, target.ssl) == ("u", "pw", False)
    assert parse_redis_url("rediss+cluster://n1:7000/").ssl is True


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://localhost:6379", "scheme must be"),
        ("localhost:6379", "scheme must be"),
        ("redis+sentinel://s1:26379", "service name is missing"),
        ("redis+sentinel://s1:26379/m/x", "db must be a number"),
        ("redis+sentinel://s1:26379/m/0/extra", "expected"),
        ("redis+sentinel://s1:notaport/m", "bad port"),
        ("redis+sentinel://s1:99999/m", "bad port"),
        ("redis+sentinel://s1/m?timeout=3", "unknown option"),
        ("redis+sentinel:///m", "no host"),
        ("redis+cluster://n1:7000/3", "only db 0"),
        ("redis+cluster://n1:7000?x=1", "no options"),
        ("redis+cluster://:pw@", "no host"),
        ("redis:///0", "no host"),
    ],
)
def test_bad_urls_are_one_config_line(url: str, problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_redis_url(url)
    assert len(info.value.problems) == 1
    assert info.value.problems[0].startswith("REDIS_URL")
    assert problem in info.value.problems[0]


def test_config_errors_never_show_the_password() -> None:
    with pytest.raises(ConfigError) as info:
        parse_redis_url("redis+sentinel://:topsecret@s1:bad/m")
    assert "topsecret" not in str(info.value)


def test_redact_url() -> None:
    assert redact_url("redis://u:pw@h:1/0") == "redis://u:***@h:1/0"
    assert redact_url("redis://h:1/0") == "redis://h:1/0"
    assert "zzz" not in redact_url("redis+sentinel://h/m?sentinel_password=zzz")


async def test_cluster_handle_is_built_without_network() -> None:
    handle = build_handle(parse_redis_url("redis+cluster://127.0.0.1:1,127.0.0.1:2"), prefix="p:")
    try:
        assert isinstance(handle.client, RedisCluster)
        nodes = handle.client.nodes_manager.startup_nodes
        assert set(nodes) == {"127.0.0.1:1", "127.0.0.1:2"}
        assert handle.kind == "cluster"
    finally:
        await handle.aclose()


async def test_connect_redis_sets_explicit_timeouts_and_retry(redis_url: str) -> None:
    handle = await connect_redis(Settings(redis_url=redis_url))
    try:
        assert isinstance(handle.client, Redis)
        kwargs = handle.client.connection_pool.connection_kwargs
        assert kwargs["socket_timeout"] and kwargs["socket_connect_timeout"]
        assert kwargs["health_check_interval"] > 0
        assert kwargs["retry"].get_retries() >= 1
        assert handle.prefix == "clonebot:"
    finally:
        await handle.aclose()


async def test_new_connections_do_not_look_up_the_library_version(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A burst grows the pool: each new connection must not read package metadata again, and
    still has the version to tell Redis (CLIENT SETINFO, on servers that know it)."""
    import redis.utils

    version = importlib.metadata.version("redis")

    def no_lookup() -> str:
        raise AssertionError("the redis-py version was looked up for a new connection")

    monkeypatch.setattr(redis.utils, "get_lib_version", no_lookup)
    handle = await connect_redis(Settings(redis_url=redis_url))
    try:
        # Blocking reads at once: each needs a connection of its own.
        await asyncio.gather(*(handle.client.blpop([f"empty-{n}"], timeout=0.1) for n in range(5)))
        clients = await handle.client.client_list()
        assert sum(c.get("name") == "clonebot" for c in clients) >= 5
        driver = handle.client.connection_pool.connection_kwargs["driver_info"]
        assert (driver.name, driver.lib_version) == ("redis-py", version)
    finally:
        await handle.aclose()


# --- real servers ----------------------------------------------------------------------------


async def test_tcp_url_round_trip(redis_handle: RedisHandle) -> None:
    assert await redis_handle.ping() is True
    await redis_handle.client.set("k", "v")
    assert await redis_handle.client.get("k") == b"v"


@pytest.fixture
def unix_socket_server() -> Iterator[RedisServer]:
    # Unix socket paths are limited to ~107 bytes: keep this one short.
    with tempfile.TemporaryDirectory(prefix="rs") as short:
        socket_path = os.path.join(short, "r.sock")
        server = RedisServer(
            Path(short), extra_args=["--unixsocket", socket_path, "--unixsocketperm", "700"]
        )
        server.start()
        try:
            yield server
        finally:
            server.stop()


async def test_unix_socket_url(unix_socket_server: RedisServer) -> None:
    path = unix_socket_server.workdir / "r.sock"
    handle = await connect_redis(Settings(redis_url=f"unix://{path}?db=1"))
    try:
        assert handle.kind == "unix"
        await handle.client.set("via-unix", "1")
        with sync_client(unix_socket_server.port) as plain:
            plain.select(1)  # the URL's db
            assert plain.get("via-unix") == b"1"
    finally:
        await handle.aclose()


async def test_sentinel_url_reaches_the_master(
    redis_sentinel: SentinelInfo, redis_server: RedisServer, redis_url: str
) -> None:
    handle = await connect_redis(Settings(redis_url=redis_sentinel.url))
    try:
        assert handle.kind == "sentinel"
        assert await handle.ping() is True
        await handle.client.set("through-sentinel", "yes")
        with sync_client(redis_server.port) as plain:
            assert plain.get("through-sentinel") == b"yes"
    finally:
        await handle.aclose()


async def test_sentinel_with_unknown_service_is_store_unavailable(
    redis_sentinel: SentinelInfo,
) -> None:
    url = f"redis+sentinel://127.0.0.1:{redis_sentinel.port}/nosuchmaster"
    handle = await connect_redis(Settings(redis_url=url))
    try:
        assert await handle.ping() is False
        with pytest.raises(StoreUnavailable), store_errors("test.get"):
            await handle.client.get("x")
    finally:
        await handle.aclose()


async def test_cluster_url_against_a_real_cluster(redis_cluster: RedisServer) -> None:
    handle = await connect_redis(Settings(redis_url=cluster_url(redis_cluster)))
    try:
        assert handle.kind == "cluster"
        assert await handle.ping() is True
        client = handle.client
        await client.set("{req:CR-1}:record", "r")
        async with client.pipeline(transaction=True) as pipe:
            pipe.get("{req:CR-1}:record")
            pipe.set("{req:CR-1}:lock", "l")
            assert await pipe.execute() == [b"r", True]
    finally:
        await handle.aclose()


# --- embedded Redis --------------------------------------------------------------------------


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return True


async def test_embedded_redis_keeps_data_in_data_dir_across_restarts(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    handle = await connect_redis(Settings(data_dir=data_dir))
    assert handle.kind == "embedded"
    assert handle.embedded is not None
    pid = handle.embedded.pid
    assert pid > 0
    assert await handle.ping() is True
    await handle.client.set("survives", "restart")
    await handle.aclose()
    await handle.aclose()  # idempotent
    assert not _pid_alive(pid)
    assert (data_dir / EMBEDDED_RDB_NAME).is_file() or (data_dir / EMBEDDED_AOF_NAME).exists()

    again = await connect_redis(Settings(data_dir=data_dir))
    try:
        assert again.embedded is not None and again.embedded.pid != pid
        assert await again.client.get("survives") == b"restart"
    finally:
        await again.aclose()


async def test_embedded_start_does_not_block_the_event_loop(tmp_path: Path) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        handle = await connect_redis(Settings(data_dir=tmp_path))
        await handle.aclose()
    finally:
        task.cancel()
    assert ticks >= 3  # the loop kept running while redis-server started and stopped


async def test_embedded_start_failure_is_store_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreUnavailable, match="embedded Redis could not start"):
        await connect_redis(Settings(data_dir=blocker / "data"))


# --- the error boundary ----------------------------------------------------------------------


def _redis_exception_classes() -> list[type[BaseException]]:
    return [
        obj
        for obj in vars(redis_exceptions).values()
        if inspect.isclass(obj)
        and issubclass(obj, BaseException)
        and obj.__module__ == redis_exceptions.__name__
    ]


def test_every_redis_exception_is_mapped() -> None:
    classes = _redis_exception_classes()
    assert len(classes) > 20
    unmapped = [cls.__name__ for cls in classes if not issubclass(cls, REDIS_EXCEPTIONS)]
    assert unmapped == []


@pytest.mark.parametrize(
    ("exc", "text"),
    [
        (redis_exceptions.ConnectionError("refused"), "cannot be reached"),
        (redis_exceptions.TimeoutError("slow"), "did not answer in time"),
        (redis_exceptions.BusyLoadingError("loading"), "loading its data"),
        (redis_exceptions.AuthenticationError("bad"), "refused our credentials"),
        (redis_exceptions.ReadOnlyError("ro"), "read-only"),
        (redis_exceptions.OutOfMemoryError("oom"), "out of memory"),
        (redis_exceptions.ResponseError("WRONGTYPE x"), "Redis error: WRONGTYPE x"),
        (redis_exceptions.RedisClusterException("no nodes"), "Redis error"),
        (redis_exceptions.DataError(), "Redis error: DataError"),
    ],
)
def test_store_errors_translates(exc: Exception, text: str) -> None:
    with pytest.raises(StoreUnavailable) as info, store_errors("op.name"):
        raise exc
    assert str(info.value).startswith("op.name: ")
    assert text in str(info.value)
    assert info.value.__cause__ is exc


def test_store_errors_leaves_other_exceptions_alone() -> None:
    with pytest.raises(KeyError), store_errors("op"):
        raise KeyError("x")


async def test_guarded_decorator() -> None:
    @guarded("thing.do")
    async def fails() -> int:
        raise redis_exceptions.ConnectionError("down")

    @guarded("thing.ok")
    async def works(value: int) -> int:
        return value + 1

    assert await works(1) == 2
    with pytest.raises(StoreUnavailable, match=r"thing\.do"):
        await fails()


# --- outages and reconnection ----------------------------------------------------------------


async def test_redis_down_is_store_unavailable_and_reconnects(
    restartable_redis: RedisServer,
) -> None:
    handle = await connect_redis(Settings(redis_url=restartable_redis.url))
    try:
        await handle.client.set("before", "1")
        await restartable_redis.astop()

        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="cannot be reached"), store_errors("t.get"):
            await handle.client.get("before")
        assert time.monotonic() - started < 15  # bounded retries, no hang
        assert await handle.ping() is False

        await restartable_redis.astart()
        # Same handle, no manual reconnect: the pool reconnects; AOF kept the data.
        assert await handle.ping() is True
        assert await handle.client.get("before") == b"1"
    finally:
        await handle.aclose()


async def test_stale_connections_recover_after_a_crash(restartable_redis: RedisServer) -> None:
    handle = await connect_redis(Settings(redis_url=restartable_redis.url))
    try:
        await handle.client.set("k", "v")
        await restartable_redis.astop(kill=True)
        await restartable_redis.astart()
        # The pooled connection is dead; the retry policy reconnects within this one call.
        assert await handle.client.get("k") == b"v"
    finally:
        await handle.aclose()


async def test_ping_is_false_for_an_unreachable_server() -> None:
    handle = await connect_redis(Settings(redis_url="redis://127.0.0.1:1/0"))
    try:
        assert await handle.ping() is False
    finally:
        await handle.aclose()


async def test_a_burst_larger_than_the_pool_waits_instead_of_failing(redis_url: str) -> None:
    """More concurrent commands than connections: they queue for the pool, none fails."""
    import asyncio

    from bot.config import Settings
    from bot.store.connection import MAX_CONNECTIONS, connect_redis

    handle = await connect_redis(Settings(redis_url=redis_url))
    try:
        burst = [handle.client.blpop(f"burst:{i}", timeout=0.2) for i in range(MAX_CONNECTIONS * 2)]
        results = await asyncio.gather(*burst)
        assert results == [None] * (MAX_CONNECTIONS * 2)
    finally:
        await handle.aclose()


async def test_the_acks_claims_do_not_wait_for_a_full_pool(redis_url: str) -> None:
    """Follow-up work holding every pooled connection does not hold up the replay claim that
    Slack's ack waits on: it has its own connections."""
    from bot.metrics import Metrics
    from bot.slack.replays import Deliveries
    from bot.store.connection import MAX_CONNECTIONS

    handle = await connect_redis(Settings(redis_url=redis_url))
    try:
        pool = handle.client.connection_pool
        held = [await pool.get_connection() for _ in range(MAX_CONNECTIONS)]  # the pool is full
        try:
            deliveries = Deliveries(handle, Metrics())
            async with asyncio.timeout(2):
                assert await deliveries.first("command", "T1") is True
                assert await deliveries.first("command", "T1") is False  # a replay
            with pytest.raises(TimeoutError):  # while anything else waits for a connection
                async with asyncio.timeout(0.3):
                    await handle.client.get("anything")
        finally:
            for connection in held:
                await pool.release(connection)
        assert await handle.client.get("anything") is None
    finally:
        await handle.aclose()
