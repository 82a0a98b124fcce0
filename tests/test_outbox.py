"""The outbox on a real Redis, without HTTP: effects are written with their transition, carried
out in order by any worker, retried with their attempt count in Redis, never posted twice.

The Slack side is a recorder standing in for the Web API (the edge); everything else is ours.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import pytest

from bot.errors import SlackError, SlackRateLimited
from bot.i18n import Msg
from bot.metrics import Metrics
from bot.requests import effects, outbox
from bot.requests.effects import Effect
from bot.requests.lifecycle import Event
from bot.requests.model import CloneRequest, State
from bot.requests.outbox import Outbox
from bot.store.handle import RedisHandle
from bot.store.requests import RequestStore
from bot.ui.text import Mrkdwn
from tests.support import wait_until
from tests.support.records import record_in


@dataclass
class SlackRecorder:
    """Stands in for Slack: records what it was asked to do; fails as told."""

    done: list[str] = field(default_factory=list)
    failures: dict[str, list[SlackError]] = field(default_factory=dict)
    in_slack: set[str] = field(default_factory=set)

    async def perform(self, record: CloneRequest, effect: Effect) -> None:
        failing = self.failures.get(effect.kind)
        if failing:
            raise failing.pop(0)
        label = effect.kind + (f":{effect.text.template}" if effect.text else "")
        self.done.append(label)
        self.in_slack.add(label)

    async def posted(self, record: CloneRequest, effect: Effect) -> bool:
        label = effect.kind + (f":{effect.text.template}" if effect.text else "")
        return label in self.in_slack

    async def requester_first(self, record: CloneRequest, effect: Effect) -> None:
        if effect.kind == "completion" and "completion:dm" not in self.done:
            self.done.append("completion:dm")


@dataclass
class Submissions:
    calls: list[str] = field(default_factory=list)

    async def __call__(self, request_id: str) -> None:
        self.calls.append(request_id)


def make_outbox(store: RequestStore, slack: SlackRecorder, owner: str = "test") -> Outbox:
    return Outbox(store=store, slack=slack, submit=Submissions(), metrics=Metrics(), owner=owner)


async def approved(store: RequestStore, extra: list[Effect]) -> CloneRequest:
    created = await store.create(lambda request_id: record_in(State.PENDING, request_id))
    outcome = await store.transition(
        created.id,
        Event.APPROVE,
        lambda current: current.model_copy(update={"state": State.APPROVED}),
        actor="U2",
        effects=extra,
    )
    return outcome.record


async def test_effects_are_stored_with_their_transition_and_only_with_it(
    redis_handle: RedisHandle,
) -> None:
    store = RequestStore(redis_handle)
    kicked: list[str] = []
    store.on_effects = kicked.append
    record = await approved(store, [effects.card(), effects.note(Msg.of("approved"))])
    pending = await store.effects(record.id)
    assert [e.kind for _slot, e in pending] == ["card", "note"]
    assert kicked == [record.id]
    # The safety net is due soon, not now: the local worker gets the first go.
    at = await store.score("outbox", record.id)
    assert at is not None and time.time() < at <= time.time() + 5.5

    # A refused transition (reject is not allowed once approved) records nothing.
    refused = await store.transition(
        record.id,
        Event.REJECT,
        lambda current: current.model_copy(update={"state": State.REJECTED}),
        actor="U3",
        effects=[effects.dm("U1", Msg.of("rejected"))],
    )
    assert not refused.changed
    assert [e.kind for _slot, e in await store.effects(record.id)] == ["card", "note"]
    assert kicked == [record.id]


async def test_a_message_keeps_which_values_are_mrkdwn_already(redis_handle: RedisHandle) -> None:
    store = RequestStore(redis_handle)
    text = Msg.marked(":x:", "{who} said {what}", who=Mrkdwn("<@U1>"), what="<!channel>")
    record = await approved(store, [effects.note(text)])
    [(_slot, stored)] = await store.effects(record.id)
    assert stored.text is not None
    assert stored.text.msg().render("en") == ":x: <@U1> said &lt;!channel&gt;"


async def test_a_worker_carries_out_effects_in_order_and_empties_the_outbox(
    redis_handle: RedisHandle,
) -> None:
    store = RequestStore(redis_handle)
    slack = SlackRecorder()
    box = make_outbox(store, slack)
    record = await approved(store, [effects.submit(), effects.card(), effects.note(Msg.of("one"))])
    await store.transition(
        record.id,
        Event.SUBMIT,
        lambda current: current.model_copy(update={"state": State.SUBMITTING}),
        actor="bot",
        effects=[effects.note(Msg.of("two")), effects.card()],
    )
    await box.run(record.id)
    assert box.submit.calls == [record.id]  # type: ignore[attr-defined]
    # Of the two card re-renders only the last is drawn; the notes keep their order.
    assert slack.done == ["note:one", "note:two", "card"]
    assert await store.effects(record.id) == []
    assert await store.score("outbox", record.id) is None


async def test_a_failing_slack_effect_waits_with_its_attempts_in_redis_and_holds_back_later_ones(
    redis_handle: RedisHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = RequestStore(redis_handle)
    slack = SlackRecorder(failures={"note": [SlackError("chat.postMessage", "internal_error")]})
    box = make_outbox(store, slack)
    record = await approved(
        store,
        [
            effects.note(Msg.of("first")),
            effects.note(Msg.of("after")),
            effects.card(),
            effects.submit(),
        ],
    )
    before = time.time()
    await box.run(record.id)
    # The submission did not wait for Slack, nor the card (its own lane); the second note waits
    # behind the first.
    assert box.submit.calls == [record.id]  # type: ignore[attr-defined]
    assert slack.done == ["card"]
    pending = await store.effects(record.id)
    assert [e.kind for _slot, e in pending] == ["note", "note"]
    first = pending[0][1]
    assert first.attempts == 1 and first.next_at is not None and first.next_at > before
    # It may have landed before the error: the next try looks in Slack first.
    assert first.sending
    assert await store.score("outbox", record.id) == pytest.approx(first.next_at)

    # Another replica coming early does not retry before the effect's time.
    other = make_outbox(store, slack, owner="other")
    await other.run(record.id)
    assert slack.done == ["card"]

    # Once due, it goes, and the note after it.
    later = first.next_at + 0.01
    other.clock = lambda: later
    await other.run(record.id)
    assert slack.done == ["card", "note:first", "note:after"]
    assert await store.effects(record.id) == []


async def test_the_dm_goes_first_and_card_re_renders_last(redis_handle: RedisHandle) -> None:
    store = RequestStore(redis_handle)
    slack = SlackRecorder()
    box = make_outbox(store, slack)
    record = await approved(
        store, [effects.card(), effects.note(Msg.of("approved")), effects.dm("U1", Msg.of("yes"))]
    )
    await box.run(record.id)
    assert slack.done == ["dm:yes", "note:approved", "card"]


async def test_a_completion_behind_a_rate_limited_note_sends_its_dm_ahead(
    redis_handle: RedisHandle,
) -> None:
    store = RequestStore(redis_handle)
    slack = SlackRecorder(failures={"note": [SlackRateLimited("chat.postMessage", 30.0)]})
    box = make_outbox(store, slack)
    record = await approved(store, [effects.note(Msg.of("approved")), effects.completion()])
    await box.run(record.id)
    # The note waits for the channel; the requester hears at once; the thread keeps its order.
    assert slack.done == ["completion:dm"]
    assert [e.kind for _slot, e in await store.effects(record.id)] == ["note", "completion"]


async def test_a_completion_to_come_draws_the_card_for_the_re_renders_before_it(
    redis_handle: RedisHandle,
) -> None:
    store = RequestStore(redis_handle)
    slack = SlackRecorder()
    box = make_outbox(store, slack)
    record = await approved(store, [effects.card(), effects.completion(), effects.card()])
    await box.run(record.id)
    # The card after the completion is drawn once, the one before it not at all.
    assert slack.done == ["completion", "card"]
    record = await approved(store, [effects.card(), effects.completion()])
    slack.done.clear()
    await box.run(record.id)
    assert slack.done == ["completion"]


async def test_rate_limits_wait_at_least_retry_after(redis_handle: RedisHandle) -> None:
    store = RequestStore(redis_handle)
    slack = SlackRecorder(failures={"dm": [SlackRateLimited("chat.postMessage", 30.0)]})
    box = make_outbox(store, slack)
    record = await approved(store, [effects.dm("U1", Msg.of("hi"))])
    now = time.time()
    await box.run(record.id)
    [(_slot, dm)] = await store.effects(record.id)
    assert dm.next_at is not None and dm.next_at >= now + 30.0
    # A rate limit is no failure (no attempt counted) and nothing was sent (no look first).
    assert dm.attempts == 0 and not dm.sending


async def test_an_effect_slack_can_never_do_is_dropped_and_the_rest_go_on(
    redis_handle: RedisHandle,
) -> None:
    store = RequestStore(redis_handle)
    slack = SlackRecorder(failures={"card": [SlackError("chat.update", "channel_not_found")]})
    box = make_outbox(store, slack)
    record = await approved(store, [effects.card(), effects.note(Msg.of("still"))])
    await box.run(record.id)
    assert slack.done == ["note:still"]
    assert await store.effects(record.id) == []


async def test_an_effect_is_given_up_after_every_retry(
    redis_handle: RedisHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = RequestStore(redis_handle)
    failures = [SlackError("chat.update", "internal_error") for _ in range(5)]
    slack = SlackRecorder(failures={"card": failures})
    box = make_outbox(store, slack)
    monkeypatch.setattr(outbox, "RETRY", outbox.RetryPolicy(base_s=0.0, cap_s=0.0, attempts=3))
    record = await approved(store, [effects.card()])
    for _ in range(3):
        await box.run(record.id)
    assert await store.effects(record.id) == []
    assert len(failures) == 2  # three tries, then dropped


async def test_a_post_that_may_have_landed_is_looked_for_before_posting_again(
    redis_handle: RedisHandle,
) -> None:
    store = RequestStore(redis_handle)
    slack = SlackRecorder()
    record = await approved(store, [effects.note(Msg.of("once"))])
    [(slot, note)] = await store.effects(record.id)
    # A worker marked it as on its way, posted it, and died before recording it.
    await store.effect_update(record.id, slot, note.model_copy(update={"sending": True}))
    slack.in_slack.add("note:once")
    await make_outbox(store, slack).run(record.id)
    assert slack.done == []  # found in Slack: not posted twice
    assert await store.effects(record.id) == []


async def test_a_live_holder_keeps_the_outbox_and_a_dead_ones_lease_lapses(
    redis_handle: RedisHandle,
) -> None:
    store = RequestStore(redis_handle)
    slack = SlackRecorder()
    record = await approved(store, [effects.note(Msg.of("mine"))])
    # Another replica holds the outbox (a short lease, as if it died right after taking it).
    assert await store.claim(record.id, "dead-replica", 0.3, part="outbox-lease")
    box = make_outbox(store, slack)
    await box.run(record.id)
    assert slack.done == []
    at = await store.score("outbox", record.id)
    assert at is not None and at <= time.time() + outbox.BUSY_RETRY_S

    async def taken_over() -> bool:
        await box.run(record.id)
        return slack.done == ["note:mine"]

    await wait_until(taken_over, timeout=5.0, interval=0.05)


async def test_a_lease_is_renewed_while_its_holder_works(redis_handle: RedisHandle) -> None:
    store = RequestStore(redis_handle)
    record = await approved(store, [])
    async with store.hold(record.id, "worker", 0.3) as held:
        assert held
        deadline = time.monotonic() + 0.9  # three lease lengths
        while time.monotonic() < deadline:
            assert not await store.claim(record.id, "thief", 0.3)
            await asyncio.sleep(0.05)
    assert await store.claim(record.id, "next", 0.3)


async def test_a_newer_safety_net_survives_the_end_of_an_older_run(
    redis_handle: RedisHandle,
) -> None:
    store = RequestStore(redis_handle)
    record = await approved(store, [])
    await store.schedule("outbox", record.id, 100.0)
    assert not await store.unschedule_if("outbox", record.id, 50.0)  # rewritten since
    assert await store.score("outbox", record.id) == 100.0
    assert await store.unschedule_if("outbox", record.id, 100.0)
    assert await store.score("outbox", record.id) is None


async def test_kick_runs_new_effects_in_this_process_at_once(redis_handle: RedisHandle) -> None:
    store = RequestStore(redis_handle)
    slack = SlackRecorder()
    box = make_outbox(store, slack)
    store.on_effects = box.kick
    await approved(store, [effects.card(), effects.note(Msg.of("now"))])
    await wait_until(lambda: slack.done == ["note:now", "card"] and box.in_flight == 0)


async def test_work_an_earlier_release_scheduled_is_adopted_into_the_outbox_once(
    redis_handle: RedisHandle,
) -> None:
    store = RequestStore(redis_handle)
    record = await approved(store, [])
    client, prefix = redis_handle.client, redis_handle.prefix
    await client.zadd(f"{prefix}notify:due", {record.id: 1.0, "CR-GONE00": 1.0})
    await client.zadd(f"{prefix}publish:due", {record.id: 1.0})
    assert await store.adopt_legacy_schedules() == 2
    kinds = sorted(e.kind for _slot, e in await store.effects(record.id))
    assert kinds == ["completion", "publish"]
    assert await store.score("outbox", record.id) is not None
    assert not await client.exists(f"{prefix}notify:due", f"{prefix}publish:due")
    assert await store.adopt_legacy_schedules() == 0
