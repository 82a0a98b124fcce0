"""Posting a request's card (the ``publish`` effect): the card, its parameter reply, the
requester's notice — or, when the card cannot be posted at all, the request withdrawn.

A card that may have been posted by a worker that died before recording it is looked for in the
channel first, so a takeover does not post a second card.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.errors import SlackError
from bot.i18n import Locales, Msg
from bot.metrics import Metrics
from bot.requests import effects
from bot.requests.lifecycle import Event
from bot.requests.model import CloneRequest, State, utc_now
from bot.slack.client import PATIENCE_S, patience, slack_errors
from bot.store.requests import RequestStore
from bot.ui import cards, status, thread

logger = logging.getLogger(__name__)

# Messages of the channel looked through for a card posted by a worker that died.
HISTORY_LIMIT = 100


@dataclass
class CardPublisher:
    client: AsyncWebClient
    store: RequestStore
    settings: Settings
    metrics: Metrics
    locales: Locales = field(default_factory=Locales)

    async def publish(self, record: CloneRequest, *, maybe_posted: bool) -> None:
        """Post the card unless it is already there; ``SlackError`` when Slack must be asked
        again later. A card that can never be posted withdraws the request."""
        if record.card_ts:
            return  # posted and recorded: whatever happened since, it stands
        lang = self.locales.default
        found = await self._find_card(record) if maybe_posted else None
        if found is None:
            try:
                with slack_errors("chat.postMessage", self.metrics):
                    card = await self.client.chat_postMessage(
                        channel=record.channel,
                        text=cards.card_fallback_text(record, lang),
                        blocks=cards.request_card(record, self.settings.approvers, lang),
                        unfurl_links=False,
                    )
            except SlackError as exc:
                if not exc.permanent:
                    raise
                await self._withdraw(record, exc.code)
                return
            found = (str(card["channel"]), str(card["ts"]))
        channel, ts = found
        # The card is out: what follows waits its turn (a second or so) rather than be left out.
        with patience(PATIENCE_S):
            await self._complete(record, channel, ts)

    async def _complete(self, record: CloneRequest, channel: str, ts: str) -> None:
        """The posted card's parameter reply, its link, the record, and the requester told."""
        params_ts = await self._parameter_reply(record, channel, ts)
        permalink = await self._permalink(record, channel, ts)

        def placed(current: CloneRequest) -> CloneRequest:
            return current.model_copy(
                update={
                    "channel": channel,
                    "card_ts": ts,
                    "params_ts": params_ts,
                    "card_link": permalink,
                }
            )

        outcome = await self.store.transition(
            record.id, Event.POSTED, placed, actor=record.requester, note="posted"
        )
        await self.store.index_thread(channel, ts, record.id)
        placed_record = outcome.record
        if placed_record.state != State.PENDING:
            # Decided while the card was on its way: draw it as it now stands.
            await self._redraw(placed_record)
        await self._tell_requester(placed_record)

    async def _find_card(self, record: CloneRequest) -> tuple[str, str] | None:
        """A card for this request the bot posted already (by a worker that died)."""
        try:
            with slack_errors("conversations.history", self.metrics):
                answer = await self.client.conversations_history(
                    channel=record.channel,
                    oldest=f"{record.created_at.timestamp() - 1:.6f}",
                    limit=HISTORY_LIMIT,
                )
        except SlackError as exc:  # cannot tell: a second card beats none
            logger.warning(
                "cannot look for an earlier card",
                extra={"request_id": record.id, "error": exc.code},
            )
            return None
        for message in answer.get("messages") or []:
            top_level = message.get("thread_ts") in (None, message.get("ts"))
            if top_level and message.get("bot_id") and record.id in str(message.get("text", "")):
                return record.channel, str(message["ts"])
        return None

    async def _parameter_reply(self, record: CloneRequest, channel: str, ts: str) -> str | None:
        lang = self.locales.default
        try:
            with slack_errors("chat.postMessage", self.metrics):
                reply = await self.client.chat_postMessage(
                    channel=channel,
                    thread_ts=ts,
                    text=Msg.of("Parameters of {id}", id=record.id).render(lang),
                    blocks=thread.parameter_reply(record, lang),
                )
        except SlackError as exc:  # the card stands and works without its parameter reply
            logger.warning(
                "parameter reply not posted", extra={"request_id": record.id, "error": exc.code}
            )
            return None
        return str(reply["ts"])

    async def _redraw(self, record: CloneRequest) -> None:
        lang = self.locales.default
        try:
            with slack_errors("chat.update", self.metrics):
                await self.client.chat_update(
                    channel=record.channel,
                    ts=record.card_ts or "",
                    text=cards.card_fallback_text(record, lang),
                    blocks=cards.request_card(record, self.settings.approvers, lang),
                )
        except SlackError as exc:  # the decision's own card effect draws it again
            logger.warning("card not redrawn", extra={"request_id": record.id, "error": exc.code})

    async def _withdraw(self, record: CloneRequest, code: str) -> None:
        """Nobody could approve a request whose card cannot be posted (``channel_not_found``,
        ``not_in_channel``): it is withdrawn, and the requester told why by DM."""
        logger.error(
            "request card not posted",
            extra={"request_id": record.id, "channel_id": record.channel, "error": code},
        )

        def withdraw(current: CloneRequest) -> CloneRequest:
            return current.model_copy(
                update={
                    "state": State.CANCELLED,
                    "decided_by": "bot",
                    "decision_reason": f"the request card could not be posted ({code})",
                    "finished_at": utc_now(),
                }
            )

        why = Msg.marked(
            ":warning:",
            "Your clone request {id} could not be posted in <#{channel}> (Slack said `{code}`), "
            "so nobody could approve it; it was withdrawn. Ask an admin to invite the bot to that "
            "channel (or to check CLONEBOT_APPROVAL_CHANNEL), then submit it again.",
            id=record.id,
            channel=record.channel,
            code=code,
        )
        outcome = await self.store.transition(
            record.id,
            Event.WITHDRAW,
            withdraw,
            actor="bot",
            note=f"card not posted: {code}",
            effects=[effects.dm(record.requester, why)],
        )
        if outcome.changed:
            await self.store.unschedule("expiry", record.id)

    async def _permalink(self, record: CloneRequest, channel: str, ts: str) -> str | None:
        try:
            with slack_errors("chat.getPermalink", self.metrics):
                link = await self.client.chat_getPermalink(channel=channel, message_ts=ts)
        except SlackError:
            logger.warning("no permalink for the card", extra={"request_id": record.id})
            return None
        return str(link["permalink"])

    async def _tell_requester(self, record: CloneRequest) -> None:
        lang = await self.locales.of(self.client, record.requester)
        text = status.requester_notice(record, record.card_link, lang)
        if record.origin_channel == record.channel:
            try:
                with slack_errors("chat.postEphemeral", self.metrics):
                    await self.client.chat_postEphemeral(
                        channel=record.channel, user=record.requester, text=text
                    )
                return
            except SlackError:
                pass  # not visible there: a DM always works
        try:
            with slack_errors("chat.postMessage", self.metrics):
                await self.client.chat_postMessage(channel=record.requester, text=text)
        except SlackError as exc:  # the card is up; the notice is a courtesy
            logger.warning(
                "requester not told where the card is",
                extra={"request_id": record.id, "error": exc.code},
            )
