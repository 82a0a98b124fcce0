"""Who is logged in to ZStack as whom: the session map plus ZStack's own view of each session.

``SessionService`` is what handlers use. It logs users in (the password arrives already
SHA-512-hashed and is never stored), keeps the encrypted map in Redis, and validates a stored
session with ZStack before it is used (with a short cache), dropping it when ZStack says no.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pydantic import SecretStr

from bot.errors import NotLoggedIn, SessionExpired, StoreUnavailable, ZStackError
from bot.logs import secrets
from bot.session_store import SessionStore, StoredSession, expiry_from_inventory
from bot.zstack import AccountLogin, Credentials, IAM2Login, UserLogin, ZStackClient

logger = logging.getLogger(__name__)

# How long a positive ZStack validation is trusted before asking again.
VALIDATION_CACHE_S = 30


def identity_of(creds: Credentials) -> str:
    """How the user is shown in whoami: ``alice``, ``alice/bob`` or ``carol (IAM2)``."""
    if isinstance(creds, AccountLogin):
        return creds.account_name
    if isinstance(creds, UserLogin):
        return f"{creds.account_name}/{creds.user_name}"
    assert isinstance(creds, IAM2Login)
    return creds.name


LoginHook = Callable[[str, str], Awaitable[object]]


@dataclass
class SessionService:
    store: SessionStore
    zstack: ZStackClient
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    # Called after every successful login (team, user): parked requests resume there.
    on_login: list[LoginHook] = field(default_factory=list)
    _hooks: set[asyncio.Task[object]] = field(default_factory=set)

    async def login(self, team_id: str, user_id: str, creds: Credentials) -> StoredSession:
        """Log in to ZStack and remember the session for this Slack user.

        ZStack errors propagate (wrong password is a ``ZStackAPIError``). If the session cannot be
        stored, it is logged out again so no orphan session stays alive.
        """
        inventory = await self.zstack.login(creds)
        token = inventory.uuid.get_secret_value()
        secrets.add(token)
        now = self.clock()
        record = StoredSession(
            inventory=inventory,
            login_kind=creds.kind,
            identity=identity_of(creds),
            account_name=getattr(creds, "account_name", None),
            zstack_url=self.zstack.base_url,
            logged_in_at=now,
            expires_at=expiry_from_inventory(inventory, now_utc=now),
        )
        try:
            previous = await self.store.get(team_id, user_id)
            if not await self.store.put(team_id, user_id, record):
                raise SessionExpired("ZStack returned a session that has already expired")
            await self.store.mark_validated(team_id, user_id, ttl_s=VALIDATION_CACHE_S)
        except (StoreUnavailable, SessionExpired):
            await self._quiet_logout(inventory.uuid)
            raise
        if previous is not None and previous.inventory.uuid.get_secret_value() != token:
            await self._quiet_logout(previous.inventory.uuid)
        logger.info("zstack login", extra={"user_id": user_id, "kind": creds.kind})
        for hook in self.on_login:
            task = asyncio.ensure_future(hook(team_id, user_id))
            self._hooks.add(task)
            task.add_done_callback(self._hook_done)
        return record

    def _hook_done(self, task: asyncio.Task[object]) -> None:
        self._hooks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("after-login work failed", exc_info=task.exception())

    async def current(self, team_id: str, user_id: str) -> StoredSession:
        """The user's session, checked with ZStack; ``NotLoggedIn`` / ``SessionExpired`` if not."""
        record = await self.store.get(team_id, user_id)
        if record is None:
            raise NotLoggedIn("no ZStack session for this Slack user")
        secrets.add(record.inventory.uuid.get_secret_value())
        if await self.store.recently_validated(team_id, user_id):
            return record
        if not await self.zstack.validate_session(record.inventory.uuid):
            await self.store.delete(team_id, user_id)
            raise SessionExpired("ZStack no longer accepts the stored session")
        await self.store.mark_validated(team_id, user_id, ttl_s=VALIDATION_CACHE_S)
        return record

    async def peek(self, team_id: str, user_id: str) -> StoredSession | None:
        """The stored session without asking ZStack (for display only)."""
        return await self.store.get(team_id, user_id)

    async def forget(self, team_id: str, user_id: str) -> None:
        """Drop a session ZStack rejected during use."""
        await self.store.delete(team_id, user_id)

    async def logout(self, team_id: str, user_id: str) -> StoredSession | None:
        """Remove the user's session from the map and log it out of ZStack (best effort)."""
        record = await self.store.delete(team_id, user_id)
        if record is not None:
            await self._quiet_logout(record.inventory.uuid)
        return record

    async def _quiet_logout(self, session: SecretStr) -> None:
        try:
            await self.zstack.logout(session)
        except ZStackError as exc:
            logger.warning("zstack logout failed", extra={"error": type(exc).__name__})
