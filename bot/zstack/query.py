"""ZStack's query-string grammar for Query* APIs (reference §5), as an immutable builder.

``Query().where("name", "~=", "%qwen%").sorted("-createDate").page(limit=20)`` becomes
``q=name~=%qwen%&sort=-createDate&limit=20``; httpx percent-encodes the ``%``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

# Matched by the server in this order; the unary ones take no value.
OPERATORS = ("!=", ">=", "<=", "!?=", "!~=", "~=", "?=", "=", ">", "<")
UNARY_OPERATORS = ("is null", "not null")


@dataclass(frozen=True)
class Query:
    """Conditions (ANDed), paging, sorting and projection for a ZStack query."""

    conditions: tuple[str, ...] = ()
    limit: int | None = None
    start: int | None = None
    count: bool = False
    reply_with_count: bool = False
    sort: str | None = None
    fields: tuple[str, ...] = field(default_factory=tuple)

    def where(self, name: str, op: str, value: str | int | list[str] | None = None) -> Query:
        """Add ``name<op>value``; ``?=``/``!?=`` take a list, ``is null``/``not null`` nothing."""
        if op in UNARY_OPERATORS:
            return replace(self, conditions=(*self.conditions, f"{name} {op}"))
        if op not in OPERATORS:
            raise ValueError(f"unknown query operator {op!r}")
        if value is None:
            raise ValueError(f"operator {op!r} needs a value")
        text = ",".join(value) if isinstance(value, list) else str(value)
        return replace(self, conditions=(*self.conditions, f"{name}{op}{text}"))

    def page(self, *, limit: int, start: int = 0, with_total: bool = True) -> Query:
        return replace(self, limit=limit, start=start, reply_with_count=with_total)

    def sorted(self, order: str) -> Query:
        """``+field`` ascending, ``-field`` descending."""
        return replace(self, sort=order)

    def only(self, *names: str) -> Query:
        return replace(self, fields=tuple(names))

    def to_params(self) -> list[tuple[str, str]]:
        params = [("q", condition) for condition in self.conditions]
        if self.limit is not None:
            params.append(("limit", str(self.limit)))
        if self.start is not None:
            params.append(("start", str(self.start)))
        if self.count:
            params.append(("count", "true"))
        if self.reply_with_count:
            params.append(("replyWithCount", "true"))
        if self.sort:
            params.append(("sort", self.sort))
        if self.fields:
            params.append(("fields", ",".join(self.fields)))
        return params


def like_contains(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere (``%text%``)."""
    return f"%{text}%"


# Inside a condition's value these characters change how ZStack reads it: "!", "<" and ">" begin
# the operators tried before "~=" and "=" (a value holding "!=" or ">=" is split there: 503
# SYS.1007), "~" and "?" those tried before "=", and in a LIKE "%" and "_" are wildcards and "\"
# is MySQL's escape. Text holding them is searched by its longest fragment without them, and the
# answers are filtered here.
_LIKE_UNSAFE = re.compile(r"[!<>%_\\]")
_EQUALS_UNSAFE = re.compile(r"[!<>~?]")
# In an IN list "," also separates the values.
_IN_UNSAFE = re.compile(r"[!<>~?,]")

NameTest = Callable[[str], bool]


def name_search(text: str, *, exact: bool) -> tuple[Query, NameTest | None]:
    """A query for model services named ``text`` (``exact``) or whose name contains it, taken
    literally, and the test the answers must still pass here (None: ZStack's answer is exact)."""
    if exact and not _EQUALS_UNSAFE.search(text):
        return Query().where("name", "=", text), None
    if not exact and not _LIKE_UNSAFE.search(text):
        return Query().where("name", "~=", like_contains(text)), None
    fragment = max(_LIKE_UNSAFE.split(text), key=len)
    query = Query().where("name", "~=", like_contains(fragment)) if fragment else Query()
    wanted = text.casefold()  # like MySQL's case-insensitive default collation

    def matches(name: str) -> bool:
        found = name.casefold()
        return found == wanted if exact else wanted in found

    return query, matches


def names_in(names: list[str]) -> Query | None:
    """A query for model services named any of ``names``, or None when one of them cannot be
    said literally in an IN list (then each is asked for by ``name_search``)."""
    if not names or any(not name or _IN_UNSAFE.search(name) for name in names):
        return None
    return Query().where("name", "?=", names)
