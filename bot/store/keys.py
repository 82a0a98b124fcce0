"""Every Redis key name and TTL the bot uses, in one place (DESIGN §5, STYLE item 9).

All keys start with the configured prefix (``Settings.key_prefix``, ``clonebot:`` by default).
Keys that belong together carry one Redis Cluster *hash tag* (the part in ``{...}``), so that every
multi-key command, transaction and Lua script touching them stays in one slot:

==========================================  ===================================================
``clonebot:{sess:T1:U1}:session``           a Slack user's encrypted ZStack session (string, TTL)
``clonebot:{sess:T1:U1}:validated``         "ZStack said this session is valid" for a few seconds
``clonebot:{req:CR-7F3K2Q}:record``         one clone request (hash; its other parts share the tag:
                                            ``events`` audit list, ``outbox`` pending effects
                                            (hash), ``counts`` retry counters (hash), ``lock``
                                            and ``outbox-lease`` leases)
``clonebot:{user:T1:U1}:requests``          a user's recent request ids (list)
``clonebot:{user:T1:U1}:parked``            the user's requests waiting for a login (set)
``clonebot:jobs:due``                       sorted set: requests to submit or poll, by due time
``clonebot:outbox:due``                     sorted set: requests with effects to carry out
``clonebot:requests:expiring``              sorted set: undecided requests, by expiry
``clonebot:requests:nudges``                sorted set: undecided requests, by their next
                                            reminder, escalation or skipped step
``clonebot:thread:<channel>:<ts>``          a card's thread → request id (thread replies)
``clonebot:draft:<view-id>``                hidden advanced fields of an open form (JSON, TTL)
``clonebot:seen:<kind>:<digest>``           a Slack delivery already acted on (replays, retries)
==========================================  ===================================================

Global keys (the schedules, threads, drafts, seen deliveries) each live in their own slot: a
script may combine them with one request's keys on a single Redis, but under Redis Cluster it must
touch one slot at a time (write the request, then index it).

Identifiers that go into key names are checked: no braces (they would break the hash tag), no
colons, no whitespace, not empty. Slack and ZStack identifiers never contain those.
"""

from __future__ import annotations

import re
from typing import Literal

# --- TTLs and sizes --------------------------------------------------------------------------

# A session is kept for at least this long once stored (Redis rounds shorter TTLs down to 0).
SESSION_MIN_TTL_S = 1
# Session lifetime when ZStack's inventory gives no usable createDate/expiredDate (ZStack's own
# default session timeout is 2 hours).
SESSION_DEFAULT_TTL_S = 7200
# Upper bound for a session lifetime derived from ZStack dates; longer values are clamped.
SESSION_MAX_TTL_S = 30 * 24 * 3600
# How long "ZStack validated this session" is believed before asking ZStack again.
SESSION_VALIDATED_TTL_S = 30
# How long a finished request's record is kept (for `/clone-model status` and App Home).
REQUEST_RETENTION_S = 30 * 24 * 3600
# How many request ids a user's "recent requests" list keeps.
USER_RECENT_REQUESTS = 50

# --- key parts -------------------------------------------------------------------------------

# Hash-tag namespaces: a session's keys, one request's keys, one user's index keys.
SESSION_TAG = "sess"
REQUEST_TAG = "req"
USER_TAG = "user"

# The parts a request may have; all share the request's hash tag.
RequestPart = Literal["record", "events", "outbox", "counts", "lock", "outbox-lease"]
REQUEST_PARTS: tuple[RequestPart, ...] = (
    "record",
    "events",
    "outbox",
    "counts",
    "lock",
    "outbox-lease",
)

_SAFE_ID = re.compile(r"^[^\s{}:]+$")


def _check(kind: str, value: str) -> str:
    if not _SAFE_ID.match(value):
        raise ValueError(f"{kind} cannot be used in a Redis key: {value!r}")
    return value


def _tag(namespace: str, *ids: tuple[str, str]) -> str:
    return "{" + ":".join([namespace, *(_check(kind, value) for kind, value in ids)]) + "}"


# --- sessions --------------------------------------------------------------------------------


def session_tag(team_id: str, user_id: str) -> str:
    """The hash tag shared by one Slack user's session keys, e.g. ``{sess:T1:U1}``."""
    return _tag(SESSION_TAG, ("team_id", team_id), ("user_id", user_id))


def session_key(prefix: str, team_id: str, user_id: str) -> str:
    """The encrypted ZStack session of one Slack user (string; TTL = session expiry)."""
    return f"{prefix}{session_tag(team_id, user_id)}:session"


def session_validated_key(prefix: str, team_id: str, user_id: str) -> str:
    """Short-lived marker: ZStack recently confirmed the user's session (TTL a few seconds)."""
    return f"{prefix}{session_tag(team_id, user_id)}:validated"


# --- requests and their schedules -----------------------------------------------------------


def request_tag(request_id: str) -> str:
    """The hash tag shared by every part of one request, e.g. ``{req:CR-7F3K2Q}``."""
    return _tag(REQUEST_TAG, ("request_id", request_id))


def request_key(prefix: str, request_id: str, part: RequestPart = "record") -> str:
    """One part of a clone request, e.g. ``clonebot:{req:CR-7F3K2Q}:record``."""
    if part not in REQUEST_PARTS:
        raise ValueError(f"unknown request part: {part!r}")
    return f"{prefix}{request_tag(request_id)}:{part}"


_GLOB_SPECIAL = re.compile(r"([*?\[\]\\])")


def request_records_pattern(prefix: str) -> str:
    """A SCAN ``MATCH`` pattern for every request's record key (the prefix taken literally)."""
    literal = _GLOB_SPECIAL.sub(r"\\\1", prefix)
    return f"{literal}{{{REQUEST_TAG}:*}}:record"


def request_id_of(prefix: str, record_key: str) -> str | None:
    """The request id in a record key (``request_key(prefix, id)``), or None for another key."""
    head, tail = f"{prefix}{{{REQUEST_TAG}:", "}:record"
    if not (record_key.startswith(head) and record_key.endswith(tail)):
        return None
    request_id = record_key[len(head) : -len(tail)]
    return request_id if _SAFE_ID.match(request_id) else None


def jobs_due_key(prefix: str) -> str:
    """Sorted set of request ids with a running job, scored by the next poll time (epoch s)."""
    return f"{prefix}jobs:due"


def user_requests_key(prefix: str, team_id: str, user_id: str) -> str:
    """A user's recent request ids, newest first (list capped at ``USER_RECENT_REQUESTS``)."""
    return f"{prefix}{_tag(USER_TAG, ('team_id', team_id), ('user_id', user_id))}:requests"


def parked_requests_key(prefix: str, team_id: str, user_id: str) -> str:
    """Set of the user's request ids in state ``awaiting_login`` (resumed after their login)."""
    return f"{prefix}{_tag(USER_TAG, ('team_id', team_id), ('user_id', user_id))}:parked"


def expiring_requests_key(prefix: str) -> str:
    """Sorted set of request ids waiting for a decision, scored by their expiry (epoch s)."""
    return f"{prefix}requests:expiring"


def nudges_due_key(prefix: str) -> str:
    """Sorted set of waiting request ids by their next reminder, escalation or skipped step."""
    return f"{prefix}requests:nudges"


def outbox_due_key(prefix: str) -> str:
    """Sorted set of request ids with effects in their outbox, by when to (re)try them."""
    return f"{prefix}outbox:due"


def draft_key(prefix: str, view_id: str) -> str:
    """What a user typed into a clone form's hidden advanced fields (JSON, short TTL)."""
    return f"{prefix}draft:{_check('view_id', view_id)}"


# How long a clone form's draft of hidden fields is kept (a modal is not open for longer).
DRAFT_TTL_S = 3600


def thread_key(prefix: str, channel_id: str, thread_ts: str) -> str:
    """A request card's thread (channel + ts) → request id, for replies like "approve"."""
    return f"{prefix}thread:{_check('channel_id', channel_id)}:{_check('thread_ts', thread_ts)}"


def seen_key(prefix: str, kind: str, digest: str) -> str:
    """ "This Slack delivery was already acted on" (string, TTL ``SEEN_TTL_S``)."""
    return f"{prefix}seen:{_check('kind', kind)}:{_check('digest', digest)}"


# How long a delivery is remembered: well past Slack's 5-minute signature window and its last
# Events API retry (about 5 minutes after the first delivery).
SEEN_TTL_S = 3600


def legacy_schedule_key(prefix: str, name: str) -> str:
    """A schedule of releases before the outbox (``notify:due``, ``publish:due``): adopted into
    the outbox at start-up, then removed."""
    return f"{prefix}{name}"
