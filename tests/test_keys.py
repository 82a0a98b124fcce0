from __future__ import annotations

import pytest
from redis.crc import key_slot

from bot.store import keys

P = "clonebot:"


def test_session_keys_share_one_hash_tag_per_user() -> None:
    assert keys.session_key(P, "T1", "U1") == "clonebot:{sess:T1:U1}:session"
    assert keys.session_validated_key(P, "T1", "U1") == "clonebot:{sess:T1:U1}:validated"
    assert key_slot(keys.session_key(P, "T1", "U1").encode()) == key_slot(
        keys.session_validated_key(P, "T1", "U1").encode()
    )


def test_session_keys_differ_per_team_and_user() -> None:
    names = {
        keys.session_key(P, "T1", "U1"),
        keys.session_key(P, "T1", "U2"),
        keys.session_key(P, "T2", "U1"),
    }
    assert len(names) == 3


def test_request_key_uses_the_request_hash_tag() -> None:
    assert keys.request_key(P, "CR-7F3K2Q") == "clonebot:{req:CR-7F3K2Q}:record"
    slots = {
        key_slot(keys.request_key(P, "CR-7F3K2Q", part).encode()) for part in keys.REQUEST_PARTS
    }
    assert len(slots) == 1
    assert len({keys.request_key(P, "CR-7F3K2Q", part) for part in keys.REQUEST_PARTS}) == len(
        keys.REQUEST_PARTS
    )


def test_the_scan_pattern_finds_record_keys_under_the_prefix_taken_literally() -> None:
    assert keys.request_records_pattern(P) == "clonebot:{req:*}:record"
    assert keys.request_records_pattern("a*[b]?\\:") == "a\\*\\[b\\]\\?\\\\:{req:*}:record"
    key = keys.request_key(P, "CR-7F3K2Q")
    assert keys.request_id_of(P, key) == "CR-7F3K2Q"
    assert keys.request_id_of("other:", key) is None
    assert keys.request_id_of(P, keys.request_key(P, "CR-7F3K2Q", "events")) is None
    assert keys.request_id_of(P, "clonebot:{req:a:b}:record") is None


def test_request_key_rejects_unknown_part() -> None:
    with pytest.raises(ValueError, match="unknown request part"):
        keys.request_key(P, "CR-1", "secret")  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["", "a b", "x{y", "x}y", "a:b", "\n"])
def test_identifiers_that_would_break_a_key_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError):
        keys.session_key(P, bad, "U1")
    with pytest.raises(ValueError):
        keys.session_key(P, "T1", bad)
    with pytest.raises(ValueError):
        keys.request_key(P, bad)
    with pytest.raises(ValueError):
        keys.seen_key(P, "view", bad)


def test_every_key_starts_with_the_prefix_and_names_are_distinct() -> None:
    prefix = "other:"
    names = [
        keys.session_key(prefix, "T", "U"),
        keys.session_validated_key(prefix, "T", "U"),
        keys.request_key(prefix, "CR-1"),
        keys.jobs_due_key(prefix),
        keys.outbox_due_key(prefix),
        keys.expiring_requests_key(prefix),
        keys.user_requests_key(prefix, "T", "U"),
        keys.parked_requests_key(prefix, "T", "U"),
        keys.thread_key(prefix, "C1", "1.2"),
        keys.draft_key(prefix, "V1"),
        keys.seen_key(prefix, "view", "ab12"),
    ]
    assert all(name.startswith(prefix) for name in names)
    assert len(set(names)) == len(names)


def test_user_index_keys_share_a_slot() -> None:
    assert key_slot(keys.user_requests_key(P, "T", "U").encode()) == key_slot(
        keys.parked_requests_key(P, "T", "U").encode()
    )


def test_ttl_constants_are_sane() -> None:
    assert keys.SESSION_MIN_TTL_S >= 1
    assert keys.SESSION_MIN_TTL_S < keys.SESSION_DEFAULT_TTL_S < keys.SESSION_MAX_TTL_S
    assert 0 < keys.SESSION_VALIDATED_TTL_S < 300
