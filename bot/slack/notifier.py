"""Slack's side of a request's effects: the card, thread notes, DMs, completion notices.

``Notifier.perform`` carries out one effect of the outbox (``bot.requests.outbox``) and lets
``SlackError`` out when Slack refused or could not be reached, so the outbox retries or drops it.
Completion is delivered in three steps, the requester's DM first, then the thread reply, then the
card update (the order that matters most to people under Slack's rate limits), each recorded on
the request once done: a crash or a Slack outage delays a notice, it never loses one, and a
finished step is not repeated.

The requester's DM goes at once. What nobody waits on at that moment (card re-renders, a
completion's thread reply and card) takes a place in ``bulk`` first, an ``AdaptiveLimit`` that
narrows while the event loop lags (``bot.load``): when a thousand jobs end together, their DMs
do not wait behind each other's thread replies and card draws.

Effects wait for no Slack method's turn (``patience(0)``): a method that is held back by its
rate limit raises ``SlackRateLimited`` without a call, and the outbox tries again when it is due.
"""

from __future__ import annotations

import contextlib
import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TypeVar

from slack_sdk.models.blocks import ActionsBlock, Block
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.errors import DeliveryPending, SlackError, SlackRateLimited
from bot.i18n import Locales, Msg, Text, render, tr
from bot.load import AdaptiveLimit
from bot.metrics import Metrics
from bot.requests.effects import Effect
from bot.requests.lifecycle import Event
from bot.requests.model import CloneRequest, State
from bot.slack.client import PATIENCE_S, patience, slack_errors
from bot.slack.publisher import CardPublisher
from bot.store.requests import RequestStore
from bot.ui import cards, results, thread
from bot.ui.text import Mrkdwn, truncate
from bot.zstack.models import ModelServiceInventory

logger = logging.getLogger(__name__)

COMPLETION_STEPS = ("dm", "thread", "card")
# Once a request is past waiting for a decision, the thread's buttons are retired.
DECIDED = frozenset(State) - {State.PENDING}
# Steps that post a new message (not idempotent): "sending:<step>" is recorded before the post.
POSTED_STEPS = frozenset({"thread", "dm"})
SENDING = "sending:"
_V = TypeVar("_V")
# Messages looked through for a post that may have gone out before a crash.
HISTORY_LIMIT = 200
# Retired parameter replies remembered (another process, or this one later, redraws one at most
# once more: harmless).
RETIRED_KEPT = 10_000
# Card draws and completions' thread replies and cards carried out at once, at most (Slack's
# own limits let far fewer through in a real workspace: ``bot.slack.pacing``).
BULK_CEILING = 64
BULK_FLOOR = 4


@dataclass
class Notifier:
    client: AsyncWebClient
    store: RequestStore
    settings: Settings
    metrics: Metrics
    locales: Locales = field(default_factory=Locales)
    publisher: CardPublisher = field(init=False)
    # Requests whose parameter reply this process has retired (its buttons gone for good: a
    # request never goes back to pending), so a later card draw spends no chat.update on it.
    _retired: OrderedDict[str, None] = field(default_factory=OrderedDict)
    # The record version each request's card was last drawn at by this process: a draw tried
    # again because the parameter reply had to wait (a rate limit) does not draw the card again.
    _drawn: OrderedDict[str, int] = field(default_factory=OrderedDict)
    bulk: AdaptiveLimit = field(default_factory=lambda: AdaptiveLimit(BULK_FLOOR, BULK_CEILING))

    def __post_init__(self) -> None:
        self.publisher = CardPublisher(
            self.client, self.store, self.settings, self.metrics, self.locales
        )

    # --- effects ----------------------------------------------------------------------------

    async def perform(self, record: CloneRequest, effect: Effect) -> None:
        """Carry out one effect of the request's outbox."""
        with patience(0.0):
            await self._perform(record, effect)

    async def _perform(self, record: CloneRequest, effect: Effect) -> None:
        if effect.kind == "publish":
            await self.publisher.publish(record, maybe_posted=effect.sending)
        elif effect.kind == "card":
            async with self.bulk:
                await self._draw_card(record)
        elif effect.kind == "note":
            # Not bulk: a note holds its lane, and a completion behind it (its DM) waits with it.
            await self._post_in_thread(record, self._text(effect, self.locales.default), None)
        elif effect.kind == "dm":
            user = effect.user or record.requester
            lang = await self.locales.of(self.client, user)
            text = self._text(effect, lang)
            blocks = self._dm_blocks(record, effect, text, lang)
            with slack_errors("chat.postMessage", self.metrics):
                await self.client.chat_postMessage(channel=user, text=text, blocks=blocks)
        elif effect.kind == "completion":
            await self.deliver_completion(record.id)
        else:
            raise ValueError(f"not a Slack effect: {effect.kind}")

    async def posted(self, record: CloneRequest, effect: Effect) -> bool:
        """Whether a note or DM that may have gone out before a crash is in Slack (a card is
        looked for by ``publish`` itself, which also finishes what its poster left undone)."""
        if effect.kind == "publish":
            return False
        with patience(0.0):
            return await self._posted(record, effect)

    async def _posted(self, record: CloneRequest, effect: Effect) -> bool:
        if effect.kind == "note":
            text = self._text(effect, self.locales.default)
            return await self._found("thread", record, text, effect.at)
        user = effect.user or record.requester
        text = self._text(effect, await self.locales.of(self.client, user))
        return await self._found("dm", record, text, effect.at, user=user)

    @staticmethod
    def _dm_blocks(
        record: CloneRequest, effect: Effect, text: Mrkdwn, lang: str
    ) -> list[Block] | None:
        """A DM that offers "Edit and resubmit" (while that is still possible), or Approve /
        Reject to an approver (while the request waits), with a link to the thread; other DMs
        are their text."""
        if effect.decide and record.state == State.PENDING:
            buttons = cards.decision_buttons(record, with_cancel=False, lang=lang)
            return [*results.note(text), buttons, *results.thread_link(record, lang)]
        if not effect.resubmit or record.superseded_by:
            return None
        actions = ActionsBlock(
            block_id=f"resubmit:{record.id}", elements=[cards.resubmit_button(record, lang)]
        )
        return [*results.note(text), actions, *results.thread_link(record, lang)]

    @staticmethod
    def _text(effect: Effect, lang: str) -> Mrkdwn:
        return effect.text.msg().render(lang) if effect.text else Mrkdwn("")

    async def _draw_card(self, record: CloneRequest) -> None:
        """Re-render the card from the stored record; once decided, the parameter reply loses
        its Approve/Reject buttons."""
        if not record.card_ts:
            return  # not posted yet: the publish effect draws it as it then stands
        lang = self.locales.default
        if self._drawn.get(record.id) != record.version:
            with slack_errors("chat.update", self.metrics):
                await self.client.chat_update(
                    channel=record.channel,
                    ts=record.card_ts,
                    text=cards.card_fallback_text(record, lang),
                    blocks=cards.request_card(record, self.settings.approvers, lang),
                )
            _remember(self._drawn, record.id, record.version)
        if record.params_ts and record.state in DECIDED and record.id not in self._retired:
            # The card is drawn: waiting a turn here is cheaper than coming back. Coming back
            # (the turn is further off than that) retires the reply without drawing the card
            # again, so a card whose reply waits behind other cards' draws is not drawn over
            # and over, each draw taking the turn the reply waited for.
            with patience(PATIENCE_S), slack_errors("chat.update", self.metrics):
                await self.client.chat_update(
                    channel=record.channel,
                    ts=record.params_ts,
                    text=Msg.of("Parameters of {id}", id=record.id).render(lang),
                    blocks=thread.parameter_reply(record, lang),
                )
            _remember(self._retired, record.id, None)

    # --- answers to a person, now -------------------------------------------------------------

    async def tell(
        self, user: str, channel: str | None, message: Text, *, thread_ts: str | None = None
    ) -> None:
        """An ephemeral to ``user`` in ``channel`` (in the thread they acted in, if any), or a
        DM when that is not possible."""
        text = render(message, await self.locales.of(self.client, user))
        if channel:
            try:
                with slack_errors("chat.postEphemeral", self.metrics):
                    await self.client.chat_postEphemeral(
                        channel=channel, user=user, text=text, thread_ts=thread_ts
                    )
                return
            except SlackError:
                pass  # not in that channel: a DM
        try:
            with slack_errors("chat.postMessage", self.metrics):
                await self.client.chat_postMessage(channel=user, text=text)
        except SlackError as exc:
            logger.warning("could not reach a user", extra={"user_id": user, "error": exc.code})

    # --- completion ---------------------------------------------------------------------------

    async def requester_first(self, record: CloneRequest, effect: Effect) -> None:
        """The completion's DM alone, ahead of thread notes still waiting for the channel's
        turn (the thread reply and the card follow in order with the effect itself)."""
        if effect.kind == "completion" and "dm" not in record.notified:
            with patience(0.0):
                await self.deliver_completion(record.id, steps=("dm",))

    async def deliver_completion(
        self, request_id: str, steps: tuple[str, ...] = COMPLETION_STEPS
    ) -> None:
        """Deliver every missing completion step (of ``steps``); ``DeliveryPending`` if one must
        be retried."""
        record = await self.store.require(request_id)
        if record.state not in (State.SUCCEEDED, State.FAILED):
            return  # retried since: its own end brings its own notices
        shared = self._completion(record, self.locales.default)
        lang = await self.locales.of(self.client, record.requester)
        own_blocks, own_text = self._completion(record, lang)
        own = ([*own_blocks, *results.thread_link(record, lang)], own_text)
        pending: SlackError | None = None
        wait_s = 0.0  # the longest Retry-After among the steps held back by a rate limit
        async with contextlib.AsyncExitStack() as places:
            waited = False
            for step in steps:
                if step in record.notified:
                    continue
                if step != "dm" and not waited:
                    await places.enter_async_context(self.bulk)  # the DM went: the rest waits
                    waited = True
                record, held = await self._completion_step(request_id, record, step, own, shared)
                if isinstance(held, SlackRateLimited):
                    pending, wait_s = held, max(wait_s, held.retry_after_s)
                    break  # the steps after it keep their place behind it (DM, thread, card)
                pending = held or pending
        if pending is not None:
            raise DeliveryPending(request_id, pending.code, wait_s) from pending

    async def _completion_step(
        self,
        request_id: str,
        record: CloneRequest,
        step: str,
        own: tuple[list[Block], Mrkdwn],
        shared: tuple[list[Block], Mrkdwn],
    ) -> tuple[CloneRequest, SlackError | None]:
        """One step of a completion: the record as it then stands, and the error that holds the
        step back (None: done, or impossible and given up)."""
        blocks, text = own if step == "dm" else shared
        try:
            if step in POSTED_STEPS:
                # A post that was sent but not recorded (the process died in between) is found
                # in Slack instead of being posted twice.
                since = record.finished_at.timestamp() if record.finished_at else 0.0
                if SENDING + step in record.notified and await self._found(
                    step, record, text, since
                ):
                    return await self._mark(request_id, step), None
                self._turn_now(step, record)  # held back: no "sending" mark to undo
                record = await self._mark(request_id, SENDING + step)
            await self._step(step, record, blocks, text)
        except SlackRateLimited as exc:
            # Not sent: the next try posts it without looking for it first.
            return await self._unmark(request_id, SENDING + step), exc
        except SlackError as exc:
            if not exc.permanent:
                logger.warning(
                    "completion step will be retried",
                    extra={"request_id": request_id, "step": step, "error": exc.code},
                )
                return record, exc
            logger.error(
                "completion step impossible",
                extra={"request_id": request_id, "step": step, "error": exc.code},
            )
        return await self._mark(request_id, step), None

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
            reason = cards.failure_text(record, lang)
            blocks = results.failure_blocks(record, error, reason, lang)
            text = t("{id} failed: {reason}", id=record.id, reason=reason)
        return list(blocks), truncate(text, 3000)

    async def _step(
        self, step: str, record: CloneRequest, blocks: list[Block], text: Mrkdwn
    ) -> None:
        if step == "thread":
            await self._post_in_thread(record, text, blocks)
        elif step == "card":
            await self._draw_card(record)
        else:
            with slack_errors("chat.postMessage", self.metrics):
                await self.client.chat_postMessage(
                    channel=record.requester, text=text, blocks=blocks
                )

    async def _post_in_thread(
        self, record: CloneRequest, text: Mrkdwn, blocks: list[Block] | None
    ) -> None:
        """In the card's thread (in the channel, for a request whose card never got posted)."""
        with slack_errors("chat.postMessage", self.metrics):
            await self.client.chat_postMessage(
                channel=record.channel,
                thread_ts=record.card_ts,
                text=truncate(text, 3000),
                blocks=blocks,
                unfurl_links=False,
            )

    async def _found(
        self,
        where: str,
        record: CloneRequest,
        text: Mrkdwn,
        since: float,
        *,
        user: str | None = None,
    ) -> bool:
        """Whether the thread (or a user's DM) holds this message, posted by the bot since
        ``since``. When Slack cannot tell (an error), it is posted again: a duplicate beats a
        loss."""
        oldest = f"{since - 1:.6f}"
        try:
            if where == "thread" and record.card_ts:
                with slack_errors("conversations.replies", self.metrics):
                    answer = await self.client.conversations_replies(
                        channel=record.channel, ts=record.card_ts, oldest=oldest, limit=200
                    )
            elif where == "thread":
                with slack_errors("conversations.history", self.metrics):
                    answer = await self.client.conversations_history(
                        channel=record.channel, oldest=oldest, limit=HISTORY_LIMIT
                    )
            else:
                with slack_errors("conversations.open", self.metrics):
                    opened = await self.client.conversations_open(users=user or record.requester)
                with slack_errors("conversations.history", self.metrics):
                    answer = await self.client.conversations_history(
                        channel=str(opened["channel"]["id"]), oldest=oldest, limit=HISTORY_LIMIT
                    )
        except SlackRateLimited:
            raise  # cannot tell yet: ask again later rather than risk posting twice
        except SlackError as exc:
            logger.warning(
                "cannot check for an earlier post",
                extra={"request_id": record.id, "where": where, "error": exc.code},
            )
            return False
        wanted = truncate(text, 3000)
        messages = answer.get("messages") or []
        return any(m.get("bot_id") and m.get("text") == wanted for m in messages)

    def _turn_now(self, step: str, record: CloneRequest) -> None:
        """``SlackRateLimited`` when the post of ``step`` would be held back by the pace."""
        pacer = getattr(self.client, "pacer", None)
        if pacer is None:
            return
        channel = record.requester if step == "dm" else record.channel
        wait = pacer.wait_s("chat.postMessage", channel)
        if wait > 0:
            raise SlackRateLimited("chat.postMessage", wait)

    async def _unmark(self, request_id: str, step: str) -> CloneRequest:
        def remove(current: CloneRequest) -> CloneRequest | None:
            if step not in current.notified:
                return None
            notified = [s for s in current.notified if s != step]
            return current.model_copy(update={"notified": notified})

        outcome = await self.store.transition(
            request_id, Event.NOTIFIED, remove, actor="bot", note=f"not sent:{step}"
        )
        return outcome.record

    async def _mark(self, request_id: str, step: str) -> CloneRequest:
        def add(current: CloneRequest) -> CloneRequest | None:
            if step in current.notified:
                return None
            return current.model_copy(update={"notified": [*current.notified, step]})

        outcome = await self.store.transition(
            request_id, Event.NOTIFIED, add, actor="bot", note=f"notified:{step}"
        )
        return outcome.record


def _remember(kept: OrderedDict[str, _V], request_id: str, value: _V) -> None:
    """Remember ``value`` for ``request_id``, forgetting the oldest beyond ``RETIRED_KEPT``."""
    kept[request_id] = value
    kept.move_to_end(request_id)
    while len(kept) > RETIRED_KEPT:
        kept.popitem(last=False)
