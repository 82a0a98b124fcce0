"""Text helpers shared by the builders: mrkdwn escaping, truncation, Slack date tokens.

Slack parses ``&``, ``<`` and ``>`` in every mrkdwn field (blocks, confirm dialogs, a message's
``text`` — the notification shown on phones): ``<!channel>`` pings, ``<@U…>`` mentions,
``<http…|…>`` links. ``Mrkdwn`` is text that is safe there as it is: escaped with ``escape`` or
written by the bot itself. The translator (``bot.i18n.tr``) escapes every value it puts into a
template unless it is ``Mrkdwn`` already, and the builders' mrkdwn sinks (``parts.md``,
``parts.labelled``, the notifier) take only ``Mrkdwn``, so mypy finds user text that skips it.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TypeVar

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


class Mrkdwn(str):
    """Text safe in a mrkdwn field as it is: escaped user text or the bot's own markup."""

    __slots__ = ()


S = TypeVar("S", str, Mrkdwn)


def escape(text: str) -> Mrkdwn:
    """Escape the three characters Slack's mrkdwn treats as control characters (once)."""
    if isinstance(text, Mrkdwn):
        return text
    return Mrkdwn(text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))


def fmt(template: str, /, **values: object) -> Mrkdwn:
    """``template.format(**values)`` for mrkdwn: text values are escaped unless ``Mrkdwn``; the
    template is the bot's own markup."""
    if any(isinstance(v, datetime) for v in values.values()):
        # str(datetime) is not for people: the translator makes it a date token in a language.
        raise TypeError("a datetime goes through the translator: t(...) or t.date(...)")
    return Mrkdwn(
        template.format(**{k: escape(v) if isinstance(v, str) else v for k, v in values.items()})
    )


def truncate(text: S, limit: int) -> S:
    """At most ``limit`` characters, ending with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - 1)] + ELLIPSIS
    return Mrkdwn(cut) if isinstance(text, Mrkdwn) else cut


def one_line(text: S) -> S:
    """Control characters and newlines folded to spaces (for titles, options, fields)."""
    folded = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return Mrkdwn(folded) if isinstance(text, Mrkdwn) else folded


def join(separator: str, parts: list[Mrkdwn] | list[str]) -> Mrkdwn:
    """Pieces joined by the bot's own separator (each escaped unless ``Mrkdwn``)."""
    return Mrkdwn(escape(separator).join(escape(part) for part in parts))


# Full-width punctuation carries its own space: none is put beside it.
_FULL_WIDTH = frozenset("，。：；！？、（）「」『』【】《》“”")


def beside(left: Mrkdwn, right: Mrkdwn) -> Mrkdwn:
    """``left right``, without the space where one side is full-width punctuation
    (``内存（MiB）`requestMemory```)."""
    if left[-1:] in _FULL_WIDTH or right[:1] in _FULL_WIDTH:
        return Mrkdwn(left + right)
    return Mrkdwn(f"{left} {right}")


def code(text: str, limit: int = SECTION_TEXT_MAX - 8) -> Mrkdwn:
    """Inline code; backticks inside cannot close the span."""
    return Mrkdwn(f"`{truncate(escape(one_line(text)).replace('`', 'ˋ'), limit)}`")


def mention(user_id: str) -> Mrkdwn:
    """``<@U…>`` for a Slack user id (ids are checked at the door; anything else is escaped)."""
    return Mrkdwn(f"<@{user_id}>" if user_id.isalnum() else escape(user_id))


def mention_entry(entry: str) -> Mrkdwn:
    """An approver list entry mentioned: a user group (``S…``, ``<!subteam^S…>``) or a user."""
    if entry.startswith("S") and entry.isalnum():
        return Mrkdwn(f"<!subteam^{entry}>")
    return mention(entry)


def link(url: str, label: str) -> Mrkdwn:
    """``<url|label>``: neither part can close the link or open another one."""
    target = escape(url.replace("|", "%7C"))
    return Mrkdwn(f"<{target}|{escape(one_line(label)).replace('|', '¦')}>")


def date_token(epoch: int, layout: str, fallback: str) -> Mrkdwn:
    """``<!date^epoch^layout|fallback>``: Slack shows ``layout`` (``{date_short_pretty}``,
    ``{time}``…) in each reader's time zone, and ``fallback`` where it cannot. The translator
    builds these from datetimes (``bot.i18n.Translate.date``)."""
    clean = escape(one_line(fallback)).replace("|", "¦")
    return Mrkdwn(f"<!date^{epoch}^{one_line(layout).replace('|', '¦')}|{clean}>")


# The bot's own markup inside mrkdwn: mentions, user groups, dates, links.
_MARKUP = re.compile(
    r"""<(?:
        @(?P<user>[A-Z0-9]+)
      | \#(?P<channel>[A-Z0-9]+)
      | !subteam\^(?P<group>[A-Z0-9]+)
      | !date\^[^|>]*\|(?P<date>[^>]*)
      | (?P<url>[^|>!@\#][^|>]*)\|(?P<label>[^>]*)
    )(?:\|[^>]*)?>""",
    re.VERBOSE,
)


def plain_text(text: Mrkdwn) -> str:
    """Mrkdwn as a terminal shows it: ids for mentions (``U…``, ``#C…``, ``S…``), a date's
    fallback, ``label (url)`` for a link, the escaped characters back."""

    def unmark(found: re.Match[str]) -> str:
        if found["user"] or found["group"]:
            return found["user"] or found["group"]
        if found["channel"]:
            return f"#{found['channel']}"
        if found["url"]:
            return f"{found['label']} ({found['url']})"
        return found["date"] or ""

    return _MARKUP.sub(unmark, text).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
