"""The gettext catalogs: ``locales/<locale>/LC_MESSAGES/messages.po``, one per language.

The ``.po`` file is the only form of a catalog kept in the repository and shipped in the wheel: it
is compiled into memory (Babel's ``read_po`` and ``write_mo``) the first time a language is asked
for, and read back by the standard library's ``gettext.GNUTranslations``. So there is no ``.mo``
to keep in step with its ``.po`` or to merge when two branches add messages, and compiling the few
hundred entries costs a few milliseconds once per process.

Entries that are fuzzy or have an empty form are left out, so those messages stay English until
someone translates them (the catalog test fails on them, too). ``make i18n`` extracts the
templates from the code and merges them into the catalogs (see the README's Development section).
"""

from __future__ import annotations

import functools
import gettext
from importlib import resources
from importlib.resources.abc import Traversable
from io import BytesIO

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

DOMAIN = "messages"
# The bot's language code → the gettext locale whose catalog holds it ("en" is the source).
LOCALES: dict[str, str] = {"zh": "zh_CN"}


def po_path(locale: str) -> Traversable:
    """Where the catalog of ``locale`` lives inside the installed package."""
    return resources.files(__package__) / "locales" / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(locale: str) -> Catalog:
    """The catalog of ``locale`` as Babel parses it (header, flags, obsolete entries and all)."""
    with po_path(locale).open("rb") as po:
        return read_po(po, locale=locale, domain=DOMAIN)


def compile_catalog(catalog: Catalog) -> gettext.GNUTranslations:
    """``catalog`` compiled for ``gettext``, without its fuzzy entries and those with an empty
    form (``write_mo`` leaves out only empty singular ones)."""
    usable = Catalog(locale=catalog.locale_identifier, domain=catalog.domain)
    usable.mime_headers = catalog.mime_headers
    for message in catalog:
        forms = message.string if isinstance(message.string, tuple | list) else (message.string,)
        if message.id and not message.fuzzy and all(forms):
            usable[message.id] = message
    compiled = BytesIO()
    write_mo(compiled, usable)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


@functools.cache
def translations(lang: str) -> gettext.NullTranslations:
    """The translations for a bot language; English (or a language without a catalog) is the
    templates themselves."""
    locale = LOCALES.get(lang)
    return compile_catalog(read_catalog(locale)) if locale else gettext.NullTranslations()
