"""Who is logged in to ZStack as whom: the session map plus ZStack's own view of each session.

``SessionService`` is what handlers use. It logs users in (the password arrives already
SHA-512-hashed and is never stored), keeps the encrypted map in Redis, and validates a stored
session with ZStack before it is used (with a short cache, or ``fresh`` right before a clone),
dropping it when ZStack says no.

ZStack extends a session on every authenticated API call (reference §2.3), so every call made
with a user's session goes through ``call``: the stored expiry — and the Redis TTL with it —
slides the same way, and whoami and App Home show the real expiry.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from pydantic import SecretStr

from bot.errors import (
    NotLoggedIn,
    SessionExpired,
    StoreUnavailable,
    ZStackAPIError,
    ZStackError,
    ZStackSessionInvalid,
)
from bot.logs import secrets
from bot.store.sessions import SessionStore, StoredSession, expiry_from_inventory
from bot.zstack.client import ZStackClient
from bot.zstack.credentials import AccountLogin, Credentials, IAM2Login, UserLogin

logger = logging.getLogger(__name__)

# How long a positive ZStack validation is trusted before asking again.
VALIDATION_CACHE_S = 30
# The stored expiry is moved once it lags ZStack's by this share of the session's lifetime (at
# least a second): an active user costs one Redis write per ~72 s of a 2-hour session, not one
# per call.
SLIDE_STEP = 0.01


def identity_of(creds: Credentials) -> str:
    """How the user is shown in whoami: ``alice``, ``alice/bob`` or ``carol (IAM2)``."""
    if isinstance(creds, AccountLogin):
        return creds.account_name
    if isinstance(creds, UserLogin):
        return f"{creds.account_name}/{creds.user_name}"
    assert isinstance(creds, IAM2Login)
    return creds.name


T = TypeVar("T")


@dataclass
class SessionService:
    store: SessionStore
    zstack: ZStackClient
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    async def login(self, team_id: str, user_id: str, creds: Credentials) -> StoredSession:
        """Log in to ZStack and remember the session for this Slack user.

        ZStack errors propagate (wrong password is a ``ZStackAPIError``). If the session cannot be
        stored, it is logged out again so no orphan session stays alive.
        """
        inventory = await self.zstack.login(creds)
        token = inventory.uuid.get_secret_value()
        secrets.add(token)
        now = self.clock()
        expires_at = expiry_from_inventory(inventory, now_utc=now)
        record = StoredSession(
            inventory=inventory,
            login_kind=creds.kind,
            identity=identity_of(creds),
            account_name=getattr(creds, "account_name", None),
            zstack_url=self.zstack.base_url,
            logged_in_at=now,
            expires_at=expires_at,
            lifetime_s=(expires_at - now).total_seconds(),
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
        return record

    async def current(self, team_id: str, user_id: str, *, fresh: bool = False) -> StoredSession:
        """The user's session, checked with ZStack (``fresh``: now, not from the short cache);
        ``NotLoggedIn`` / ``SessionExpired`` if there is none that ZStack accepts."""
        record = await self._stored(team_id, user_id)
        if not fresh and await self.store.recently_validated(team_id, user_id):
            return record
        if not await self.zstack.validate_session(record.inventory.uuid):
            await self.store.delete(team_id, user_id)
            raise SessionExpired("ZStack no longer accepts the stored session")
        await self.store.mark_validated(team_id, user_id, ttl_s=VALIDATION_CACHE_S)
        return record

    async def _stored(self, team_id: str, user_id: str) -> StoredSession:
        """The user's stored session, not checked with ZStack; ``NotLoggedIn`` without one."""
        record = await self.store.get(team_id, user_id)
        if record is None:
            raise NotLoggedIn("no ZStack session for this Slack user")
        secrets.add(record.inventory.uuid.get_secret_value())
        return record

    async def call(
        self,
        team_id: str,
        user_id: str,
        operation: Callable[[SecretStr], Awaitable[T]],
        *,
        fresh: bool = False,
        session: StoredSession | None = None,
        authenticated: bool = False,
    ) -> T:
        """Run ``operation`` with the user's session (``session``: one just checked). ZStack
        slides the session on every authenticated call (a business failure included), so the
        stored expiry slides too; a session ZStack calls invalid is dropped and
        ``SessionExpired`` raised.

        ``authenticated``: ``operation`` always makes an authenticated ZStack call, whose
        answer (``ID.1001`` for a session ZStack no longer accepts) is the check: no
        ``ValidateSession`` round trip first."""
        unchecked = authenticated and not fresh and session is None
        if unchecked:
            record = await self._stored(team_id, user_id)
        else:
            record = session or await self.current(team_id, user_id, fresh=fresh)
        try:
            result = await operation(record.inventory.uuid)
        except ZStackSessionInvalid:
            await self.dropped(team_id, user_id)
            raise SessionExpired("ZStack no longer accepts the stored session") from None
        except ZStackAPIError:
            await self._slide(team_id, user_id, record)
            raise
        await self._slide(team_id, user_id, record)
        if unchecked:
            await self.store.mark_validated(team_id, user_id, ttl_s=VALIDATION_CACHE_S)
        return result

    async def _slide(self, team_id: str, user_id: str, record: StoredSession) -> StoredSession:
        """ZStack accepted ``record`` just now: move its stored expiry as ZStack moved it."""
        lifetime = record.lifetime
        new_expiry = self.clock() + lifetime
        step = max(timedelta(seconds=1), lifetime * SLIDE_STEP)
        if new_expiry - record.expires_at < step:
            return record
        try:
            moved = await self.store.touch(team_id, user_id, new_expiry)
        except StoreUnavailable:
            return record  # the next use slides it; nothing else depends on it
        return moved or record

    async def dropped(self, team_id: str, user_id: str) -> None:
        """ZStack refused the session during use: forget it (the user logs in again)."""
        await self.store.delete(team_id, user_id)

    async def peek(self, team_id: str, user_id: str) -> StoredSession | None:
        """The stored session without asking ZStack (for display only)."""
        return await self.store.get(team_id, user_id)

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
