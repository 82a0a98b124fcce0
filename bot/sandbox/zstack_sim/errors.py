"""How ZStack fails (reference §4): plain-text REST errors, and 503 ``{"error": ErrorCode}``.

``RestError`` is a REST-layer refusal (400/404/405/500 with a plain-text body). ``ApiFailure`` is
a business failure carrying an ErrorCode; a sync API answers it as 503 and an async job ends with
it. The builders below produce the codes and wording of ZStack's ``conf/errorCodes`` files.
"""

from __future__ import annotations

from typing import Any

from bot.zstack.models import ErrorCode

# The message class named in argument errors; the AI module is closed source, so the package
# follows the name quoted in the brief / reference §4.4(d).
CLONE_MSG_CLASS = "org.zstack.ai.message.APICloneModelServiceMsg"

DESCRIPTIONS: dict[str, str] = {
    "SYS.1000": "An internal error happened in system",
    "SYS.1001": "A message or a operation timeout",
    "SYS.1003": "A resource can not be found",
    "SYS.1006": "An operation failed",
    "SYS.1007": "One or more API argument is invalid",
    "SYS.1014": "The operation is not implemented or not supported yet",
    "SYS.1015": "Cannot make a HTTP request",
    "ID.1000": "Unable to authenticate a user",
    "ID.1001": "The session is invalid, either wrong session id or the session has been expired",
    "ID.1002": "The user doesn't have permission to perform the operation",
    "ID.1006": "Login sessions hit limit of max allowed concurrent login sessions",
}


class RestError(Exception):
    """A REST-layer refusal: HTTP ``status`` with ``text`` as the plain-text body."""

    def __init__(self, status: int, text: str) -> None:
        self.status = status
        self.text = text
        super().__init__(f"HTTP {status}: {text}")


class ApiFailure(Exception):
    """A business failure; answered as 503 ``{"error": ...}`` (sync) or a failed job (async)."""

    def __init__(self, error: ErrorCode) -> None:
        self.error = error
        super().__init__(error.summary())


def err(code: str, details: str, cause: ErrorCode | None = None) -> ErrorCode:
    """An ErrorCode with the standard description of ``code`` (like ZStack's ``Platform.err``)."""
    return ErrorCode(code=code, description=DESCRIPTIONS.get(code), details=details, cause=cause)


def error_to_wire(error: ErrorCode) -> dict[str, Any]:
    """Serialise like Gson: nulls omitted, ``causes`` only when present (ErrorCodeList)."""
    data = error.model_dump(by_alias=True, exclude_none=True, exclude={"cause", "causes"})
    if error.cause is not None:
        data["cause"] = error_to_wire(error.cause)
    if error.causes:
        data["causes"] = [error_to_wire(c) for c in error.causes]
    return data


# How a node names an invalid session: the classic code, the classic code with the newer global
# code beside it, or the global code alone (reference §4.3: clients must accept every form).
SESSION_ERROR_STYLES = ("classic", "global", "global-code")
GLOBAL_SESSION_INVALID = "ORG_ZSTACK_IDENTITY_10020"


def session_invalid(style: str = "classic") -> ApiFailure:
    error = err("ID.1001", "Session expired")
    if style == "global":
        error.global_error_code = GLOBAL_SESSION_INVALID
    elif style == "global-code":
        error = ErrorCode(
            code=GLOBAL_SESSION_INVALID,
            description=DESCRIPTIONS["ID.1001"],
            details="Session expired",
        )
    return ApiFailure(error)


def argument_invalid(details: str) -> ApiFailure:
    return ApiFailure(err("SYS.1007", details))


def mandatory(field: str, message_class: str) -> ApiFailure:
    return argument_invalid(
        f"field[{field}] of message[{message_class}] is mandatory, can not be null"
    )


def not_found(uuid: str, vo_type: str) -> ApiFailure:
    return ApiFailure(
        err("SYS.1003", f"invalid field[uuid], resource[uuid:{uuid}, type:{vo_type}] not found")
    )


def permission_denied(uuid: str, vo_type: str, account_uuid: str) -> ApiFailure:
    return ApiFailure(
        err(
            "ID.1002",
            f"operation denied. The resource[uuid: {uuid}, type: {vo_type}] doesn't belong to"
            f" the account[uuid: {account_uuid}]",
        )
    )


def default_clone_failure(source_uuid: str) -> ErrorCode:
    """A realistic three-level chain (reference §4.4(c)): operation → subsystem → HTTP."""
    return err(
        "SYS.1006",
        f"failed to clone model service[uuid:{source_uuid}]",
        cause=err(
            "SYS.1006",
            "failed to copy model service images",
            cause=err("SYS.1015", "connection refused: 10.0.0.5:8989"),
        ),
    )
