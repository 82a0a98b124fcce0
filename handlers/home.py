"""The App Home tab: rendered when opened, refreshed after the user acts on it."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.deps import Deps
from bot.slack.payloads import acting_user, installing_workspace
from bot.ui import home as ui
from bot.ui import login as login_ui


def register(app: AsyncApp, deps: Deps) -> None:
    handlers = HomeHandlers(deps)
    app.event("app_home_opened")(handlers.opened)
    app.action(ui.ACTION_HOME_LOGIN)(handlers.login)
    app.action(ui.ACTION_HOME_LOGOUT)(handlers.logout)


class HomeHandlers:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def opened(
        self,
        event: dict[str, Any],
        body: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
    ) -> None:
        user = acting_user(context)
        if event.get("tab", "home") != "home" or not user:
            return
        work = self.deps.home.publish(client, installing_workspace(context), user)
        self.deps.background.spawn(work, body=body, client=client)

    async def login(self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        context = login_ui.LoginContext(refresh_home=True)
        view = login_ui.login_modal(self.deps.zstack.base_url, context)
        work = client.views_open(trigger_id=body["trigger_id"], view=view)
        self.deps.background.spawn(work, body=body, client=client)
        await ack()

    async def logout(
        self,
        ack: AsyncAck,
        body: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
    ) -> None:
        work = self._logout(installing_workspace(context), acting_user(context), client)
        self.deps.background.spawn(work, body=body, client=client)
        await ack()

    async def _logout(self, team: str, user: str, client: AsyncWebClient) -> None:
        await self.deps.sessions.logout(team, user)
        await self.deps.home.publish(client, team, user)
