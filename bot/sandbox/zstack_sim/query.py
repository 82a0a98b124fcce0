"""The query-string grammar of ZStack's RestServer (reference §5) and an evaluator for it.

Parsing follows ``RestServer.handleQueryApi``: the first operator (in the fixed order below) that
occurs anywhere in a ``q`` value splits it, like Apache's ``splitByWholeSeparator(cond, op, 2)``;
the field name is trimmed, the value is not. Syntax problems are 400 plain text (``RestError``);
a condition on a field the inventory lacks is a business failure (503 SYS.1007), as in ZStack's
query facade. Strings compare case-insensitively, like MySQL's default ``*_general_ci`` collation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from bot.sandbox.zstack_sim.errors import RestError, argument_invalid
from bot.sandbox.zstack_sim.models import (
    IMAGE_CLASS,
    INVENTORY_CLASS,
    INVENTORY_FIELDS,
    NESTED_FIELDS,
    PRIMITIVE_KINDS,
    FieldKind,
)
from bot.zstack.models import parse_zstack_date

DEFAULT_LIMIT = 1000
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_JAVA_INT = re.compile(r"^[+-]?\d+$")


class QueryOp(Enum):
    """Operators in the order the server tries them (a contained operator comes later)."""

    NOT_EQ = "!="
    GT_AND_EQ = ">="
    LT_AND_EQ = "<="
    NOT_IN = "!?="
    NOT_LIKE = "!~="
    LIKE = "~="
    IN = "?="
    EQ = "="
    GT = ">"
    LT = "<"
    IS_NULL = "is null"
    NOT_NULL = "not null"


_VALID_OPS = "[" + ", ".join(op.value for op in QueryOp) + "]"


@dataclass(frozen=True)
class Condition:
    name: str
    op: QueryOp
    value: str | None  # None for IS_NULL / NOT_NULL


@dataclass(frozen=True)
class QuerySpec:
    conditions: tuple[Condition, ...] = ()
    limit: int = DEFAULT_LIMIT
    start: int = 0
    count: bool = False
    reply_with_count: bool = False
    sort_by: str | None = None
    sort_desc: bool = False
    fields: tuple[str, ...] | None = None


# -- parsing ----------------------------------------------------------------------------------


def split_whole_separator(text: str, sep: str, max_parts: int) -> list[str]:
    """Apache ``splitByWholeSeparator``: empty tokens dropped, the last one takes the rest."""
    parts: list[str] = []
    begin = 0
    while begin < len(text):
        end = text.find(sep, begin)
        if end < 0:
            parts.append(text[begin:])
            break
        if end > begin:
            if len(parts) + 1 == max_parts:
                parts.append(text[begin:])
                break
            parts.append(text[begin:end])
        begin = end + len(sep)
    return parts


def java_split_comma(text: str) -> list[str]:
    """Java ``String.split(",")``: trailing empty strings removed, but ``""`` gives ``[""]``."""
    if text == "":
        return [""]
    parts = text.split(",")
    while parts and parts[-1] == "":
        parts.pop()
    return parts


def parse_condition(cond: str) -> Condition:
    op = next((o for o in QueryOp if o.value in cond), None)
    if op is None:
        raise RestError(
            400,
            f"Invalid query parameter. The '{cond}' in the parameter[q] doesn't contain any query"
            f" operator. Valid query operators are {_VALID_OPS}",
        )
    parts = split_whole_separator(cond, op.value, 2)
    if op in (QueryOp.IS_NULL, QueryOp.NOT_NULL):
        if not parts or not parts[0].strip():
            raise RestError(
                400, f"Invalid query parameter. The '{cond}' in parameter[q] has no field"
            )
        return Condition(parts[0].strip(), op, None)
    if len(parts) != 2:
        raise RestError(
            400,
            f"Invalid query parameter. The '{cond}' in parameter[q] is not a key-value pair split"
            f" by {op.name}",
        )
    return Condition(parts[0].strip(), op, parts[1])


def _java_int(name: str, text: str) -> int:
    if not _JAVA_INT.match(text) or not _INT_MIN <= int(text) <= _INT_MAX:
        raise RestError(400, f"Invalid query parameter. '{name}' must be an integer")
    return int(text)


def parse_query(items: Iterable[tuple[str, str]]) -> QuerySpec:
    """Build a QuerySpec from query-string pairs in order (first value wins for scalars)."""
    grouped: dict[str, list[str]] = {}
    for key, value in items:
        grouped.setdefault(key.strip(), []).append(value)

    conditions: list[Condition] = []
    spec: dict[str, Any] = {}
    for name, values in grouped.items():
        first = values[0].strip()
        if name == "limit":
            spec["limit"] = _java_int("limit", first)
        elif name == "start":
            spec["start"] = _java_int("start", first)
        elif name == "count":
            spec["count"] = first.lower() == "true"  # Java Boolean.valueOf
        elif name == "replyWithCount":
            spec["reply_with_count"] = first.lower() == "true"
        elif name == "sort":
            # A leading run of one sign is stripped, like StringUtils.stripStart.
            spec["sort_desc"] = first.startswith("-")
            spec["sort_by"] = first.lstrip(first[0]) if first[:1] in ("+", "-") else first
        elif name == "q":
            conditions.extend(parse_condition(cond) for cond in values)
        elif name == "fields":
            fields = tuple(f.strip() for f in java_split_comma(first) if f.strip())
            if not fields:
                raise RestError(400, "Invalid query parameter. 'fields' contains zero field")
            spec["fields"] = fields
        # groupBy, filterName and unknown parameters are accepted and ignored.
    return QuerySpec(conditions=tuple(conditions), **spec)


# -- evaluation -------------------------------------------------------------------------------


def _no_field(name: str) -> Exception:
    return argument_invalid(
        f"condition name[{name}] is invalid, no such field on inventory class[{INVENTORY_CLASS}]"
    )


def _resolve(name: str) -> tuple[str, str | None, FieldKind]:
    """``field`` or ``nested.field`` → (top field, sub field, kind of the compared value)."""
    top, _, sub = name.partition(".")
    kind = INVENTORY_FIELDS.get(top)
    if kind is None:
        raise _no_field(name)
    if kind is FieldKind.NESTED:
        sub_kind = NESTED_FIELDS[top].get(sub) if sub else None
        if sub_kind is None:
            raise _no_field(name)
        return top, sub, sub_kind
    if sub or kind is FieldKind.MAP:
        raise _no_field(name)
    return top, None, kind


def _coerce(raw: str, kind: FieldKind, name: str) -> Any:
    """The condition text as the field's type; a bad value is an invalid argument."""
    try:
        if kind is FieldKind.INT:
            return int(raw.strip())
        if kind is FieldKind.BOOL:
            if raw.strip().lower() not in ("true", "false"):
                raise ValueError(raw)
            return raw.strip().lower() == "true"
        if kind is FieldKind.DATE:
            text = raw.strip()
            if text.isdigit():  # epoch milliseconds, as SDKs sometimes send
                return datetime.fromtimestamp(int(text) / 1000)
            return parse_zstack_date(text)
    except (ValueError, OverflowError, OSError) as exc:
        raise argument_invalid(
            f"invalid value[{raw}] of condition[{name}], it cannot be converted to {kind.value}"
        ) from exc
    return raw.casefold()


def _norm(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def _like_regex(pattern: str) -> re.Pattern[str]:
    """SQL LIKE: ``%`` any run, ``_`` one char, backslash escapes (MySQL's default)."""
    out: list[str] = []
    chars = iter(pattern)
    for ch in chars:
        if ch == "\\":
            out.append(re.escape(next(chars, "\\")))
        elif ch == "%":
            out.append(".*")
        elif ch == "_":
            out.append(".")
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out), re.DOTALL | re.IGNORECASE)


@dataclass(frozen=True)
class _Matcher:
    top: str
    sub: str | None
    kind: FieldKind
    op: QueryOp
    operand: Any  # coerced value, list of values (IN), or compiled regex (LIKE)

    @classmethod
    def build(cls, cond: Condition) -> _Matcher:
        top, sub, kind = _resolve(cond.name)
        operand: Any = None
        if cond.value is not None:
            if cond.op in (QueryOp.IN, QueryOp.NOT_IN):
                operand = [_coerce(v, kind, cond.name) for v in java_split_comma(cond.value)]
            elif cond.op in (QueryOp.LIKE, QueryOp.NOT_LIKE):
                operand = _like_regex(cond.value)
            else:
                operand = _coerce(cond.value, kind, cond.name)
        return cls(top, sub, kind, cond.op, operand)

    def _one(self, value: Any) -> bool:
        """SQL semantics for one value: NULL only satisfies IS NULL."""
        if self.op is QueryOp.IS_NULL:
            return value is None
        if self.op is QueryOp.NOT_NULL:
            return value is not None
        if value is None:
            return False
        if self.op in (QueryOp.LIKE, QueryOp.NOT_LIKE):
            text = value if isinstance(value, str) else str(value)
            hit = self.operand.fullmatch(text) is not None
            return hit if self.op is QueryOp.LIKE else not hit
        v = _norm(value)
        if self.op is QueryOp.IN:
            return v in self.operand
        if self.op is QueryOp.NOT_IN:
            return v not in self.operand
        return _compare(self.op, v, self.operand)

    def matches(self, row: dict[str, Any]) -> bool:
        value = row.get(self.top)
        if self.sub is not None:
            # Joined rows: the service matches when one of its images does.
            return any(self._one(item.get(self.sub)) for item in value or [])
        if self.kind is FieldKind.STR_LIST:
            if value is None:
                return self._one(None)
            return any(self._one(item) for item in value)
        return self._one(value)


def _compare(op: QueryOp, left: Any, right: Any) -> bool:
    if op is QueryOp.EQ:
        return bool(left == right)
    if op is QueryOp.NOT_EQ:
        return bool(left != right)
    try:
        if op is QueryOp.GT:
            return bool(left > right)
        if op is QueryOp.LT:
            return bool(left < right)
        if op is QueryOp.GT_AND_EQ:
            return bool(left >= right)
        return bool(left <= right)
    except TypeError:
        return False


def _sort_key(field: str) -> Any:
    def key(row: dict[str, Any]) -> tuple[int, Any]:
        value = row.get(field)
        return (0, "") if value is None else (1, _norm(value))  # NULLs first, as in MySQL

    return key


def run_query(spec: QuerySpec, rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """Filter, sort and page typed inventory rows; returns (page, total matching)."""
    matchers = [_Matcher.build(c) for c in spec.conditions]
    if spec.limit < 0 or spec.start < 0:
        raise argument_invalid("'limit' and 'start' of a query cannot be negative")
    if spec.sort_by is not None:
        _, sub, kind = _resolve(spec.sort_by)
        if sub is not None or kind not in PRIMITIVE_KINDS:
            raise argument_invalid(f"cannot sort by field[{spec.sort_by}], it is not a primitive")
    if spec.fields is not None:
        for name in spec.fields:
            if INVENTORY_FIELDS.get(name) not in PRIMITIVE_KINDS:
                raise argument_invalid(
                    f"field[{name}] is not a primitive of the inventory {INVENTORY_CLASS}; you"
                    " cannot specify it in the parameter 'fields'"
                )
    hits = [row for row in rows if all(m.matches(row) for m in matchers)]
    if spec.sort_by is not None:
        hits.sort(key=_sort_key(spec.sort_by), reverse=spec.sort_desc)
    page = hits[spec.start : spec.start + spec.limit]
    if spec.fields is not None:
        page = [{k: v for k, v in row.items() if k in spec.fields} for row in page]
    return page, len(hits)


def build_schema(inventories: list[dict[str, Any]]) -> dict[str, str]:
    """JsonSchemaBuilder's map of JSON path → Java class for the objects in a query reply."""
    schema: dict[str, str] = {}
    for i, inv in enumerate(inventories):
        for j, _ in enumerate(inv.get("modelServiceImages") or []):
            schema[f"inventories[{i}].modelServiceImages[{j}]"] = IMAGE_CLASS
        schema[f"inventories[{i}]"] = INVENTORY_CLASS
    return schema
