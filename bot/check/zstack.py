"""The ZStack check: ``ZStackClient.ping()`` (validating a made-up session needs no credentials).

It reports reachability, the TLS settings used and the answer time; a failure names its cause
(TLS trust, refused connection, unresolvable host, a service that is not ZStack) from the
``ZStackError`` and the exceptions chained to it.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import Iterable

from bot.check.results import CheckResult, fail, first_line, ok, warn
from bot.config import Settings
from bot.errors import (
    ZStackAPIError,
    ZStackConnectError,
    ZStackError,
    ZStackProtocolError,
    ZStackRESTError,
    ZStackTimeout,
)
from bot.store.urls import redact_url
from bot.zstack.client import API_PREFIX, ZStackClient, default_timeout

ZSTACK_FIX = "check ZSTACK_URL / network / TLS (ZSTACK_CA_BUNDLE)"


def tls_description(settings: Settings) -> tuple[str, bool]:
    """How the ZStack connection is secured, and whether that deserves a warning."""
    if not settings.zstack_url.startswith("https://"):
        return "plain HTTP, no TLS", False
    if settings.zstack_ca_bundle is not None:
        return f"TLS verified with ZSTACK_CA_BUNDLE={settings.zstack_ca_bundle}", False
    if settings.zstack_verify_tls:
        return "TLS verified with the default CA bundle", False
    return "TLS without certificate verification (ZSTACK_VERIFY_TLS=false)", True


def _zstack_client(settings: Settings, timeout_s: float) -> ZStackClient:
    """Blocking: loads the CA bundle. Raises ``ssl.SSLError`` / ``OSError`` for a bad bundle."""
    verify = settings.zstack_ca_bundle or settings.zstack_verify_tls
    read_s = min(settings.zstack_timeout_s, timeout_s)
    return ZStackClient(settings.zstack_url, timeout=default_timeout(read_s), verify=verify)


def _chain(exc: BaseException) -> Iterable[BaseException]:
    """``exc`` and its causes (``raise … from None`` still keeps ``__context__``)."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not other for other in seen):
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _connect_failure(where: str, exc: ZStackConnectError, tls: str) -> CheckResult:
    for cause in _chain(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return fail(
                "zstack",
                f"{where}: TLS certificate not trusted ({cause.verify_message or cause})",
                f"{ZSTACK_FIX}: set ZSTACK_CA_BUNDLE to the CA that signed ZStack's certificate",
            )
        if isinstance(cause, ssl.SSLError):
            return fail(
                "zstack",
                f"{where}: TLS handshake failed ({first_line(cause)}; {tls})",
                f"{ZSTACK_FIX}: is it http:// or https:// on that port?",
            )
        if isinstance(cause, ConnectionRefusedError):
            return fail(
                "zstack",
                f"{where}: connection refused",
                f"{ZSTACK_FIX}: host and port (the API listens on 8080), management node running?",
            )
        if isinstance(cause, socket.gaierror):
            return fail(
                "zstack",
                f"{where}: host name does not resolve ({cause.strerror})",
                f"{ZSTACK_FIX}: the host name in ZSTACK_URL, DNS",
            )
    return fail("zstack", f"{where}: cannot connect ({exc})", ZSTACK_FIX)


def _zstack_failure(where: str, exc: ZStackError, tls: str, timeout_s: float) -> CheckResult:
    if isinstance(exc, ZStackConnectError):
        return _connect_failure(where, exc, tls)
    if isinstance(exc, ZStackTimeout):
        what = "answer" if exc.maybe_received else "connection"
        return fail(
            "zstack",
            f"{where}: no {what} within {timeout_s:g} s ({tls})",
            f"{ZSTACK_FIX}: a firewall dropping packets, or a management node too busy?",
        )
    if isinstance(exc, ZStackRESTError | ZStackProtocolError):
        status = f"HTTP {exc.status}"
        return fail(
            "zstack",
            f"{where} answers but is not ZStack ({status} on GET {API_PREFIX}/accounts/sessions/"
            "…/valid)",
            f"{ZSTACK_FIX}: ZSTACK_URL must be ZStack's API endpoint, e.g. "
            "http://zstack.example.com:8080, not the console or another service",
        )
    if isinstance(exc, ZStackAPIError):
        return fail(
            "zstack",
            f"{where} answered with a ZStack error ({exc.error.summary()})",
            "check the management node's health and logs",
        )
    return fail("zstack", f"{where}: {exc}", ZSTACK_FIX)


async def check_zstack(settings: Settings, timeout_s: float) -> list[CheckResult]:
    """``ZStackClient.ping()``: reachability, the TLS settings used, and the answer time."""
    tls, insecure = tls_description(settings)
    try:
        client = await asyncio.to_thread(_zstack_client, settings, timeout_s)
    except (ssl.SSLError, OSError) as exc:
        return [
            fail(
                "zstack",
                f"ZSTACK_CA_BUNDLE cannot be loaded ({first_line(exc)})",
                "point ZSTACK_CA_BUNDLE at a PEM file with the CA certificate(s)",
            )
        ]
    where = f"ZStack at {redact_url(client.base_url)}"
    async with client:
        started = time.perf_counter()
        try:
            await client.ping()
        except ZStackError as exc:
            return [_zstack_failure(where, exc, tls, min(settings.zstack_timeout_s, timeout_s))]
        elapsed_ms = (time.perf_counter() - started) * 1000
    detail = f"{where} answers ({tls}; answered in {elapsed_ms:.0f} ms)"
    if insecure:
        return [
            warn(
                "zstack",
                detail,
                "set ZSTACK_CA_BUNDLE to the CA that signed ZStack's certificate and verify TLS",
            )
        ]
    return [ok("zstack", detail)]
