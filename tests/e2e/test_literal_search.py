"""Any typed text searches without a ZStack error: operator characters cannot split the query
condition (``>=``, ``!=``, ``?=``, ``~=``) and ``%`` / ``_`` are not wildcards."""

from __future__ import annotations

import pytest

from bot.runtime import Runtime
from bot.sandbox.slack_emulator import SlackEmulator
from bot.sandbox.zstack_sim import SimServer
from bot.zstack.query import name_search
from tests.e2e.helpers import EXAMPLE, GENERAL, REQUESTER, blocks_text, login, top_view

ODD_NAME = "50%_off!=x>=y?=z~=w"


@pytest.mark.parametrize("text", ["a>=b", "x!=y", "in?=a,b", "n~=%25", "<=", "!!!", "%", "_"])
async def test_operator_characters_search_without_a_zstack_error(
    slack_emu: SlackEmulator, bot: Runtime, text: str
) -> None:
    await login(slack_emu)
    await slack_emu.slash_command(REQUESTER, GENERAL, "/clone-model", text)
    form = await top_view(slack_emu, REQUESTER, "clone_model")
    shown = blocks_text(form)
    assert "could not look up" not in shown and "SYS.1007" not in shown
    assert "No model service you can see matches" in shown


async def test_a_name_full_of_operator_characters_is_found_literally(
    slack_emu: SlackEmulator, bot: Runtime, zstack_sim: SimServer
) -> None:
    zstack_sim.state.services[EXAMPLE].name = ODD_NAME
    await login(slack_emu)
    await slack_emu.slash_command(REQUESTER, GENERAL, "/clone-model", ODD_NAME)
    form = await top_view(slack_emu, REQUESTER, "clone_model")
    assert EXAMPLE[:8] in blocks_text(form)  # the source select holds it
    options = await slack_emu.suggest(REQUESTER, form.id, "source", "%_off!=")
    assert [o["value"] for o in options] == [EXAMPLE]


async def test_percent_and_underscore_are_not_wildcards(
    slack_emu: SlackEmulator, bot: Runtime, zstack_sim: SimServer
) -> None:
    """``e%e`` would match every name with two e's as a LIKE pattern; taken literally, none."""
    await login(slack_emu)
    await slack_emu.slash_command(REQUESTER, GENERAL, "/clone-model", "")
    form = await top_view(slack_emu, REQUESTER, "clone_model")
    assert await slack_emu.suggest(REQUESTER, form.id, "source", "e%e") == []
    assert await slack_emu.suggest(REQUESTER, form.id, "source", "e_a") == []
    assert await slack_emu.suggest(REQUESTER, form.id, "source", "exa")  # plain text still works


@pytest.mark.parametrize(
    ("text", "exact", "condition", "filtered"),
    [
        ("qwen", False, "name~=%qwen%", False),
        ("qwen", True, "name=qwen", False),
        ("a=b", True, "name=a=b", False),
        ("a>=bc", False, "name~=%=bc%", True),
        ("a?=b", True, "name~=%a?=b%", True),
        ("%_", False, None, True),
    ],
)
def test_name_search_builds_only_conditions_the_grammar_carries(
    text: str, exact: bool, condition: str | None, filtered: bool
) -> None:
    query, keep = name_search(text, exact=exact)
    assert list(query.conditions) == ([condition] if condition else [])
    assert (keep is not None) == filtered
    if keep is not None:
        assert keep(f"x{text}y") is not exact and keep(text) and not keep("other")
