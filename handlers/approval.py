"""Buttons on the request card and its thread, the reject dialog, and thread replies
("approve" / "reject <reason>") that count like the buttons."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient

from bot.deps import Deps
from bot.errors import SlackError
from bot.i18n import N_, Msg, tr
from bot.logs import request_context
from bot.requests.approvers import LoginNeeded
from bot.requests.decisions import Decisions
from bot.requests.model import CloneRequest
from bot.requests.policy import Actor, ApprovalPolicy
from bot.slack.client import slack_errors
from bot.slack.payloads import (
    acting_user,
    installing_workspace,
    interaction_actor,
    message_author,
)
from bot.ui import cards, results, thread
from bot.ui import login as login_ui
from bot.ui.text import fmt
from bot.ui.view_state import ViewState

logger = logging.getLogger(__name__)

# In English or Chinese (批准 / 同意; 拒绝 <原因>), with the punctuation either language uses.
# A comment follows a colon or a dash ("approve: looks right"), so a question such as
# "approved by whom?" is not taken for an approval.
_APPROVE_WORDS = re.compile(
    r"^\s*(?:approve|approved|lgtm|批准|同意)\s*(?:[.!。！]|[:：-]\s*(?P<comment>.*?))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_REJECT_WORDS = re.compile(
    r"^\s*(?:reject(?:ed)?\b|拒绝)[\s:,，：、-]*(?P<reason>.*)$", re.IGNORECASE | re.DOTALL
)


def register(app: AsyncApp, deps: Deps) -> None:
    handlers = ApprovalHandlers(deps)
    app.action(cards.ACTION_APPROVE)(handlers.approve_clicked)
    app.view(thread.APPROVE_CALLBACK)(handlers.reasoned(APPROVAL_COMMENT, Decisions.approve))
    app.action(cards.ACTION_REJECT)(
        handlers.dialog(ApprovalPolicy.why_not_reject, thread.reject_modal)
    )
    app.action(cards.ACTION_CANCEL)(handlers.button(Decisions.cancel))
    app.action(cards.ACTION_RETRY)(handlers.button(Decisions.retry))
    app.action(cards.ACTION_SHOW_FULL)(handlers.show_full)
    app.action(results.ACTION_RAW_ERROR)(handlers.show_raw_error)
    app.action("open_console")(handlers.link_opened)
    app.view(thread.REJECT_CALLBACK)(handlers.reasoned(REJECT_REASON, Decisions.reject))
    app.action(cards.ACTION_BREAK_GLASS)(
        handlers.dialog(ApprovalPolicy.why_not_override, thread.break_glass_modal)
    )
    app.view(thread.BREAK_GLASS_CALLBACK)(handlers.reasoned(BREAK_GLASS_REASON, Decisions.override))
    app.event("message")(handlers.thread_reply)


WhyNot = Callable[[ApprovalPolicy, Actor, CloneRequest], Awaitable[Msg | None]]


class ReasonModal(Protocol):
    def __call__(
        self, record: CloneRequest, channel_id: str | None, *, from_home: bool, lang: str
    ) -> View: ...


ReasonedDecision = Callable[
    [Decisions, str, Actor, str], Coroutine[Any, Any, Msg | LoginNeeded | None]
]


@dataclass(frozen=True)
class ReasonAsked:
    """The reason a dialog asks for: its input, how long at least, what to say when short."""

    block: str
    minimum: int
    prompt: str


REJECT_REASON = ReasonAsked(
    thread.BLOCK_REJECT_REASON, 1, N_("Say why, so the requester can fix it.")
)
APPROVAL_COMMENT = ReasonAsked(
    thread.BLOCK_APPROVE_COMMENT, 1, N_("Write a comment: this request's rule asks for one.")
)
BREAK_GLASS_REASON = ReasonAsked(
    thread.BLOCK_BREAK_GLASS_REASON, 10, N_("Write why, in a sentence: it is shown on the card.")
)
ButtonDecision = Callable[[Decisions, str, Actor], Coroutine[Any, Any, Msg | LoginNeeded | None]]
Listener = Callable[..., Awaitable[None]]


def _thread_of(body: dict[str, Any]) -> str | None:
    """The thread a button was clicked in (the parameter reply's), so answers land there."""
    container = body.get("container") or {}
    message = body.get("message") or {}
    thread = container.get("thread_ts") or message.get("thread_ts")
    return str(thread) if thread else None


def _who(body: dict[str, Any], context: AsyncBoltContext) -> tuple[Actor, str | None, str]:
    """(who clicked, channel, request id) of a button click."""
    actor = interaction_actor(body, context)
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id"
    )
    request_id = str(body["actions"][0].get("value") or "")
    return actor, channel, request_id


class ApprovalHandlers:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def _decide(
        self,
        actor: Actor,
        channel: str | None,
        decision: Coroutine[Any, Any, Msg | LoginNeeded | None],
        thread_ts: str | None = None,
        *,
        client: AsyncWebClient | None = None,
        trigger_id: str | None = None,
    ) -> None:
        """Run a decision and answer the person who made it, when there is something to say;
        an approver whose ZStack login the rule wants gets the login modal (from a click)."""
        answer = await decision
        if isinstance(answer, LoginNeeded):
            if (
                client is not None
                and trigger_id
                and not answer.override
                and await self._open_login(client, actor, channel, answer, trigger_id)
            ):
                return
            answer = Msg.of(
                "Approvers of {id} prove who they are in ZStack: run `/zstack login` with your "
                "own account, then approve again.",
                id=answer.request_id,
            )
        if answer is not None:
            await self.deps.notifier.tell(actor.user_id, channel, answer, thread_ts=thread_ts)

    async def _open_login(
        self,
        client: AsyncWebClient,
        actor: Actor,
        channel: str | None,
        needed: LoginNeeded,
        trigger_id: str,
    ) -> bool:
        """The login modal, which counts the approval once the login succeeds."""
        lang = await self.deps.locales.quick(client, actor.user_id)
        context = login_ui.LoginContext(
            channel_id=channel,
            then_approve=needed.request_id,
            approve_comment=needed.comment or None,
        )
        reason = login_ui.approver_login_reason(needed.request_id, lang)
        if needed.expired:
            reason = fmt(
                "{expired} {reason}", expired=login_ui.session_expired(lang), reason=reason
            )
        modal = login_ui.login_modal(self.deps.zstack.base_url, context, error=reason, lang=lang)
        try:
            with slack_errors("views.open", self.deps.metrics):
                await client.views_open(trigger_id=trigger_id, view=modal)
        except SlackError as exc:  # the click's trigger ran out: say it in words instead
            logger.info("approver login modal not opened", extra={"error": exc.code})
            return False
        return True

    def button(self, decide: ButtonDecision) -> Listener:
        """The listener of one decision button (Approve, Cancel, Retry) on a card, its thread
        or App Home: decided off the ack's path, the clicker answered where they clicked."""

        async def clicked(
            ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
        ) -> None:
            actor, _channel, request_id = _who(body, context)
            work = self._clicked(
                body, context, client, decide(self.deps.decisions, request_id, actor)
            )
            with request_context(request_id):
                self.deps.background.spawn(work, body=body, client=client)
            await ack()

        return clicked

    async def _clicked(
        self,
        body: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
        decision: Coroutine[Any, Any, Msg | LoginNeeded | None],
    ) -> None:
        """Run a button's decision, answer the clicker where they clicked, refresh App Home."""
        actor, channel, _request_id = _who(body, context)
        answered = self._decide(
            actor,
            channel,
            decision,
            _thread_of(body),
            client=client,
            trigger_id=body.get("trigger_id"),
        )
        await self._then_home(body, context, client, answered)

    async def approve_clicked(
        self, ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        """Approve: counted at once, or, when the request's rule wants a comment with each
        approval, a small dialog that asks for it first."""
        _actor, _channel, request_id = _who(body, context)
        with request_context(request_id):
            self.deps.background.spawn(
                self._approve(body, context, client), body=body, client=client
            )
        await ack()

    async def _approve(
        self, body: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        actor, _channel, request_id = _who(body, context)
        record = await self.deps.requests.get(request_id)
        if record is not None and self.deps.policy.rule_of(record).approval_comment:
            why_not = ApprovalPolicy.why_not_approve
            await self._open_dialog(body, context, client, why_not, thread.approve_modal)
            return
        await self._clicked(body, context, client, self.deps.decisions.approve(request_id, actor))

    async def _then_home(
        self,
        body: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
        work: Coroutine[Any, Any, None],
    ) -> None:
        """Run a decision; when it came from App Home, show the Home as it now stands."""
        await work
        if (body.get("view") or {}).get("type") == "home":
            team = installing_workspace(context)
            await self.deps.home.publish(client, team, acting_user(context))

    def dialog(self, why_not: WhyNot, modal: ReasonModal) -> Listener:
        """The listener of a button that opens a reason dialog (Reject, Break glass): the
        dialog for those the policy lets decide, the reason why not for anyone else."""

        async def clicked(
            ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
        ) -> None:
            work = self._open_dialog(body, context, client, why_not, modal)
            self.deps.background.spawn(work, body=body, client=client)
            await ack()

        return clicked

    async def _open_dialog(
        self,
        body: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
        why_not: WhyNot,
        modal: ReasonModal,
    ) -> None:
        actor, channel, request_id = _who(body, context)
        answer = self.deps.notifier.tell
        record = await self.deps.requests.get(request_id)
        if record is None:
            missing = Msg.of("There is no request {id}.", id=request_id)
            await answer(actor.user_id, channel, missing, thread_ts=_thread_of(body))
            return
        if refusal := await why_not(self.deps.policy, actor, record):
            await answer(actor.user_id, channel, refusal, thread_ts=_thread_of(body))
            return
        from_home = (body.get("view") or {}).get("type") == "home"
        lang = await self.deps.locales.quick(client, actor.user_id)
        shown = modal(record, channel, from_home=from_home, lang=lang)
        await client.views_open(trigger_id=body["trigger_id"], view=shown)

    def reasoned(self, asks: ReasonAsked, decide: ReasonedDecision) -> Listener:
        """The listener of a dialog that takes a decision with a written reason."""

        async def submitted(
            ack: AsyncAck,
            body: dict[str, Any],
            view: dict[str, Any],
            context: AsyncBoltContext,
            client: AsyncWebClient,
        ) -> None:
            await self._reasoned(ack, body, view, context, client, asks, decide)

        return submitted

    async def _reasoned(
        self,
        ack: AsyncAck,
        body: dict[str, Any],
        view: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
        asks: ReasonAsked,
        decide: ReasonedDecision,
    ) -> None:
        """A dialog that takes a decision with a written reason (reject, break-glass): the
        reason checked in the ack, the decision taken off its path, once per dialog."""
        typed = ViewState.of(view).text(asks.block, thread.ACTION_REJECT_REASON)
        reason = (typed or "").strip()
        if len(reason) < asks.minimum:
            lang = self.deps.locales.cached(acting_user(context))
            message = tr(lang).plain(asks.prompt)
            await ack(response_action="errors", errors={asks.block: message})
            return
        if await self.deps.deliveries.repeated("view", view["id"]):
            await ack()  # already decided by this very dialog
            return
        meta = thread.RejectMeta.model_validate_json(view.get("private_metadata") or "{}")
        actor = interaction_actor(body, context)
        decision = decide(self.deps.decisions, meta.request_id, actor, reason)
        # A dialog's submission carries a trigger: an approval that needs the approver's ZStack
        # login opens the login modal, which then counts it with its comment.
        work = self._decide(
            actor, meta.channel_id, decision, client=client, trigger_id=body.get("trigger_id")
        )
        if meta.from_home:
            team = installing_workspace(context)
            work = self._then_publish(work, client, team, actor.user_id)
        with request_context(meta.request_id):
            self.deps.background.spawn(work, body=body, client=client)
        await ack()

    async def _then_publish(
        self, work: Coroutine[Any, Any, None], client: AsyncWebClient, team: str, user: str
    ) -> None:
        await work
        await self.deps.home.publish(client, team, user)

    async def show_full(
        self,
        ack: AsyncAck,
        body: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
    ) -> None:
        work = self._show(body, context, client, raw=False)
        self.deps.background.spawn(work, body=body, client=client)
        await ack()

    async def show_raw_error(
        self,
        ack: AsyncAck,
        body: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
    ) -> None:
        work = self._show(body, context, client, raw=True)
        self.deps.background.spawn(work, body=body, client=client)
        await ack()

    async def _show(
        self,
        body: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
        *,
        raw: bool,
    ) -> None:
        actor, channel, request_id = _who(body, context)
        user = actor.user_id
        record = await self.deps.requests.get(request_id)
        if record is None:
            await self.deps.notifier.tell(
                user, channel, Msg.of("There is no request {id}.", id=request_id)
            )
            return
        lang = await self.deps.locales.quick(client, user)
        view = (
            results.raw_error_view(record, lang) if raw else results.full_values_view(record, lang)
        )
        await client.views_open(trigger_id=body["trigger_id"], view=view)

    async def link_opened(self, ack: AsyncAck) -> None:
        await ack()  # a URL button: Slack opens the link, the bot has nothing to do

    async def thread_reply(
        self,
        event: dict[str, Any],
        body: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
    ) -> None:
        """A reply in a request card's thread: ``approve`` or ``reject <reason>``, counted only
        when a person of the workspace wrote it (never a bot, an edit or a deletion)."""
        if not event.get("thread_ts"):
            return
        text = str(event.get("text") or "")
        approve = _APPROVE_WORDS.match(text)
        reject = None if approve else _REJECT_WORDS.match(text)
        if not approve and not reject:
            return
        author = message_author(event, context)
        if author is None:
            logger.info("decision in a thread not written by a person of the workspace: ignored")
            return
        channel, thread = str(event.get("channel")), str(event["thread_ts"])
        # Events are answered when the listener returns: the lookup and the decision run after.
        work = self._thread_decision(author, channel, thread, approve, reject)
        self.deps.background.spawn(work, body=body, client=client)

    async def _thread_decision(
        self,
        author: Actor,
        channel: str,
        thread: str,
        approve: re.Match[str] | None,
        reject: re.Match[str] | None,
    ) -> None:
        request_id = await self.deps.requests.by_thread(channel, thread)
        if request_id is None:
            return
        if approve:
            comment = (approve.group("comment") or "").strip()
            decision = self.deps.decisions.approve(request_id, author, comment)
        else:
            assert reject is not None
            reason = reject.group("reason").strip()
            if not reason:
                await self.deps.notifier.tell(
                    author.user_id,
                    channel,
                    Msg.of("Say why: reply `reject <reason>` so the requester can fix it."),
                    thread_ts=thread,
                )
                return
            decision = self.deps.decisions.reject(request_id, author, reason)
        with request_context(request_id):
            await self._decide(author, channel, decision, thread)
