"""Messages in English and Simplified Chinese.

Builders write English templates and pass them through ``tr(lang)``: ``t("Log in as")`` or
``t("Logged in as {who}", who=name)``. ``t(...)`` gives mrkdwn: every value is escaped unless it is
``Mrkdwn`` already (``bot.ui.text``), so user text can never ping or link; ``t.plain(...)`` is for
plain_text fields (titles, labels, buttons), which Slack does not parse. A text that depends on a
number takes both English forms and the number: ``t.n("one approval", "{count} approvals", n)``
(``t.plain_n`` for plain text); the language's plural rule picks the form and ``{count}`` is the
number. A template that is kept in a table and translated when shown is marked ``N_("...")``.

A ``datetime`` value becomes a Slack date token (``<!date^…>``: every reader sees it in their own
time zone, with Slack's words for today and yesterday), laid out and with a fallback in the
translator's language; ``t.duration(seconds)`` spells a duration in it.

Chinese comes from the gettext catalog ``locales/zh_CN/LC_MESSAGES/messages.po`` (msgid = the
English template; ``bot.i18n.catalog`` loads it). A missing, fuzzy or empty entry falls back to
English, and a test checks that every template the code uses has one: templates are found by
Babel's extractor, so they must be literal arguments of ``t``, ``t.plain``, ``t.n``,
``t.plain_n``, ``Msg.of``, ``Msg.marked``, ``Problem`` or ``N_`` (call ``t = tr(lang)`` first:
``tr(lang)("...")`` is not found). Text that ZStack wrote (error details, names) is never
translated.

Personal surfaces (modals, ephemerals, DMs, App Home) use the reader's Slack locale
(``users.info`` with ``include_locale``); posts in channels use ``CLONEBOT_LOCALE``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import SlackError
from bot.i18n.catalog import translations
from bot.slack.client import slack_errors
from bot.ui.text import Mrkdwn, date_token, fmt

logger = logging.getLogger(__name__)

Lang = Literal["en", "zh"]
LANGS: tuple[Lang, ...] = ("en", "zh")
# A user's locale is asked of Slack at most this often.
LOCALE_CACHE_S = 600.0
LOCALE_CACHE_SIZE = 10_000


def lang_of_locale(locale: str | None, default: Lang = "en") -> Lang:
    """``zh-CN`` (and other Simplified Chinese locales) → ``zh``; ``en-*`` → ``en``."""
    if not locale:
        return default
    tag = locale.replace("_", "-").lower()
    if tag in ("zh", "zh-cn", "zh-sg", "zh-hans") or tag.startswith("zh-hans"):
        return "zh"
    if tag.startswith("en"):
        return "en"
    return default


@dataclass(frozen=True)
class Msg:
    """A message to be shown later, in the reader's language: an English template + values."""

    template: str
    values: dict[str, Any] = field(default_factory=dict)
    emoji: str = ""

    @classmethod
    def of(cls, template: str, /, **values: Any) -> Msg:
        return cls(template, values)

    @classmethod
    def marked(cls, emoji: str, template: str, /, **values: Any) -> Msg:
        """A message shown after an emoji (``:key: …``), the emoji left out of the catalog."""
        return cls(template, values, emoji)

    def render(self, lang: str) -> Mrkdwn:
        text = tr(lang)(self.template, **self.values)
        return Mrkdwn(f"{self.emoji} {text}") if self.emoji else text

    def as_plain(self, lang: str) -> str:
        """As plain text (logs, the record's English summary): values as they are."""
        return tr(lang).plain(self.template, **self.values)


Text = Mrkdwn | Msg


def render(text: Text, lang: str) -> Mrkdwn:
    """Mrkdwn as it is; a ``Msg`` in ``lang``."""
    return text.render(lang) if isinstance(text, Msg) else text


def N_(template: str) -> str:
    """Marks a template for the catalog where it is defined (a table of labels); it is
    translated where it is shown, e.g. ``t(STATE_NAMES[state])``."""
    return template


class Translate:
    """Template (+ named values) → text in one language."""

    __slots__ = ("_translations", "lang")

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self._translations = translations(lang)

    def __call__(self, template: str, /, **values: Any) -> Mrkdwn:
        """For mrkdwn: text values are escaped unless they are ``Mrkdwn`` already; datetimes
        become Slack date tokens."""
        text = self._translations.gettext(template)
        return fmt(text, **self._dates(values)) if values else Mrkdwn(text)

    def _dates(self, values: dict[str, Any]) -> dict[str, Any]:
        return {k: self.date(v) if isinstance(v, datetime) else v for k, v in values.items()}

    def date(self, moment: datetime) -> Mrkdwn:
        """A Slack date token (``today at 3:04 PM`` in the reader's time zone) laid out in this
        language, with a UTC fallback for clients that cannot show it."""
        utc = moment.astimezone(UTC)
        layout = self.plain("{date} at {time}", date="{date_short_pretty}", time="{time}")
        fallback = self.plain(
            "{date} at {time}", date=utc.strftime("%Y-%m-%d"), time=utc.strftime("%H:%M UTC")
        )
        return date_token(int(moment.timestamp()), layout, fallback)

    def duration(self, seconds: float) -> str:
        """``2 h 5 min``, ``3 min 10 s``, ``42 s``; ``<1 s`` rather than ``0 s``."""
        total = max(0, round(seconds))
        if total == 0:
            return self.plain("<1 s")
        hours, rest = divmod(total, 3600)
        minutes, secs = divmod(rest, 60)
        if hours:
            if minutes:
                return self.plain("{hours} h {minutes} min", hours=hours, minutes=minutes)
            return self.plain("{hours} h", hours=hours)
        if minutes:
            if secs:
                return self.plain("{minutes} min {seconds} s", minutes=minutes, seconds=secs)
            return self.plain("{minutes} min", minutes=minutes)
        return self.plain("{seconds} s", seconds=secs)

    def plain(self, template: str, /, **values: Any) -> str:
        """For plain_text fields (titles, labels, buttons): values as they are."""
        if any(isinstance(v, datetime) for v in values.values()):
            raise TypeError("plain text cannot show a Slack date token: use t(...)")
        text = self._translations.gettext(template)
        return text.format(**values) if values else text

    def n(self, singular: str, plural: str, count: int, /, **values: Any) -> Mrkdwn:
        """``singular`` or ``plural`` by ``count`` (the language's rule), for mrkdwn like ``t``;
        ``{count}`` in either is the number."""
        text = self._translations.ngettext(singular, plural, count)
        return fmt(text, count=count, **self._dates(values))

    def plain_n(self, singular: str, plural: str, count: int, /, **values: Any) -> str:
        """``n`` for plain_text fields: values as they are."""
        return self._translations.ngettext(singular, plural, count).format(count=count, **values)


def tr(lang: str) -> Translate:
    """The translator for ``lang``."""
    return Translate(lang)


@dataclass
class Locales:
    """Which language each Slack user reads, from their Slack locale (cached)."""

    default: Lang = "en"
    clock: Callable[[], float] = time.monotonic
    _cache: OrderedDict[str, tuple[float, Lang]] = field(default_factory=OrderedDict)

    def cached(self, user: str) -> Lang:
        """The language last seen for ``user`` (no Slack call: for the 3-second paths)."""
        cached = self._cache.get(user)
        return cached[1] if cached else self.default

    async def quick(self, client: AsyncWebClient, user: str, budget_s: float = 0.5) -> Lang:
        """``of`` within ``budget_s`` (before a trigger_id runs out), else the cached guess."""
        try:
            return await asyncio.wait_for(self.of(client, user), budget_s)
        except TimeoutError:
            return self.cached(user)

    async def of(self, client: AsyncWebClient, user: str) -> Lang:
        cached = self._cache.get(user)
        now = self.clock()
        if cached and now - cached[0] < LOCALE_CACHE_S:
            return cached[1]
        try:
            with slack_errors("users.info"):
                answer = await client.users_info(user=user, include_locale=True)
        except SlackError as exc:
            logger.info("no locale for a user", extra={"user_id": user, "error": exc.code})
            return cached[1] if cached else self.default
        lang = lang_of_locale((answer.get("user") or {}).get("locale"), self.default)
        self._cache[user] = (now, lang)
        self._cache.move_to_end(user)
        while len(self._cache) > LOCALE_CACHE_SIZE:
            self._cache.popitem(last=False)
        return lang
