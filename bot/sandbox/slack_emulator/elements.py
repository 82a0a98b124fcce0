"""Interactive elements: where they are in blocks, what state they hold, what an action carries.

Element state follows ``view.state.values`` as Slack sends it (reference §3): text-like inputs
carry ``value`` (a string, also for ``number_input``), single selects ``selected_option``, multi
selects and checkboxes ``selected_options``, user/conversation/channel pickers ``selected_user``
and friends.
"""

from __future__ import annotations

import copy
import re
import secrets
import string
from collections.abc import Iterator
from typing import Any

from bot.i18n import Translate, tr

from .records import JSON

TEXT_INPUTS = frozenset({"plain_text_input", "number_input", "email_text_input", "url_text_input"})
SINGLE_OPTION = frozenset({"static_select", "external_select", "radio_buttons"})
MULTI_OPTION = frozenset({"multi_static_select", "multi_external_select", "checkboxes"})
# element type -> (state field, initial_* field)
PICKERS: dict[str, tuple[str, str]] = {
    "users_select": ("selected_user", "initial_user"),
    "multi_users_select": ("selected_users", "initial_users"),
    "conversations_select": ("selected_conversation", "initial_conversation"),
    "multi_conversations_select": ("selected_conversations", "initial_conversations"),
    "channels_select": ("selected_channel", "initial_channel"),
    "multi_channels_select": ("selected_channels", "initial_channels"),
    "datepicker": ("selected_date", "initial_date"),
    "timepicker": ("selected_time", "initial_time"),
    "datetimepicker": ("selected_date_time", "initial_date_time"),
}
MULTI_PICKERS = frozenset(
    {"multi_users_select", "multi_conversations_select", "multi_channels_select"}
)
STATEFUL = (
    TEXT_INPUTS | SINGLE_OPTION | MULTI_OPTION | set(PICKERS) | {"rich_text_input", "file_input"}
)

_ID_CHARS = string.ascii_letters + string.digits


class ElementError(ValueError):
    """A value that the element cannot hold, or an element that is not there."""


def _random_id(length: int = 5) -> str:
    return "".join(secrets.choice(_ID_CHARS) for _ in range(length))


def element_slots(block: JSON) -> Iterator[JSON]:
    """The interactive elements of one block (accessory, input element, actions elements)."""
    for key in ("accessory", "element"):
        element = block.get(key)
        if isinstance(element, dict):
            yield element
    if block.get("type") == "actions":
        for element in block.get("elements") or []:
            if isinstance(element, dict):
                yield element


def fill_ids(blocks: list[JSON]) -> list[JSON]:
    """Give blocks and interactive elements without ids the random ids Slack assigns."""
    for block in blocks:
        if not block.get("block_id"):
            block["block_id"] = _random_id()
        for element in element_slots(block):
            if element.get("type") not in ("image",) and not element.get("action_id"):
                element["action_id"] = _random_id()
    return blocks


def find_element(
    blocks: list[JSON], action_id: str, block_id: str | None = None
) -> tuple[JSON, JSON]:
    """``(block, element)`` for ``action_id`` (and ``block_id`` when given)."""
    for block in blocks:
        if block_id is not None and block.get("block_id") != block_id:
            continue
        for element in element_slots(block):
            if element.get("action_id") == action_id:
                return block, element
    where = f" in block {block_id!r}" if block_id else ""
    raise ElementError(f"no element with action_id {action_id!r}{where}")


def _all_options(element: JSON) -> list[JSON]:
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options.extend(group.get("options") or [])
    return options


def _option(element: JSON, value: Any) -> JSON:
    if isinstance(value, dict):
        return copy.deepcopy(value)
    if element["type"].endswith("external_select"):
        text = {"type": "plain_text", "text": str(value), "emoji": True}
        return {"text": text, "value": str(value)}
    for option in _all_options(element):
        if option.get("value") == value:
            return copy.deepcopy(option)
    raise ElementError(f"{element['type']} {element.get('action_id')!r} has no option {value!r}")


def initial_state(element: JSON) -> JSON:
    """The state an untouched element reports: its ``initial_*`` value or an empty one."""
    etype = element["type"]
    state: JSON = {"type": etype}
    if etype in TEXT_INPUTS:
        initial = element.get("initial_value")
        state["value"] = None if initial is None else str(initial)
    elif etype in SINGLE_OPTION:
        state["selected_option"] = copy.deepcopy(element.get("initial_option"))
    elif etype in MULTI_OPTION:
        state["selected_options"] = copy.deepcopy(element.get("initial_options") or [])
    elif etype in PICKERS:
        field, initial_field = PICKERS[etype]
        default: Any = [] if etype in MULTI_PICKERS else None
        state[field] = copy.deepcopy(element.get(initial_field, default))
    elif etype == "rich_text_input":
        state["rich_text_value"] = copy.deepcopy(element.get("initial_value"))
    elif etype == "file_input":
        state["files"] = []
    return state


def typed_state(element: JSON, value: Any) -> JSON:
    """The state for a plain Python ``value``: a string for text inputs, an option value (or
    option dict) for selects, a list for multi selects, an id for user/conversation pickers."""
    etype = element["type"]
    state: JSON = {"type": etype}
    if etype in TEXT_INPUTS:
        state["value"] = None if value is None or value == "" else str(value)
    elif etype in SINGLE_OPTION:
        state["selected_option"] = None if value is None else _option(element, value)
    elif etype in MULTI_OPTION:
        values = [] if value is None else value if isinstance(value, list) else [value]
        state["selected_options"] = [_option(element, v) for v in values]
    elif etype in PICKERS:
        field, _ = PICKERS[etype]
        if etype in MULTI_PICKERS:
            state[field] = [] if value is None else list(value)
        elif etype == "datetimepicker":
            state[field] = None if value is None else int(value)
        else:
            state[field] = value
    elif etype == "rich_text_input":
        state["rich_text_value"] = value if not isinstance(value, str) else rich_text(value)
    elif etype == "file_input":
        state["files"] = list(value or [])
    else:
        raise ElementError(f"{etype} holds no value")
    return state


def rich_text(text: str) -> JSON:
    section = {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}
    return {"type": "rich_text", "elements": [section]}


def state_values(
    blocks: list[JSON], touched: dict[str, dict[str, JSON]]
) -> dict[str, dict[str, JSON]]:
    """``state.values`` for every stateful element: what the user set, else the initial value."""
    values: dict[str, dict[str, JSON]] = {}
    for block in blocks:
        block_id = str(block.get("block_id"))
        for element in element_slots(block):
            if element.get("type") not in STATEFUL:
                continue
            action_id = str(element.get("action_id"))
            current = touched.get(block_id, {}).get(action_id)
            if current is None or current.get("type") != element["type"]:
                current = initial_state(element)
            values.setdefault(block_id, {})[action_id] = copy.deepcopy(current)
    return values


def action_payload(block: JSON, element: JSON, value: Any, action_ts: str) -> JSON:
    """One ``actions[]`` entry of a ``block_actions`` payload for a click/choice on ``element``."""
    etype = element["type"]
    action: JSON = {
        "type": etype,
        "action_id": element.get("action_id"),
        "block_id": block.get("block_id"),
    }
    if etype in ("button", "workflow_button"):
        action["text"] = element.get("text")
        for key in ("value", "style", "url"):
            if key in element:
                action[key] = element[key]
    elif etype == "overflow":
        if value is None:
            raise ElementError("choosing from an overflow menu needs a value")
        action["selected_option"] = _option(element, value)
    else:
        action.update({k: v for k, v in typed_state(element, value).items() if k != "type"})
        if "placeholder" in element:
            action["placeholder"] = element["placeholder"]
    action["action_ts"] = action_ts
    return action


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _is_empty(state: JSON) -> bool:
    return all(v in (None, "", []) for k, v in state.items() if k != "type")


def client_side_error(block: JSON, element: JSON, state: JSON, lang: str = "en") -> str | None:
    """What Slack's client says before sending anything (required fields, lengths, numbers),
    in the reader's language as Slack's client speaks it."""
    t = tr(lang)
    if _is_empty(state):
        return None if block.get("optional") else t.plain("This field is required.")
    value = state.get("value")
    etype = element["type"]
    if not isinstance(value, str):
        return None
    if etype == "plain_text_input":
        if "min_length" in element and len(value) < int(element["min_length"]):
            return t.plain("Please use at least {count} characters.", count=element["min_length"])
        if "max_length" in element and len(value) > int(element["max_length"]):
            return t.plain(
                "Please use no more than {count} characters.", count=element["max_length"]
            )
    elif etype == "number_input":
        return _number_error(element, value, t)
    elif etype == "email_text_input" and not _EMAIL.match(value):
        return t.plain("Please enter a valid email address.")
    elif etype == "url_text_input" and not value.startswith(("http://", "https://")):
        return t.plain("Please enter a valid URL.")
    return None


def _number_error(element: JSON, value: str, t: Translate) -> str | None:
    try:
        number = float(value)
    except ValueError:
        return t.plain("Please enter a number.")
    if not element.get("is_decimal_allowed") and not re.fullmatch(r"-?\d+", value):
        return t.plain("Please enter a whole number.")
    if "min_value" in element and number < float(element["min_value"]):
        return t.plain("Please enter a number of at least {low}.", low=element["min_value"])
    if "max_value" in element and number > float(element["max_value"]):
        return t.plain("Please enter a number no greater than {high}.", high=element["max_value"])
    return None
