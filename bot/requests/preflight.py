"""Pre-flight checks: will this clone work? Run with the requester's ZStack session when the
request is made (the card shows them) and again right before it is sent.

- the name is free: no model service of that name that the requester can see (ZStack would
  otherwise create a second one of the same name, which nobody wants) — blocking;
- the source still exists and the requester can see it — blocking;
- the requester's session is valid, and until when — not blocking: a request whose requester
  must log in again waits for that login (``awaiting_login``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pydantic import SecretStr

from bot.errors import NotLoggedIn, SessionExpired, ZStackError
from bot.i18n import Msg
from bot.requests import effects
from bot.requests.lifecycle import Event
from bot.requests.model import CloneRequest, PreflightCheck, State
from bot.requests.sessions import SessionService
from bot.store.requests import RequestStore
from bot.store.sessions import StoredSession
from bot.zstack.client import ZStackClient

logger = logging.getLogger(__name__)


@dataclass
class Preflight:
    store: RequestStore
    sessions: SessionService
    zstack: ZStackClient

    async def evaluate(
        self, record: CloneRequest, session: StoredSession | None = None
    ) -> list[PreflightCheck] | None:
        """The checks as ZStack answers now (with ``session`` when the caller has just checked
        it); None when ZStack cannot be asked."""
        if session is None:
            try:
                session = await self.sessions.current(record.team_id, record.requester)
            except (NotLoggedIn, SessionExpired):
                return [PreflightCheck(kind="session", ok=False)]
            except ZStackError:
                return None
        try:
            name_free, source_there = await self.sessions.call(
                record.team_id,
                record.requester,
                lambda token: self._name_and_source(token, record),
                session=session,
            )
        except (NotLoggedIn, SessionExpired):
            return [PreflightCheck(kind="session", ok=False)]
        except ZStackError as exc:
            logger.info(
                "pre-flight checks not run", extra={"request_id": record.id, "error": str(exc)}
            )
            return None
        return [
            PreflightCheck(kind="name", ok=name_free, blocking=not name_free),
            PreflightCheck(kind="source", ok=source_there, blocking=not source_there),
            PreflightCheck(kind="session", ok=True, until=session.expires_at),
        ]

    async def _name_and_source(self, token: SecretStr, record: CloneRequest) -> tuple[bool, bool]:
        taken = await self.zstack.model_services_named(token, record.new_name, exact=True, limit=1)
        source = await self.zstack.get_model_service(token, record.source_uuid)
        return not taken, source is not None

    async def run(self, request_id: str) -> None:
        """The ``preflight`` effect: check, and record the result on a request still waiting
        for approval (the card is drawn again with it)."""
        record = await self.store.get(request_id)
        if record is None or record.state != State.PENDING:
            return
        checks = await self.evaluate(record)
        if checks is None:
            return

        def recorded(current: CloneRequest) -> CloneRequest:
            return current.model_copy(update={"checks": checks})

        def shown(checked: CloneRequest) -> list[effects.Effect]:
            # The requester hears of a newly failed check once, with the way to fix it.
            fix = _how_to_fix(checked) if not blocking(record.checks) else None
            told = [effects.dm(checked.requester, fix, resubmit=True)] if fix else []
            return [effects.card(), *told]

        await self.store.transition(
            request_id,
            Event.CHECKED,
            recorded,
            actor="bot",
            note="pre-flight",
            effects=shown,
        )


def blocking(checks: list[PreflightCheck]) -> list[PreflightCheck]:
    """The failed checks that make the clone certain to fail."""
    return [check for check in checks if check.blocking and not check.ok]


def _how_to_fix(record: CloneRequest) -> Msg | None:
    """What the requester can do about the checks that block Approve."""
    failed = {check.kind for check in blocking(record.checks)}
    if "name" in failed:
        return Msg.marked(
            ":warning:",
            "{id} can't be approved: a model service named {name} already exists. Edit and "
            "resubmit it with another name.",
            id=record.id,
            name=record.new_name,
        )
    if "source" in failed:
        return Msg.marked(
            ":warning:",
            "{id} can't be approved: its source no longer exists, or you cannot see it. Edit "
            "and resubmit it with another source.",
            id=record.id,
        )
    return None
