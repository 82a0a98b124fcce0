"""The Slack Web API client: slack_sdk's AsyncWebClient paced per method (``bot.slack.pacing``)
with retries for 5xx and resets, and the one place where slack_sdk's failures become the bot's
``SlackError`` (``slack_errors``).

A 429's ``Retry-After`` holds the method back for every caller in the process. A caller waits for
its turn (asleep, off the event loop's way) only as long as its ``patience``: a person's form or
ephemeral may wait a few seconds; the outbox waits for nothing and gets ``SlackRateLimited`` at
once (no call made), then puts the effect back with its ``next_at``. slack_sdk's own 429 handler
is not used: it sleeps inside the call and knows nothing of the other callers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.config import Settings
from bot.errors import SlackError, SlackRateLimited
from bot.metrics import Metrics
from bot.slack.pacing import Pacer

logger = logging.getLogger(__name__)

# A patient caller's 429s wait for Retry-After; a handful absorbs a burst without hiding an outage.
RATE_LIMIT_RETRIES = 5
SERVER_ERROR_RETRIES = 3
WEB_API_TIMEOUT_S = 15
# How long a caller waits for its turn by default: a person's form or ephemeral can afford a few
# seconds; work with its own retries (the outbox) sets none.
PATIENCE_S = 5.0
_patience: ContextVar[float] = ContextVar("slack_patience", default=PATIENCE_S)


@contextmanager
def patience(seconds: float) -> Iterator[None]:
    """Web API calls inside wait at most ``seconds`` for their turn, else ``SlackRateLimited``."""
    token = _patience.set(seconds)
    try:
        yield
    finally:
        _patience.reset(token)


class PacedWebClient(AsyncWebClient):
    """Every call waits for its method's turn (``Pacer``); a 429 holds the method back."""

    def __init__(self, *args: Any, pacer: Pacer | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pacer = pacer or Pacer()

    async def api_call(
        self,
        api_method: str,
        *,
        http_verb: str = "POST",
        files: dict[str, Any] | None = None,
        data: dict[str, Any] | aiohttp.FormData | None = None,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
        headers: dict[str, Any] | None = None,
        auth: dict[str, Any] | None = None,
    ) -> AsyncSlackResponse:
        channel = _channel_of(data, params, json)
        for attempt in range(RATE_LIMIT_RETRIES + 1):
            await self._turn(api_method, channel)
            try:
                return await super().api_call(
                    api_method,
                    http_verb=http_verb,
                    files=files,
                    data=data,
                    params=params,
                    json=json,
                    headers=headers,
                    auth=auth,
                )
            except SlackApiError as exc:
                if _status(exc) != 429 or attempt == RATE_LIMIT_RETRIES:
                    raise
                self.pacer.hold(api_method, channel, _retry_after(exc))
        raise AssertionError("unreachable")  # the loop returns or raises

    async def _turn(self, method: str, channel: str | None) -> None:
        """Wait (asleep) for ``method``'s turn, or raise ``SlackRateLimited`` when it is further
        off than the caller's patience."""
        while (wait := self.pacer.admit(method, channel)) > 0:
            if wait > _patience.get():
                raise SlackRateLimited(method, wait)
            await asyncio.sleep(wait)


def _channel_of(*bodies: object) -> str | None:
    for body in bodies:
        if isinstance(body, dict) and body.get("channel"):
            return str(body["channel"])
    return None


def build_web_client(
    settings: Settings, *, session: aiohttp.ClientSession | None = None, pacer: Pacer | None = None
) -> PacedWebClient:
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    return PacedWebClient(
        token=token,
        base_url=settings.slack_api_url,
        timeout=WEB_API_TIMEOUT_S,
        session=session,
        pacer=pacer
        or (Pacer() if settings.slack_pace else Pacer(budgets={}, workspace_budgets={})),
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncServerErrorRetryHandler(max_retry_count=SERVER_ERROR_RETRIES),
        ],
    )


# views.update on a modal the user already closed (or that Slack no longer holds).
CLOSED_VIEW_ERRORS = frozenset({"not_found", "view_not_found"})


def slack_error_code(error: SlackApiError) -> str:
    """The ``error`` field of a failed Web API answer, else its HTTP status, else ``unknown``."""
    data = getattr(error.response, "data", None)
    if isinstance(data, dict) and data.get("error"):
        return str(data["error"])
    status = _status(error)
    return str(status) if status is not None else "unknown"


@contextmanager
def slack_errors(method: str, metrics: Metrics | None = None) -> Iterator[None]:
    """Run one Web API call; its failure leaves as ``SlackError`` (counted per method and code).

    slack_sdk raises ``SlackApiError`` for an answer with ``ok: false`` (after its retry handlers
    gave up) and lets aiohttp's errors through for a connection that failed or timed out.
    """
    try:
        yield
    except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
        error = as_slack_error(exc, method)
        assert error is not None
        if metrics is not None:
            metrics.slack_errors.labels(method, error.code).inc()
        raise error from exc


def as_slack_error(exc: BaseException, method: str = "web_api") -> SlackError | None:
    """slack_sdk's failure as the bot's ``SlackError`` (None: not a Slack failure). For the
    listeners' error handler, which sees whatever a listener's own Web API call raised."""
    if isinstance(exc, SlackError):
        return exc
    if isinstance(exc, SlackApiError):
        code = slack_error_code(exc)
        if code == "ratelimited" or _status(exc) == 429:
            return SlackRateLimited(method, _retry_after(exc))
        return SlackError(method, code)
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return SlackError(method, "timeout")
    if isinstance(exc, aiohttp.ClientError):
        return SlackError(method, "connection")
    return None


def _status(error: SlackApiError) -> int | None:
    try:
        return int(error.response.status_code)
    except Exception:  # an answer without a status
        return None


def _retry_after(error: SlackApiError) -> float:
    try:
        headers = error.response.headers or {}
        value = headers.get("Retry-After") or headers.get("retry-after") or [1]
        return float(value[0] if isinstance(value, list) else value)
    except Exception:  # no or unreadable header: Slack's usual minimum
        return 1.0
