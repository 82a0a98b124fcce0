"""Carrying out the effects transitions recorded (``bot.requests.effects``), on any replica.

A worker takes a request's outbox lease (short, renewed while it works: a dead replica's outbox
is taken over within seconds), reads the pending effects in order and carries each out:

- ``submit`` goes to the executor at once, whatever the Slack effects are waiting for;
- Slack effects run in order of ``PRIORITY`` (the requester's DM first, card re-renders last);
  one that fails for a reason that passes (5xx, no connection) holds back the ones after it in
  its lane and is tried again by ``RETRY`` with its attempt count kept on the effect in Redis;
  one held back by a rate limit comes back when the limit allows (``Retry-After``, or the
  client's own pace), without counting an attempt; one that cannot succeed (the channel is gone)
  is dropped and logged;
- a completion held back behind thread notes (waiting for the channel's turn) sends the
  requester's DM ahead; the thread reply and the card keep their place;
- of several queued card re-renders only the last is drawn, and none when a completion notice
  still to come draws the card anyway (they all draw the record as it then stands);
- a post (note, DM) is marked as on its way first; if the worker dies before recording it, the
  next one looks for the message in Slack instead of posting it twice.

The process that made a change starts a worker at once (``kick``); the ``outbox`` schedule,
written before the change as a safety net, brings any replica back to effects left behind.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from bot.errors import BotError, DeliveryPending, SlackError, SlackRateLimited
from bot.logs import request_context
from bot.metrics import Metrics
from bot.requests.effects import POSTING, PRIORITY, Effect
from bot.requests.model import CloneRequest
from bot.retry import RetryPolicy
from bot.store.requests import TAKEOVER_S, RequestStore
from bot.tasks import TaskSet, cancel_all

logger = logging.getLogger(__name__)

# Slack effects: about two hours of trying (capped at 5 minutes apart) before one is given up.
RETRY = RetryPolicy(base_s=1.0, cap_s=300.0, attempts=30)
# When another worker holds the outbox, look again this soon (it may finish without seeing
# effects written after its last read).
BUSY_RETRY_S = 0.5
# Rounds of "read the outbox, carry it out" per run, for effects caused while it runs.
MAX_ROUNDS = 5


def instance_id() -> str:
    """Who holds a lease: host, process and a random part (a restarted process is new)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class SlackEffects(Protocol):
    """The Slack side of effects (``bot.slack.notifier.Notifier``)."""

    async def perform(self, record: CloneRequest, effect: Effect) -> None:
        """Carry out ``effect``; ``SlackError`` when Slack refused or could not be reached."""

    async def posted(self, record: CloneRequest, effect: Effect) -> bool:
        """Whether a post that may have gone out (``effect.sending``) is in Slack already."""

    async def requester_first(self, record: CloneRequest, effect: Effect) -> None:
        """The part of ``effect`` meant for the requester alone (a completion's DM), now, while
        the rest waits in its lane; the effect itself still runs later and skips what is done."""


@dataclass
class Outbox:
    store: RequestStore
    slack: SlackEffects
    submit: Callable[[str], Awaitable[object]]
    metrics: Metrics
    # The pre-flight checks' run (``Preflight.run``); None: the effect is dropped.
    preflight: Callable[[str], Awaitable[object]] | None = None
    owner: str = field(default_factory=instance_id)
    clock: Callable[[], float] = time.time
    _running: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    _again: set[str] = field(default_factory=set)
    _side: TaskSet = field(default_factory=TaskSet)

    # --- in this process, right after a change --------------------------------------------

    def kick(self, request_id: str) -> None:
        """Carry out ``request_id``'s new effects now (off the caller's path)."""
        with request_context(request_id):  # every line of this work names the request
            if request_id in self._running:
                # The run in progress goes round once more; a submission does not wait for it.
                self._again.add(request_id)
                self._side.spawn(self._guarded(self._submissions(request_id)))
                return
            task = asyncio.ensure_future(self._run_locally(request_id))
        self._running[request_id] = task

    async def _guarded(self, work: Awaitable[object]) -> None:
        try:
            await work
        except BotError as exc:  # Redis trouble: the schedule brings it back
            logger.warning("effects deferred", extra={"error": str(exc)})

    async def _run_locally(self, request_id: str) -> None:
        try:
            while True:
                self._again.discard(request_id)
                try:
                    await self.run(request_id)
                except BotError as exc:  # Redis trouble: the schedule brings it back
                    logger.warning(
                        "effects deferred", extra={"request_id": request_id, "error": str(exc)}
                    )
                if request_id not in self._again:
                    return
        finally:
            self._running.pop(request_id, None)

    @property
    def in_flight(self) -> int:
        """Runs started by this process that have not finished."""
        return len(self._running) + len(self._side)

    async def drain(self, grace_s: float = 5.0) -> None:
        """Let runs in progress finish; the schedule brings back whatever is cut short."""
        await self._side.drain(grace_s)
        if self._running:
            _done, pending = await asyncio.wait(set(self._running.values()), timeout=grace_s)
            await cancel_all(pending)

    # --- on any replica ---------------------------------------------------------------------

    async def run(self, request_id: str) -> None:
        """Carry out what the request's outbox holds: a submission at once, the Slack effects
        under the outbox lease."""
        due_at = await self.store.score("outbox", request_id)
        await self._submissions(request_id)
        holder = f"{self.owner}:{secrets.token_hex(3)}"
        async with self.store.hold(request_id, holder, TAKEOVER_S, part="outbox-lease") as held:
            if not held:
                await self.store.schedule("outbox", request_id, self.clock() + BUSY_RETRY_S)
                return
            for _ in range(MAX_ROUNDS):
                pending = await self.store.effects(request_id)
                if not pending:
                    await self.store.unschedule_if("outbox", request_id, due_at)
                    return
                retry_at = await self._round(request_id, pending)
                if retry_at is not None:
                    await self.store.schedule("outbox", request_id, retry_at)
                    return
            await self.store.schedule("outbox", request_id, self.clock())

    async def _submissions(self, request_id: str) -> None:
        """Submissions go at once, without the outbox lease (a worker may be posting the card
        slowly): the executor's own lease and write-ahead make a second caller harmless."""
        pending = await self.store.effects(request_id)
        submissions = [(slot, e) for slot, e in pending if e.lane == "zstack"]
        if submissions and (retry_at := await self._round(request_id, submissions)):
            await self.store.schedule("outbox", request_id, retry_at)

    async def _round(self, request_id: str, pending: list[tuple[str, Effect]]) -> float | None:
        """One pass over the pending effects; when to come back, if some must wait."""
        record = await self.store.get(request_id)
        if record is None:  # past its retention: nothing left to tell anyone about
            for slot, _effect in pending:
                await self.store.effect_done(request_id, slot)
            return None
        drawn_by = self._card_drawer(record, pending)
        waiting: set[str] = set()  # lanes held back by an effect that must be tried again
        retry_at: float | None = None
        for slot, effect in sorted(pending, key=lambda item: PRIORITY[item[1].kind]):
            if effect.lane in waiting:
                if effect.kind == "completion" and "dm" not in waiting:
                    await self._requester_first(record, effect)
                continue
            if effect.kind == "card" and slot != drawn_by:
                await self.store.effect_done(request_id, slot)  # a later one draws it all
                continue
            if effect.next_at and effect.next_at > self.clock():
                waiting.add(effect.lane)
                retry_at = min(retry_at or effect.next_at, effect.next_at)
                continue
            again_at = await self._carry_out(record, slot, effect)
            if again_at is not None:
                waiting.add(effect.lane)
                retry_at = min(retry_at or again_at, again_at)
                continue
            if effect.kind in ("publish", "submit", "completion", "preflight"):
                record = await self.store.get(request_id) or record  # it changed the record
        return retry_at

    async def _requester_first(self, record: CloneRequest, effect: Effect) -> None:
        """A completion held back behind thread notes still tells the requester: its DM goes
        in the DM lane's turn (a failure just leaves it to the effect's own run)."""
        try:
            await self.slack.requester_first(record, effect)
        except BotError as exc:
            logger.info("completion DM waits", extra={"request_id": record.id, "error": str(exc)})

    @staticmethod
    def _card_drawer(record: CloneRequest, pending: list[tuple[str, Effect]]) -> str | None:
        """The one queued card re-render to carry out: the last, unless a completion after it
        will draw the card anyway (None then)."""
        last_card = max((slot for slot, e in pending if e.kind == "card"), default=None)
        if last_card is None or "card" in record.notified:
            return last_card
        later = (slot for slot, e in pending if e.kind == "completion" and slot > last_card)
        return None if any(later) else last_card

    async def _carry_out(self, record: CloneRequest, slot: str, effect: Effect) -> float | None:
        """Do one effect; None when it is finished with (done or given up), else when to retry."""
        try:
            if effect.kind == "submit":
                await self.submit(record.id)
            elif effect.kind == "preflight":
                if self.preflight is not None:
                    await self.preflight(record.id)
            else:
                if effect.kind in POSTING:
                    if effect.sending and await self.slack.posted(record, effect):
                        await self.store.effect_done(record.id, slot)
                        return None
                    # On its way from now: a worker taking over looks in Slack first.
                    marked = effect.model_copy(update={"sending": True})
                    await self.store.effect_update(record.id, slot, marked)
                    try:
                        await self.slack.perform(record, effect)
                    except SlackRateLimited:
                        raise  # not sent: the next try posts without looking first
                    except BaseException:
                        effect = marked  # it may have landed: the next try looks first
                        raise
                else:
                    await self.slack.perform(record, effect)
        except SlackError as exc:
            if exc.permanent:
                logger.error(
                    "effect impossible; dropped",
                    extra={"request_id": record.id, "effect": effect.kind, "error": exc.code},
                )
                await self.store.effect_done(record.id, slot)
                return None
            return await self._later(record, slot, effect, exc)
        except BotError as exc:  # Redis trouble inside the effect: try again later
            return await self._later(record, slot, effect, exc)
        await self.store.effect_done(record.id, slot)
        return None

    async def _later(
        self, record: CloneRequest, slot: str, effect: Effect, exc: BotError
    ) -> float | None:
        code = exc.code if isinstance(exc, SlackError) else type(exc).__name__
        limited_s = _rate_limit_wait(exc)
        if limited_s is not None:
            # A rate limit is no failure: it says when to come back, and counts no attempt.
            at = self.clock() + limited_s
            await self.store.effect_update(
                record.id, slot, effect.model_copy(update={"next_at": at})
            )
            return at
        attempts = effect.attempts + 1
        if RETRY.exhausted(attempts):
            logger.error(
                "effect given up after every retry",
                extra={"request_id": record.id, "effect": effect.kind, "attempts": attempts},
            )
            await self.store.effect_done(record.id, slot)
            return None
        delay = RETRY.delay(attempts)
        at = self.clock() + delay
        logger.warning(
            "effect will be retried",
            extra={"request_id": record.id, "effect": effect.kind, "error": code, "in_s": delay},
        )
        self.metrics.notification_retries.inc()
        await self.store.effect_update(
            record.id, slot, effect.model_copy(update={"attempts": attempts, "next_at": at})
        )
        return at


def _rate_limit_wait(exc: BotError) -> float | None:
    """Seconds a rate limit asks to wait (None: not a rate limit)."""
    if isinstance(exc, SlackRateLimited):
        return exc.retry_after_s
    if isinstance(exc, DeliveryPending) and exc.code == "ratelimited":
        return exc.retry_after_s
    return None
