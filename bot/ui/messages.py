"""Short user-facing sentences shared by several handlers."""

from __future__ import annotations

from bot.i18n import tr
from bot.ui.text import Mrkdwn


def store_down(lang: str = "en") -> Mrkdwn:
    t = tr(lang)
    return t(
        "The bot's storage is unavailable right now, so nothing was changed. "
        "Please try again in a minute."
    )


def zstack_unreachable(endpoint: str, lang: str = "en") -> Mrkdwn:
    t = tr(lang)
    return t(
        "ZStack at `{endpoint}` is not reachable right now (no answer in time or connection "
        "refused). Please try again in a minute; if it persists, tell your ZStack admin.",
        endpoint=endpoint,
    )


def internal_error(reference: str, lang: str = "en") -> Mrkdwn:
    t = tr(lang)
    return t(
        "Something went wrong on the bot's side and your last action may not have completed. "
        "Please try again; if it keeps happening, give this reference to the bot's operators: "
        "`{reference}`.",
        reference=reference,
    )


def zstack_refused_login(details: str, lang: str = "en") -> Mrkdwn:
    t = tr(lang)
    return t("ZStack refused the login: {details}", details=details)


def session_already_expired(lang: str = "en") -> Mrkdwn:
    t = tr(lang)
    return t("ZStack returned a session that had already expired; check the ZStack clock.")
