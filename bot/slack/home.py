"""Rendering and publishing the App Home tab for one user."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import SlackError
from bot.i18n import Locales
from bot.requests.model import CloneRequest, State
from bot.requests.policy import Actor, ApprovalPolicy
from bot.requests.sessions import SessionService
from bot.slack.client import slack_errors
from bot.store.requests import RequestStore
from bot.ui.home import MAX_LISTED, home_view

logger = logging.getLogger(__name__)

# How many undecided requests are looked at for "waiting for your approval".
SCAN_LIMIT = 200


@dataclass
class HomeService:
    store: RequestStore
    sessions: SessionService
    policy: ApprovalPolicy
    endpoint: str
    locales: Locales = field(default_factory=Locales)

    async def waiting_for(self, actor: Actor) -> list[CloneRequest]:
        found: list[CloneRequest] = []
        for request_id in await self.store.undecided(SCAN_LIMIT):
            record = await self.store.get(request_id)
            if record is None or record.state != State.PENDING:
                continue
            if await self.policy.why_not_approve(actor, record) is None:
                found.append(record)
            if len(found) >= MAX_LISTED:
                break
        return found

    async def publish(self, client: AsyncWebClient, team_id: str, user: str) -> None:
        """Render and publish the user's Home (best effort: the next open renders it again)."""
        login = await self.sessions.peek(team_id, user)
        recent = await self.store.recent(team_id, user, MAX_LISTED)
        waiting = await self.waiting_for(Actor(team_id, user))
        lang = await self.locales.of(client, user)
        try:
            with slack_errors("views.publish"):
                await client.views_publish(
                    user_id=user, view=home_view(login, self.endpoint, recent, waiting, lang)
                )
        except SlackError as exc:
            logger.warning("home publish failed", extra={"user_id": user, "error": exc.code})
