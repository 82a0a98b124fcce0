"""The Slack checks: the bot token, its scopes, the approval channel, and the app-level token.

``auth.test`` proves the bot token; the granted scopes come in its ``x-oauth-scopes`` header.
``conversations.history`` on the approval channel with ``oldest=now`` proves membership with the
history scopes the bot already has, and reads and posts nothing. ``apps.connections.open`` with
the app-level token proves Socket Mode (a URL is issued; no socket is opened). Every slack_sdk and
aiohttp failure becomes a FAIL or WARN line that says what to fix.
"""

from __future__ import annotations

import asyncio
import functools
import re
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import aiohttp
from slack_sdk.errors import SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.check.results import CheckResult, fail, first_line, ok, warn
from bot.config import DEFAULT_SLACK_API_URL, Settings
from bot.errors import SlackError
from bot.slack.client import slack_errors

# The bot scopes the app needs: the same list as ``oauth_config.scopes.bot`` in the manifests in
# deploy/ (a test keeps them equal; the package does not read deploy/ at run time).
REQUIRED_SCOPES: tuple[str, ...] = (
    "commands",
    "chat:write",
    "chat:write.public",
    "im:write",
    "users:read",
    "usergroups:read",
    "channels:history",
    "groups:history",
    "im:history",
)

REINSTALL = (
    "reinstall the app with the manifest (deploy/manifest.http.yaml, or manifest.socket.yaml for "
    "Socket Mode) so Slack grants every scope, then update SLACK_BOT_TOKEN if it changed"
)
# A conversation ID (public C…, private G… or C…, DM D…); names cannot be checked.
_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{2,}")


@dataclass(frozen=True, slots=True)
class _SlackFailure:
    """A Slack call that did not succeed: ``error`` is Slack's code when Slack answered."""

    detail: str
    error: str | None = None


async def _slack_call(
    call: Callable[[], Awaitable[AsyncSlackResponse]], method: str, timeout_s: float
) -> AsyncSlackResponse | _SlackFailure:
    """Run one Web API call; every failure becomes a ``_SlackFailure`` that says what went
    wrong on the way (the ``SlackError`` keeps the transport's own exception as its cause)."""
    try:
        with slack_errors(method):
            async with asyncio.timeout(timeout_s):
                return await call()
    except SlackError as exc:
        return _failure(method, exc, timeout_s)
    except (SlackClientError, OSError, ValueError) as exc:
        return _SlackFailure(f"{method}: {type(exc).__name__}: {first_line(exc)}")


def _failure(method: str, exc: SlackError, timeout_s: float) -> _SlackFailure:
    cause = exc.__cause__
    if isinstance(cause, TimeoutError):
        return _SlackFailure(f"{method}: no answer within {timeout_s:g} s")
    if isinstance(cause, aiohttp.ClientSSLError):
        return _SlackFailure(f"{method}: TLS error ({first_line(cause)})")
    if isinstance(cause, aiohttp.ClientConnectorError):
        reason = _os_reason(cause.os_error)
        return _SlackFailure(f"{method}: cannot connect to {cause.host}:{cause.port} ({reason})")
    if isinstance(cause, aiohttp.ClientError):
        return _SlackFailure(f"{method}: {type(cause).__name__}: {first_line(cause)}")
    if exc.code.isdigit():
        return _SlackFailure(f"{method}: HTTP {exc.code}, not a Slack Web API answer")
    return _SlackFailure(f"{method}: {exc.code}", error=exc.code)


def _os_reason(error: OSError) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, socket.gaierror):
        return f"host name does not resolve: {error.strerror}"
    return error.strerror or type(error).__name__


def _unreachable_fix(settings: Settings) -> str:
    default = (
        " (unset = https://slack.com/api/)"
        if settings.slack_api_url != DEFAULT_SLACK_API_URL
        else ""
    )
    return (
        f"check SLACK_API_URL{default} and that this host can reach it over HTTPS "
        "(DNS, proxy, firewall egress to slack.com)"
    )


def _header(response: AsyncSlackResponse, name: str) -> str | None:
    for key, value in (response.headers or {}).items():
        if str(key).lower() == name:
            return str(value)
    return None


async def check_slack(
    settings: Settings, client: AsyncWebClient, timeout_s: float
) -> list[CheckResult]:
    """``auth.test``, then the granted scopes and the approval channel (skipped if it fails)."""
    if settings.slack_bot_token is None:
        return []
    answer = await _slack_call(client.auth_test, "auth.test", timeout_s)
    if isinstance(answer, _SlackFailure):
        return [_slack_auth_failure(settings, answer)]
    team = f"{answer.get('team')} ({answer.get('team_id')})"
    bot_name = str(answer.get("user") or "the bot")
    results = [
        ok(
            "slack",
            f"auth.test at {settings.slack_api_url}: bot @{bot_name} ({answer.get('user_id')}) "
            f"in team {team}",
        )
    ]
    granted_header = _header(answer, "x-oauth-scopes")
    granted = (
        None
        if granted_header is None
        else {s.strip() for s in granted_header.split(",") if s.strip()}
    )
    results.append(_check_scopes(granted))
    results.append(await _check_channel(settings, client, granted, bot_name, timeout_s))
    return results


def _slack_auth_failure(settings: Settings, failure: _SlackFailure) -> CheckResult:
    if failure.error in ("invalid_auth", "not_authed", "token_revoked", "account_inactive"):
        return fail(
            "slack",
            f"Slack rejected SLACK_BOT_TOKEN ({failure.detail})",
            "copy the Bot User OAuth Token (xoxb-…) from the app's OAuth & Permissions page into "
            "SLACK_BOT_TOKEN (reinstall the app if the token was revoked)",
        )
    if failure.error is not None:
        return fail(
            "slack",
            f"Slack answered an error ({failure.detail})",
            f"look `{failure.error}` up at https://api.slack.com/methods/auth.test and retry",
        )
    return fail(
        "slack",
        f"cannot use the Slack Web API at {settings.slack_api_url}: {failure.detail}",
        _unreachable_fix(settings),
    )


def _check_scopes(granted: set[str] | None) -> CheckResult:
    if granted is None:
        return warn(
            "slack scopes",
            "Slack sent no x-oauth-scopes header with auth.test: scopes not checked",
            "check that SLACK_API_URL is Slack's Web API and not a proxy that drops headers",
        )
    missing = [scope for scope in REQUIRED_SCOPES if scope not in granted]
    if missing:
        return fail("slack scopes", f"missing bot scopes: {', '.join(missing)}", REINSTALL)
    return ok("slack scopes", f"all {len(REQUIRED_SCOPES)} bot scopes granted")


async def _check_channel(
    settings: Settings,
    client: AsyncWebClient,
    granted: set[str] | None,
    bot_name: str,
    timeout_s: float,
) -> CheckResult:
    name = "approval channel"
    ref = settings.approval_channel
    if ref is None:
        return ok(name, "CLONEBOT_APPROVAL_CHANNEL is unset: cards go where /clone-model is typed")
    if not _CHANNEL_ID.fullmatch(ref):
        return warn(
            name,
            f"CLONEBOT_APPROVAL_CHANNEL={ref} is not a channel ID: membership not checked",
            "use the channel's ID (C…): channel details → About → Channel ID",
        )
    invite = f"invite the bot: type `/invite @{bot_name}` in {ref}"
    # oldest=now: the answer proves membership (channels:history / groups:history, which the bot
    # has for message events) without reading a message, and nothing is posted.
    answer = await _slack_call(
        lambda: client.conversations_history(channel=ref, limit=1, oldest=f"{time.time():.6f}"),
        "conversations.history",
        timeout_s,
    )
    if not isinstance(answer, _SlackFailure):
        return ok(name, f"the bot is a member of {ref}")
    if answer.error == "not_in_channel":
        if granted is not None and "chat:write.public" in granted:
            return warn(
                name,
                f"the bot is not a member of {ref}: request cards still post (chat:write.public) "
                "but `approve` / `reject` replies in their threads never reach the bot",
                invite,
            )
        return fail(
            name, f"the bot is not a member of {ref}: request cards cannot be posted", invite
        )
    if answer.error == "channel_not_found":
        return fail(
            name,
            f"{ref} does not exist, or is a private channel without the bot",
            f"check CLONEBOT_APPROVAL_CHANNEL; for a private channel, {invite}",
        )
    if answer.error == "missing_scope":
        return warn(name, f"membership of {ref} not checked ({answer.detail})", REINSTALL)
    return warn(
        name, f"membership of {ref} not checked ({answer.detail})", "run the check again later"
    )


async def check_socket_mode(
    settings: Settings, client: AsyncWebClient, timeout_s: float
) -> list[CheckResult]:
    """``apps.connections.open`` with the app-level token: proves it without opening a socket."""
    if settings.slack_app_token is None:
        return []
    token = settings.slack_app_token.get_secret_value()
    answer = await _slack_call(
        lambda: client.apps_connections_open(app_token=token), "apps.connections.open", timeout_s
    )
    if not isinstance(answer, _SlackFailure):
        return [
            ok("socket mode", "SLACK_APP_TOKEN accepted (apps.connections.open; no socket opened)")
        ]
    if answer.error is None:
        return [fail("socket mode", answer.detail, _unreachable_fix(settings))]
    return [
        fail(
            "socket mode",
            f"Slack rejected SLACK_APP_TOKEN ({answer.detail})",
            "generate an app-level token with the connections:write scope (app settings → Basic "
            "Information → App-Level Tokens), put it in SLACK_APP_TOKEN, and enable Socket Mode",
        )
    ]


async def check_user_groups(
    settings: Settings, client: AsyncWebClient, groups: Sequence[str], timeout_s: float
) -> list[CheckResult]:
    """``usergroups.users.list`` for each group the policy file names: one FAIL per group Slack
    does not know, one OK line for the rest."""
    name = "user groups"
    if not groups:
        return []
    if settings.slack_bot_token is None:
        not_checked = f"not checked without SLACK_BOT_TOKEN: {', '.join(groups)}"
        return [warn(name, not_checked, "set SLACK_BOT_TOKEN")]
    answers = await asyncio.gather(
        *(
            _slack_call(
                functools.partial(client.usergroups_users_list, usergroup=group),
                "usergroups.users.list",
                timeout_s,
            )
            for group in groups
        )
    )
    results: list[CheckResult] = []
    known: list[str] = []
    for group, answer in zip(groups, answers, strict=True):
        if not isinstance(answer, _SlackFailure):
            known.append(f"{group} ({len(answer.get('users') or [])} members)")
        elif answer.error in ("invalid_auth", "not_authed", "token_revoked", "account_inactive"):
            return [warn(name, f"not checked ({answer.detail})", "fix SLACK_BOT_TOKEN (see slack)")]
        elif answer.error == "missing_scope":
            return [warn(name, f"not checked ({answer.detail})", REINSTALL)]
        elif answer.error is None:
            return [warn(name, f"not checked ({answer.detail})", _unreachable_fix(settings))]
        else:
            results.append(
                fail(
                    name,
                    f"the policy file names user group {group}, which Slack does not know "
                    f"(usergroups.users.list: {answer.error})",
                    "use the group's ID (S…) from its page in Slack (⋮ → Copy group ID), or "
                    "remove it from the policy file",
                )
            )
    if known:
        results.insert(0, ok(name, f"known to Slack: {', '.join(known)}"))
    return results
