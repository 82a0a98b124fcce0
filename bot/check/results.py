"""The lines of the ``clone-bot check`` report: a status, what was checked, and what to fix."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One line of the report: ``fix`` says what to do (WARN and FAIL only)."""

    status: Status
    name: str
    detail: str
    fix: str | None = None


def ok(name: str, detail: str) -> CheckResult:
    return CheckResult(Status.OK, name, detail)


def warn(name: str, detail: str, fix: str) -> CheckResult:
    return CheckResult(Status.WARN, name, detail, fix)


def fail(name: str, detail: str, fix: str) -> CheckResult:
    return CheckResult(Status.FAIL, name, detail, fix)


def first_line(exc: BaseException) -> str:
    """An exception's first line, short enough for one report line."""
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__
