"""``ViewState`` reads every element kind the bot's modals use, as Slack reports them.

States are built by the Slack emulator's element model (``initial_state``/``typed_state``), which
follows Slack's documented ``view.state.values`` shapes.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.sandbox.slack_emulator.elements import state_values, typed_state
from bot.ui import login
from bot.ui.clone import ACTION_SOURCE, CloneViewMeta, clone_form_view, form_values, source_option
from bot.ui.clone_inputs import defaults_from_source
from bot.ui.login_form import parse_login
from bot.ui.view_state import Chosen, ViewState
from bot.zstack.credentials import UserLogin, hash_password
from bot.zstack.models import ModelServiceInventory

OPTIONS = [
    {"text": {"type": "plain_text", "text": "First"}, "value": "one"},
    {"text": {"type": "plain_text", "text": "Second"}, "value": "two"},
]


def _state(element: dict[str, Any], value: Any) -> ViewState:
    return ViewState({"b": {"a": typed_state(element, value)}})


@pytest.mark.parametrize("kind", ["plain_text_input", "number_input"])
def test_text_and_number_inputs_read_as_typed(kind: str) -> None:
    state = _state({"type": kind, "action_id": "a"}, " 42 ")
    assert state.text("b", "a") == " 42 "
    assert _state({"type": kind, "action_id": "a"}, None).text("b", "a") is None


def test_number_input_reads_as_a_number() -> None:
    element = {"type": "number_input", "action_id": "a"}
    assert _state(element, "42").number("b", "a") == 42
    assert _state(element, "2.5").number("b", "a") == 2.5
    assert _state(element, "many").number("b", "a") is None
    assert _state(element, None).number("b", "a") is None


@pytest.mark.parametrize("kind", ["static_select", "radio_buttons"])
def test_single_choice_elements_give_the_option(kind: str) -> None:
    element = {"type": kind, "action_id": "a", "options": OPTIONS}
    assert _state(element, "two").choice("b", "a") == Chosen("two", "Second")
    assert _state(element, None).choice("b", "a") is None


def test_external_select_gives_the_option_slack_showed() -> None:
    element = {"type": "external_select", "action_id": "a"}
    assert _state(element, "x").choice("b", "a") == Chosen("x", "x")


@pytest.mark.parametrize("kind", ["multi_static_select", "checkboxes"])
def test_multiple_choice_elements_give_the_options_in_order(kind: str) -> None:
    element = {"type": kind, "action_id": "a", "options": OPTIONS}
    assert _state(element, ["two", "one"]).choices("b", "a") == [
        Chosen("two", "Second"),
        Chosen("one", "First"),
    ]
    assert _state(element, None).choices("b", "a") == []


@pytest.mark.parametrize(
    "values",
    [
        None,
        [],
        {"b": None},
        {"b": {"a": "text"}},
        {"b": {"a": {"value": 5, "selected_option": "x", "selected_options": {"value": "v"}}}},
        {"b": {"a": {"selected_options": [None, {"value": 1}, {"text": "t"}]}}},
    ],
)
def test_odd_shapes_read_as_empty(values: Any) -> None:
    state = ViewState(values)
    assert state.text("b", "a") is None
    assert state.number("b", "a") is None
    assert state.choice("b", "a") is None
    assert state.choices("b", "a") == []
    assert ViewState.of({"state": {"values": values}}).text("missing", "a") is None


def test_a_view_without_state_reads_as_empty() -> None:
    assert ViewState.of(None).by_block() == {}
    assert ViewState.of({"id": "V1"}).by_block() == {}
    assert ViewState.of({"state": "x"}).by_block() == {}


def test_the_clone_form_reads_back_what_prefilled_it() -> None:
    """Every element kind of the clone modal (text, number, selects, multi select, checkboxes,
    external select): its untouched state reads back as the raw value that filled it."""
    inv = ModelServiceInventory.model_validate(
        {
            "uuid": "90d425a802ff44eeb530f21587633700",
            "name": "example",
            "type": "Endpoint",
            "source": "HuggingFace",
            "requestCpu": 2,
            "size": 10,
            "system": True,
            "supportDistributed": True,
            "cpuArchitectures": ["x86_64", "aarch64"],
            "yaml": "a: 1\n",
        }
    )
    raw = defaults_from_source(inv)
    view = clone_form_view(raw, CloneViewMeta(advanced=True), source=source_option(inv)).to_dict()
    typed = form_values({"state": {"values": state_values(view["blocks"], {})}})
    for block, value in typed.items():
        expected = raw.get(block)
        if isinstance(expected, int):
            expected = str(expected)  # number inputs come back as text
        assert value == (expected or ([] if isinstance(value, list) else None)), block
    chosen = ViewState({"source": state_values(view["blocks"], {})["source"]})
    assert chosen.choice("source", ACTION_SOURCE) == Chosen(inv.uuid or "", "example · 90d425a8")


def test_the_login_form_reads_its_radio_buttons_and_inputs() -> None:
    blocks = login.login_modal("http://zs", login.LoginContext()).to_dict()["blocks"]
    elements = {b["block_id"]: b["element"] for b in blocks if b["type"] == "input"}
    typed = {
        login.BLOCK_KIND: "user",
        login.BLOCK_ACCOUNT: " acme ",
        login.BLOCK_USER: "alice",
        login.BLOCK_PASSWORD: " secret ",
    }
    touched = {
        block: {elements[block]["action_id"]: typed_state(elements[block], value)}
        for block, value in typed.items()
    }
    creds, errors, _prefill = parse_login(ViewState(state_values(blocks, touched)))
    assert errors == {}
    assert isinstance(creds, UserLogin)
    assert (creds.account_name, creds.user_name) == ("acme", "alice")
    assert creds.password_sha512 == hash_password(" secret ")  # a password is taken as typed

    creds, errors, _prefill = parse_login(ViewState(state_values(blocks, {})))
    assert creds is None
    assert set(errors) == {login.BLOCK_ACCOUNT, login.BLOCK_PASSWORD}  # "account" is preselected
