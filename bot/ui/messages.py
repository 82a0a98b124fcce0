"""Short user-facing sentences shared by several handlers."""

from __future__ import annotations

from bot.ui.text import escape

STORE_DOWN = (
    "The bot's storage is unavailable right now, so nothing was changed. "
    "Please try again in a minute."
)


def zstack_unreachable(endpoint: str) -> str:
    return (
        f"ZStack at `{escape(endpoint)}` is not reachable right now (no answer in time or "
        "connection refused). Please try again in a minute; if it persists, tell your ZStack admin."
    )


def internal_error(reference: str) -> str:
    return (
        "Something went wrong on the bot's side and your last action may not have completed. "
        f"Please try again; if it keeps happening, give this reference to the bot's operators: "
        f"`{reference}`."
    )
