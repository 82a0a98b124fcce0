"""Logging: structlog over the standard library, configured only by the entry point.

Modules log with ``logging.getLogger(__name__)``; ``configure_logging`` renders every record as
JSON or console lines and passes each one through ``scrub`` so tokens, passwords and ZStack
session UUIDs never reach a log sink, even by accident.
"""

from __future__ import annotations

import functools
import importlib.resources
import logging
import re
import sys
from collections import OrderedDict
from collections.abc import MutableMapping
from typing import Any

import structlog

# Patterns that are secret wherever they appear.
_PATTERNS = (
    (re.compile(r"xox[abposre]-[A-Za-z0-9-]+"), "xox?-[redacted]"),
    (re.compile(r"xapp-[A-Za-z0-9-]+"), "xapp-[redacted]"),
    (re.compile(r"(OAuth\s+)[^\s\"'\\,]+", re.IGNORECASE), r"\1[redacted]"),
    (re.compile(r"(sessions/)[0-9a-fA-F]{32}"), r"\1[redacted]"),
    (
        re.compile(r"""(["']?password["']?\s*[:=]\s*["']?)[^"'\s,}&]+""", re.IGNORECASE),
        r"\1[redacted]",
    ),
)
_MAX_KNOWN = 10_000


_HEX32 = re.compile(r"[0-9a-fA-F]{32}")


class SecretRegistry:
    """Exact secret values seen by this process (tokens, session UUIDs), newest kept.

    Session UUIDs (32 hex) are found in a line with one regex pass and looked up in a set, so
    scrubbing costs the same with ten or ten thousand known sessions.
    """

    def __init__(self, limit: int = _MAX_KNOWN) -> None:
        self._values: OrderedDict[str, None] = OrderedDict()
        self._others: OrderedDict[str, None] = OrderedDict()
        self._limit = limit

    def add(self, *values: str | None) -> None:
        for value in values:
            if not value or len(value) < 8:
                continue
            bucket = self._values if _HEX32.fullmatch(value) else self._others
            bucket[value] = None
            bucket.move_to_end(value)
            while len(bucket) > self._limit:
                bucket.popitem(last=False)

    def redact(self, text: str) -> str:
        for value in self._others:
            if value in text:
                text = text.replace(value, "[redacted]")
        if self._values:
            text = _HEX32.sub(
                lambda m: "[redacted]" if m.group(0) in self._values else m.group(0), text
            )
        return text

    def __iter__(self) -> Any:
        return iter([*self._values, *self._others])


secrets = SecretRegistry()


def scrub(text: str, known: SecretRegistry | None = None) -> str:
    """``text`` with every secret pattern and every registered secret value redacted."""
    text = (secrets if known is None else known).redact(text)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _scrub_event(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> Any:
    for key, value in list(event.items()):
        if isinstance(value, str):
            event[key] = scrub(value)
        elif value is not None and not isinstance(value, int | float | bool):
            event[key] = scrub(repr(value)) if key != "exc_info" else value
    return event


def _scrub_rendered(_logger: Any, _name: str, event: Any) -> Any:
    # Tracebacks are rendered late: scrub the final line too.
    return scrub(event) if isinstance(event, str) else event


def configure_logging(level: str = "INFO", fmt: str = "console", stream: Any = None) -> None:
    """Route stdlib and structlog records through one scrubbing renderer."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _scrub_event,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _scrub_event,
            renderer,
            _scrub_rendered,
        ],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every URL at INFO (session UUIDs are in some paths); Bolt logs payloads at DEBUG.
    quiet = max(logging.WARNING, root.level)
    for noisy in ("httpx", "httpcore", "slack_bolt", "slack_sdk", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(quiet)
    for name in _slack_sdk_modules():
        logging.getLogger(name).setLevel(quiet)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


@functools.cache
def _slack_sdk_modules() -> tuple[str, ...]:
    """Every module of slack_sdk, as logger names.

    slack_sdk decides whether to format its debug lines (whole requests and responses) by its own
    module logger's ``level`` rather than the effective one: an unset level (0) passes, so the
    parent's level alone does not spare the formatting. Each module's logger gets the level itself.
    """
    root = importlib.resources.files("slack_sdk")
    names: list[str] = []
    pending = [(root, "slack_sdk")]
    while pending:
        folder, package = pending.pop()
        names.append(package)
        for entry in folder.iterdir():
            if entry.is_dir() and entry.joinpath("__init__.py").is_file():
                pending.append((entry, f"{package}.{entry.name}"))
            elif entry.name.endswith(".py") and entry.name != "__init__.py":
                names.append(f"{package}.{entry.name[:-3]}")
    return tuple(sorted(names))


def request_context(request_id: str) -> Any:
    """Within it (and in tasks started within it), every log line carries ``request_id``."""
    return structlog.contextvars.bound_contextvars(request_id=request_id)
