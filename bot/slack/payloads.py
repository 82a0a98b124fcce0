"""The parts of Slack's payloads the listeners read, checked before any listener runs.

Slack documents these shapes (reference slack-platform.md §2–§6); a payload that lacks them is not
one Slack would send, whoever signed it. ``shape_problem`` names what is wrong; such a payload is
refused before Bolt dispatches it (Bolt itself reads ``view.type`` and the like while building a
listener's arguments), over HTTP (``bot.slack.gate``) and Socket Mode (``CheckedSocketModeHandler``)
alike, so a ``KeyError`` never turns into a 500.

Who acted and through which workspace are Bolt's ``context.user_id`` / ``context.team_id``
(``acting_user``, ``installing_workspace``); where a decision hangs on them, ``interaction_actor``
and ``message_author`` add the checks that keep other organisations, bots and edits out.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictStr,
    StringConstraints,
    ValidationError,
    model_validator,
)
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest

from bot.requests.policy import Actor

logger = logging.getLogger(__name__)

# Slack's ids (users, teams, channels, enterprises) are short upper-case alphanumerics; they go
# into Redis key names, which must not carry braces, colons or whitespace.
_SLACK_ID = re.compile(r"^[A-Z0-9]{1,40}$")
SlackId = Annotated[str, StringConstraints(pattern=_SLACK_ID.pattern)]


class _Part(BaseModel):
    model_config = ConfigDict(extra="allow")


class _User(_Part):
    id: SlackId
    team_id: SlackId | None = None


class _Team(_Part):
    id: SlackId | None = None


class _Action(_Part):
    action_id: str
    block_id: str | None = None
    value: str | None = None


class _ViewState(_Part):
    values: dict[str, dict[str, dict[str, Any]]] = Field(default_factory=dict)


class _View(_Part):
    id: str = Field(min_length=1, max_length=64)
    hash: str | None = None
    type: str  # Bolt reads it to tell workflow steps from modals
    callback_id: str = ""
    private_metadata: str | None = None
    state: _ViewState = Field(default_factory=_ViewState)


class _Interaction(_Part):
    user: _User
    team: _Team | None = None
    trigger_id: str | None = None
    channel: dict[str, Any] | None = None
    container: dict[str, Any] | None = None
    response_url: str | None = None

    @model_validator(mode="after")
    def _has_a_workspace(self) -> _Interaction:
        # Whose workspace: sessions and requests are kept per (team, user).
        if not (self.user.team_id or (self.team and self.team.id)):
            raise ValueError("no team")
        return self


class _BlockActions(_Interaction):
    actions: list[_Action] = Field(min_length=1)
    view: _View | None = None
    trigger_id: str = Field(min_length=1)  # Slack sends one with every click


class _ViewSubmission(_Interaction):
    view: _View


class _Suggestion(_Interaction):
    action_id: str
    value: str = ""


class _Event(_Part):
    type: str
    user: SlackId | None = None
    channel: str | None = None
    text: str | None = None
    thread_ts: str | None = None
    tab: str | None = None


class _EventCallback(_Part):
    event: _Event
    event_id: str = Field(min_length=1)
    team_id: SlackId


class _Command(_Part):
    command: str
    user_id: SlackId
    team_id: SlackId
    channel_id: SlackId | None = None
    text: str = ""
    trigger_id: str = Field(min_length=1)
    response_url: str | None = None


Text = StrictStr | None
Obj = dict[str, Any] | None


class _Envelope(_Part):
    """What Bolt itself reads from any payload (context ids, self-event checks): each of these
    keys, when present, has the type Slack gives it."""

    type: Text = None
    token: Text = None
    team_id: Text = None
    user_id: Text = None
    channel_id: Text = None
    enterprise_id: Text = None
    api_app_id: Text = None
    trigger_id: Text = None
    command: Text = None
    text: Text = None
    response_url: Text = None
    callback_id: Text = None
    event_id: Text = None
    is_enterprise_install: bool | StrictStr | None = None
    team: Obj | StrictStr = None
    enterprise: Obj | StrictStr = None
    user: Obj | StrictStr = None
    channel: Obj | StrictStr = None
    # Never null when present (Bolt reads them as objects without a check).
    event: dict[str, Any] = Field(default_factory=dict)
    view: dict[str, Any] = Field(default_factory=dict)
    container: dict[str, Any] = Field(default_factory=dict)
    message: dict[str, Any] = Field(default_factory=dict)
    actions: list[dict[str, Any]] = Field(default_factory=list)
    authorizations: list[dict[str, Any]] = Field(default_factory=list)
    response_urls: list[dict[str, Any]] = Field(default_factory=list)


_SHAPES: dict[str, type[_Part]] = {
    "block_actions": _BlockActions,
    "view_submission": _ViewSubmission,
    "view_closed": _ViewSubmission,
    "block_suggestion": _Suggestion,
    "shortcut": _Interaction,
    "message_action": _Interaction,
    "event_callback": _EventCallback,
}


# Where Slack's response_urls point (commercial and GovSlack); the configured Web API host too.
SLACK_RESPONSE_HOSTS = frozenset({"hooks.slack.com", "hooks.slack-gov.com"})


def response_url_check(api_url: str) -> Callable[[str], bool]:
    """Whether a ``response_url`` is Slack's: https on Slack's hooks host, or the configured Web
    API's own scheme and host (an emulator, a proxy). Any other URL is never called."""
    api = urlsplit(api_url)

    def trusted(url: str) -> bool:
        try:
            parts = urlsplit(url)
            netloc = (parts.hostname or "", parts.port)
        except ValueError:
            return False
        if parts.scheme == "https" and netloc[0] in SLACK_RESPONSE_HOSTS and netloc[1] is None:
            return True
        return (parts.scheme, netloc) == (api.scheme, (api.hostname or "", api.port))

    return trusted


def shape_problem(
    payload: dict[str, Any], trusted_response_url: Callable[[str], bool] | None = None
) -> str | None:
    """None when the payload has every part our listeners read, else what is missing. With
    ``trusted_response_url``, every ``response_url`` it names must pass it: the bot posts to
    those URLs, so it posts only where Slack's own hooks live."""
    try:
        envelope = _Envelope.model_validate(payload)
    except ValidationError as exc:
        return _where("payload", exc)
    if trusted_response_url is not None:
        urls = [envelope.response_url or ""] + [
            str(entry.get("response_url") or "") for entry in envelope.response_urls
        ]
        if any(url and not trusted_response_url(url) for url in urls):
            return "payload: response_url outside Slack"
    kind = payload.get("type")
    if kind is None and "command" in payload:
        shape: type[_Part] | None = _Command
    elif kind is None and "ssl_check" in payload:
        return None  # Slack's check of a slash command's HTTPS endpoint: Bolt answers it
    elif kind is None:
        return "payload: neither a command nor a typed payload"
    elif kind == "url_verification":
        return None if isinstance(payload.get("challenge"), str) else "url_verification: challenge"
    else:
        shape = _SHAPES.get(kind) if isinstance(kind, str) else None
    if shape is None:
        return None  # a payload type nothing listens to: Bolt answers 404
    try:
        shape.model_validate(payload)
    except ValidationError as exc:
        return _where(str(kind or "command"), exc)
    return None


def _where(kind: str, error: ValidationError) -> str:
    first = error.errors()[0]
    return f"{kind}: " + (".".join(str(part) for part in first["loc"]) or "payload")


def acting_user(context: AsyncBoltContext) -> str:
    """Who acted, as Bolt read it (``user.id``, ``user_id``, ``event.user``), or "" for nobody.
    The door (``shape_problem``) guarantees one for commands and interactions."""
    return context.user_id or ""


def installing_workspace(context: AsyncBoltContext) -> str:
    """The installing workspace a payload came through, as Bolt read it (sessions and requests
    are kept per workspace); the door guarantees one for every payload a listener gets."""
    return context.team_id or ""


def interaction_actor(body: dict[str, Any], context: AsyncBoltContext) -> Actor:
    """Who clicked or submitted, with the workspace they belong to.

    Bolt's ``context.team_id`` is the installation's (``view.app_installed_team_id``, then
    ``team.id``); a Slack Connect guest's own workspace is only in ``user.team_id``. That one
    comes first, so that the policy sees the guest and refuses them."""
    user = body.get("user")
    own_team = user.get("team_id") if isinstance(user, dict) else None
    return Actor(
        team_id=str(own_team or installing_workspace(context)), user_id=acting_user(context)
    )


def message_author(event: dict[str, Any], context: AsyncBoltContext) -> Actor | None:
    """The person of the installing workspace who wrote a message event, or None: bot posts,
    edits, deletions and other subtypes, events without a user id and messages written from
    another organisation never speak for anyone.

    Bolt's context alone would accept some of these, so the checks stay on top of it: its
    ``user_id`` falls back to an edit's or a deletion's nested message, and its ``team_id`` is
    the installation's whoever wrote (the writer's organisation is in ``user_team`` / ``team``)."""
    if event.get("subtype") or event.get("bot_id") or event.get("bot_profile"):
        return None
    user = acting_user(context)
    if user != event.get("user") or not _SLACK_ID.match(user):
        return None
    installation = installing_workspace(context)
    teams = {str(t) for t in (event.get("user_team"), event.get("team")) if t}
    if not installation or teams - {installation}:
        return None  # written from another organisation (Slack Connect)
    return Actor(team_id=installation, user_id=user)


class CheckedSocketModeHandler(AsyncSocketModeHandler):
    """Socket Mode with the same check as the HTTP door: a malformed envelope is logged and
    dropped unacknowledged instead of reaching Bolt."""

    def __init__(self, *args: Any, trusted_response_url: Callable[[str], bool], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._trusted_response_url = trusted_response_url

    async def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]  # Bolt narrows it the same way
        payload = req.payload if isinstance(req.payload, dict) else {}
        problem = (
            shape_problem(payload, self._trusted_response_url) if payload else "not a JSON object"
        )
        if problem is not None:
            logger.warning("dropped a malformed Socket Mode envelope", extra={"where": problem})
            return
        await super().handle(client, req)
