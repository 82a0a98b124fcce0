"""Approvers who prove their ZStack identity (``approver_login``, globally or per rule).

A Slack account alone can be compromised; when the request's rule requires it, an approval only
counts from an approver whose own ZStack session is live and can see the source service
(QueryModelService with *their* session finds it). The clone still runs with the requester's
session. The approver's ZStack identity is recorded with the approval (card and audit).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.errors import NotLoggedIn, SessionExpired, ZStackError
from bot.i18n import Msg
from bot.requests.model import CloneRequest
from bot.requests.policy import Actor
from bot.requests.sessions import SessionService
from bot.zstack.client import ZStackClient

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoginNeeded:
    """The approver must log in to ZStack first; the approval goes ahead right after."""

    request_id: str
    expired: bool = False
    comment: str = ""  # the approval's comment, carried through the login
    override: bool = False  # a break-glass approval: asked again after the login, not resumed


@dataclass(frozen=True)
class Proven:
    """The approver's ZStack identity, as their live session shows it."""

    identity: str


@dataclass
class ApproverIdentity:
    sessions: SessionService
    zstack: ZStackClient

    async def prove(self, actor: Actor, record: CloneRequest) -> Proven | LoginNeeded | Msg:
        """Who ``actor`` is in ZStack, if their session can see ``record``'s source; else the
        login they need, or why their approval cannot count."""
        try:
            session = await self.sessions.current(actor.team_id, actor.user_id, fresh=True)
            source = await self.sessions.call(
                actor.team_id,
                actor.user_id,
                lambda token: self.zstack.get_model_service(token, record.source_uuid),
                session=session,
            )
        except NotLoggedIn:
            return LoginNeeded(record.id)
        except SessionExpired:
            return LoginNeeded(record.id, expired=True)
        except ZStackError as exc:
            logger.info(
                "approver identity not confirmed",
                extra={"request_id": record.id, "user_id": actor.user_id, "error": str(exc)},
            )
            return Msg.of(
                "ZStack could not confirm your login just now, so your approval of {id} was not "
                "counted. Try again in a moment.",
                id=record.id,
            )
        if source is None:
            return Msg.of(
                "Your ZStack login ({identity}) cannot see the source of {id}, so you cannot "
                "approve it: approvers of this request must see the service it clones.",
                identity=session.identity,
                id=record.id,
            )
        return Proven(session.identity)
