"""``/zstack login | logout | whoami | help`` and the login modal's submission."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.deps import Deps
from bot.errors import (
    NotLoggedIn,
    SessionExpired,
    StoreUnavailable,
    ZStackAPIError,
    ZStackUnavailable,
)
from bot.login_form import parse_login
from bot.sessions import identity_of
from bot.ui import login as ui
from bot.ui.messages import STORE_DOWN, zstack_unreachable

logger = logging.getLogger(__name__)


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
        client: AsyncWebClient,
        respond: AsyncRespond,
    ) -> None:
        words = (command.get("text") or "").split()
        sub = words[0].lower() if words else "help"
        await ack()
        team_id, user_id = command.get("team_id", ""), command["user_id"]
        if sub == "login":
            context = ui.LoginContext(channel_id=command.get("channel_id"))
            view = ui.login_modal(self.deps.zstack.base_url, context)
            await client.views_open(trigger_id=command["trigger_id"], view=view)
        elif sub == "whoami":
            await respond(text=await self._whoami(team_id, user_id), response_type="ephemeral")
        elif sub == "logout":
            await respond(text=await self._logout(team_id, user_id), response_type="ephemeral")
        elif sub == "help":
            await respond(text=ui.ZSTACK_HELP, response_type="ephemeral")
        else:
            await respond(text=ui.unknown_subcommand(" ".join(words)), response_type="ephemeral")

    async def _whoami(self, team_id: str, user_id: str) -> str:
        try:
            record = await self.deps.sessions.current(team_id, user_id)
        except NotLoggedIn:
            return ui.NOT_LOGGED_IN
        except SessionExpired:
            return ui.SESSION_EXPIRED
        except ZStackUnavailable:
            return zstack_unreachable(self.deps.zstack.base_url)
        return ui.whoami_text(record.identity, record.kind, record.endpoint, record.expires_at)

    async def _logout(self, team_id: str, user_id: str) -> str:
        record = await self.deps.sessions.logout(team_id, user_id)
        return ui.logout_text(record.identity if record else None)

    async def login_submitted(
        self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        creds, errors, prefill = parse_login(view.get("state", {}).get("values", {}))
        if creds is None:
            await ack(response_action="errors", errors=errors)
            return
        identity = identity_of(creds)
        await ack(response_action="update", view=ui.logging_in_modal(identity))
        context = ui.LoginContext.load(view.get("private_metadata"))
        user = body["user"]
        team_id = (body.get("team") or {}).get("id") or user.get("team_id", "")
        endpoint = self.deps.zstack.base_url
        error: str | None = None
        try:
            record = await self.deps.sessions.login(team_id, user["id"], creds)
        except ZStackAPIError as exc:
            error = "ZStack refused the login: " + (
                exc.error.details or exc.error.description or exc.error.summary()
            )
        except ZStackUnavailable:
            error = zstack_unreachable(endpoint)
        except StoreUnavailable:
            error = STORE_DOWN
        self.deps.metrics.logins.labels("error" if error else "ok").inc()
        if error is not None:
            form = ui.login_modal(endpoint, context, prefill=prefill, error=error)
            await client.views_update(view_id=view["id"], view=form)
            return
        done = ui.login_success_modal(record.identity, record.kind, record.expires_at)
        await client.views_update(view_id=view["id"], view=done)
