"""``/clone-model <name>``: the service of that name and the names its clone could take are
asked for in one ZStack query; a name an IN list cannot hold is asked for on its own."""

from __future__ import annotations

import dataclasses

import pytest

from bot.runtime import Runtime
from bot.sandbox.slack_emulator import SlackEmulator
from bot.sandbox.slack_emulator.records import OpenView
from bot.sandbox.zstack_sim import SimServer
from bot.sandbox.zstack_sim.models import new_uuid
from bot.zstack.query import names_in
from tests.e2e.helpers import EXAMPLE, GENERAL, REQUESTER, blocks_text, login, top_view


def add_namesake(sim: SimServer, name: str) -> None:
    """Another service like the example one, named ``name``."""
    copy = dataclasses.replace(sim.state.services[EXAMPLE], uuid=new_uuid(), name=name)
    sim.state.services[copy.uuid] = copy


def offered_name(view: OpenView) -> str:
    name = next(b for b in view.definition["blocks"] if b.get("block_id") == "name")
    return str(name["element"]["initial_value"])


async def form_and_queries(emu: SlackEmulator, sim: SimServer, text: str) -> tuple[OpenView, int]:
    queries = sim.state.counts.requests_by_operation
    before = queries["QueryModelService"]
    await emu.slash_command(REQUESTER, GENERAL, "/clone-model", text)
    form = await top_view(emu, REQUESTER, "clone_model")
    return form, queries["QueryModelService"] - before


@pytest.mark.parametrize("typed", ["example", "EXAMPLE"])
async def test_a_name_and_its_clone_names_are_one_query(
    slack_emu: SlackEmulator, bot: Runtime, zstack_sim: SimServer, typed: str
) -> None:
    add_namesake(zstack_sim, "example-clone")
    add_namesake(zstack_sim, "Example-Clone-2")  # ZStack compares names without regard to case
    await login(slack_emu)
    form, queries = await form_and_queries(slack_emu, zstack_sim, typed)
    assert EXAMPLE[:8] in blocks_text(form)  # the source select holds the example service
    assert offered_name(form) == "example-clone-3"
    assert queries == 1


async def test_a_name_an_in_list_cannot_hold_is_asked_for_on_its_own(
    slack_emu: SlackEmulator, bot: Runtime, zstack_sim: SimServer
) -> None:
    zstack_sim.state.services[EXAMPLE].name = "a,b"
    add_namesake(zstack_sim, "a,b-clone")
    await login(slack_emu)
    form, queries = await form_and_queries(slack_emu, zstack_sim, "a,b")
    assert EXAMPLE[:8] in blocks_text(form)
    assert offered_name(form) == "a,b-clone-2"
    assert queries == 2  # the name, then the free name


async def test_a_partial_match_asks_for_the_free_name_of_what_it_found(
    slack_emu: SlackEmulator, bot: Runtime, zstack_sim: SimServer
) -> None:
    await login(slack_emu)
    form, queries = await form_and_queries(slack_emu, zstack_sim, "xampl")
    assert EXAMPLE[:8] in blocks_text(form)
    assert offered_name(form) == "example-clone"
    assert queries == 3  # by name (none), containing it (one), then the free name


@pytest.mark.parametrize(
    ("names", "condition"),
    [
        (["qwen", "qwen-clone"], "name?=qwen,qwen-clone"),
        (["a=b"], "name?=a=b"),
        (["a,b"], None),
        (["x", "y!=z"], None),
        (["a~=b"], None),
        (["", "x"], None),
        ([], None),
    ],
)
def test_names_in_builds_only_lists_the_grammar_carries(
    names: list[str], condition: str | None
) -> None:
    query = names_in(names)
    assert (list(query.conditions) if query else None) == ([condition] if condition else None)
