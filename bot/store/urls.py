"""``REDIS_URL``, parsed and checked without a network call, and URLs redacted for logs.

========================================================================  =========================
``redis://[[user]:password@]host[:6379][/db]``                             one Redis over TCP
``rediss://[[user]:password@]host[:6379][/db]``                            the same over TLS
``unix://[[user]:password@]/path/to/redis.sock[?db=0]``                    one Redis, Unix socket
``redis+sentinel://[[user]:password@]h1[:26379],h2[:26379]/service[/db]``  Sentinel (master)
``rediss+sentinel://...``                                                  Sentinel, TLS to master
``redis+cluster://[[user]:password@]h1[:6379][,h2[:6379]...]``             Redis Cluster
``rediss+cluster://...``                                                   Redis Cluster over TLS
========================================================================  =========================

Sentinel: the hosts are the sentinels (default port 26379); ``service`` is the monitored master's
name (``sentinel monitor <service> ...``); ``db`` defaults to 0. The user and password in the URL
are the master's; sentinels protected by their own password take ``?sentinel_password=...`` (and
``?sentinel_username=...``). Percent-encode special characters in user names and passwords.

Cluster: the hosts are startup nodes (default port 6379); the client discovers the rest. No ``db``.

An unusable URL is a ``ConfigError`` naming ``REDIS_URL``, with any password masked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qsl, unquote, urlsplit

from redis.asyncio.connection import parse_url

from bot.errors import ConfigError

DEFAULT_SENTINEL_PORT = 26379
DEFAULT_REDIS_PORT = 6379


@dataclass(frozen=True)
class RedisTarget:
    """What ``REDIS_URL`` points at, parsed and checked (no network)."""

    kind: Literal["redis", "unix", "sentinel", "cluster"]
    url: str = field(repr=False)  # the original URL (may hold a password)
    hosts: tuple[tuple[str, int], ...] = ()  # the server, the sentinels or the cluster nodes
    service_name: str | None = None  # Sentinel master name
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ssl: bool = False
    sentinel_username: str | None = None
    sentinel_password: str | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        """Where the bot connects, without user or password: ``host:port``, a socket path, or
        the sentinels (and the service) or cluster nodes."""
        hosts = ", ".join(_host_port(host, port) for host, port in self.hosts)
        if self.kind == "sentinel":
            return f"{hosts} (Sentinel, service {self.service_name})"
        if self.kind == "cluster":
            return f"{hosts} (Cluster)"
        if self.kind == "unix":
            return str(parse_url(self.url).get("path") or "?")
        return hosts

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


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


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
        host = kwargs.get("host")
        return RedisTarget(
            kind="unix" if scheme == "unix" else "redis",
            url=url,
            hosts=((str(host), int(kwargs.get("port") or DEFAULT_REDIS_PORT)),) if host else (),
            db=int(kwargs.get("db") or 0),
            username=kwargs.get("username"),
            password=kwargs.get("password"),
            ssl=scheme == "rediss",
        )
    raise _bad(
        url,
        "scheme must be redis://, rediss://, unix://, redis+sentinel:// or redis+cluster://",
    )
