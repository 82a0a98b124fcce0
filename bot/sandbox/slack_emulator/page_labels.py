"""The page's own words — buttons, headings, placeholders, the welcome panel, the ZStack panel —
in every language the bot speaks, from the bot's gettext catalog.

The English text is the key: ``app.js`` writes ``L("Send")`` or ``Ln("{count} reply",
"{count} replies", n)`` and ``index.html`` marks elements with ``data-label="Channels"`` (or
``data-label-placeholder``, ``-title``, ``-aria``); :func:`page_labels` serves each language's
text for each key. A key missing here stays English on the page, and the page test checks that
every key the page uses is here. This module is extracted like the bot's own modules (see
``[tool.babel]`` in ``pyproject.toml``), so the catalog test covers these texts too.
"""

from __future__ import annotations

from bot.i18n import LANGS, N_
from bot.i18n.catalog import translations


def N_plural(singular: str, plural: str) -> tuple[str, str]:
    """Marks a text that depends on a number (``{count}``) for the catalog, both English forms."""
    return singular, plural


TEXTS: tuple[str, ...] = (
    # The frame: sidebar, headers, composers.
    N_("Clone Bot sandbox"),
    N_("Live updates"),
    N_("Viewing as"),
    N_("Person"),
    N_("Channels"),
    N_("Direct messages"),
    N_("Message"),
    N_("Send"),
    N_("Thread"),
    N_("Close thread"),
    N_("Reply…"),
    N_("Reply"),
    N_("Message {bot}"),
    N_("Message #{channel}, or /clone-model …"),
    N_("{bot} Home"),
    N_("No DM with the bot yet"),
    N_("approval channel"),
    N_("approvals"),
    N_("Local time {time}, {zone}"),
    N_("The bot answers over HTTP (request URLs), as a Slack app with a public URL."),
    N_("The bot is connected over Socket Mode."),
    N_("{count} payloads the bot sent failed Slack's validation; /_emu/state lists them"),
    # People and their roles.
    N_("requester"),
    N_("approver"),
    N_("outsider"),
    # Messages.
    N_("No messages yet."),
    N_("APP"),
    N_("(edited)"),
    N_("Only visible to you"),
    N_("The app has not published a Home tab for you yet."),
    N_("today"),
    N_("yesterday"),
    N_("tomorrow"),
    N_("just now"),
    # Modals and confirmations.
    N_("Close"),
    N_("Cancel"),
    N_("Back"),
    N_("(optional)"),
    N_("Select…"),
    N_("Type to search…"),
    N_("No matches"),
    N_("Selected: {option}"),
    N_("Are you sure?"),
    N_("Yes"),
    N_("Submitting “{title}”"),
    # What went wrong, in a toast.
    N_("{what} failed with the error “{error}”"),
    N_("{what} did not work: {error}"),
    N_("Suggestions: {error}"),
    N_("The page could not show this: {error}"),
    # The welcome panel.
    N_("Welcome to the Clone Bot sandbox"),
    N_(
        "This page is a Slack workspace with the bot in it, on your machine. Choose who you are "
        "under “Viewing as”; each person sees their own channels, DMs and forms."
    ),
    N_("Hide"),
    N_("Guide"),
    N_("Show the welcome guide"),
    N_("People"),
    N_("Name"),
    N_("Role"),
    N_("Time zone"),
    N_("Language"),
    N_("member of {group}"),
    N_("{zone}, now {time}"),
    N_("English"),
    N_("Chinese"),
    N_(
        "Each person sees this page and the bot's messages to them in their language: "
        "{person} reads Chinese."
    ),
    N_("ZStack logins"),
    N_("The fields of the {command} form:"),
    # The same words as the login form's.
    N_("Log in as"),
    N_("Account"),
    N_("IAM user of an account"),
    N_("Project user (IAM2)"),
    N_("Account name"),
    N_("User name"),
    N_("Password"),
    N_("First steps"),
    N_(
        "As {person}, type {command} in any channel and log in, e.g. as the account {account} "
        "with the password {password}."
    ),
    N_("Type {command}, give a reason and submit: the request card appears in {channel}."),
    N_(
        "Switch to an approver, open the card's thread in {channel} and approve: the new model "
        "service appears there and in {person}'s DM."
    ),
    N_("Click a command to put it in the message box."),
    N_("The ZStack panel (top right) can make the next clone fail, to show a cause chain."),
    # The ZStack panel.
    N_("ZStack simulator"),
    N_("Not connected: the page has no ZStack simulator to show."),
    N_("Not reachable ({reason})."),
    N_("Connected; ZStack's clock {now}, clone mode {mode}"),
    N_("Faults and modes"),
    N_("Latency (s)"),
    N_("Latency in seconds"),
    N_("Apply"),
    N_("Latency set to {seconds} s"),
    N_("Fail the next clone"),
    N_("The next clone will fail"),
    N_("pending: {count}"),
    N_("Expire sessions of"),
    N_("Expire"),
    N_("All"),
    N_("Sessions of {account} expired"),
    N_("All sessions expired"),
    N_("Clone mode"),
    N_("Clone mode: {mode}"),
    N_("Reset"),
    N_("Simulator reset"),
    N_("Model services"),
    N_("Sessions"),
    N_("Jobs"),
    N_("Counters"),
    N_("name"),
    N_("owner"),
    N_("session"),
    N_("user"),
    N_("valid"),
    N_("job"),
    N_("operation"),
    N_("state"),
    N_("requests"),
    N_("none"),
    N_("yes"),
    N_("expired"),
)

PLURALS: tuple[tuple[str, str], ...] = (
    N_plural("{count} reply", "{count} replies"),
    N_plural("{count} minute ago", "{count} minutes ago"),
    N_plural("{count} hour ago", "{count} hours ago"),
    N_plural("{count} day ago", "{count} days ago"),
)

Labels = dict[str, dict[str, object]]


def page_labels() -> dict[str, Labels]:
    """Per language: ``texts`` (English → text) and ``plurals`` (English singular → the form
    for one and the form for other numbers; a language with one form gives it twice)."""
    out: dict[str, Labels] = {}
    for lang in LANGS:
        catalog = translations(lang)
        out[lang] = {
            "texts": {text: catalog.gettext(text) for text in TEXTS},
            "plurals": {
                one: [catalog.ngettext(one, other, 1), catalog.ngettext(one, other, 2)]
                for one, other in PLURALS
            },
        }
    return out
