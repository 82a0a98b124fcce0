"""Pure parts of the emulator: Block Kit validation, element state, the default workspace."""

from __future__ import annotations

from typing import Any

import pytest

from bot.sandbox.slack_emulator import ManualClock, default_workspace
from bot.sandbox.slack_emulator.elements import (
    ElementError,
    action_payload,
    client_side_error,
    state_values,
    typed_state,
)
from bot.sandbox.slack_emulator.state import EmulatorState
from bot.sandbox.slack_emulator.validation import validate_blocks, validate_options, validate_view


def test_default_workspace_ids() -> None:
    ws = default_workspace()
    assert (ws.team_id, ws.bot_user_id, ws.bot_id, ws.app_id) == (
        "T0CLONE",
        "U0BOT",
        "B0BOT",
        "A0CLONE",
    )
    assert {u: ws.users[u].name for u in ("U0REQ", "U0APP1", "U0APP2", "U0OUT")} == {
        "U0REQ": "riley",
        "U0APP1": "avery",
        "U0APP2": "jordan",
        "U0OUT": "sam",
    }
    assert ws.users["U0APP2"].locale == "zh-CN" and ws.users["U0REQ"].locale == "en-US"
    assert (
        ws.channels["C0APPROVE"].name == "model-approvals" and ws.channels["C0APPROVE"].bot_member
    )
    assert not ws.channels["C0GENERAL"].bot_member and not ws.channels["C0MLOPS"].bot_member
    assert ws.usergroups["S0APPROVERS"].members == ["U0APP1", "U0APP2"]
    assert ws.im_for("U0REQ").id == ws.im_for("U0REQ").id == "D0REQ"


def test_message_ts_is_unique_even_when_the_clock_stands_still() -> None:
    state = EmulatorState(default_workspace(), ManualClock(wall=1712345678.0001))
    stamps = [state.next_ts() for _ in range(3)]
    assert stamps == ["1712345678.000100", "1712345678.000101", "1712345678.000102"]


def test_reset_returns_to_the_initial_workspace() -> None:
    state = EmulatorState(default_workspace(), ManualClock())
    state.workspace.channels["C0GENERAL"].bot_member = True
    state.reset()
    assert not state.workspace.channels["C0GENERAL"].bot_member


@pytest.mark.parametrize(
    ("view", "fragment"),
    [
        ("not a view", "must be an object"),
        ({"type": "dialog", "blocks": [{"type": "divider"}]}, "/view/type"),
        ({"type": "modal", "blocks": [{"type": "divider"}]}, "/view/title"),
        (
            {"type": "modal", "title": {"type": "plain_text", "text": "t"}, "blocks": []},
            "/view/blocks",
        ),
        (
            {
                "type": "modal",
                "title": {"type": "plain_text", "text": "t"},
                "blocks": [{"type": "file", "external_id": "x", "source": "remote"}],
            },
            "unsupported type: file",
        ),
        (
            {
                "type": "modal",
                "title": {"type": "plain_text", "text": "t"},
                "private_metadata": "m" * 3001,
                "blocks": [{"type": "divider"}],
            },
            "private_metadata",
        ),
    ],
)
def test_invalid_views(view: Any, fragment: str) -> None:
    code, messages = validate_view(view)
    assert code == "invalid_arguments"
    assert any(fragment in m for m in messages), messages


def test_input_element_kinds_are_checked() -> None:
    button_as_input = {
        "type": "input",
        "label": {"type": "plain_text", "text": "L"},
        "element": {
            "type": "button",
            "action_id": "b",
            "text": {"type": "plain_text", "text": "b"},
        },
    }
    assert validate_blocks([button_as_input], surface="modal") == [
        "[ERROR] unsupported type: button [json-pointer:/blocks/0/element/type]"
    ]
    assert validate_blocks({"type": "divider"}, surface="message") == [
        "[ERROR] must be an array [json-pointer:/blocks]"
    ]


def test_options_limits() -> None:
    option = {"text": {"type": "plain_text", "text": "o"}, "value": "v"}
    assert validate_options([option]) == []
    assert validate_options([option] * 101)[0].endswith("[json-pointer:/options]")
    assert validate_options([{"value": "v"}])


SELECT = {
    "type": "static_select",
    "action_id": "kind",
    "options": [{"text": {"type": "plain_text", "text": "A"}, "value": "a"}],
}


def test_typed_state_and_actions() -> None:
    assert typed_state({"type": "number_input"}, 2.5) == {"type": "number_input", "value": "2.5"}
    assert typed_state(SELECT, "a")["selected_option"]["value"] == "a"
    with pytest.raises(ElementError):
        typed_state(SELECT, "zzz")
    external = typed_state({"type": "external_select", "action_id": "e"}, "m-1")
    assert external["selected_option"]["value"] == "m-1"
    picked = typed_state({"type": "multi_users_select"}, ["U0APP1"])
    assert picked == {"type": "multi_users_select", "selected_users": ["U0APP1"]}
    rich = typed_state({"type": "rich_text_input"}, "hi")
    assert rich["rich_text_value"]["type"] == "rich_text"
    block = {"type": "actions", "block_id": "b", "elements": [SELECT]}
    action = action_payload(block, SELECT, "a", "1.000001")
    assert action["selected_option"]["value"] == "a" and action["block_id"] == "b"
    assert state_values([block], {}) == {
        "b": {"kind": {"type": "static_select", "selected_option": None}}
    }


@pytest.mark.parametrize(
    ("element", "value", "problem"),
    [
        ({"type": "plain_text_input", "min_length": 3}, "ab", "at least 3"),
        ({"type": "plain_text_input", "max_length": 3}, "abcd", "no more than 3"),
        ({"type": "number_input", "is_decimal_allowed": False}, "1.5", "whole number"),
        (
            {"type": "number_input", "is_decimal_allowed": True, "max_value": "2"},
            "2.5",
            "no greater",
        ),
        ({"type": "email_text_input"}, "nope", "email"),
        ({"type": "plain_text_input"}, None, "required"),
    ],
)
def test_client_side_checks(element: dict[str, Any], value: Any, problem: str) -> None:
    state = typed_state(element, value)
    error = client_side_error({"type": "input"}, element, state)
    assert error is not None and problem in error
    assert (
        client_side_error({"type": "input", "optional": True}, element, typed_state(element, None))
        is None
    )


def test_the_client_refuses_in_the_readers_language() -> None:
    element = {"type": "plain_text_input", "action_id": "a", "min_length": 10}
    empty = typed_state(element, None)
    assert client_side_error({"type": "input"}, element, empty, "zh") == "此字段必填。"
    short = typed_state(element, "abc")
    assert client_side_error({"type": "input"}, element, short) == (
        "Please use at least 10 characters."
    )
    assert client_side_error({"type": "input"}, element, short, "zh") == "请至少输入 10 个字符。"
