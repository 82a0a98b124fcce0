"""``/clone-model``: the form (loading view → login or prefilled form), type-ahead, the
advanced-options toggle, submission, and ``help`` / ``status`` / ``list``."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Generator
from contextlib import suppress
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_sdk.models.blocks import Option
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.deps import Deps
from bot.errors import (
    NotLoggedIn,
    RequestDenied,
    ResubmitRefused,
    SessionExpired,
    SlackError,
    StoreUnavailable,
    ZStackAPIError,
    ZStackUnavailable,
)
from bot.i18n import Msg, tr
from bot.requests.intake import facts_of, resolved
from bot.requests.model import looks_like_request_id
from bot.requests.policy import Actor, why_not_resubmit
from bot.requests.rules import AppliedRule
from bot.slack.client import CLOSED_VIEW_ERRORS, slack_errors
from bot.slack.payloads import (
    acting_user,
    installing_workspace,
    interaction_actor,
    message_author,
)
from bot.ui import cards, status
from bot.ui import clone as ui
from bot.ui import home as home_ui
from bot.ui.clone_form import CloneForm, validate_form
from bot.ui.messages import internal_error, store_down, zstack_unreachable
from bot.ui.text import Mrkdwn, join, one_line, truncate
from bot.ui.view_state import ViewState

logger = logging.getLogger(__name__)


def clone_help(lang: str) -> Mrkdwn:
    t = tr(lang)
    return join(
        "\n",
        [
            t("*Clone a ZStack model service*"),
            t(
                "• `/clone-model [source]` — open the clone form; `source` is a model-service "
                "UUID or name"
            ),
            t("• `/clone-model status CR-XXXXXX` — where a request stands"),
            t("• `/clone-model list` — your recent requests"),
            t("• `/clone-model help` — this help"),
            t(
                "A colleague approves the request in its thread; the bot then clones as *you*, "
                "with your ZStack login (`/zstack login`)."
            ),
        ],
    )


def register(app: AsyncApp, deps: Deps) -> None:
    handlers = CloneHandlers(deps)
    app.command("/clone-model")(handlers.command)
    app.options(ui.ACTION_SOURCE)(handlers.suggest)
    app.action({"action_id": ui.ACTION_SOURCE, "type": "block_actions"})(handlers.source_changed)
    app.action(ui.ACTION_TOGGLE_ADVANCED)(handlers.toggle_advanced)
    app.action(ui.ACTION_RETRY_LOOKUP)(handlers.retry_lookup)
    app.view(ui.CLONE_CALLBACK)(handlers.submitted)
    # The global shortcut and the message shortcut share one callback id (both manifests).
    app.shortcut(SHORTCUT_CALLBACK)(handlers.start)
    app.action(home_ui.ACTION_HOME_NEW_CLONE)(handlers.start)
    app.action(cards.ACTION_RESUBMIT)(handlers.resubmit)
    # Before the thread-reply listener (approval): a message in the bot's DM is not a decision.
    app.event("message", matchers=[_in_the_bots_dm])(handlers.direct_message)


SHORTCUT_CALLBACK = "clone_model_service"
# A model-service UUID named in a message (with or without dashes).
_UUID_IN_TEXT = re.compile(
    r"\b([0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12})\b"
)


async def _in_the_bots_dm(event: dict[str, Any]) -> bool:
    return event.get("channel_type") == "im"


class CloneHandlers:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def direct_message(
        self,
        event: dict[str, Any],
        body: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
    ) -> None:
        """Anything a person writes in the bot's DM (``help`` or not) is answered with what the
        bot can do; the bot's own posts, edits and other workspaces' messages get nothing."""
        author = message_author(event, context)
        if author is None:
            return
        work = self._answer_dm(author.user_id, str(event.get("channel")), client)
        self.deps.background.spawn(work, body=body, client=client)

    async def _answer_dm(self, user: str, channel: str, client: AsyncWebClient) -> None:
        lang = await self.deps.locales.of(client, user)
        with slack_errors("chat.postMessage", self.deps.metrics):
            await client.chat_postMessage(channel=channel, text=clone_help(lang))

    async def start(
        self, ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        """The clone form from the shortcuts menu, a message's shortcut or App Home's "New
        clone": the same form as ``/clone-model``, prefilled with a model-service UUID a
        message names."""
        message = str((body.get("message") or {}).get("text") or "")
        found = _UUID_IN_TEXT.search(message.lower())
        source = found.group(1).replace("-", "") if found else ""
        opened = {
            "trigger_id": body["trigger_id"],
            "channel_id": (body.get("channel") or {}).get("id"),
        }
        work = self._open_form(opened, context, client, source)
        self.deps.background.spawn(work, body=body, client=client)
        await ack()

    async def resubmit(
        self, ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        """ "Edit and resubmit" on a card, a thread or a DM: the requester gets the form filled
        with that request's values; anyone else is told why not, where they clicked."""
        work = self._open_resubmission(body, context, client)
        self.deps.background.spawn(work, body=body, client=client)
        await ack()

    async def _open_resubmission(
        self, body: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        actor = interaction_actor(body, context)
        request_id = str(body["actions"][0].get("value") or "")
        channel = (body.get("channel") or {}).get("id")
        record = await self.deps.requests.get(request_id)
        refusal = (
            why_not_resubmit(actor, record)
            if record is not None
            else Msg.of("There is no request {id}.", id=request_id)
        )
        if refusal is not None:
            thread_ts = (body.get("container") or {}).get("thread_ts")
            await self.deps.notifier.tell(actor.user_id, channel, refusal, thread_ts=thread_ts)
            return
        opened = {"trigger_id": body["trigger_id"], "channel_id": channel}
        await self._open_form(opened, context, client, "", resubmit=request_id)

    async def command(
        self,
        ack: AsyncAck,
        command: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
        respond: AsyncRespond,
    ) -> None:
        self.deps.background.spawn(
            self._command(command, context, client, respond), body=command, client=client
        )
        await ack()

    async def _command(
        self,
        command: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
        respond: AsyncRespond,
    ) -> None:
        text = (command.get("text") or "").strip()
        words = text.split()
        sub = words[0].lower() if words else ""
        user = acting_user(context)
        if sub not in ("help", "status", "list"):
            await self._open_form(command, context, client, text)
            return
        lang = await self.deps.locales.of(client, user)
        if sub == "help":
            answer = clone_help(lang)
        elif sub == "status":
            answer = await self._status(words[1:], lang)
        else:
            records = await self.deps.requests.recent(installing_workspace(context), user)
            answer = status.list_text(records, lang)
        await respond(text=answer, response_type="ephemeral")

    async def _status(self, args: list[str], lang: str) -> Mrkdwn:
        t = tr(lang)
        if not args:
            return t("Give a request id, e.g. `/clone-model status CR-7F3K2Q`.")
        if not looks_like_request_id(args[0]):  # not one of ours: there is no such request
            return t("There is no request {id}.", id=truncate(one_line(args[0]), 40))
        record = await self.deps.requests.get(args[0].upper())
        if record is None:
            return t("There is no request {id} (or it is older than 30 days).", id=args[0].upper())
        return status.status_text(record, lang)

    async def _open_form(
        self,
        command: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
        text: str,
        *,
        resubmit: str | None = None,
    ) -> None:
        user = acting_user(context)
        meta = ui.LookupMeta.of(command.get("channel_id"), text, resubmit=resubmit)

        # The trigger_id lives 3 s: the loading view opens as soon as the reader's language is
        # known (its lookup has a short budget). The source is looked up from the start, while
        # the language is asked for and the loading view opens.
        async def language() -> str:
            return await self.deps.locales.quick(client, user)

        lang = asyncio.ensure_future(language())

        async def opening() -> AsyncSlackResponse:
            view = ui.loading_view(await lang, meta)
            return await client.views_open(trigger_id=command["trigger_id"], view=view)

        await self._fill(command, context, client, asyncio.ensure_future(opening()), meta, lang)

    async def _fill(
        self,
        body: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
        shown: asyncio.Future[AsyncSlackResponse],
        meta: ui.LookupMeta,
        language: str | asyncio.Future[str],
    ) -> None:
        """Replace the loading view with the form, or with what went wrong and "Try again":
        the modal never stays on "Looking up…". ``shown`` is the loading view's
        ``views.open`` or ``views.update`` and ``language`` the reader's, both maybe still on
        their way: the lookup runs meanwhile, so the form is filled sooner."""
        team, user = installing_workspace(context), acting_user(context)
        view_id = _ViewId(shown)
        try:
            if meta.resubmit:
                actor = Actor(team, user)
                view = await self.deps.clone.resubmit_form(
                    actor, meta.resubmit, await resolved(language), view_id=view_id
                )
            else:
                view = await self.deps.clone.form_for(
                    team, user, meta.channel_id, meta.text, language, view_id=view_id
                )
        except ZStackUnavailable:
            lang = await resolved(language)
            problem = zstack_unreachable(self.deps.zstack.base_url, lang)
            view = ui.lookup_problem_view(problem, meta, lang)
        except StoreUnavailable:
            lang = await resolved(language)
            view = ui.lookup_problem_view(store_down(lang), meta, lang)
        except Exception as exc:  # anything else: said in the modal, with the log's reference
            if shown.done() and not shown.cancelled() and shown.exception() is exc:
                raise  # the loading view never opened: there is no modal to say it in
            reference = self.deps.reporter.log(exc, body)
            lang = await resolved(language)
            view = ui.lookup_problem_view(internal_error(reference, lang), meta, lang)
        loading = (await shown)["view"]
        try:
            with slack_errors("views.update", self.deps.metrics):
                await client.views_update(view_id=loading["id"], hash=loading["hash"], view=view)
        except SlackError as exc:
            if exc.code in CLOSED_VIEW_ERRORS:
                logger.info("the form was closed before it filled", extra={"user_id": user})
                return
            raise

    async def retry_lookup(
        self,
        ack: AsyncAck,
        body: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
    ) -> None:
        self.deps.background.spawn(self._retry(body, context, client), body=body, client=client)
        await ack()

    async def _retry(
        self, body: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        view = body.get("view")
        if not view:  # "Try again" lives on the loading modal; without one there is nothing to do
            return
        meta = ui.LookupMeta.load(view.get("private_metadata"))
        lang = self.deps.locales.cached(acting_user(context))
        shown = client.views_update(view_id=view["id"], view=ui.loading_view(lang, meta))
        await self._fill(body, context, client, asyncio.ensure_future(shown), meta, lang)

    async def _rule_changed(
        self,
        view: dict[str, Any],
        form: CloneForm,
        meta: ui.CloneViewMeta,
        raw: dict[str, Any],
        source_values: dict[str, Any] | None,
        context: AsyncBoltContext,
        lang: str,
    ) -> View | None:
        """The form again, saying which rule now applies, when the values submitted meet
        another approval rule than the form said: the requester sends it knowing."""
        if not self.deps.policy.has_rules or meta.rule is None:
            return None
        user = acting_user(context)
        facts = facts_of(form.model_dump(), source_values, meta.source_name, meta.channel_id, user)
        rule = await self.deps.clone.rule_for(facts)
        if rule.name == meta.rule or rule.deny:
            return None
        notice = Msg.marked(
            ":information_source:",
            "With these values, rule *{rule}* applies. Press Request clone again to send it.",
            rule=rule.name,
        ).render(lang)
        source = None
        if form.source and meta.source_name:
            source = Option(value=form.source, text=ui.source_label(meta.source_name, form.source))
        shown = {k: v for k, v in raw.items() if meta.advanced or k not in ui.ADVANCED}
        return await self.deps.clone.view(
            shown, meta, user, source=source, notice=notice, source_values=source_values, lang=lang
        )

    async def suggest(self, ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
        team, user = installing_workspace(context), acting_user(context)
        typed = str(body.get("value", ""))
        try:
            found = await self.deps.sessions.call(
                team,
                user,
                lambda session: self.deps.clone.suggest(session, typed),
                authenticated=True,
            )
        except (NotLoggedIn, SessionExpired, StoreUnavailable, ZStackAPIError) as exc:
            logger.info("no suggestions", extra={"user_id": user, "reason": type(exc).__name__})
            await ack(options=[])
            return
        lang = self.deps.locales.cached(user)
        options: list[Option] = [ui.source_option(inv, lang) for inv in found]
        await ack(options=[o.to_dict() for o in options])

    async def source_changed(
        self,
        ack: AsyncAck,
        body: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
    ) -> None:
        work = self._source_changed(body, context, client)
        self.deps.background.spawn(work, body=body, client=client)
        await ack()

    async def _source_changed(
        self, body: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        view = body.get("view")
        if not view:  # the source select lives in the clone modal only
            return
        typed = ui.form_values(view)
        meta = ui.CloneViewMeta.load(view.get("private_metadata"))
        team, user = installing_workspace(context), acting_user(context)
        source = str(typed.get("source") or "")
        lang = self.deps.locales.cached(user)
        lookup = await self.deps.sessions.call(
            team, user, lambda session: self.deps.clone.lookup(session, source)
        )
        keep = {"reason": typed.get("reason")}
        await self.deps.clone.remember_source(view["id"], lookup, advanced_hidden=not meta.advanced)
        form = await self.deps.clone.form(lookup, meta, user, keep=keep, lang=lang)
        await client.views_update(view_id=view["id"], hash=view["hash"], view=form)

    async def toggle_advanced(
        self,
        ack: AsyncAck,
        body: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
    ) -> None:
        self.deps.background.spawn(self._toggle(body, context, client), body=body, client=client)
        await ack()

    async def _toggle(
        self, body: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        view = body.get("view")
        if not view:  # the toggle lives in the clone modal only
            return
        meta = ui.CloneViewMeta.load(view.get("private_metadata"))
        typed = ui.form_values(view)
        if meta.advanced:  # hiding: keep what was typed there for later
            await self.deps.requests.save_draft(view["id"], {k: typed.get(k) for k in ui.ADVANCED})
        else:
            typed = {**(await self.deps.requests.load_draft(view["id"])), **typed}
        meta = meta.model_copy(update={"advanced": not meta.advanced})
        lang = self.deps.locales.cached(acting_user(context))
        source = None
        if typed.get("source") and meta.source_name:
            source = Option(
                value=str(typed["source"]),
                text=ui.source_label(meta.source_name, str(typed["source"]), lang),
            )
        user = acting_user(context)
        known = await self.deps.clone.source_values(view["id"], str(typed.get("source") or ""))
        form = await self.deps.clone.view(
            typed, meta, user, source=source, source_values=known, lang=lang
        )
        await client.views_update(view_id=view["id"], hash=view["hash"], view=form)

    async def submitted(
        self,
        ack: AsyncAck,
        view: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
    ) -> None:
        meta = ui.CloneViewMeta.load(view.get("private_metadata"))
        typed = ui.form_values(view)
        lang = self.deps.locales.cached(acting_user(context))
        try:
            raw = await self.deps.clone.merged_values(view["id"], typed, meta)
        except StoreUnavailable:
            raw = typed
        form, errors = validate_form(raw, lang)
        if form is None:
            await ack(response_action="errors", errors=errors)
            return
        team = installing_workspace(context)
        source_name = meta.source_name if typed.get("source") else None
        source_values = await self.deps.clone.source_values(view["id"], form.source)
        changed = await self._rule_changed(view, form, meta, raw, source_values, context, lang)
        if changed is not None:
            await ack(response_action="update", view=changed)
            return
        if await self.deps.deliveries.repeated("view", view["id"]):
            await ack()  # this form already became a request: a replay creates nothing
            return
        try:
            record = await self.deps.clone.create(
                team_id=team,
                requester=acting_user(context),
                origin_channel=meta.channel_id,
                form=form,
                source_name=_selected_source_name(view, source_name),
                source_values=source_values,
                supersedes=meta.supersedes,
            )
        except RequestDenied as exc:
            await ack(response_action="errors", errors=denied(exc.rule, meta, lang))
            return
        except (StoreUnavailable, ResubmitRefused) as exc:
            with suppress(StoreUnavailable):
                await self.deps.deliveries.forget("view", view["id"])
            why = exc.why.render(lang) if isinstance(exc, ResubmitRefused) else store_down(lang)
            await ack(response_action="errors", errors={"reason": why})
            return
        logger.info("request created", extra={"request_id": record.id})
        await ack()  # its card is the request's first effect, on its way from the outbox


def denied(rule: AppliedRule, meta: ui.CloneViewMeta, lang: str) -> dict[str, str]:
    """A ``deny`` rule's message, on the field that made the rule apply (when it is shown)."""
    shown = set(ui.BASIC) | (set(ui.ADVANCED) if meta.advanced else set()) | {"source"}
    blocks = [DECIDING_BLOCK.get(b.kind, "reason") for b in rule.because]
    block = next((b for b in blocks if b in shown), "reason")
    text = tr(lang).plain("Rule {rule} refuses this request: {why}", rule=rule.name, why=rule.deny)
    return {block: truncate(text, 2000)}


# Which field of the form a rule's condition looks at.
DECIDING_BLOCK = {
    "cpu": "request_cpu",
    "memory": "request_memory",
    "size": "size",
    "gpu": "gpu_compute_capability",
    "type": "type",
    "model_source": "model_source",
    "source_name": "source",
}


def _selected_source_name(view: dict[str, Any], fallback: str | None) -> str | None:
    """The source's name from the select's chosen option (``name · uuid8``)."""
    chosen = ViewState.of(view).choice("source", ui.ACTION_SOURCE)
    if chosen is not None and " · " in chosen.text:
        return chosen.text.rsplit(" · ", 1)[0]
    return fallback


class _ViewId:
    """The id of the modal a ``views.open`` or ``views.update`` shows, to await (as often as
    needed) once Slack answered."""

    def __init__(self, shown: asyncio.Future[AsyncSlackResponse]) -> None:
        self._shown = shown

    def __await__(self) -> Generator[Any, None, str]:
        return self._id().__await__()

    async def _id(self) -> str:
        return str((await self._shown)["view"]["id"])
