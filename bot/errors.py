"""The bot's exception tree. Everything the bot raises on purpose derives from ``BotError``.

::

    BotError
    ├── ConfigError                 bad settings; one line per problem
    ├── ZStackError                 anything that went wrong talking to ZStack
    │   ├── ZStackUnavailable       no usable answer; ``maybe_received``: could it have landed?
    │   │   ├── ZStackConnectError  refused / DNS / TLS: the request was never received
    │   │   └── ZStackTimeout       no answer in time
    │   ├── ZStackProtocolError     an answer we cannot read (garbage JSON, unexpected status)
    │   ├── ZStackRESTError         ZStack's REST layer refused the request (plain-text 4xx/5xx)
    │   └── ZStackAPIError          a business failure: 503 with an ErrorCode (``error``)
    │       └── ZStackSessionInvalid    ID.1001: the session is unknown or expired
    ├── SessionError                the Slack user's ZStack session cannot be used
    │   ├── NotLoggedIn             no session in the map
    │   └── SessionExpired          ZStack no longer accepts it
    ├── JobError                    following an async ZStack job
    │   ├── JobNotFound             404: unknown or purged (results are kept 3 h)
    │   └── JobTimeout              gave up waiting
    ├── RequestError                a clone request's record
    │   ├── RequestNotFound         no such request (never created, or past its retention)
    │   ├── ConcurrentUpdate        it kept changing under us; nothing was applied
    │   ├── IllegalTransition       a change its event does not lead to (a bug; never applied)
    │   ├── ResubmitRefused         that request may not be replaced (any more): ``why``
    │   └── RequestDenied           an approval rule refuses the request: ``rule.deny``
    ├── DecryptError                a stored secret opens with none of the configured keys
    ├── SlackError                  a Slack Web API call failed (``method``, ``code``)
    │   ├── SlackRateLimited        429: ``retry_after_s``
    │   └── DeliveryPending         a notice could not be delivered yet; it is tried again
    └── StoreUnavailable            Redis cannot be reached

``SlackError`` is made in one place, ``bot.slack.client.slack_errors``, from slack_sdk's
``SlackApiError`` and from transport failures (no connection, timeout); nothing else catches
slack_sdk's exceptions. Outside the tree, on purpose: the clone form's field rules raise
``ValueError`` subclasses (``bot.ui.clone_rules.Problem``), which pydantic turns into field
errors; they never leave validation.

Messages never contain session UUIDs, passwords or tokens: callers put identifiers in
attributes, and only what is safe to show in ``str(exc)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.i18n import Msg
    from bot.requests.rules import AppliedRule
    from bot.zstack.models import ErrorCode


class BotError(Exception):
    """Root of every error the bot raises on purpose."""


class ConfigError(BotError):
    """Settings that cannot work; ``problems`` holds one human line each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


class ZStackError(BotError):
    """Talking to ZStack failed. ``operation`` names the API (e.g. ``CloneModelService``)."""

    def __init__(self, message: str, *, operation: str) -> None:
        self.operation = operation
        super().__init__(message)


class ZStackUnavailable(ZStackError):
    """No usable answer. ``maybe_received`` is True when ZStack may have got the request anyway."""

    def __init__(self, message: str, *, operation: str, maybe_received: bool = True) -> None:
        self.maybe_received = maybe_received
        super().__init__(message, operation=operation)


class ZStackConnectError(ZStackUnavailable):
    """The connection could not be made, so ZStack never saw the request."""

    def __init__(self, message: str, *, operation: str) -> None:
        super().__init__(message, operation=operation, maybe_received=False)


class ZStackTimeout(ZStackUnavailable):
    """No answer in time; ``maybe_received`` is False only if the connection never opened."""


class ZStackProtocolError(ZStackError):
    """ZStack answered with something we cannot interpret."""

    def __init__(self, message: str, *, operation: str, status: int, body_excerpt: str) -> None:
        self.status = status
        self.body_excerpt = body_excerpt
        super().__init__(message, operation=operation)


class ZStackRESTError(ZStackError):
    """ZStack's REST layer refused the request with a plain-text body (400/404/405/500...)."""

    def __init__(self, *, operation: str, status: int, text: str) -> None:
        self.status = status
        self.text = text
        super().__init__(f"{operation}: HTTP {status}: {text}", operation=operation)


class ZStackAPIError(ZStackError):
    """A business failure reported by ZStack as ``{"error": ErrorCode}`` (HTTP 503)."""

    def __init__(self, *, operation: str, status: int, error: ErrorCode) -> None:
        self.status = status
        self.error = error
        super().__init__(f"{operation}: {error.summary()}", operation=operation)

    @property
    def code(self) -> str | None:
        return self.error.code


class ZStackSessionInvalid(ZStackAPIError):
    """ID.1001: the session UUID is unknown to ZStack or has expired."""


class SessionError(BotError):
    """The Slack user's ZStack session cannot be used."""


class NotLoggedIn(SessionError):
    """No ZStack session is stored for this Slack user."""


class SessionExpired(SessionError):
    """A session was stored but ZStack no longer accepts it."""


class JobError(BotError):
    """Following an asynchronous ZStack job failed."""

    def __init__(self, message: str, *, job_uuid: str) -> None:
        self.job_uuid = job_uuid
        super().__init__(message)


class JobNotFound(JobError):
    """ZStack does not know the job (never accepted, or its result was purged after 3 h)."""


class JobTimeout(JobError):
    """The job did not finish within the allowed time."""


class StoreUnavailable(BotError):
    """Redis cannot be reached or answered with an error."""


class DecryptError(BotError):
    """A value cannot be decrypted with any configured key (rotated away, or corrupted)."""


class RequestError(BotError):
    """Reading or changing a clone request's record failed."""


class RequestNotFound(RequestError):
    """No request with that id (never created, or its retention ran out)."""


class ConcurrentUpdate(RequestError):
    """The request kept changing under us; the transition was not applied."""


class IllegalTransition(RequestError):
    """A change proposed a state its event does not lead to (a bug, never applied)."""


class RequestDenied(RequestError):
    """The approval rule the request meets refuses it (``rule.deny`` says why)."""

    def __init__(self, rule: AppliedRule) -> None:
        self.rule = rule
        super().__init__(f"denied by rule {rule.name}")


class ResubmitRefused(RequestError):
    """An edited resubmission may not replace its request (any more); ``why`` says why, in
    words for the requester."""

    def __init__(self, why: Msg) -> None:
        self.why = why
        super().__init__(why.template)


# Slack error codes that trying again cannot fix.
PERMANENT_SLACK_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "message_not_found",
        "cant_update_message",
        "invalid_blocks",
        "msg_too_long",
        "user_not_found",
        "cannot_dm_bot",
        "invalid_auth",
        "account_inactive",
        "token_revoked",
    }
)


class SlackError(BotError):
    """A Slack Web API call failed: Slack's error code, or ``connection`` / ``timeout``."""

    def __init__(self, method: str, code: str) -> None:
        self.method = method
        self.code = code
        super().__init__(f"Slack {method}: {code}")

    @property
    def permanent(self) -> bool:
        """Whether trying again cannot help (the channel is gone, the bot not in it, ...)."""
        return self.code in PERMANENT_SLACK_ERRORS


class SlackRateLimited(SlackError):
    """Slack answered 429, or the method's turn is further off than the caller would wait (no
    call was made either way: nothing was posted)."""

    def __init__(self, method: str, retry_after_s: float) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(method, "ratelimited")


class DeliveryPending(SlackError):
    """Some notice could not be delivered for now; its effect stays for another try."""

    def __init__(self, request_id: str, code: str = "pending", retry_after_s: float = 0.0) -> None:
        self.request_id = request_id
        self.retry_after_s = retry_after_s  # a rate limit: not before this many seconds
        super().__init__("delivery", code)
