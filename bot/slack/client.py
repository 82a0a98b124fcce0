"""The Slack Web API client: slack_sdk's AsyncWebClient with retries for 429, 5xx and resets."""

from __future__ import annotations

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings

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
    try:
        return str(error.response.get("error") or error.response.status_code)
    except Exception:  # a response we cannot read still needs a label
        return "unknown"
