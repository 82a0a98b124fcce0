"""Block Kit validation as Slack applies it.

slack_sdk's models enforce most limits when serialised (``to_dict()`` runs every ``JsonValidator``);
this module runs them on what the bot sent and adds what they leave out: 50 blocks per message,
unknown block and element types, elements in places that do not take them, the 2,000-char limit on
each section field, ``plain_text_input`` lengths up to 3,000, ``submit`` on modals with inputs,
duplicate ids, and the 250 kB view size. Error strings follow Slack's
``"[ERROR] <what> [json-pointer:<where>]"`` form.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Callable, Iterable
from typing import Any, Literal

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block, Option
from slack_sdk.models.views import View

JSON = dict[str, Any]
Surface = Literal["message", "modal", "home"]

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_MESSAGE_TEXT = 40_000
MAX_SECTION_FIELD_TEXT = 2_000
MAX_TEXT_INPUT_LENGTH = 3_000
MAX_VIEW_BYTES = 250_000
MAX_EXTERNAL_ID = 255
MAX_OPTIONS = 100

VIEW_BLOCK_TYPES = frozenset(
    {"section", "divider", "image", "actions", "context", "header", "input", "rich_text", "video"}
)
MESSAGE_BLOCK_TYPES = VIEW_BLOCK_TYPES | {"file", "call", "markdown", "table"}

SELECTS = frozenset(
    {
        "static_select",
        "external_select",
        "users_select",
        "conversations_select",
        "channels_select",
        "multi_static_select",
        "multi_external_select",
        "multi_users_select",
        "multi_conversations_select",
        "multi_channels_select",
    }
)
INPUT_ELEMENTS = SELECTS | {
    "plain_text_input",
    "number_input",
    "email_text_input",
    "url_text_input",
    "rich_text_input",
    "file_input",
    "checkboxes",
    "radio_buttons",
    "datepicker",
    "timepicker",
    "datetimepicker",
}
ACTION_ELEMENTS = SELECTS | {
    "button",
    "overflow",
    "checkboxes",
    "radio_buttons",
    "datepicker",
    "timepicker",
    "datetimepicker",
    "workflow_button",
    "rich_text_input",
}
ACCESSORY_ELEMENTS = SELECTS | {
    "button",
    "image",
    "overflow",
    "checkboxes",
    "radio_buttons",
    "datepicker",
    "timepicker",
    "workflow_button",
}
CONTEXT_ELEMENTS = frozenset({"image", "plain_text", "mrkdwn"})


def error(message: str, pointer: str) -> str:
    return f"[ERROR] {message} [json-pointer:{pointer}]"


def _sdk_errors(build: Callable[[], Any], pointer: str) -> list[str]:
    """Build a slack_sdk model and serialise it; report what its validators reject."""
    problem = _sdk_problem(build)
    return [] if problem is None else [error(problem, pointer)]


def _sdk_problem(build: Callable[[], Any]) -> str | None:
    try:
        model = build()
        if model is None:
            return "unsupported type"
        model.to_dict()
    except SlackObjectFormationError as exc:
        return str(exc)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        return f"invalid object: {exc}"
    return None


@functools.lru_cache(maxsize=4096)
def _block_problem(canonical: str) -> str | None:
    """What slack_sdk's models reject in one block (as canonical JSON). Bots send the same
    blocks over and over (a form's inputs, a card's buttons): the models' verdict on a block is
    kept, so the emulator's own cost does not swamp a benchmark of the bot."""
    return _sdk_problem(lambda: Block.parse(json.loads(canonical)))


def _elements_of(block: dict[str, Any]) -> Iterable[tuple[str, Any]]:
    """``(pointer suffix, element)`` for every interactive-element slot of a block."""
    if "accessory" in block:
        yield "/accessory", block["accessory"]
    if "element" in block:
        yield "/element", block["element"]
    if block.get("type") in ("actions", "context") and isinstance(block.get("elements"), list):
        for i, element in enumerate(block["elements"]):
            yield f"/elements/{i}", element


def _allowed_elements(block_type: str, slot: str) -> frozenset[str]:
    if slot == "/accessory":
        return ACCESSORY_ELEMENTS
    if slot == "/element":
        return INPUT_ELEMENTS
    return CONTEXT_ELEMENTS if block_type == "context" else ACTION_ELEMENTS


def _check_element(element: Any, allowed: frozenset[str], pointer: str) -> list[str]:
    if not isinstance(element, dict) or not isinstance(element.get("type"), str):
        return [error("missing required field: type", pointer)]
    etype = element["type"]
    if etype not in allowed:
        return [error(f"unsupported type: {etype}", f"{pointer}/type")]
    errors: list[str] = []
    if etype == "plain_text_input":
        for key in ("max_length", "min_length"):
            value = element.get(key)
            if value is not None and (not isinstance(value, int) or value > MAX_TEXT_INPUT_LENGTH):
                errors.append(
                    error(f"must be no more than {MAX_TEXT_INPUT_LENGTH}", f"{pointer}/{key}")
                )
    return errors


def _check_block(block: dict[str, Any], pointer: str) -> list[str]:
    errors: list[str] = []
    action_ids: set[str] = set()
    for slot, element in _elements_of(block):
        allowed = _allowed_elements(block["type"], slot)
        errors.extend(_check_element(element, allowed, pointer + slot))
        action_id = element.get("action_id") if isinstance(element, dict) else None
        if isinstance(action_id, str):
            if action_id in action_ids:
                errors.append(error(f"duplicate action_id: {action_id}", pointer + slot))
            action_ids.add(action_id)
    if block["type"] == "input" and "element" not in block:
        errors.append(error("missing required field: element", pointer))
    fields = block.get("fields")
    if block["type"] == "section" and isinstance(fields, list):
        for i, item in enumerate(fields):
            text = item.get("text") if isinstance(item, dict) else None
            if isinstance(text, str) and len(text) > MAX_SECTION_FIELD_TEXT:
                errors.append(
                    error(
                        f"must be less than {MAX_SECTION_FIELD_TEXT + 1} characters",
                        f"{pointer}/fields/{i}/text",
                    )
                )
    if not errors:
        problem = _block_problem(json.dumps(block, sort_keys=True, ensure_ascii=False))
        if problem is not None:
            errors.append(error(problem, pointer))
    return errors


def validate_blocks(blocks: Any, *, surface: Surface, pointer: str = "/blocks") -> list[str]:
    """Every problem Slack would report for ``blocks`` on ``surface``; ``[]`` when valid."""
    if not isinstance(blocks, list):
        return [error("must be an array", pointer)]
    limit = MAX_MESSAGE_BLOCKS if surface == "message" else MAX_VIEW_BLOCKS
    known = MESSAGE_BLOCK_TYPES if surface == "message" else VIEW_BLOCK_TYPES
    errors: list[str] = []
    if len(blocks) > limit:
        errors.append(error(f"no more than {limit} items allowed", pointer))
    block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        where = f"{pointer}/{i}"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            errors.append(error("missing required field: type", where))
            continue
        if block["type"] not in known:
            errors.append(error(f"unsupported type: {block['type']}", f"{where}/type"))
            continue
        block_id = block.get("block_id")
        if isinstance(block_id, str):
            if block_id in block_ids:
                errors.append(error(f"duplicate block_id: {block_id}", f"{where}/block_id"))
            block_ids.add(block_id)
        errors.extend(_check_block(block, where))
    return errors


def has_input_blocks(blocks: Any) -> bool:
    return isinstance(blocks, list) and any(
        isinstance(b, dict) and b.get("type") == "input" for b in blocks
    )


# Fields Slack fills in itself; the bot may echo them back from a payload, and they are ignored.
_SERVER_VIEW_FIELDS = (
    "id",
    "team_id",
    "state",
    "hash",
    "root_view_id",
    "previous_view_id",
    "app_id",
    "bot_id",
    "app_installed_team_id",
)


def validate_view(view: Any) -> tuple[str | None, list[str]]:
    """``(error code, messages)``: ``(None, [])`` when valid, else ``invalid_arguments`` or
    ``view_too_large``."""
    if not isinstance(view, dict):
        return "invalid_arguments", [error("must be an object", "/view")]
    if len(json.dumps(view, ensure_ascii=False).encode()) > MAX_VIEW_BYTES:
        return "view_too_large", [error(f"must be less than {MAX_VIEW_BYTES} bytes", "/view")]
    vtype = view.get("type")
    if vtype not in ("modal", "home"):
        return "invalid_arguments", [error("must be one of modal, home", "/view/type")]
    errors: list[str] = []
    if vtype == "modal":
        title = view.get("title")
        if not isinstance(title, dict) or title.get("type") != "plain_text":
            errors.append(error("must be a plain_text text object", "/view/title"))
        if has_input_blocks(view.get("blocks")) and not view.get("submit"):
            errors.append(
                error("submit is required when the view has an input block", "/view/submit")
            )
    external_id = view.get("external_id")
    if isinstance(external_id, str) and len(external_id) > MAX_EXTERNAL_ID:
        errors.append(
            error(f"must be less than {MAX_EXTERNAL_ID + 1} characters", "/view/external_id")
        )
    blocks = view.get("blocks")
    if blocks is None or blocks == []:
        errors.append(error("must provide at least 1 items", "/view/blocks"))
    else:
        errors.extend(validate_blocks(blocks, surface=vtype, pointer="/view/blocks"))
    if not errors:
        shell = {k: v for k, v in view.items() if k not in _SERVER_VIEW_FIELDS}
        shell["blocks"] = [{"type": "divider"}]  # blocks were checked above, one by one
        errors.extend(_sdk_errors(lambda: View(**shell), "/view"))
    return ("invalid_arguments" if errors else None), errors


def _option_builder(option: JSON) -> Callable[[], Option]:
    def build() -> Option:
        return Option(**copy.deepcopy(option))

    return build


def validate_options(options: Any, pointer: str = "/options") -> list[str]:
    """Options returned for an ``external_select`` (``block_suggestion`` acks)."""
    if not isinstance(options, list):
        return [error("must be an array", pointer)]
    errors: list[str] = []
    if len(options) > MAX_OPTIONS:
        errors.append(error(f"no more than {MAX_OPTIONS} items allowed", pointer))
    for i, option in enumerate(options):
        if not isinstance(option, dict) or "value" not in option or "text" not in option:
            errors.append(error("missing required field: text, value", f"{pointer}/{i}"))
            continue
        errors.extend(_sdk_errors(_option_builder(option), f"{pointer}/{i}"))
    return errors
