from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest
from cryptography.fernet import Fernet
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from bot.config import Settings
from bot.crypto import SecretBox, generate_key
from bot.errors import StoreUnavailable
from bot.store import keys
from bot.store.connection import connect_redis
from bot.store.handle import RedisHandle
from bot.store.sessions import SessionStore, StoredSession, expiry_from_inventory
from bot.zstack.models import SessionInventory
from tests.fixtures.redis_server import RedisServer, cluster_url

SESSION_UUID = "4d8e2f1a9b7c4e5fa1b2c3d4e5f60718"
ACCOUNT_UUID = "36c27e8ff05c4780bf6d2fa65700f22e"
ACCOUNT_NAME = "ml-platform-acct"
IDENTITY = "alice.wonderland"
T, U = "T0001", "U0001"
NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


class Clock:
    """A settable clock for the store (a process-level edge, not our logic)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def make_record(
    *, expires_in: timedelta = timedelta(hours=2), now: datetime = NOW
) -> StoredSession:
    inventory = SessionInventory.model_validate(
        {
            "uuid": SESSION_UUID,
            "accountUuid": ACCOUNT_UUID,
            "userUuid": ACCOUNT_UUID,
            "userType": "AccountVO",
            "createDate": "Mar 1, 2026 8:00:00 PM",
            "expiredDate": "Mar 1, 2026 10:00:00 PM",
            "noSessionEvaluation": False,
        }
    )
    return StoredSession(
        inventory=inventory,
        login_kind="account",
        identity=IDENTITY,
        account_name=ACCOUNT_NAME,
        zstack_url="http://zstack.example:8080",
        logged_in_at=now,
        expires_at=now + expires_in,
    )


@pytest.fixture
def box() -> SecretBox:
    return SecretBox([generate_key().encode()])


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.now(UTC))


@pytest.fixture
def store(redis_handle: RedisHandle, box: SecretBox, clock: Clock) -> SessionStore:
    return SessionStore(redis_handle, box, clock=clock)


def key() -> str:
    return keys.session_key("clonebot:", T, U)


# --- put / get / delete ----------------------------------------------------------------------


async def test_put_then_get_round_trips_everything(store: SessionStore, clock: Clock) -> None:
    record = make_record(now=clock.now)
    assert await store.put(T, U, record) is True
    got = await store.get(T, U)
    assert got == record
    assert got is not None
    assert got.session_uuid == SESSION_UUID
    assert got.inventory.account_uuid == ACCOUNT_UUID
    assert got.inventory.expired_date == datetime(2026, 3, 1, 22, 0, 0)
    assert got.expires_at.tzinfo is not None


async def test_get_of_unknown_user_is_none(store: SessionStore) -> None:
    assert await store.get(T, "U-NOBODY") is None


async def test_sessions_are_per_team_and_user(store: SessionStore, clock: Clock) -> None:
    await store.put(T, U, make_record(now=clock.now))
    assert await store.get(T, "U0002") is None
    assert await store.get("T0002", U) is None


async def test_put_replaces_previous_session(store: SessionStore, clock: Clock) -> None:
    await store.put(T, U, make_record(now=clock.now))
    newer = make_record(now=clock.now).model_copy(update={"identity": "someone-else"})
    await store.put(T, U, newer)
    got = await store.get(T, U)
    assert got is not None and got.identity == "someone-else"


async def test_delete_returns_what_was_there_and_removes_it(
    store: SessionStore, redis_handle: RedisHandle, clock: Clock
) -> None:
    record = make_record(now=clock.now)
    await store.put(T, U, record)
    await store.mark_validated(T, U)
    assert await store.delete(T, U) == record
    assert await store.get(T, U) is None
    assert await store.recently_validated(T, U) is False
    assert await redis_handle.client.exists(key()) == 0
    assert await store.delete(T, U) is None


# --- TTL -------------------------------------------------------------------------------------


async def test_ttl_follows_expires_at(
    redis_handle: RedisHandle, box: SecretBox, clock: Clock
) -> None:
    frozen = Clock(clock.now)
    store = SessionStore(redis_handle, box, clock=frozen)
    await store.put(T, U, make_record(expires_in=timedelta(seconds=100), now=frozen.now))
    pttl = await redis_handle.client.pttl(key())
    assert 98_000 < pttl <= 100_000


async def test_ttl_is_at_least_one_second(
    redis_handle: RedisHandle, box: SecretBox, clock: Clock
) -> None:
    store = SessionStore(redis_handle, box, clock=Clock(clock.now))
    record = make_record(expires_in=timedelta(milliseconds=200), now=clock.now)
    assert await store.put(T, U, record) is True
    pttl = await redis_handle.client.pttl(key())
    assert 900 < pttl <= 1000


async def test_expired_session_is_not_stored(
    store: SessionStore, redis_handle: RedisHandle, clock: Clock
) -> None:
    await store.put(T, U, make_record(now=clock.now))  # an older session must not survive
    expired = make_record(expires_in=timedelta(seconds=-1), now=clock.now)
    assert await store.put(T, U, expired) is False
    assert await redis_handle.client.exists(key()) == 0
    exactly_now = make_record(expires_in=timedelta(0), now=clock.now)
    assert await store.put(T, U, exactly_now) is False
    assert await store.get(T, U) is None


async def test_get_ignores_a_session_past_its_expiry(store: SessionStore, clock: Clock) -> None:
    await store.put(T, U, make_record(expires_in=timedelta(minutes=5), now=clock.now))
    clock.now += timedelta(minutes=6)  # Redis has not expired it yet; the record says it's over
    assert await store.get(T, U) is None


async def test_touch_moves_expiry_and_ttl(
    store: SessionStore, redis_handle: RedisHandle, clock: Clock
) -> None:
    await store.put(T, U, make_record(expires_in=timedelta(minutes=5), now=clock.now))
    new_expiry = clock.now + timedelta(hours=3)
    touched = await store.touch(T, U, new_expiry)
    assert touched is not None and touched.expires_at == new_expiry
    got = await store.get(T, U)
    assert got is not None and got.expires_at == new_expiry and got.session_uuid == SESSION_UUID
    pttl = await redis_handle.client.pttl(key())
    assert 3 * 3600_000 - 5_000 < pttl <= 3 * 3600_000


async def test_touch_accepts_any_time_zone(store: SessionStore, clock: Clock) -> None:
    await store.put(T, U, make_record(now=clock.now))
    tokyo = timezone(timedelta(hours=9))
    touched = await store.touch(T, U, (clock.now + timedelta(hours=1)).astimezone(tokyo))
    assert touched is not None
    assert touched.expires_at.utcoffset() == timedelta(0)
    assert touched.expires_at == clock.now + timedelta(hours=1)


async def test_touch_without_session_is_none(store: SessionStore, clock: Clock) -> None:
    assert await store.touch(T, U, clock.now + timedelta(hours=1)) is None


async def test_touch_into_the_past_removes_the_session(
    store: SessionStore, redis_handle: RedisHandle, clock: Clock
) -> None:
    await store.put(T, U, make_record(now=clock.now))
    assert await store.touch(T, U, clock.now - timedelta(seconds=1)) is None
    assert await redis_handle.client.exists(key()) == 0


async def test_touch_rejects_naive_expiry(store: SessionStore, clock: Clock) -> None:
    await store.put(T, U, make_record(now=clock.now))
    with pytest.raises(ValueError, match="timezone-aware"):
        await store.touch(T, U, datetime(2030, 1, 1))


# --- validation cache ------------------------------------------------------------------------


async def test_validation_cache(store: SessionStore, redis_handle: RedisHandle) -> None:
    assert await store.recently_validated(T, U) is False
    await store.mark_validated(T, U)
    assert await store.recently_validated(T, U) is True
    assert await store.recently_validated(T, "U0002") is False
    ttl = await redis_handle.client.ttl(keys.session_validated_key("clonebot:", T, U))
    assert 0 < ttl <= keys.SESSION_VALIDATED_TTL_S
    await store.mark_validated(T, U, ttl_s=0)  # clamped to the 1 s minimum, not "forever"
    assert 0 < await redis_handle.client.pttl(keys.session_validated_key("clonebot:", T, U)) <= 1000


# --- encryption at rest ----------------------------------------------------------------------


async def test_nothing_sensitive_is_stored_in_plain_text(
    store: SessionStore, redis_handle: RedisHandle, box: SecretBox, clock: Clock
) -> None:
    await store.put(T, U, make_record(now=clock.now))
    await store.mark_validated(T, U)
    dump = b""
    async for name in redis_handle.client.scan_iter(match="*"):
        dump += name + b"\n"
        kind = await redis_handle.client.type(name)
        assert kind == b"string"
        value = await redis_handle.client.get(name)
        assert isinstance(value, bytes)
        dump += value + b"\n"
    assert dump.count(b"\n") == 4  # two keys, two values
    for secret in (SESSION_UUID, ACCOUNT_NAME, IDENTITY, ACCOUNT_UUID, "zstack.example"):
        assert secret.encode() not in dump
        assert secret.upper().encode() not in dump
    token = await redis_handle.client.get(key())
    assert isinstance(token, bytes)
    assert box.decrypt(token).plaintext.count(SESSION_UUID.encode()) == 1


async def test_logs_and_repr_never_show_the_session_uuid(
    store: SessionStore, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    record = make_record(now=clock.now)
    await store.put(T, U, record)
    await store.get(T, U)
    await store.touch(T, U, clock.now + timedelta(hours=1))
    await store.delete(T, U)
    assert SESSION_UUID not in repr(record)
    assert SESSION_UUID not in str(record)
    assert SESSION_UUID not in record.model_dump_json()
    assert SESSION_UUID not in caplog.text


async def test_key_rotation_keeps_sessions_and_reencrypts(
    redis_handle: RedisHandle, clock: Clock
) -> None:
    old, new = generate_key(), generate_key()
    record = make_record(now=clock.now)
    await SessionStore(redis_handle, SecretBox([old.encode()]), clock=clock).put(T, U, record)
    pttl_before = await redis_handle.client.pttl(key())

    rotated = SessionStore(redis_handle, SecretBox([new.encode(), old.encode()]), clock=clock)
    assert await rotated.get(T, U) == record

    # Re-encrypted with the newest key, TTL kept: the old key can now be dropped.
    token = await redis_handle.client.get(key())
    assert isinstance(token, bytes)
    Fernet(new.encode()).decrypt(token)
    assert 0 < await redis_handle.client.pttl(key()) <= pttl_before
    only_new = SessionStore(redis_handle, SecretBox([new.encode()]), clock=clock)
    assert await only_new.get(T, U) == record


async def test_session_under_a_removed_key_is_absent_and_deleted(
    redis_handle: RedisHandle, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    await SessionStore(redis_handle, SecretBox([generate_key().encode()]), clock=clock).put(
        T, U, make_record(now=clock.now)
    )
    other = SessionStore(redis_handle, SecretBox([generate_key().encode()]), clock=clock)
    with caplog.at_level(logging.WARNING, logger="bot.store.sessions"):
        assert await other.get(T, U) is None
    assert "cannot be decrypted" in caplog.text
    assert await redis_handle.client.exists(key()) == 0


@pytest.mark.parametrize("garbage", [b"garbage", b"", b"gAAAAA-not-really"])
async def test_corrupted_value_is_absent_not_a_crash(
    store: SessionStore, redis_handle: RedisHandle, garbage: bytes
) -> None:
    await redis_handle.client.set(key(), garbage)
    assert await store.get(T, U) is None
    assert await redis_handle.client.exists(key()) == 0
    await redis_handle.client.set(key(), garbage)
    assert await store.touch(T, U, datetime.now(UTC) + timedelta(hours=1)) is None
    await redis_handle.client.set(key(), garbage)
    assert await store.delete(T, U) is None


async def test_well_encrypted_but_malformed_record_is_absent(
    store: SessionStore, redis_handle: RedisHandle, box: SecretBox
) -> None:
    await redis_handle.client.set(key(), box.encrypt(b'{"inventory": {}}'))
    assert await store.get(T, U) is None
    assert await redis_handle.client.exists(key()) == 0


# --- outages ---------------------------------------------------------------------------------


@pytest.fixture
async def outage_store(
    restartable_redis: RedisServer, box: SecretBox
) -> AsyncIterator[SessionStore]:
    handle = await connect_redis(Settings(redis_url=restartable_redis.url))
    try:
        yield SessionStore(handle, box)
    finally:
        await handle.aclose()


async def test_redis_down_is_store_unavailable_then_recovers(
    outage_store: SessionStore, restartable_redis: RedisServer
) -> None:
    record = make_record(now=datetime.now(UTC))
    await outage_store.put(T, U, record)
    await restartable_redis.astop()

    calls: list[Callable[[], object]] = [
        lambda: outage_store.get(T, U),
        lambda: outage_store.put(T, U, record),
        lambda: outage_store.delete(T, "U0002"),
        lambda: outage_store.touch(T, U, datetime.now(UTC) + timedelta(hours=1)),
        lambda: outage_store.mark_validated(T, U),
        lambda: outage_store.recently_validated(T, U),
    ]
    for call in calls:
        with pytest.raises(StoreUnavailable):
            await call()  # type: ignore[misc]

    await restartable_redis.astart()
    assert await outage_store.get(T, U) == record  # AOF kept it; the client reconnected


# --- Redis Cluster ---------------------------------------------------------------------------


async def test_store_works_on_redis_cluster(redis_cluster: RedisServer, box: SecretBox) -> None:
    handle = await connect_redis(Settings(redis_url=cluster_url(redis_cluster)))
    try:
        store = SessionStore(handle, box)
        record = make_record(now=datetime.now(UTC))
        assert await store.put(T, U, record)
        await store.mark_validated(T, U)
        assert await store.get(T, U) == record
        assert await store.touch(T, U, datetime.now(UTC) + timedelta(hours=1)) is not None
        deleted = await store.delete(T, U)  # GETDEL + DEL in one transaction, one slot
        assert deleted is not None and deleted.session_uuid == SESSION_UUID
        assert await store.recently_validated(T, U) is False
    finally:
        await handle.aclose()


async def test_bare_client_with_its_own_prefix(
    redis_handle: RedisHandle, box: SecretBox, clock: Clock
) -> None:
    with pytest.raises(ValueError, match="prefix"):
        SessionStore(redis_handle.client, box)
    store = SessionStore(redis_handle.client, box, prefix="other:", clock=clock)
    await store.put(T, U, make_record(now=clock.now))
    assert await redis_handle.client.exists(keys.session_key("other:", T, U)) == 1
    assert await redis_handle.client.exists(key()) == 0


# --- the model -------------------------------------------------------------------------------


def test_stored_session_requires_aware_times() -> None:
    data = make_record().model_dump()
    data["inventory"] = make_record().inventory
    data["expires_at"] = datetime(2030, 1, 1)
    with pytest.raises(ValidationError):
        StoredSession.model_validate(data)


def test_stored_session_rejects_unknown_login_kind() -> None:
    data = make_record().model_dump()
    data["inventory"] = make_record().inventory
    data["login_kind"] = "ldap"
    with pytest.raises(ValidationError):
        StoredSession.model_validate(data)


def test_stored_session_normalises_to_utc() -> None:
    plus2 = timezone(timedelta(hours=2))
    record = make_record(now=NOW.astimezone(plus2))
    assert record.logged_in_at.utcoffset() == timedelta(0)
    assert record.logged_in_at == NOW


# --- expiry_from_inventory -------------------------------------------------------------------


def inv(create: str | None, expired: str | None) -> SessionInventory:
    data: dict[str, object] = {"uuid": SESSION_UUID}
    if create is not None:
        data["createDate"] = create
    if expired is not None:
        data["expiredDate"] = expired
    return SessionInventory.model_validate(data)


def test_expiry_is_the_session_lifetime_from_now() -> None:
    # The node is at UTC+8: its dates are 8 hours "ahead" of UTC, which must not matter.
    result = expiry_from_inventory(
        inv("Mar 1, 2026 8:00:00 PM", "Mar 1, 2026 10:00:00 PM"), now_utc=NOW
    )
    assert result == NOW + timedelta(hours=2)
    assert result.tzinfo is not None


def test_expiry_uses_node_now_when_given() -> None:
    # A slid session: created long ago, expires 30 min after the node's current time.
    inventory = inv("Feb 28, 2026 8:00:00 AM", "Mar 1, 2026 8:30:00 PM")
    node_now = datetime(2026, 3, 1, 20, 0, 0)
    assert expiry_from_inventory(
        inventory, now_utc=NOW, node_now_local=node_now
    ) == NOW + timedelta(minutes=30)


@pytest.mark.parametrize(
    ("create", "expired"),
    [
        (None, None),
        ("Mar 1, 2026 8:00:00 PM", None),
        (None, "Mar 1, 2026 10:00:00 PM"),
        ("Mar 1, 2026 10:00:00 PM", "Mar 1, 2026 8:00:00 PM"),  # expiry before creation
        ("Mar 1, 2026 8:00:00 PM", "Mar 1, 2026 8:00:00 PM"),
        ("not a date", "Mar 1, 2026 10:00:00 PM"),
    ],
)
def test_expiry_falls_back_to_default(create: str | None, expired: str | None) -> None:
    assert expiry_from_inventory(inv(create, expired), now_utc=NOW, default_ttl_s=600) == (
        NOW + timedelta(seconds=600)
    )


def test_expiry_is_capped() -> None:
    result = expiry_from_inventory(
        inv("Jan 1, 2026 8:00:00 PM", "Jan 1, 2027 8:00:00 PM"), now_utc=NOW
    )
    assert result == NOW + timedelta(seconds=keys.SESSION_MAX_TTL_S)


def test_expiry_needs_an_aware_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        expiry_from_inventory(inv(None, None), now_utc=datetime(2026, 1, 1))


@given(
    offset_h=st.integers(min_value=-12, max_value=14),
    lifetime_s=st.integers(min_value=1, max_value=keys.SESSION_MAX_TTL_S),
    created=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1)),
)
def test_expiry_does_not_depend_on_the_node_time_zone(
    offset_h: int, lifetime_s: int, created: datetime
) -> None:
    created = created.replace(microsecond=0)
    node_create = created + timedelta(hours=offset_h)
    inventory = SessionInventory.model_validate(
        {
            "uuid": SESSION_UUID,
            "createDate": node_create,
            "expiredDate": node_create + timedelta(seconds=lifetime_s),
        }
    )
    assert expiry_from_inventory(inventory, now_utc=NOW) == NOW + timedelta(seconds=lifetime_s)
