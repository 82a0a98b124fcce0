"""Reading ZStack's answers: failure statuses and transport errors as ``bot.errors.ZStackError``
subclasses, JSON bodies, inventories, and the results and errors of finished jobs.

ZStack answers a failed API call with HTTP 503 and ``{"error": ErrorCode}`` (reference §4.1);
other 4xx/5xx statuses come from its REST layer or a proxy in front of it, in plain text. Every
httpx exception maps to ``ZStackTimeout``, ``ZStackConnectError`` or ``ZStackUnavailable``, with
``maybe_received`` saying whether ZStack may have acted on the request. Messages quote at most an
excerpt of a body and never a session UUID.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from bot.errors import (
    ZStackAPIError,
    ZStackConnectError,
    ZStackError,
    ZStackProtocolError,
    ZStackRESTError,
    ZStackSessionInvalid,
    ZStackTimeout,
    ZStackUnavailable,
)
from bot.zstack.models import ErrorCode, ModelServiceInventory

# An invalid or expired session: the classic code, and the global code of newer releases, in
# ``code`` or in ``globalErrorCode`` (reference §4.3; ZStack's own MCP client accepts all four).
SESSION_INVALID_CODES = frozenset({"ID.1001", "ORG_ZSTACK_IDENTITY_10020"})
# Characters of a body quoted in an error.
EXCERPT_CHARS = 500

# Everything httpx raises (its HTTPError tree, plus the errors outside it).
HTTPX_ERRORS = (httpx.HTTPError, httpx.StreamError, httpx.InvalidURL, httpx.CookieConflict)

M = TypeVar("M", bound=BaseModel)


def raise_for_status(operation: str, response: httpx.Response, *, job_poll: bool) -> None:
    """Map ZStack's failure answers to our errors; 404 on a job poll is left to the caller."""
    status = response.status_code
    if status == 503:
        # ZStack's failure answer (reference §4.1): final, even when its body is unreadable.
        error = _error_of(response) or _unreadable_failure(response)
        cls = ZStackSessionInvalid if is_session_invalid(error) else ZStackAPIError
        raise cls(operation=operation, status=status, error=error)
    if status >= 400 and not (status == 404 and job_poll):
        raise ZStackRESTError(operation=operation, status=status, text=_excerpt(response))


def transport_error(operation: str, base_url: str, exc: Exception) -> ZStackError:
    """Our error for an httpx exception (one of ``HTTPX_ERRORS``); raise it ``from None``."""
    if isinstance(exc, httpx.TimeoutException):
        never_sent = isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout)
        return ZStackTimeout(
            f"{operation}: ZStack did not answer in time ({type(exc).__name__})",
            operation=operation,
            maybe_received=not never_sent,
        )
    if isinstance(exc, httpx.ConnectError):
        return ZStackConnectError(
            f"{operation}: cannot connect to ZStack at {base_url} ({_reason(exc)})",
            operation=operation,
        )
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return ZStackConnectError(
            f"{operation}: invalid ZStack URL ({_reason(exc)})", operation=operation
        )
    return ZStackUnavailable(
        f"{operation}: connection to ZStack failed ({type(exc).__name__})",
        operation=operation,
        maybe_received=True,
    )


def is_session_invalid(error: ErrorCode) -> bool:
    """Whether ZStack says the session is invalid or expired (in any form it has used)."""
    return bool({error.code, error.global_error_code} & SESSION_INVALID_CODES)


def _unreadable_failure(response: httpx.Response) -> ErrorCode:
    """A 503 whose body is not ZStack's ``{"error": …}`` (cut off, HTML from a proxy): the
    status and the body's first line, readable for the user."""
    first = next((line.strip() for line in _excerpt(response).splitlines() if line.strip()), "")
    return ErrorCode(
        description=f"ZStack answered HTTP {response.status_code}",
        details=first[:300] or "(empty body)",
    )


def expect_json(operation: str, response: httpx.Response) -> dict[str, Any]:
    """A 200 body as a JSON object (an empty body counts as ``{}``)."""
    if response.status_code != 200:
        raise protocol_error(operation, response, f"unexpected HTTP {response.status_code}")
    if not response.content.strip():
        return {}
    data = json_or_none(response)
    if not isinstance(data, dict):
        raise protocol_error(operation, response, "the reply is not a JSON object")
    return data


def read_model(operation: str, model: type[M], data: Any, response: httpx.Response) -> M:
    """``data`` (an inventory in ``response``'s body) as ``model``; unreadable: a protocol error."""
    if not isinstance(data, dict):
        raise protocol_error(operation, response, "the reply has no inventory")
    try:
        return model.model_validate(data)
    except ValidationError:
        raise protocol_error(operation, response, "the inventory cannot be read") from None


def parse_clone_result(result: dict[str, Any]) -> ModelServiceInventory:
    """The inventory of a finished clone job (poll 200 body or webhook body)."""
    data = result.get("inventory")
    if not isinstance(data, dict):
        raise ZStackProtocolError(
            "CloneModelService: the job result has no inventory",
            operation="CloneModelService",
            status=200,
            body_excerpt=json.dumps(result)[:EXCERPT_CHARS],
        )
    return ModelServiceInventory.model_validate(data)


def parse_job_error(body: Any) -> ErrorCode | None:
    """The ErrorCode of a failed job body (``{"error": ...}``), if there is one."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return ErrorCode.from_wire(body["error"])
    return None


def json_or_none(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None


def _error_of(response: httpx.Response) -> ErrorCode | None:
    return parse_job_error(json_or_none(response))


def _excerpt(response: httpx.Response) -> str:
    text = response.content[: EXCERPT_CHARS * 4].decode("utf-8", errors="replace").strip()
    return text[:EXCERPT_CHARS] or f"HTTP {response.status_code} with an empty body"


def protocol_error(operation: str, response: httpx.Response, why: str) -> ZStackProtocolError:
    return ZStackProtocolError(
        f"{operation}: {why}",
        operation=operation,
        status=response.status_code,
        body_excerpt=_excerpt(response),
    )


def _reason(exc: Exception) -> str:
    text = str(exc).strip()
    return text[:200] if text else type(exc).__name__
