"""How payloads reach the app.

:class:`Transport` is the seam: the actor hands over ``(kind, payload)`` — the same triple Socket
Mode puts in an envelope (``slash_commands`` / ``interactive`` / ``events_api``) — and gets the ack
back. :class:`HttpTransport` POSTs it to the app's Request URL, encoded and signed as Slack does;
``socket_mode.SocketModeTransport`` sends an envelope and waits for the ``envelope_id`` ack.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlencode

import aiohttp

from .clock import Clock
from .records import JSON, PayloadKind
from .signing import signature_headers

ACK_TIMEOUT_S = 3.0


@dataclass
class AppResponse:
    """The app's answer to one payload; ``status`` is ``None`` when none came."""

    status: int | None
    body: str
    latency: float
    timed_out: bool = False
    error: str | None = None
    via: str = "http"
    connection: str | None = None  # the Socket Mode connection that carried it
    envelope_id: str | None = None
    retry_attempt: int = 0


class Transport(Protocol):
    async def deliver(self, kind: PayloadKind, payload: JSON) -> AppResponse: ...

    async def close(self) -> None: ...


def encode(kind: PayloadKind, payload: JSON) -> tuple[str, str]:
    """``(content type, body)`` of an HTTP-mode delivery."""
    if kind == "slash_commands":
        fields = {k: _form_value(v) for k, v in payload.items() if v is not None}
        return "application/x-www-form-urlencoded", urlencode(fields)
    if kind == "interactive":
        return "application/x-www-form-urlencoded", urlencode({"payload": json.dumps(payload)})
    return "application/json", json.dumps(payload)


def _form_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class HttpTransport:
    """Signed POSTs to the app's Request URL, with Slack's 3-second patience."""

    def __init__(
        self,
        *,
        signing_secret: str,
        app_url: Callable[[], str | None],
        clock: Clock,
        ack_timeout: float = ACK_TIMEOUT_S,
    ) -> None:
        self.signing_secret = signing_secret
        self.app_url = app_url
        self.clock = clock
        self.ack_timeout = ack_timeout
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    async def deliver(self, kind: PayloadKind, payload: JSON) -> AppResponse:
        url = self.app_url()
        if not url:
            raise RuntimeError("the emulator has no app_url to deliver to; set emu.app_url")
        content_type, body = encode(kind, payload)
        headers = {
            "Content-Type": content_type,
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        }
        headers.update(signature_headers(self.signing_secret, body, int(self.clock.time())))
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.ack_timeout):
                async with self._client().post(url, data=body.encode(), headers=headers) as resp:
                    text = await resp.text()
                    return AppResponse(resp.status, text, time.perf_counter() - started)
        except TimeoutError:
            latency = time.perf_counter() - started
            return AppResponse(None, "", latency, timed_out=True, error="operation_timeout")
        except aiohttp.ClientError as exc:
            latency = time.perf_counter() - started
            return AppResponse(None, "", latency, error=f"connection_failed: {exc}")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
