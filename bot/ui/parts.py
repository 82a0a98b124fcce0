"""Small Block Kit pieces shared by the message builders."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import MarkdownTextObject

from bot.i18n import Translate
from bot.ui.text import FIELD_TEXT_MAX, Mrkdwn, fmt, one_line, truncate
from bot.zstack.clone_spec import BY_WIRE, param

# A parameter value longer than this (and documents: readme, YAML) goes below a message's
# fields, as a code block.
FIELD_VALUE_MAX = 120


def md(text: Mrkdwn) -> MarkdownTextObject:
    """A mrkdwn text object: only ``Mrkdwn`` goes in (user text is escaped on the way)."""
    return MarkdownTextObject(text=text)


def labelled(label: Mrkdwn, value: Any) -> MarkdownTextObject:
    """A section field: the label in bold over the value (``—`` when empty), within 2,000 chars."""
    if value in (None, "", []):
        return md(fmt("*{label}*\n—", label=label))
    text = value if isinstance(value, str) else str(value)
    return md(
        truncate(fmt("*{label}*\n{value}", label=label, value=one_line(text)), FIELD_TEXT_MAX)
    )


def is_long_value(wire_name: str, text: str) -> bool:
    """Whether a parameter is shown as a code block (and in full on "Show full values")."""
    spec = BY_WIRE.get(wire_name)
    return (spec is not None and spec.is_document) or len(text) > FIELD_VALUE_MAX


def param_label(key: str, t: Translate) -> Mrkdwn:
    """A parameter's label in messages: the spec's short label when it has one, translated."""
    return t(param(key).card_label)
