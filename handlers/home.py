"""The App Home tab: rendered when opened, refreshed after the user acts on it."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.deps import Deps
from bot.slack.payloads import workspace_of
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
        self, event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        user = event.get("user")
        if event.get("tab", "home") != "home" or not isinstance(user, str) or not user:
            return
        work = self.deps.home.publish(client, workspace_of(body), user)
        self.deps.background.spawn(work, body=body, client=client)

    async def login(self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        context = login_ui.LoginContext(refresh_home=True)
        view = login_ui.login_modal(self.deps.zstack.base_url, context)
        work = client.views_open(trigger_id=body["trigger_id"], view=view)
        self.deps.background.spawn(work, body=body, client=client)
        await ack()

    async def logout(self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        self.deps.background.spawn(self._logout(body, client), body=body, client=client)
        await ack()

    async def _logout(self, body: dict[str, Any], client: AsyncWebClient) -> None:
        team, user = workspace_of(body), body["user"]["id"]
        await self.deps.sessions.logout(team, user)
        await self.deps.home.publish(client, team, user)
