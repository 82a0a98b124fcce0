"""The ZStack client's connections on asyncio's own streams, for httpcore.

httpcore reaches asyncio through anyio by default, and anyio's way costs CPU on every step:
each read and write opens a cancel scope; each check that an idle connection is still open
(httpcore makes one per idle connection on every request's start and end) builds anyio's table
of socket attributes; each connect runs a task group. Measured at 64 commands in flight, that
was about a third of the CPU of every ZStack request. ``AsyncioBackend`` makes the same
connections with ``asyncio.open_connection``: a read or a write is one await under
``asyncio.timeout``, a check looks at the stream's own state, and errors are httpcore's own
(``ConnectError``, ``ReadTimeout``…), so httpx maps them as it always does.
"""

# httpcore's interface passes each call its timeout (ASYNC109 asks for the caller's instead).
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

# As anyio (httpcore's default) does: the next address family is tried after this long.
HAPPY_EYEBALLS_DELAY_S = 0.25

SocketOption = (
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
)


@contextmanager
def _raising(timed_out: type[Exception], failed: type[Exception]) -> Iterator[None]:
    """asyncio's and the socket's errors as httpcore's (an ``ssl.SSLError`` is an OSError)."""
    try:
        yield
    except TimeoutError as exc:
        raise timed_out(str(exc) or timed_out.__name__) from exc
    except OSError as exc:
        raise failed(str(exc) or type(exc).__name__) from exc


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One connection: asyncio's reader and writer."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        with _raising(httpcore.ReadTimeout, httpcore.ReadError):
            async with asyncio.timeout(timeout):
                return await self._reader.read(max_bytes)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        with _raising(httpcore.WriteTimeout, httpcore.WriteError):
            async with asyncio.timeout(timeout):
                self._writer.write(buffer)
                await self._writer.drain()

    async def aclose(self) -> None:
        # No waiting for the peer: a connection is closed when httpcore drops it.
        self._writer.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            with _raising(httpcore.ConnectTimeout, httpcore.ConnectError):
                async with asyncio.timeout(timeout):
                    await self._writer.start_tls(ssl_context, server_hostname=server_hostname)
        except BaseException:
            await self.aclose()
            raise
        return self

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # An idle connection with anything to read (the server's close, or bytes it had
            # no business sending) cannot take the next request. The transport reads eagerly,
            # so what the socket had is in the reader already.
            buffered = getattr(self._reader, "_buffer", b"")
            return (
                bool(buffered)
                or self._reader.at_eof()
                or self._reader.exception() is not None
                or self._writer.is_closing()
            )
        name = {"client_addr": "sockname", "server_addr": "peername"}.get(info, info)
        if name in ("ssl_object", "sockname", "peername", "socket"):
            return self._writer.get_extra_info(name)
        return None


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend on asyncio streams (TCP, TLS on top, Unix sockets)."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        with _raising(httpcore.ConnectTimeout, httpcore.ConnectError):
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    host,
                    port,
                    local_addr=(local_address, 0) if local_address else None,
                    happy_eyeballs_delay=HAPPY_EYEBALLS_DELAY_S,
                )
        _set_options(writer, socket_options)
        return AsyncioStream(reader, writer)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        with _raising(httpcore.ConnectTimeout, httpcore.ConnectError):
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_unix_connection(path)
        _set_options(writer, socket_options)
        return AsyncioStream(reader, writer)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def _set_options(writer: asyncio.StreamWriter, options: Iterable[SocketOption] | None) -> None:
    sock = writer.get_extra_info("socket")
    for option in options or ():
        sock.setsockopt(*option)


class AsyncioTransport(httpx.AsyncHTTPTransport):
    """httpx's HTTP transport (its request and error mapping) on an httpcore pool that connects
    with ``AsyncioBackend``. httpx builds its pool in ``__init__`` with no way to name a
    backend: this one builds the same pool itself."""

    def __init__(self, *, verify: bool | ssl.SSLContext = True, limits: httpx.Limits) -> None:
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=(
                verify if isinstance(verify, ssl.SSLContext) else httpx.create_ssl_context(verify)
            ),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=AsyncioBackend(),
        )
