"""Clone requests in Redis: records, atomic versioned transitions, and the indexes around them.

A record is one hash (``v``, ``state``, ``data``) under the request's hash tag, with its audit
stream beside it, so each transition is one Lua script on one slot (Redis Cluster safe). A
transition is compare-and-set on the version: callers load, compute the next record, and the
script stores it only if nobody changed the request meanwhile, appending the audit entry in the
same step. Indexes (due jobs, expiries, a user's recent requests) live in their own slots and are
written after the record; the sweepers treat them as hints and re-check the record.
"""

from __future__ import annotations

import json
import logging
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from bot.errors import BotError
from bot.requests import lifecycle
from bot.requests.lifecycle import Event
from bot.requests.model import (
    FINISHED,
    CloneRequest,
    State,
    looks_like_request_id,
    new_request_id,
    utc_now,
)
from bot.store import keys
from bot.store.connection import RedisHandle, store_errors

logger = logging.getLogger(__name__)

# Per-request audit stream length (every transition of one request fits many times over).
REQUEST_AUDIT_MAXLEN = 200
# Compare-and-set retries before giving up on a very contended request.
CAS_ATTEMPTS = 20

# The audit trail is a capped list of small JSON entries: a Redis stream would take a 4 KB block
# per request however few entries it holds.
_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'state', ARGV[2], 'data', ARGV[3])
redis.call('RPUSH', KEYS[2],
  cjson.encode({f='', t=ARGV[2], b=ARGV[4], j='', a=ARGV[6], n='created'}))
return 1
"""

_TRANSITION = """
local cur = redis.call('HMGET', KEYS[1], 'v', 'state')
if not cur[1] then return {-1, '', ''} end
if cur[1] ~= ARGV[1] then return {0, cur[1], cur[2]} end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'state', ARGV[3], 'data', ARGV[4])
redis.call('RPUSH', KEYS[2],
  cjson.encode({f=cur[2], t=ARGV[3], b=ARGV[5], j=ARGV[6], a=ARGV[7], n=ARGV[8]}))
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[9]), -1)
if ARGV[10] ~= '' then
  redis.call('EXPIRE', KEYS[1], ARGV[10])
  redis.call('EXPIRE', KEYS[2], ARGV[10])
end
return {1, ARGV[2], ARGV[3]}
"""


_AUDIT_FIELDS = (("f", "from"), ("t", "to"), ("b", "by"), ("j", "job"), ("a", "at"), ("n", "note"))


def encode_record(record: CloneRequest) -> bytes:
    """The stored form of a record: compressed JSON (about a third of the plain size)."""
    return zlib.compress(record.model_dump_json().encode(), level=6)


def decode_record(raw: bytes | str) -> CloneRequest:
    data = raw.encode() if isinstance(raw, str) else raw
    if data[:1] != b"{":  # compressed (plain JSON is still read, e.g. after a downgrade)
        data = zlib.decompress(data)
    return CloneRequest.model_validate_json(data)


class RequestNotFound(BotError):
    """No request with that id (never created, or its retention ran out)."""


class ConcurrentUpdate(BotError):
    """The request kept changing under us; the transition was not applied."""


class IllegalTransition(BotError):
    """A change proposed a state its event does not lead to (a bug, never applied)."""


@dataclass(frozen=True)
class Transition:
    """The outcome of a transition attempt: the record as it now stands, and what happened."""

    record: CloneRequest
    changed: bool
    previous: State


Change = Callable[[CloneRequest], CloneRequest | None]
# The two leases of a request: working on its job, and delivering its completion notices.
LeasePart = Literal["lock", "notified"]


class RequestStore:
    def __init__(
        self,
        redis: RedisHandle,
        *,
        clock: Callable[[], datetime] = utc_now,
        entered: Callable[[State], None] | None = None,
    ) -> None:
        self._redis = redis.client
        self._prefix = redis.prefix
        self._clock = clock
        # Told every state a request enters (the state metric), from this one place.
        self._entered = entered or (lambda _state: None)
        self._create = self._redis.register_script(_CREATE)
        self._transition = self._redis.register_script(_TRANSITION)

    def _keys(self, request_id: str) -> list[str]:
        return [
            keys.request_key(self._prefix, request_id, "record"),
            keys.request_key(self._prefix, request_id, "events"),
        ]

    async def create(self, build: Callable[[str], CloneRequest]) -> CloneRequest:
        """Store a new pending request; ``build(id)`` makes it (retried on an id collision)."""
        for _ in range(5):
            record = build(new_request_id())
            data = encode_record(record)
            with store_errors("requests.create"):
                created = await self._create(
                    keys=self._keys(record.id),
                    args=[
                        record.version,
                        record.state.value,
                        data,
                        record.requester,
                        REQUEST_AUDIT_MAXLEN,
                        record.created_at.isoformat(),
                    ],
                )
            if created:
                await self._index_new(record)
                _audit_log(record, None, "created", record.requester)
                self._entered(record.state)
                return record
        raise ConcurrentUpdate("could not find a free request id")

    async def _index_new(self, record: CloneRequest) -> None:
        user_key = keys.user_requests_key(self._prefix, record.team_id, record.requester)
        with store_errors("requests.index"):
            await self._redis.lpush(user_key, record.id)
            await self._redis.ltrim(user_key, 0, keys.USER_RECENT_REQUESTS - 1)
            await self._redis.zadd(
                keys.expiring_requests_key(self._prefix),
                {record.id: record.expires_at.timestamp()},
            )

    async def get(self, request_id: str) -> CloneRequest | None:
        if not looks_like_request_id(request_id):
            return None  # a button value or reply that names no request of ours
        with store_errors("requests.get"):
            raw = await self._redis.hget(self._keys(request_id)[0], "data")
        if raw is None:
            return None
        return decode_record(raw)

    async def require(self, request_id: str) -> CloneRequest:
        record = await self.get(request_id)
        if record is None:
            raise RequestNotFound(f"no request {request_id}")
        return record

    async def transition(
        self,
        request_id: str,
        event: Event | Callable[[CloneRequest], Event],
        change: Change,
        *,
        actor: str,
        note: str = "",
    ) -> Transition:
        """Apply ``event`` atomically, if the lifecycle allows it in the request's current state.

        ``change`` returns the next record (in the state ``TRANSITIONS`` names), or None for "no";
        it sees the freshest record each attempt and must not have side effects. The audit entry
        and the state metric are recorded here, for every edge.
        """
        for _ in range(CAS_ATTEMPTS):
            current = await self.require(request_id)
            # An event may depend on the record (a vote's count): decided afresh each attempt.
            happened = event if isinstance(event, Event) else event(current)
            to = lifecycle.target(current.state, happened)
            if to is None:
                return Transition(current, False, current.state)
            proposed = change(current.model_copy(deep=True))
            if proposed is None:
                return Transition(current, False, current.state)
            if proposed.state != to:
                raise IllegalTransition(
                    f"{happened.value} from {current.state.value} leads to {to.value}, "
                    f"not {proposed.state.value}"
                )
            now = self._clock()
            proposed = proposed.model_copy(
                update={"version": current.version + 1, "updated_at": now}
            )
            retention = keys.REQUEST_RETENTION_S if proposed.state in FINISHED else ""
            with store_errors("requests.transition"):
                outcome = await self._transition(
                    keys=self._keys(request_id),
                    args=[
                        current.version,
                        proposed.version,
                        proposed.state.value,
                        encode_record(proposed),
                        actor,
                        proposed.job_uuid or "",
                        now.isoformat(),
                        note,
                        REQUEST_AUDIT_MAXLEN,
                        retention,
                    ],
                )
            if int(outcome[0]) == 1:
                if proposed.state != current.state:
                    _audit_log(proposed, current.state, note or happened.value, actor)
                    self._entered(proposed.state)
                return Transition(proposed, True, current.state)
            if int(outcome[0]) == -1:
                raise RequestNotFound(f"no request {request_id}")
        raise ConcurrentUpdate(f"request {request_id} kept changing; try again")

    async def history(self, request_id: str) -> list[dict[str, str]]:
        """The request's audit entries, oldest first: from, to, by, job, at, note."""
        with store_errors("requests.history"):
            entries = await self._redis.lrange(self._keys(request_id)[1], 0, -1)
        history = []
        for number, raw in enumerate(entries or []):
            entry = json.loads(raw)
            history.append({name: str(entry.get(short, "")) for short, name in _AUDIT_FIELDS})
            history[-1]["id"] = str(number)
        return history

    async def recent(self, team_id: str, user_id: str, limit: int = 10) -> list[CloneRequest]:
        with store_errors("requests.recent"):
            ids = await self._redis.lrange(
                keys.user_requests_key(self._prefix, team_id, user_id), 0, limit - 1
            )
        records = [await self.get(_text(i)) for i in ids]
        return [r for r in records if r is not None]

    # --- schedules: sorted sets of request ids by epoch seconds ---------------------------

    async def schedule(self, which: str, request_id: str, at: float) -> None:
        with store_errors("requests.schedule"):
            await self._redis.zadd(self._schedule_key(which), {request_id: at})

    async def unschedule(self, which: str, request_id: str) -> None:
        with store_errors("requests.unschedule"):
            await self._redis.zrem(self._schedule_key(which), request_id)

    async def due(self, which: str, now: float, limit: int = 100) -> list[str]:
        with store_errors("requests.due"):
            ids = await self._redis.zrangebyscore(
                self._schedule_key(which), "-inf", now, start=0, num=limit
            )
        return [_text(i) for i in ids]

    async def scheduled_count(self, which: str) -> int:
        with store_errors("requests.count"):
            return int(await self._redis.zcard(self._schedule_key(which)))

    def _schedule_key(self, which: str) -> str:
        if which == "jobs":
            return keys.jobs_due_key(self._prefix)
        if which == "expiry":
            return keys.expiring_requests_key(self._prefix)
        if which == "notify":
            return keys.notify_due_key(self._prefix)
        if which == "publish":
            return keys.publish_due_key(self._prefix)
        raise ValueError(f"unknown schedule {which!r}")

    async def undecided(self, limit: int) -> list[str]:
        """Requests still waiting for a decision (the expiry schedule), soonest expiry first."""
        with store_errors("requests.undecided"):
            ids = await self._redis.zrange(keys.expiring_requests_key(self._prefix), 0, limit - 1)
        return [_text(i) for i in ids]

    # --- leases: one replica works on a request at a time ---------------------------------

    async def claim(
        self, request_id: str, owner: str, lease_s: float, *, part: LeasePart = "lock"
    ) -> bool:
        """Take the request's lease (``lock``: submit/poll; ``notified``: completion notices)."""
        with store_errors("requests.claim"):
            return bool(
                await self._redis.set(
                    keys.request_key(self._prefix, request_id, part),
                    owner,
                    nx=True,
                    px=int(lease_s * 1000),
                )
            )

    async def release(self, request_id: str, owner: str, *, part: LeasePart = "lock") -> None:
        key = keys.request_key(self._prefix, request_id, part)
        with store_errors("requests.release"):
            current = await self._redis.get(key)
            if current is not None and _text(current) == owner:
                await self._redis.delete(key)

    # --- parked requests (awaiting a login) -------------------------------------------------

    async def park(self, team_id: str, user_id: str, request_id: str) -> None:
        with store_errors("requests.park"):
            await self._redis.sadd(
                keys.parked_requests_key(self._prefix, team_id, user_id), request_id
            )

    async def parked(self, team_id: str, user_id: str) -> list[str]:
        with store_errors("requests.parked"):
            ids = await self._redis.smembers(
                keys.parked_requests_key(self._prefix, team_id, user_id)
            )
        return sorted(_text(i) for i in ids)

    async def unpark(self, team_id: str, user_id: str, request_id: str) -> None:
        with store_errors("requests.unpark"):
            await self._redis.srem(
                keys.parked_requests_key(self._prefix, team_id, user_id), request_id
            )

    # --- card threads ------------------------------------------------------------------------

    async def index_thread(self, channel_id: str, thread_ts: str, request_id: str) -> None:
        with store_errors("requests.index_thread"):
            await self._redis.set(
                keys.thread_key(self._prefix, channel_id, thread_ts),
                request_id,
                ex=keys.REQUEST_RETENTION_S,
            )

    async def by_thread(self, channel_id: str, thread_ts: str) -> str | None:
        with store_errors("requests.by_thread"):
            raw = await self._redis.get(keys.thread_key(self._prefix, channel_id, thread_ts))
        return None if raw is None else _text(raw)

    # --- drafts of hidden form fields -------------------------------------------------------

    async def save_draft(self, view_id: str, values: dict[str, Any]) -> None:
        with store_errors("drafts.save"):
            await self._redis.set(
                keys.draft_key(self._prefix, view_id), json.dumps(values), ex=keys.DRAFT_TTL_S
            )

    async def load_draft(self, view_id: str) -> dict[str, Any]:
        with store_errors("drafts.load"):
            raw = await self._redis.get(keys.draft_key(self._prefix, view_id))
        if raw is None:
            return {}
        value = json.loads(raw)
        return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _audit_log(record: CloneRequest, previous: State | None, note: str, actor: str) -> None:
    logger.info(
        "request transition",
        extra={
            "request_id": record.id,
            "from_state": previous.value if previous else None,
            "to_state": record.state.value,
            "slack_user": actor,
            "job_uuid": record.job_uuid,
            "version": record.version,
            "note": note,
        },
    )
