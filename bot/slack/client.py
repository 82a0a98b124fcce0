"""The Slack Web API client: slack_sdk's AsyncWebClient with retries for 429, 5xx and resets,
and the one place where slack_sdk's failures become the bot's ``SlackError`` (``slack_errors``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.errors import SlackError, SlackRateLimited
from bot.metrics import Metrics

logger = logging.getLogger(__name__)

# 429s wait for Retry-After; a handful of retries absorbs a burst without hiding an outage.
RATE_LIMIT_RETRIES = 5
SERVER_ERROR_RETRIES = 3
WEB_API_TIMEOUT_S = 15


def build_web_client(
    settings: Settings, *, session: aiohttp.ClientSession | None = None
) -> AsyncWebClient:
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    return AsyncWebClient(
        token=token,
        base_url=settings.slack_api_url,
        timeout=WEB_API_TIMEOUT_S,
        session=session,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
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
