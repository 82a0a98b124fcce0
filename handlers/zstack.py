"""``/zstack login | logout | whoami | help`` and the login modal's submission."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient

from bot.deps import Deps
from bot.errors import (
    NotLoggedIn,
    SessionExpired,
    StoreUnavailable,
    ZStackAPIError,
    ZStackUnavailable,
)
from bot.i18n import Msg
from bot.requests.approvers import LoginNeeded
from bot.requests.policy import Actor
from bot.requests.sessions import identity_of
from bot.slack.payloads import acting_user, installing_workspace
from bot.ui import login as ui
from bot.ui.login_form import parse_login
from bot.ui.messages import (
    session_already_expired,
    store_down,
    zstack_refused_login,
    zstack_unreachable,
)
from bot.ui.text import Mrkdwn, fmt
from bot.ui.view_state import ViewState
from bot.zstack.credentials import Credentials

logger = logging.getLogger(__name__)

# Slack waits 3 s for a view_submission answer; keep a margin for the network.
ACK_BUDGET_S = 2.0
# After an interim view, let Slack apply it before replacing it.
SETTLE_AFTER_ACK_S = 0.5


def register(app: AsyncApp, deps: Deps) -> None:
    handlers = ZStackHandlers(deps)
    app.command("/zstack")(handlers.command)
    app.view(ui.LOGIN_CALLBACK)(handlers.login_submitted)


class ZStackHandlers:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def command(
        self,
        ack: AsyncAck,
        command: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
        respond: AsyncRespond,
    ) -> None:
        work = self._command(command, context, client, respond)
        self.deps.background.spawn(work, body=command, client=client)
        await ack()

    async def _command(
        self,
        command: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
        respond: AsyncRespond,
    ) -> None:
        words = (command.get("text") or "").split()
        sub = words[0].lower() if words else "help"
        team_id, user_id = installing_workspace(context), acting_user(context)
        if sub == "login":
            # The trigger_id lives 3 s: the locale lookup gets a short budget, no more.
            login_context = ui.LoginContext(channel_id=command.get("channel_id"))
            lang = await self.deps.locales.quick(client, user_id)
            view = ui.login_modal(self.deps.zstack.base_url, login_context, lang=lang)
            await client.views_open(trigger_id=command["trigger_id"], view=view)
            return
        lang = await self.deps.locales.of(client, user_id)
        if sub == "whoami":
            text = await self._whoami(team_id, user_id, lang)
        elif sub == "logout":
            text = await self._logout(team_id, user_id, lang)
        elif sub == "help":
            text = ui.zstack_help(lang)
        else:
            text = ui.unknown_subcommand(" ".join(words), lang)
        await respond(text=text, response_type="ephemeral")

    async def _whoami(self, team_id: str, user_id: str, lang: str) -> str:
        try:
            record = await self.deps.sessions.current(team_id, user_id)
        except NotLoggedIn:
            return ui.not_logged_in(lang)
        except SessionExpired:
            return ui.session_expired(lang)
        except ZStackUnavailable:
            return zstack_unreachable(self.deps.zstack.base_url, lang)
        return ui.whoami_text(
            record.identity, record.login_kind, record.zstack_url, record.expires_at, lang
        )

    async def _logout(self, team_id: str, user_id: str, lang: str) -> str:
        record = await self.deps.sessions.logout(team_id, user_id)
        await self.deps.home.publish(self.deps.notifier.client, team_id, user_id)
        return ui.logout_text(record.identity if record else None, lang)

    async def login_submitted(
        self,
        ack: AsyncAck,
        body: dict[str, Any],
        view: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
    ) -> None:
        team_id, user_id = installing_workspace(context), acting_user(context)
        lang = self.deps.locales.cached(user_id)
        creds, errors, prefill = parse_login(ViewState.of(view), lang)
        if creds is None:
            await ack(response_action="errors", errors=errors)
            return
        # A view updated since (the form again, after a refused login) is a new submission.
        if await self.deps.deliveries.repeated("login", f"{view['id']}:{view.get('hash')}"):
            await ack()
            return
        login_context = ui.LoginContext.load(view.get("private_metadata"))
        login = asyncio.ensure_future(
            self._login(team_id, user_id, creds, login_context, prefill, lang, view["id"])
        )
        # A login normally takes milliseconds: answer with its result inside Slack's 3 s window so
        # there is no views.update racing the ack. Only a slow ZStack gets the interim view.
        finished, _ = await asyncio.wait({login}, timeout=ACK_BUDGET_S)
        if login in finished:
            if (failure := login.exception()) is not None:
                await ack()  # close the modal; the error handler tells the user with a reference
                raise failure
            await ack(response_action="update", view=login.result())
            return
        # Slack gets the interim view when this listener returns: the result follows later.
        work = self._show_login(login, view["id"], client)
        self.deps.background.spawn(work, body=body, client=client)
        await ack(response_action="update", view=ui.logging_in_modal(identity_of(creds), lang))

    async def _show_login(
        self, login: asyncio.Future[View], view_id: str, client: AsyncWebClient
    ) -> None:
        """The slow login's result replaces the interim view, once Slack has shown it."""
        acked = time.monotonic()
        result = await login
        await asyncio.sleep(max(0.0, SETTLE_AFTER_ACK_S - (time.monotonic() - acked)))
        await client.views_update(view_id=view_id, view=result)

    async def _login(
        self,
        team_id: str,
        user_id: str,
        creds: Credentials,
        context: ui.LoginContext,
        prefill: ui.LoginPrefill,
        lang: str,
        view_id: str,
    ) -> View:
        """The view to show after trying to log in: success, or the form with the reason (in
        the same modal, ``view_id``)."""
        endpoint = self.deps.zstack.base_url
        error: Mrkdwn | None = None
        try:
            record = await self.deps.sessions.login(team_id, user_id, creds)
        except ZStackAPIError as exc:
            details = exc.error.details or exc.error.description or exc.error.summary()
            error = zstack_refused_login(details, lang)
        except ZStackUnavailable:
            error = zstack_unreachable(endpoint, lang)
        except StoreUnavailable:
            error = store_down(lang)
        except SessionExpired:
            error = session_already_expired(lang)
        self.deps.metrics.logins.labels("error" if error else "ok").inc()
        if error is not None:
            return ui.login_modal(endpoint, context, prefill=prefill, error=error, lang=lang)
        client = self.deps.notifier.client
        # Requests parked for this user's login go ahead now.
        resume = self.deps.executor.resume_parked(team_id, user_id)
        self.deps.background.spawn(resume, body={"user_id": user_id}, client=client)
        home = self.deps.home.publish(client, team_id, user_id)
        self.deps.background.spawn(home, body={"user_id": user_id}, client=client)
        if context.then_approve is not None:  # an approval waited for this login
            answer = await self.deps.decisions.approve(
                context.then_approve, Actor(team_id, user_id), context.approve_comment or ""
            )
            then = _approval_outcome(context.then_approve, answer, lang)
            return ui.login_success_modal(
                record.identity, record.login_kind, record.expires_at, lang, then=then
            )
        if context.then_edit is not None:  # from Edit and resubmit: carry on there
            actor = Actor(team_id, user_id)
            return await self.deps.clone.resubmit_form(
                actor, context.then_edit, lang, view_id=view_id
            )
        if context.then_clone is not None:  # the user came from /clone-model: carry on there
            return await self.deps.clone.form_for(
                team_id, user_id, context.channel_id, context.then_clone, lang, view_id=view_id
            )
        return ui.login_success_modal(record.identity, record.login_kind, record.expires_at, lang)


def _approval_outcome(request_id: str, answer: Msg | LoginNeeded | None, lang: str) -> Mrkdwn:
    """What became of the approval that waited for a login, said in the login's modal."""
    if answer is None:
        return Msg.marked(
            ":ballot_box_with_check:", "Your approval of {id} is counted.", id=request_id
        ).render(lang)
    if isinstance(answer, LoginNeeded):  # the new session is not accepted either
        return ui.session_expired(lang)
    return fmt(":warning: {why}", why=answer.render(lang))
