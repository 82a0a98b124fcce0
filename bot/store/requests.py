"""Clone requests in Redis: records, atomic versioned transitions, and the indexes around them.

A record is one hash (``v``, ``state``, ``data``) under the request's hash tag, with its audit
list and its outbox beside it, so each transition is one Lua script on one slot (Redis Cluster
safe). A transition is compare-and-set on the version: callers load, compute the next record, and
the script stores it only if nobody changed the request meanwhile, appending the audit entry and
the transition's effects (``bot.requests.effects``) in the same step. Indexes (due jobs, expiries,
a user's recent requests; ``bot.store.indexes``) live in their own slots and are written after
the record; the sweepers treat them as hints and re-check the record.
"""

from __future__ import annotations

import json
import logging
import time
import zlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.errors import ConcurrentUpdate, IllegalTransition, RequestNotFound
from bot.requests import lifecycle, steps
from bot.requests.effects import Effect, Kind
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
from bot.store.errors import store_errors
from bot.store.handle import RedisHandle
from bot.store.indexes import RequestIndexes, _text

logger = logging.getLogger(__name__)

# Per-request audit stream length (every transition of one request fits many times over).
REQUEST_AUDIT_MAXLEN = 200
# Compare-and-set retries before giving up on a very contended request.
CAS_ATTEMPTS = 20
# Effects are written with a safety net this far ahead: if the process that made the change dies
# before it carries them out, another replica does, this much later (its lease lapses as fast).
TAKEOVER_S = 5.0

# The audit trail is a capped list of small JSON entries: a Redis stream would take a 4 KB block
# per request however few entries it holds.
_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'state', ARGV[2], 'data', ARGV[3])
redis.call('RPUSH', KEYS[2],
  cjson.encode({f='', t=ARGV[2], b=ARGV[4], j='', a=ARGV[6], n='created'}))
for i = 7, #ARGV, 2 do redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1]) end
return 1
"""

# The record, its audit entry and the transition's effects (the outbox) change in one step.
_TRANSITION = """
local cur = redis.call('HMGET', KEYS[1], 'v', 'state')
if not cur[1] then return {-1, '', ''} end
if cur[1] ~= ARGV[1] then return {0, cur[1], cur[2]} end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'state', ARGV[3], 'data', ARGV[4])
redis.call('RPUSH', KEYS[2],
  cjson.encode({f=cur[2], t=ARGV[3], b=ARGV[5], j=ARGV[6], a=ARGV[7], n=ARGV[8]}))
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[9]), -1)
for i = 11, #ARGV, 2 do redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1]) end
if ARGV[10] ~= '' then
  redis.call('EXPIRE', KEYS[1], ARGV[10])
  redis.call('EXPIRE', KEYS[2], ARGV[10])
  redis.call('EXPIRE', KEYS[3], ARGV[10])
end
return {1, ARGV[2], ARGV[3]}
"""

# An attempt is recorded only on an effect still pending (never resurrects a finished one).
_EFFECT_UPDATE = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
return redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
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


@dataclass(frozen=True)
class Transition:
    """The outcome of a transition attempt: the record as it now stands, and what happened."""

    record: CloneRequest
    changed: bool
    previous: State


Change = Callable[[CloneRequest], CloneRequest | None]


class RequestStore(RequestIndexes):
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
        # Told every request that has new effects (the local outbox worker starts at once).
        self.on_effects: Callable[[str], None] = lambda _request_id: None
        self._create = self._redis.register_script(_CREATE)
        self._transition = self._redis.register_script(_TRANSITION)
        self._effect_update = self._redis.register_script(_EFFECT_UPDATE)
        self._register_index_scripts()

    def _keys(self, request_id: str) -> list[str]:
        return [
            keys.request_key(self._prefix, request_id, "record"),
            keys.request_key(self._prefix, request_id, "events"),
            keys.request_key(self._prefix, request_id, "outbox"),
        ]

    async def create(
        self, build: Callable[[str], CloneRequest], effects: Sequence[Effect] = ()
    ) -> CloneRequest:
        """Store a new pending request with its first effects; ``build(id)`` makes it (retried
        on an id collision)."""
        for _ in range(5):
            record = build(new_request_id())
            data = encode_record(record)
            if effects:
                await self.schedule("outbox", record.id, time.time() + TAKEOVER_S)
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
                        *_effect_args(record.version, effects),
                    ],
                )
            if created:
                await self._index_new(record)
                _audit_log(record, None, "created", record.requester)
                self._entered(record.state)
                if effects:
                    self.on_effects(record.id)
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
            # The first reminder, escalation or skipped step, when its rule has any.
            if record.rule is not None and (due := steps.next_due(record.rule, record)):
                await self._redis.zadd(
                    keys.nudges_due_key(self._prefix), {record.id: due.at.timestamp()}
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
        effects: Sequence[Effect] | Callable[[CloneRequest], Sequence[Effect]] = (),
    ) -> Transition:
        """Apply ``event`` atomically, if the lifecycle allows it in the request's current state.

        ``change`` returns the next record (in the state ``TRANSITIONS`` names), or None for "no";
        it sees the freshest record each attempt and must not have side effects. The audit entry,
        the state metric and the ``effects`` (a list, or made from the new record) are recorded
        here, for every edge; the effects only if the change is applied.
        """
        hinted = False
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
            caused = effects(proposed) if callable(effects) else effects
            if caused and not hinted:
                # The safety net goes first (another slot): once the script has run, a crash
                # cannot leave its effects without a worker coming back to them.
                await self.schedule("outbox", request_id, time.time() + TAKEOVER_S)
                hinted = True
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
                        *_effect_args(proposed.version, caused),
                    ],
                )
            if int(outcome[0]) == 1:
                if proposed.state != current.state:
                    _audit_log(proposed, current.state, note or happened.value, actor)
                    self._entered(proposed.state)
                if caused:
                    self.on_effects(request_id)
                return Transition(proposed, True, current.state)
            if int(outcome[0]) == -1:
                raise RequestNotFound(f"no request {request_id}")
        raise ConcurrentUpdate(f"request {request_id} kept changing; try again")

    async def history(self, request_id: str) -> list[dict[str, str]]:
        """The request's audit entries, oldest first: from, to, by, job, at, note."""
        with store_errors("requests.history"):
            entries = await self._redis.lrange(self._keys(request_id)[1], 0, -1)
        return _history(entries)

    async def all_ids(self, batch: int = 500) -> AsyncIterator[str]:
        """Every stored request's id, each once, in no particular order: a SCAN over the
        records' keys (every node of a cluster), read-only and without an index to keep."""
        seen: set[str] = set()
        pattern = keys.request_records_pattern(self._prefix)
        with store_errors("requests.scan"):
            async for key in self._redis.scan_iter(match=pattern, count=batch):
                request_id = keys.request_id_of(self._prefix, _text(key))
                if request_id is not None and request_id not in seen:  # SCAN may repeat keys
                    seen.add(request_id)
                    yield request_id

    async def with_history(
        self, request_ids: Sequence[str]
    ) -> list[tuple[CloneRequest, list[dict[str, str]]]]:
        """The records and audit entries of ``request_ids`` in one round trip (requests gone
        meanwhile are left out)."""
        with store_errors("requests.with_history"):
            pipe = self._redis.pipeline(transaction=False)  # the ids live in many slots
            for request_id in request_ids:
                record_key, events_key = self._keys(request_id)[:2]
                pipe.hget(record_key, "data")
                pipe.lrange(events_key, 0, -1)
            answers = await pipe.execute()
        found = []
        for number in range(0, len(answers), 2):
            raw, entries = answers[number], answers[number + 1]
            if raw is not None:
                found.append((decode_record(raw), _history(entries)))
        return found

    async def recent(self, team_id: str, user_id: str, limit: int = 10) -> list[CloneRequest]:
        with store_errors("requests.recent"):
            ids = await self._redis.lrange(
                keys.user_requests_key(self._prefix, team_id, user_id), 0, limit - 1
            )
        records = [await self.get(_text(i)) for i in ids]
        return [r for r in records if r is not None]

    # --- the outbox: effects still to carry out, oldest first ------------------------------

    async def effects(self, request_id: str) -> list[tuple[str, Effect]]:
        """The request's pending effects as (slot, effect), in the order they were caused."""
        with store_errors("outbox.read"):
            raw = await self._redis.hgetall(self._keys(request_id)[2])
        entries = sorted((_text(slot), value) for slot, value in raw.items())
        return [(slot, Effect.model_validate_json(value)) for slot, value in entries]

    async def effect_done(self, request_id: str, slot: str) -> None:
        with store_errors("outbox.done"):
            await self._redis.hdel(self._keys(request_id)[2], slot)

    async def adopt_legacy_schedules(self) -> int:
        """Requests an earlier release left in its ``notify`` / ``publish`` schedules get the
        matching effect in their outbox (once: the old entry is removed); how many."""
        adopted = 0
        for name, kind in _LEGACY_SCHEDULES.items():
            legacy = keys.legacy_schedule_key(self._prefix, name)
            with store_errors("outbox.adopt"):
                ids = [_text(i) for i in await self._redis.zrange(legacy, 0, -1)]
            for request_id in ids:
                if await self.get(request_id) is not None:
                    effect = Effect(kind=kind).model_dump_json()
                    with store_errors("outbox.adopt"):
                        await self._redis.hset(self._keys(request_id)[2], f"0.{kind}", effect)
                    await self.schedule("outbox", request_id, time.time())
                    adopted += 1
                with store_errors("outbox.adopt"):
                    await self._redis.zrem(legacy, request_id)
        return adopted

    async def effect_update(self, request_id: str, slot: str, effect: Effect) -> None:
        """Record an attempt (or that a post is on its way) on an effect still pending."""
        with store_errors("outbox.update"):
            await self._effect_update(
                keys=[self._keys(request_id)[2]], args=[slot, effect.model_dump_json()]
            )


_LEGACY_SCHEDULES: dict[str, Kind] = {"notify:due": "completion", "publish:due": "publish"}


def _effect_args(version: int, effects: Sequence[Effect]) -> list[str]:
    """Outbox slots ``<version>.<n>``: they sort in the order the effects were caused."""
    args: list[str] = []
    for number, effect in enumerate(effects):
        args += [f"{version:012d}.{number:02d}", effect.model_dump_json(exclude_defaults=True)]
    return args


def _history(entries: Sequence[bytes | str] | None) -> list[dict[str, str]]:
    history = []
    for number, raw in enumerate(entries or []):
        entry = json.loads(raw)
        history.append({name: str(entry.get(short, "")) for short, name in _AUDIT_FIELDS})
        history[-1]["id"] = str(number)
    return history


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
