"""Small Block Kit pieces shared by the message builders."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import MarkdownTextObject

from bot.ui.text import FIELD_TEXT_MAX, Mrkdwn, fmt, one_line, truncate


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
