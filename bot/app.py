"""The Bolt app factory: explicit credentials, every handler family, one error handler."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.deps import Deps
from bot.errors import BotError, NotLoggedIn, SessionExpired, StoreUnavailable, ZStackUnavailable
from bot.ui import login as login_ui
from bot.ui.messages import STORE_DOWN, internal_error, zstack_unreachable
from handlers import zstack

logger = logging.getLogger(__name__)

HANDLER_FAMILIES = (zstack,)


def create_app(deps: Deps, client: AsyncWebClient) -> AsyncApp:
    """Build the AsyncApp. ``client`` carries the bot token and the Web API base URL."""
    settings = deps.settings
    signing_secret = settings.slack_signing_secret
    app = AsyncApp(
        client=client,
        token=client.token,
        signing_secret=signing_secret.get_secret_value() if signing_secret else None,
        # Socket Mode requests are not signed; HTTP mode always verifies.
        request_verification_enabled=signing_secret is not None,
        process_before_response=False,
        logger=logging.getLogger("slack_bolt.app"),
    )
    app.error(_error_handler(deps))
    for family in HANDLER_FAMILIES:
        family.register(app, deps)
    return app


def user_message_for(error: Exception, deps: Deps, reference: str) -> str:
    """What the user reads when a listener fails: never the raw exception text."""
    if isinstance(error, StoreUnavailable):
        return STORE_DOWN
    if isinstance(error, ZStackUnavailable):
        return zstack_unreachable(deps.zstack.base_url)
    if isinstance(error, NotLoggedIn):
        return login_ui.NOT_LOGGED_IN
    if isinstance(error, SessionExpired):
        return login_ui.SESSION_EXPIRED
    return internal_error(reference)


def _error_handler(deps: Deps) -> Any:
    async def handle_error(error: Exception, body: dict[str, Any], client: AsyncWebClient) -> None:
        reference = "ERR-" + secrets.token_hex(4).upper()
        deps.metrics.handler_errors.labels(type(error).__name__).inc()
        where = _describe(body)
        if isinstance(error, BotError):
            logger.warning("handler failed", extra={"ref": reference, **where}, exc_info=error)
        else:
            logger.error("handler crashed", extra={"ref": reference, **where}, exc_info=error)
        text = user_message_for(error, deps, reference)
        await _tell_user(client, body, text, reference)

    return handle_error


def _describe(body: dict[str, Any]) -> dict[str, str]:
    user = body.get("user_id") or (body.get("user") or {}).get("id") or ""
    kind = body.get("command") or body.get("type") or ""
    callback = (body.get("view") or {}).get("callback_id") or ""
    return {"user_id": str(user), "kind": str(kind), "callback_id": str(callback)}


async def _tell_user(client: AsyncWebClient, body: dict[str, Any], text: str, ref: str) -> None:
    """Ephemeral in the channel where the user acted, else a DM. Never raises."""
    user = body.get("user_id") or (body.get("user") or {}).get("id")
    channel = body.get("channel_id") or (body.get("channel") or {}).get("id")
    if not user:
        return
    try:
        if channel:
            await client.chat_postEphemeral(channel=channel, user=user, text=text)
        else:
            await client.chat_postMessage(channel=user, text=text)
    except Exception:  # the error path must not raise; the failure is logged with its ref
        logger.exception("could not tell the user about an error", extra={"ref": ref})
