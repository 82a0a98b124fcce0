"""The indexes around clone requests: schedules, leases, parked requests, card threads, drafts.

Each lives in its own key (and slot) and is written after, or as a safety net before, the record
it points to; whoever reads one re-checks the record, so a stale entry is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Literal

from bot.errors import StoreUnavailable
from bot.store import keys
from bot.store.errors import store_errors
from bot.store.handle import AsyncRedis

logger = logging.getLogger(__name__)

# The schedules: sorted sets of request ids by when they are due (epoch seconds).
Schedule = Literal["jobs", "expiry", "outbox", "nudge"]
# The two leases of a request: working on its job, and carrying out its outbox.
LeasePart = Literal["lock", "outbox-lease"]

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_UNSCHEDULE_IF = """
local at = redis.call('ZSCORE', KEYS[1], ARGV[1])
if at and tonumber(at) == tonumber(ARGV[2]) then return redis.call('ZREM', KEYS[1], ARGV[1]) end
return 0
"""


class RequestIndexes:
    """Mixed into ``RequestStore``: the index half of it."""

    _redis: AsyncRedis
    _prefix: str

    def _register_index_scripts(self) -> None:
        self._release = self._redis.register_script(_RELEASE)
        self._renew = self._redis.register_script(_RENEW)
        self._unschedule_if = self._redis.register_script(_UNSCHEDULE_IF)

    # --- schedules: sorted sets of request ids by epoch seconds ---------------------------

    async def schedule(
        self, which: Schedule, request_id: str, at: float, *, no_later: bool = False
    ) -> None:
        """Due at ``at``; with ``no_later``, an entry already due sooner stays as it is."""
        with store_errors("requests.schedule"):
            await self._redis.zadd(self._schedule_key(which), {request_id: at}, lt=no_later)

    async def unschedule(self, which: Schedule, request_id: str) -> None:
        with store_errors("requests.unschedule"):
            await self._redis.zrem(self._schedule_key(which), request_id)

    async def due(self, which: Schedule, now: float, limit: int = 100) -> list[str]:
        with store_errors("requests.due"):
            ids = await self._redis.zrangebyscore(
                self._schedule_key(which), "-inf", now, start=0, num=limit
            )
        return [_text(i) for i in ids]

    async def score(self, which: Schedule, request_id: str) -> float | None:
        """When ``request_id`` is due in ``which`` (None: not scheduled)."""
        with store_errors("requests.score"):
            value = await self._redis.zscore(self._schedule_key(which), request_id)
        return None if value is None else float(value)

    async def unschedule_if(self, which: Schedule, request_id: str, at: float | None) -> bool:
        """Drop the entry only if it is still due at ``at``: a newer entry (a transition that
        wrote effects meanwhile) stays."""
        if at is None:
            return False
        with store_errors("requests.unschedule"):
            removed = await self._unschedule_if(
                keys=[self._schedule_key(which)], args=[request_id, repr(at)]
            )
        return bool(removed)

    async def scheduled_count(self, which: Schedule) -> int:
        with store_errors("requests.count"):
            return int(await self._redis.zcard(self._schedule_key(which)))

    def _schedule_key(self, which: Schedule) -> str:
        if which == "jobs":
            return keys.jobs_due_key(self._prefix)
        if which == "expiry":
            return keys.expiring_requests_key(self._prefix)
        if which == "outbox":
            return keys.outbox_due_key(self._prefix)
        if which == "nudge":
            return keys.nudges_due_key(self._prefix)
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
            await self._release(keys=[key], args=[owner])

    @asynccontextmanager
    async def hold(
        self, request_id: str, owner: str, lease_s: float, *, part: LeasePart = "lock"
    ) -> AsyncIterator[bool]:
        """Hold a lease for as long as the block runs (renewed every third of ``lease_s``).

        Yields False, and holds nothing, when someone else has it. A short lease kept alive
        this way is what lets another replica take over within seconds of a crash.
        """
        if not await self.claim(request_id, owner, lease_s, part=part):
            yield False
            return
        done = asyncio.Event()
        renewer = asyncio.ensure_future(self._keep(request_id, owner, lease_s, part, done))
        try:
            yield True
        finally:
            done.set()
            await renewer  # stops by itself once ``done`` is set (no cancellation mid-command)
            await self.release(request_id, owner, part=part)

    async def _keep(
        self, request_id: str, owner: str, lease_s: float, part: LeasePart, done: asyncio.Event
    ) -> None:
        key = keys.request_key(self._prefix, request_id, part)
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(lease_s / 3):
                    await done.wait()
            if done.is_set():
                return
            try:
                with store_errors("requests.renew"):
                    await self._renew(keys=[key], args=[owner, int(lease_s * 1000)])
            except StoreUnavailable as exc:  # the lease may lapse; the work is safe to repeat
                logger.warning(
                    "lease not renewed", extra={"request_id": request_id, "error": str(exc)}
                )

    # --- retry counters: how often something was tried, kept with the request ------------

    async def count(self, request_id: str, what: str) -> int:
        """Count one more try of ``what`` (e.g. ``polls``); the new count."""
        key = keys.request_key(self._prefix, request_id, "counts")
        with store_errors("requests.count"):
            value = await self._redis.hincrby(key, what, 1)
            await self._redis.expire(key, keys.REQUEST_RETENTION_S)
        return int(value)

    async def reset_count(self, request_id: str, what: str) -> None:
        with store_errors("requests.count"):
            await self._redis.hdel(keys.request_key(self._prefix, request_id, "counts"), what)

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
        await self.save_drafts({view_id: values})

    async def save_drafts(self, drafts: Mapping[str, dict[str, Any]]) -> None:
        """Each view's draft, in one round trip."""
        with store_errors("drafts.save"):
            pipe = self._redis.pipeline(transaction=False)  # the keys live in many slots
            for view_id, values in drafts.items():
                pipe.set(
                    keys.draft_key(self._prefix, view_id), json.dumps(values), ex=keys.DRAFT_TTL_S
                )
            await pipe.execute()

    async def load_draft(self, view_id: str) -> dict[str, Any]:
        with store_errors("drafts.load"):
            raw = await self._redis.get(keys.draft_key(self._prefix, view_id))
        if raw is None:
            return {}
        value = json.loads(raw)
        return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
