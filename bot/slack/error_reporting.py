"""Telling a user that something failed, with a reference id, never the raw exception.

Used by Bolt's global error handler (errors before or during ``ack``) and by ``Background``
(errors in work that runs after the ack).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.errors import (
    BotError,
    NotLoggedIn,
    SessionExpired,
    SlackError,
    StoreUnavailable,
    ZStackUnavailable,
)
from bot.i18n import Locales, tr
from bot.metrics import Metrics
from bot.slack.client import as_slack_error, slack_errors
from bot.ui import login as login_ui
from bot.ui.messages import internal_error, store_down, zstack_unreachable
from bot.ui.text import Mrkdwn

logger = logging.getLogger(__name__)


def user_message_for(
    error: BaseException, zstack_url: str, reference: str, lang: str = "en"
) -> Mrkdwn:
    """What the user reads when a listener fails."""
    if isinstance(error, StoreUnavailable):
        return store_down(lang)
    if isinstance(error, ZStackUnavailable):
        return zstack_unreachable(zstack_url, lang)
    if isinstance(error, NotLoggedIn):
        return login_ui.not_logged_in(lang)
    if isinstance(error, SessionExpired):
        return login_ui.session_expired(lang)
    slack = as_slack_error(error)
    if slack is not None and slack.code in TRIGGER_ERRORS:
        t = tr(lang)
        return t(
            "Slack's time to open that dialog ran out before the bot could open it. "
            "Please try again."
        )
    return internal_error(reference, lang)


# views.open answered that the trigger_id can no longer open a modal (3 s, single use).
TRIGGER_ERRORS = frozenset({"expired_trigger_id", "exchanged_trigger_id", "invalid_trigger_id"})


class ErrorReporter:
    def __init__(
        self,
        zstack_url: str,
        metrics: Metrics,
        locales: Locales,
        trusted_response_url: Callable[[str], bool],
    ) -> None:
        self.zstack_url = zstack_url
        self.metrics = metrics
        self.locales = locales
        self.trusted_response_url = trusted_response_url

    def log(self, error: BaseException, body: dict[str, Any]) -> str:
        """Log the error under a fresh reference (the one the user is given) and count it."""
        reference = "ERR-" + secrets.token_hex(4).upper()
        self.metrics.handler_errors.labels(type(error).__name__).inc()
        where = _describe(body)
        if isinstance(error, BotError):
            logger.warning("handler failed", extra={"ref": reference, **where}, exc_info=error)
        else:
            logger.error("handler crashed", extra={"ref": reference, **where}, exc_info=error)
        return reference

    async def report(
        self, error: BaseException, body: dict[str, Any], client: AsyncWebClient
    ) -> str:
        """Log the error with a fresh reference and tell the user; returns the reference."""
        reference = self.log(error, body)
        user = body.get("user_id") or (body.get("user") or {}).get("id")
        lang = self.locales.cached(str(user)) if user else self.locales.default
        text = user_message_for(error, self.zstack_url, reference, lang)
        await self._tell_user(client, body, text, reference)
        return reference

    async def _tell_user(
        self, client: AsyncWebClient, body: dict[str, Any], text: Mrkdwn, ref: str
    ) -> None:
        """By the payload's response_url (works in any channel), else an ephemeral, else a DM."""
        user = body.get("user_id") or (body.get("user") or {}).get("id")
        channel = body.get("channel_id") or (body.get("channel") or {}).get("id")
        response_url = body.get("response_url")
        try:
            if isinstance(response_url, str) and self.trusted_response_url(response_url):
                answer = await AsyncWebhookClient(response_url).send(
                    text=text, response_type="ephemeral", replace_original=False
                )
                if answer.status_code == 200:
                    return
            if user and channel:
                try:
                    with slack_errors("chat.postEphemeral", self.metrics):
                        await client.chat_postEphemeral(channel=channel, user=user, text=text)
                    return
                except SlackError:
                    pass  # e.g. not_in_channel: fall back to a DM
            if user:
                await client.chat_postMessage(channel=user, text=text)
        except Exception:  # the error path itself must never raise; its failure is logged
            logger.exception("could not tell the user about an error", extra={"ref": ref})


def _describe(body: dict[str, Any]) -> dict[str, str]:
    user = body.get("user_id") or (body.get("user") or {}).get("id") or ""
    kind = body.get("command") or body.get("type") or ""
    callback = (body.get("view") or {}).get("callback_id") or ""
    return {"user_id": str(user), "kind": str(kind), "callback_id": str(callback)}
