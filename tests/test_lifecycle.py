"""The lifecycle table and the store that enforces it: every state × every event, on a real
Redis; the state metric fed from the one place; the README's diagram drawn from the table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.errors import IllegalTransition
from bot.requests.lifecycle import TRANSITIONS, Event, mermaid, sources, target
from bot.requests.model import State
from bot.store.handle import RedisHandle
from bot.store.requests import RequestStore
from tests.support.records import record_in

ROOT = Path(__file__).resolve().parents[1]


def test_every_edge_names_a_real_state_and_every_event_happens_somewhere() -> None:
    assert {event for _state, event in TRANSITIONS} == set(Event)
    for (state, event), to in TRANSITIONS.items():
        assert target(state, event) is to
        assert state in sources(event)
    # Terminal states are left only by a retry (failed) or not at all.
    leaving = {(s, e) for (s, e), to in TRANSITIONS.items() if to != s}
    assert {s for s, _e in leaving} == {
        State.PENDING,
        State.APPROVED,
        State.SUBMITTING,
        State.RUNNING,
        State.AWAITING_LOGIN,
        State.FAILED,
    }


@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize("event", list(Event))
async def test_the_store_applies_exactly_the_tables_edges(
    redis_handle: RedisHandle, state: State, event: Event
) -> None:
    entered: list[State] = []
    store = RequestStore(redis_handle, entered=entered.append)
    created = await store.create(lambda request_id: record_in(state, request_id))
    assert entered == [state]
    to = target(state, event)
    outcome = await store.transition(
        created.id,
        event,
        lambda current: current.model_copy(update={"state": to or current.state}),
        actor="test",
    )
    stored = await store.require(created.id)
    if to is None:
        assert not outcome.changed and stored.version == created.version
        assert entered == [state]
        return
    assert outcome.changed and stored.state == to and stored.version == created.version + 1
    assert entered == ([state, to] if to != state else [state])
    if to != state:  # a state change is in the audit trail
        last = (await store.history(created.id))[-1]
        assert (last["from"], last["to"]) == (state.value, to.value)


@pytest.mark.parametrize(("state", "event"), list(TRANSITIONS))
async def test_a_change_that_lands_off_the_table_is_refused(
    redis_handle: RedisHandle, state: State, event: Event
) -> None:
    store = RequestStore(redis_handle)
    created = await store.create(lambda request_id: record_in(state, request_id))
    wrong = next(s for s in State if s != TRANSITIONS[(state, event)])
    with pytest.raises(IllegalTransition):
        await store.transition(
            created.id,
            event,
            lambda current: current.model_copy(update={"state": wrong}),
            actor="test",
        )
    assert (await store.require(created.id)).version == created.version


def test_the_readme_diagram_is_the_table() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"```mermaid\n(.*?)```", readme, re.DOTALL)
    assert found, "the README has a Mermaid lifecycle diagram"
    assert found.group(1).strip() == mermaid().strip()
