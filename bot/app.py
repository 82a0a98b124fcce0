"""The Bolt app factory: explicit credentials, every handler family, one error handler."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.deps import Deps
from bot.slack.replays import skip_repeats
from handlers import approval, clone, home, zstack

logger = logging.getLogger(__name__)

HANDLER_FAMILIES = (zstack, clone, approval, home)


class _OurClientHoldsTheToken(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN from the environment by itself and warns that the client we
    hand it wins; that client holds that very token, so the warning only misleads operators."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


_BOLT_LOGGER = logging.getLogger("slack_bolt.app")
_BOLT_LOGGER.addFilter(_OurClientHoldsTheToken())


def create_app(deps: Deps, client: AsyncWebClient) -> AsyncApp:
    """Build the AsyncApp. ``client`` carries the bot token (explicitly) and the Web API URL."""
    settings = deps.settings
    signing_secret = settings.slack_signing_secret
    app = AsyncApp(
        client=client,
        signing_secret=signing_secret.get_secret_value() if signing_secret else None,
        # Socket Mode requests are not signed; HTTP mode always verifies.
        request_verification_enabled=signing_secret is not None,
        # Every listener hands its slow work to ``deps.background`` and returns: Bolt then
        # answers Slack when the listener returns, instead of polling every 10 ms for the ack
        # (which made every ack wait one loop turn behind whatever the process was doing).
        process_before_response=True,
        logger=_BOLT_LOGGER,
    )
    app.error(_error_handler(deps))
    app.use(_shared_client(client))
    # Before any listener: a delivery already acted on (a replay, a retry) is acknowledged
    # without acting again.
    app.use(skip_repeats(deps.deliveries))
    for family in HANDLER_FAMILIES:
        family.register(app, deps)
    return app


def _shared_client(client: AsyncWebClient) -> Any:
    """Bolt hands each request a fresh client of its own (same token and URL), which knows
    nothing of the pace and the ``Retry-After`` the process's other callers share
    (``bot.slack.client.PacedWebClient``): listeners get the one client instead."""

    async def use(context: AsyncBoltContext, next: Callable[[], Awaitable[None]]) -> None:
        context["client"] = client
        await next()

    return use


def _error_handler(deps: Deps) -> Any:
    async def handle_error(error: Exception, body: dict[str, Any], client: AsyncWebClient) -> None:
        await deps.reporter.report(error, body, client)

    return handle_error
