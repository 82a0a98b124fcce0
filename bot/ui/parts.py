"""Small Block Kit pieces shared by the message builders."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import MarkdownTextObject

from bot.ui.text import FIELD_TEXT_MAX, escape, one_line, truncate


def md(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=text)


def labelled(label: str, value: Any) -> MarkdownTextObject:
    """A section field: the label in bold over the value (``—`` when empty), within 2,000 chars."""
    shown = "—" if value in (None, "", []) else escape(one_line(str(value)))
    return md(truncate(f"*{label}*\n{shown}", FIELD_TEXT_MAX))
