"""Telling people what happened to a request: the card, thread notes, DMs, completion notices.

Completion is delivered in three steps (thread reply, card update, DM), each recorded on the
request once done, and the request stays in the notify schedule until all three are: a crash or a
Slack outage delays a notice, it never loses one, and a finished step is not repeated.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.i18n import Locales, Msg, Text, render, tr
from bot.metrics import Metrics
from bot.requests.lifecycle import Event
from bot.requests.model import CloneRequest, State
from bot.slack.client import slack_error_code
from bot.store.requests import RequestStore
from bot.ui import cards, results
from bot.ui.text import Mrkdwn, truncate
from bot.zstack.models import ModelServiceInventory

logger = logging.getLogger(__name__)

COMPLETION_STEPS = ("thread", "card", "dm")
# Errors retrying cannot fix: give up on that step (and say so in the log).
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "message_not_found",
        "cant_update_message",
        "invalid_blocks",
        "msg_too_long",
        "user_not_found",
        "cannot_dm_bot",
        "invalid_auth",
        "account_inactive",
        "token_revoked",
    }
)
RETRY_BACKOFF_S = (1, 2, 5, 10, 30, 60, 120, 300)
# States right after a decision: the thread's buttons are retired when one is reached.
DECIDED = frozenset(
    {State.APPROVED, State.REJECTED, State.CANCELLED, State.EXPIRED, State.AWAITING_LOGIN}
)
# Steps that post a new message (not idempotent): "sending:<step>" is recorded before the post.
POSTED_STEPS = frozenset({"thread", "dm"})
SENDING = "sending:"


class DeliveryPending(Exception):
    """Some completion step failed for now; the request stays scheduled for another try."""


@dataclass
class Notifier:
    client: AsyncWebClient
    store: RequestStore
    settings: Settings
    metrics: Metrics
    locales: Locales = field(default_factory=Locales)

    # --- the card and short notes -----------------------------------------------------------

    async def refresh_card(self, record: CloneRequest) -> None:
        """Re-render the card from the stored record (best effort: the next change redraws it)."""
        if not record.card_ts:
            return
        try:
            await self.client.chat_update(
                channel=record.channel,
                ts=record.card_ts,
                text=cards.card_fallback_text(record, self.locales.default),
                blocks=cards.request_card(record, self.settings.approvers, self.locales.default),
            )
        except SlackApiError as exc:
            self._count(exc, "chat.update")
            logger.warning(
                "card update failed",
                extra={"request_id": record.id, "error": slack_error_code(exc)},
            )
        if record.params_ts and record.state in DECIDED:
            await self._retire_thread_buttons(record)

    async def _retire_thread_buttons(self, record: CloneRequest) -> None:
        """Once decided, the parameter reply loses its Approve/Reject buttons."""
        try:
            await self.client.chat_update(
                channel=record.channel,
                ts=record.params_ts or "",
                text=Msg.of("Parameters of {id}", id=record.id).render(self.locales.default),
                blocks=cards.parameter_reply(record, self.locales.default),
            )
        except SlackApiError as exc:
            self._count(exc, "chat.update")

    async def thread_note(self, record: CloneRequest, text: Text) -> None:
        """A short note in the card's thread, in the workspace language."""
        try:
            await self._post_in_thread(record, render(text, self.locales.default), None)
        except SlackApiError as exc:
            self._count(exc, "chat.postMessage")
            logger.warning(
                "thread note failed",
                extra={"request_id": record.id, "error": slack_error_code(exc)},
            )

    async def tell(self, user: str, channel: str | None, message: Text) -> None:
        """An ephemeral to ``user`` in ``channel``, or a DM when that is not possible."""
        text = render(message, await self.locales.of(self.client, user))
        if channel:
            try:
                await self.client.chat_postEphemeral(channel=channel, user=user, text=text)
                return
            except SlackApiError as exc:
                self._count(exc, "chat.postEphemeral")
        try:
            await self.client.chat_postMessage(channel=user, text=text)
        except SlackApiError as exc:
            self._count(exc, "chat.postMessage")
            logger.warning(
                "could not reach a user", extra={"user_id": user, "error": slack_error_code(exc)}
            )

    async def dm(self, user: str, message: Text) -> None:
        text = render(message, await self.locales.of(self.client, user))
        try:
            await self.client.chat_postMessage(channel=user, text=text)
        except SlackApiError as exc:
            self._count(exc, "chat.postMessage")
            logger.warning("DM failed", extra={"user_id": user, "error": slack_error_code(exc)})

    # --- completion ---------------------------------------------------------------------------

    async def deliver_completion(self, request_id: str) -> None:
        """Deliver every missing completion step; ``DeliveryPending`` if one must be retried."""
        record = await self.store.require(request_id)
        if record.state not in (State.SUCCEEDED, State.FAILED):
            await self.store.unschedule("notify", request_id)
            return
        shared = self._completion(record, self.locales.default)
        own = self._completion(record, await self.locales.of(self.client, record.requester))
        pending = False
        for step in COMPLETION_STEPS:
            if step in record.notified:
                continue
            try:
                blocks, text = own if step == "dm" else shared
                if step in POSTED_STEPS:
                    # A post that was sent but not recorded (the process died in between) is
                    # found in Slack instead of being posted twice.
                    if SENDING + step in record.notified and await self._posted(step, record, text):
                        record = await self._mark(request_id, step)
                        continue
                    record = await self._mark(request_id, SENDING + step)
                await self._step(step, record, blocks, text)
            except SlackApiError as exc:
                self._count(exc, _METHOD[step])
                if slack_error_code(exc) not in PERMANENT_ERRORS:
                    logger.warning(
                        "completion step will be retried",
                        extra={
                            "request_id": request_id,
                            "step": step,
                            "error": slack_error_code(exc),
                        },
                    )
                    pending = True
                    continue
                logger.error(
                    "completion step impossible",
                    extra={"request_id": request_id, "step": step, "error": slack_error_code(exc)},
                )
            record = await self._mark(request_id, step)
        if pending:
            raise DeliveryPending(request_id)
        await self.store.unschedule("notify", request_id)

    async def schedule_retry(self, request_id: str, attempt: int) -> None:
        delay = RETRY_BACKOFF_S[min(attempt, len(RETRY_BACKOFF_S) - 1)]
        self.metrics.notification_retries.inc()
        await self.store.schedule("notify", request_id, time.time() + delay)

    def _completion(self, record: CloneRequest, lang: str) -> tuple[list[Block], Mrkdwn]:
        t = tr(lang)
        if record.state == State.SUCCEEDED:
            inventory = record.result or ModelServiceInventory()
            console = self.settings.zstack_console_url
            blocks = results.success_blocks(record, inventory, console, lang)
            text = t(
                "{id} done: {name} ({uuid}) was created.",
                id=record.id,
                name=inventory.name,
                uuid=inventory.uuid,
            )
        else:
            error = record.error
            reason = record.error_text or t("unknown error")
            blocks = results.failure_blocks(record, error, reason, lang)
            text = t("{id} failed: {reason}", id=record.id, reason=reason)
        return list(blocks), truncate(text, 3000)

    async def _step(
        self, step: str, record: CloneRequest, blocks: list[Block], text: Mrkdwn
    ) -> None:
        if step == "thread":
            await self._post_in_thread(record, text, blocks)
        elif step == "card":
            if record.card_ts:
                await self.client.chat_update(
                    channel=record.channel,
                    ts=record.card_ts,
                    text=cards.card_fallback_text(record, self.locales.default),
                    blocks=cards.request_card(
                        record, self.settings.approvers, self.locales.default
                    ),
                )
        else:
            await self.client.chat_postMessage(channel=record.requester, text=text, blocks=blocks)

    async def _post_in_thread(
        self, record: CloneRequest, text: Mrkdwn, blocks: list[Block] | None
    ) -> None:
        await self.client.chat_postMessage(
            channel=record.channel,
            thread_ts=record.card_ts,
            text=truncate(text, 3000),
            blocks=blocks,
            unfurl_links=False,
        )

    async def _posted(self, step: str, record: CloneRequest, text: Mrkdwn) -> bool:
        """Whether the thread (or the requester's DM) already holds this notice since the end.

        When Slack cannot tell (an error), the notice is posted again: a duplicate beats a loss.
        """
        oldest = f"{record.finished_at.timestamp() - 1:.6f}" if record.finished_at else "0"
        try:
            if step == "thread":
                answer = await self.client.conversations_replies(
                    channel=record.channel, ts=record.card_ts or "", oldest=oldest, limit=200
                )
            else:
                opened = await self.client.conversations_open(users=record.requester)
                answer = await self.client.conversations_history(
                    channel=str(opened["channel"]["id"]), oldest=oldest, limit=200
                )
        except SlackApiError as exc:
            logger.warning(
                "cannot check for an earlier notice",
                extra={"request_id": record.id, "step": step, "error": slack_error_code(exc)},
            )
            return False
        wanted = truncate(text, 3000)
        messages = answer.get("messages") or []
        return any(m.get("bot_id") and m.get("text") == wanted for m in messages)

    async def _mark(self, request_id: str, step: str) -> CloneRequest:
        def add(current: CloneRequest) -> CloneRequest | None:
            if step in current.notified:
                return None
            return current.model_copy(update={"notified": [*current.notified, step]})

        outcome = await self.store.transition(
            request_id, Event.NOTIFIED, add, actor="bot", note=f"notified:{step}"
        )
        return outcome.record

    def _count(self, exc: SlackApiError, method: str) -> None:
        self.metrics.slack_errors.labels(method, slack_error_code(exc)).inc()


_METHOD = {"thread": "chat.postMessage", "card": "chat.update", "dm": "chat.postMessage"}
