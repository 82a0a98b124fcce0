"""Text helpers shared by the builders: mrkdwn escaping, truncation, Slack date tokens."""

from __future__ import annotations

from datetime import datetime

# Slack's documented limits that the builders keep to (reference slack-platform.md §4).
SECTION_TEXT_MAX = 3000
FIELD_TEXT_MAX = 2000
HEADER_TEXT_MAX = 150
CONTEXT_TEXT_MAX = 2000
MESSAGE_TEXT_MAX = 40_000
VIEW_TITLE_MAX = 24
PRIVATE_METADATA_MAX = 3000
OPTION_TEXT_MAX = 75
OPTION_VALUE_MAX = 150

ELLIPSIS = "…"


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int) -> str:
    """At most ``limit`` characters, ending with an ellipsis when cut."""
    return text if len(text) <= limit else text[: max(0, limit - 1)] + ELLIPSIS


def one_line(text: str) -> str:
    """Control characters and newlines folded to spaces (for titles, options, fields)."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def code(text: str, limit: int = SECTION_TEXT_MAX - 8) -> str:
    """Inline code; backticks inside cannot close the span."""
    return f"`{truncate(escape(one_line(text)).replace('`', 'ˋ'), limit)}`"


def slack_date(moment: datetime) -> str:
    """A date token every reader sees in their own time zone, with a UTC fallback."""
    epoch = int(moment.timestamp())
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{epoch}^{{date_short_pretty}} at {{time}}|{fallback}>"


def duration(seconds: float) -> str:
    """``2 h 5 min``, ``3 min 10 s``, ``42 s``."""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"
