"""The Slack user → ZStack session map, encrypted in Redis (DESIGN §3 Login, §5).

One key per ``(team_id, user_id)`` (see ``bot.store.keys``). Its value is the Fernet token of the
``StoredSession`` JSON: neither the session UUID (a bearer token) nor the identity is stored in
plain text. The key's TTL ends when the session does, so Redis forgets expired sessions by itself.

ZStack's ``expiredDate`` is the node's local time without a zone, so the caller turns an inventory
into an aware UTC expiry with ``expiry_from_inventory`` before storing it.

A value that cannot be decrypted (its key was rotated away, or it is corrupted) is deleted and
reported as absent, with a warning: the user logs in again. A value encrypted with an older key
listed in ``CLONEBOT_SESSION_KEY`` is re-encrypted with the newest key when read.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError, field_validator

from bot.crypto import SecretBox
from bot.errors import DecryptError
from bot.store import keys
from bot.store.errors import store_errors
from bot.store.handle import AsyncRedis, RedisHandle
from bot.zstack.models import SessionInventory

logger = logging.getLogger(__name__)

LoginKind = Literal["account", "user", "iam2"]

# Replace the value only if it is still the one we read (compare-and-set); keep the TTL unless a
# new one is given. KEYS[1] = session key; ARGV = old token, new token, new TTL in ms or "".
_CAS_SET = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[3] == '' then
  redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
else
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
return 1
"""

# Delete the value only if it is still the one we read. KEYS[1] = key; ARGV[1] = old token.
_CAS_DEL = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# How many times ``touch`` re-reads after losing a compare-and-set race.
_TOUCH_ATTEMPTS = 3


def utc_now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


class StoredSession(BaseModel):
    """What the bot keeps about one Slack user's ZStack login.

    ``inventory.uuid`` is the bearer token (a ``SecretStr``: hidden from ``repr`` and logs).
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    inventory: SessionInventory
    login_kind: LoginKind
    identity: str  # display name for whoami: the account name, or the IAM / IAM2 user name
    account_name: str | None = None  # the account the user belongs to, when known
    zstack_url: str  # the ZStack endpoint the session belongs to
    logged_in_at: AwareDatetime  # UTC
    expires_at: AwareDatetime  # UTC
    # ZStack's session timeout as seen at login (each use slides the expiry by this much).
    lifetime_s: float | None = None

    @field_validator("logged_in_at", "expires_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @property
    def lifetime(self) -> timedelta:
        """How far each use moves the expiry (ZStack's ``identity.session.timeout``)."""
        if self.lifetime_s is not None:
            return timedelta(seconds=self.lifetime_s)
        return self.expires_at - self.logged_in_at  # stored before slides were recorded

    @property
    def session_uuid(self) -> str:
        """The ZStack session UUID (bearer token): only for the ``Authorization`` header."""
        return self.inventory.uuid.get_secret_value()

    def with_expiry(self, expires_at: datetime) -> StoredSession:
        """A copy expiring at ``expires_at`` (aware)."""
        if expires_at.tzinfo is None or expires_at.utcoffset() is None:
            raise ValueError("expires_at must be timezone-aware")
        return self.model_copy(update={"expires_at": expires_at.astimezone(UTC)})

    def to_plain_json(self) -> bytes:
        """The full JSON including the session UUID (encrypt it before it leaves the process)."""
        data = self.model_dump(mode="json")
        data["inventory"]["uuid"] = self.session_uuid
        return _dumps(data)

    @classmethod
    def from_plain_json(cls, raw: bytes) -> StoredSession:
        return cls.model_validate_json(raw)


def _dumps(data: dict[str, Any]) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def expiry_from_inventory(
    inv: SessionInventory,
    *,
    now_utc: datetime,
    node_now_local: datetime | None = None,
    default_ttl_s: int = keys.SESSION_DEFAULT_TTL_S,
) -> datetime:
    """When the session expires, in UTC, from ZStack's zone-less dates.

    ZStack writes ``createDate`` and ``expiredDate`` in the node's local time with no zone, so only
    differences between them are meaningful. With ``node_now_local`` (the node's current local
    time, when the caller knows it) the remaining life is ``expiredDate - node_now_local``;
    otherwise it is ``expiredDate - createDate`` (right just after a login). Missing or invalid
    dates (expiry not after the reference) give ``default_ttl_s``. Lifetimes are capped at
    ``keys.SESSION_MAX_TTL_S``.
    """
    if now_utc.tzinfo is None or now_utc.utcoffset() is None:
        raise ValueError("now_utc must be timezone-aware")
    now_utc = now_utc.astimezone(UTC)
    expired = _naive(inv.expired_date)
    reference = _naive(node_now_local) if node_now_local is not None else _naive(inv.create_date)
    life: timedelta | None = None
    if expired is not None and reference is not None and expired > reference:
        life = expired - reference
    if life is None:
        life = timedelta(seconds=default_ttl_s)
    return now_utc + min(life, timedelta(seconds=keys.SESSION_MAX_TTL_S))


def _naive(moment: datetime | None) -> datetime | None:
    # A node-local wall-clock time; drop a zone if a caller attached one.
    return moment.replace(tzinfo=None) if moment is not None else None


def _ttl_ms(expires_at: datetime, now: datetime) -> int | None:
    """Milliseconds until ``expires_at`` (at least ``SESSION_MIN_TTL_S``), None if already past."""
    remaining = (expires_at - now).total_seconds()
    if remaining <= 0:
        return None
    return max(keys.SESSION_MIN_TTL_S * 1000, math.ceil(remaining * 1000))


class SessionStore:
    """Slack user → ZStack session, encrypted, with a TTL; plus a short validation cache.

    Every method raises ``StoreUnavailable`` when Redis cannot be used.
    """

    def __init__(
        self,
        redis: RedisHandle | AsyncRedis,
        box: SecretBox,
        *,
        prefix: str | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        if isinstance(redis, RedisHandle):
            self._redis: AsyncRedis = redis.client
            self._prefix = prefix if prefix is not None else redis.prefix
        else:
            if prefix is None:
                raise ValueError("prefix is required with a bare Redis client")
            self._redis = redis
            self._prefix = prefix
        self._box = box
        self._clock = clock

    def _key(self, team_id: str, user_id: str) -> str:
        return keys.session_key(self._prefix, team_id, user_id)

    def _validated_key(self, team_id: str, user_id: str) -> str:
        return keys.session_validated_key(self._prefix, team_id, user_id)

    async def put(self, team_id: str, user_id: str, record: StoredSession) -> bool:
        """Store (replace) the user's session until ``record.expires_at``.

        Returns False, storing nothing and removing any previous session, when it has already
        expired.
        """
        key = self._key(team_id, user_id)
        ttl_ms = _ttl_ms(record.expires_at, self._clock())
        if ttl_ms is None:
            logger.info("Not storing an already expired ZStack session for %s/%s", team_id, user_id)
            with store_errors("session.put"):
                await self._redis.delete(key)
            return False
        token = self._box.encrypt(record.to_plain_json())
        with store_errors("session.put"):
            await self._redis.set(key, token, px=ttl_ms)
        return True

    async def get(self, team_id: str, user_id: str) -> StoredSession | None:
        """The user's session, or None (never stored, expired, or undecryptable)."""
        key = self._key(team_id, user_id)
        with store_errors("session.get"):
            token = await self._redis.get(key)
        if token is None:
            return None
        record, stale = await self._decode(key, _as_bytes(token), team_id, user_id)
        if record is None:
            return None
        if record.expires_at <= self._clock():
            return None
        if stale:
            await self._reencrypt(key, _as_bytes(token), record)
        return record

    async def delete(self, team_id: str, user_id: str) -> StoredSession | None:
        """Remove the user's session atomically (GETDEL) and return what was there, if readable."""
        key = self._key(team_id, user_id)
        with store_errors("session.delete"):
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.getdel(key)
                pipe.delete(self._validated_key(team_id, user_id))
                token, _ = await pipe.execute()
        if token is None:
            return None
        try:
            return StoredSession.from_plain_json(self._box.decrypt(_as_bytes(token)).plaintext)
        except (DecryptError, ValidationError):
            logger.warning("Deleted an unreadable ZStack session for %s/%s", team_id, user_id)
            return None

    async def touch(self, team_id: str, user_id: str, new_expiry: datetime) -> StoredSession | None:
        """Move the session's expiry (ZStack slid it) and its TTL; None if there is no session.

        A ``new_expiry`` in the past removes the session.
        """
        key = self._key(team_id, user_id)
        for _ in range(_TOUCH_ATTEMPTS):
            with store_errors("session.touch"):
                raw = await self._redis.get(key)
            if raw is None:
                return None
            token = _as_bytes(raw)
            record, _stale = await self._decode(key, token, team_id, user_id)
            if record is None:
                return None
            updated = record.with_expiry(new_expiry)
            ttl_ms = _ttl_ms(updated.expires_at, self._clock())
            with store_errors("session.touch"):
                if ttl_ms is None:
                    await self._redis.eval(_CAS_DEL, 1, key, token)
                    return None
                new_token = self._box.encrypt(updated.to_plain_json())
                done = await self._redis.eval(_CAS_SET, 1, key, token, new_token, str(ttl_ms))
            if done:
                return updated
        logger.warning("Gave up moving the session expiry of %s/%s (busy)", team_id, user_id)
        return await self.get(team_id, user_id)

    async def mark_validated(
        self, team_id: str, user_id: str, ttl_s: int = keys.SESSION_VALIDATED_TTL_S
    ) -> None:
        """Remember for ``ttl_s`` seconds that ZStack just accepted the user's session."""
        with store_errors("session.mark_validated"):
            await self._redis.set(self._validated_key(team_id, user_id), b"1", ex=max(1, ttl_s))

    async def recently_validated(self, team_id: str, user_id: str) -> bool:
        """True within ``ttl_s`` of ``mark_validated`` (and until ``delete``)."""
        with store_errors("session.recently_validated"):
            return bool(await self._redis.exists(self._validated_key(team_id, user_id)))

    async def _decode(
        self, key: str, token: bytes, team_id: str, user_id: str
    ) -> tuple[StoredSession | None, bool]:
        try:
            decrypted = self._box.decrypt(token)
            return StoredSession.from_plain_json(decrypted.plaintext), decrypted.stale
        except (DecryptError, ValidationError) as exc:
            reason = "cannot be decrypted" if isinstance(exc, DecryptError) else "is malformed"
            logger.warning(
                "Stored ZStack session of %s/%s %s; removing it (the user must log in again)",
                team_id,
                user_id,
                reason,
            )
            with store_errors("session.discard"):
                await self._redis.eval(_CAS_DEL, 1, key, token)
            return None, False

    async def _reencrypt(self, key: str, token: bytes, record: StoredSession) -> None:
        new_token = self._box.encrypt(record.to_plain_json())
        with store_errors("session.reencrypt"):
            await self._redis.eval(_CAS_SET, 1, key, token, new_token, "")


def _as_bytes(value: bytes | str | Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    raise TypeError(f"unexpected Redis reply type {type(value).__name__}")
