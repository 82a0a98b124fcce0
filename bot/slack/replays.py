"""Acting once per Slack delivery: replays and retries change nothing (README → Security).

Slack may deliver the same payload again (Events API retries with ``X-Slack-Retry-Num``, Socket
Mode redelivery), and a signed request can be replayed within its 5-minute window. Every payload
that creates or changes something carries a key that names the user's act, and the first delivery
with that key claims it in Redis (``SET NX``):

- slash commands and shortcuts: their ``trigger_id`` (one per invocation);
- block actions: the clicking user and the click's ``trigger_id`` (or ``action_ts``);
- Events API deliveries: ``event_id``;
- view submissions: claimed by their listener once the submission is valid (the view id), since a
  submission refused with field errors is rightly submitted again.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.response import BoltResponse

from bot.errors import StoreUnavailable
from bot.metrics import Metrics
from bot.store import keys
from bot.store.errors import store_errors
from bot.store.handle import RedisHandle

logger = logging.getLogger(__name__)


class Deliveries:
    """The ``seen`` keys: which Slack deliveries were already acted on."""

    def __init__(self, redis: RedisHandle, metrics: Metrics, ttl_s: int = keys.SEEN_TTL_S) -> None:
        self._redis = redis.acks  # claimed before the ack: never behind follow-up work
        self._prefix = redis.prefix
        self._metrics = metrics
        self._ttl_s = ttl_s

    def _key(self, kind: str, key: str) -> str:
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:40]
        return keys.seen_key(self._prefix, kind, digest)

    async def first(self, kind: str, key: str) -> bool:
        """True for the first delivery with this key (and claims it), False for a repeat."""
        with store_errors("deliveries.first"):
            return bool(await self._redis.set(self._key(kind, key), b"1", nx=True, ex=self._ttl_s))

    async def repeated(self, kind: str, key: str) -> bool:
        """True when this key was already claimed; claims it otherwise. Without Redis nothing can
        be created or changed either, so the delivery goes on to say so (False)."""
        try:
            fresh = await self.first(kind, key)
        except StoreUnavailable:
            return False
        if not fresh:
            self._metrics.repeated_deliveries.labels(kind).inc()
            logger.info("repeated Slack delivery ignored", extra={"kind": kind})
        return not fresh

    async def forget(self, kind: str, key: str) -> None:
        """Release a claim whose work did not happen (so that a retry may do it)."""
        with store_errors("deliveries.forget"):
            await self._redis.delete(self._key(kind, key))


def delivery_key(body: dict[str, Any]) -> tuple[str, str] | None:
    """(kind, key) naming the user's act in this payload, or None (read-only or claimed later)."""
    kind = body.get("type")
    if kind is None and "command" in body:
        return "command", str(body.get("trigger_id") or "")
    if kind in ("shortcut", "message_action"):
        return "shortcut", str(body.get("trigger_id") or "")
    if kind == "block_actions":
        click = body.get("trigger_id") or body["actions"][0].get("action_ts") or ""
        return "action", f"{body['user']['id']}:{click}"
    if kind == "event_callback":
        return "event", str(body["event_id"])
    return None


Next = Callable[[], Awaitable[BoltResponse | None]]


def skip_repeats(deliveries: Deliveries) -> Callable[..., Awaitable[BoltResponse | None]]:
    """Bolt global middleware: a delivery already acted on is acknowledged and nothing more."""

    async def middleware(body: dict[str, Any], next_: Next) -> BoltResponse | None:
        claim = delivery_key(body)
        if claim is None or not claim[1] or not await deliveries.repeated(*claim):
            return await next_()
        return BoltResponse(status=200, body="")

    return middleware
