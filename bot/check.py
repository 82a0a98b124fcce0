"""``clone-bot check``: configuration and connectivity, one line per check (DESIGN §7).

``run_checks(settings)`` returns ``CheckResult``s in a fixed order:

- ``settings``, ``session key``, ``webhooks``, ``approvers``: the settings alone (no network);
- ``slack``, ``slack scopes``, ``approval channel``: ``auth.test`` (the granted scopes come in its
  ``x-oauth-scopes`` header), then ``conversations.history`` on the approval channel with
  ``oldest=now``: it proves membership with the history scopes the bot already has, and reads and
  posts nothing;
- ``socket mode``: ``apps.connections.open`` with the app-level token (a URL is issued; no socket
  is opened);
- ``zstack``: ``ZStackClient.ping()`` (validating a made-up session needs no credentials);
- ``redis``: PING, a write/read/delete of a throwaway key under the prefix, ``INFO server``.

The Slack, Socket Mode, ZStack and Redis checks run concurrently, each call bounded by a timeout.
No foreign exception escapes: Slack (slack_sdk, aiohttp), ZStack (``ZStackError``) and Redis
(``store_errors``) failures become FAIL lines that say what to fix. Secret values are never
printed: details name variables, and ``format_results`` scrubs every line as the logs are.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.config import DEFAULT_SLACK_API_URL, Settings
from bot.crypto import KEY_FILE_NAME, parse_keys
from bot.errors import (
    BotError,
    ConfigError,
    StoreUnavailable,
    ZStackAPIError,
    ZStackConnectError,
    ZStackError,
    ZStackProtocolError,
    ZStackRESTError,
    ZStackTimeout,
)
from bot.logs import scrub, secrets
from bot.slack.client import build_web_client
from bot.store.connection import connect_redis
from bot.store.errors import store_errors
from bot.store.handle import RedisHandle
from bot.store.urls import redact_url
from bot.zstack.client import API_PREFIX, ZStackClient, default_timeout

logger = logging.getLogger(__name__)

# Seconds allowed for each network call of a check (``clone-bot check --timeout``).
DEFAULT_TIMEOUT_S = 5.0

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
)

GENERATE_KEY = (
    "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
)
REINSTALL = (
    "reinstall the app with the manifest (deploy/manifest.http.yaml, or manifest.socket.yaml for "
    "Socket Mode) so Slack grants every scope, then update SLACK_BOT_TOKEN if it changed"
)
ZSTACK_FIX = "check ZSTACK_URL / network / TLS (ZSTACK_CA_BUNDLE)"
# A conversation ID (public C…, private G… or C…, DM D…); names cannot be checked.
_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{2,}")
# Slack user IDs (U…/W…) and user-group IDs (S…).
_SLACK_ID = re.compile(r"[UWS][A-Z0-9]{2,}")


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


def _ok(name: str, detail: str) -> CheckResult:
    return CheckResult(Status.OK, name, detail)


def _warn(name: str, detail: str, fix: str) -> CheckResult:
    return CheckResult(Status.WARN, name, detail, fix)


def _fail(name: str, detail: str, fix: str) -> CheckResult:
    return CheckResult(Status.FAIL, name, detail, fix)


# --- settings (no network) -------------------------------------------------------------------


def check_settings(settings: Settings) -> list[CheckResult]:
    """Mode and credentials, the session key, webhooks, approvers. Blocking: may stat a file."""
    return [
        _check_mode(settings),
        _check_session_key(settings),
        _check_webhooks(settings),
        _check_approvers(settings),
    ]


def _set_or_not(settings: Settings) -> str:
    names = {
        "SLACK_BOT_TOKEN": settings.slack_bot_token,
        "SLACK_SIGNING_SECRET": settings.slack_signing_secret,
        "SLACK_APP_TOKEN": settings.slack_app_token,
    }
    present = [name for name, value in names.items() if value is not None]
    missing = [name for name, value in names.items() if value is None]
    return f"set: {', '.join(present) or 'none'}; unset: {', '.join(missing) or 'none'}"


def _check_mode(settings: Settings) -> CheckResult:
    credentials = _set_or_not(settings)
    if not settings.has_slack_credentials:
        return _fail(
            "settings",
            f"loaded, but Slack credentials are incomplete ({credentials})",
            "set SLACK_BOT_TOKEN plus SLACK_SIGNING_SECRET (HTTP mode) or SLACK_APP_TOKEN "
            "(Socket Mode); to try the bot without a Slack app, run `clone-bot sandbox`",
        )
    mode = "Socket Mode" if settings.socket_mode else "HTTP mode"
    return _ok("settings", f"loaded; {mode} ({credentials})")


def _check_session_key(settings: Settings) -> CheckResult:
    if settings.session_key is not None:
        try:
            keys = parse_keys(settings.session_key.get_secret_value())
        except ConfigError as exc:
            return _fail("session key", "; ".join(exc.problems), f"generate one: {GENERATE_KEY}")
        count = f"{len(keys)} keys, newest first" if len(keys) > 1 else "1 key"
        return _ok("session key", f"CLONEBOT_SESSION_KEY is a valid Fernet key ({count})")
    path = settings.data_dir.expanduser().resolve() / KEY_FILE_NAME
    if path.is_file():
        where = f"the bot uses the key generated in {path}"
        fix = (
            "set CLONEBOT_SESSION_KEY to the content of that file (sessions stored so far stay "
            "readable) and give every replica the same value"
        )
    else:
        where = f"the bot will generate a key in {path}"
        fix = f"set CLONEBOT_SESSION_KEY, the same on every replica (generate one: {GENERATE_KEY})"
    return _warn(
        "session key",
        f"CLONEBOT_SESSION_KEY is unset: {where}, one key per data dir, wrong for several replicas",
        fix,
    )


def _check_webhooks(settings: Settings) -> CheckResult:
    if settings.public_url is None:
        return _warn(
            "webhooks",
            "CLONEBOT_PUBLIC_URL is unset: no ZStack webhooks, jobs are followed by polling only",
            "set CLONEBOT_PUBLIC_URL to the bot's public base URL, reachable from ZStack",
        )
    return _ok("webhooks", f"ZStack calls back at {settings.public_url}/zstack/webhook/…")


def _check_approvers(settings: Settings) -> CheckResult:
    approvers = settings.approvers
    policy = (
        f"{settings.approvals_required} approval(s) required, self-approval "
        f"{'allowed' if settings.allow_self_approval else 'off'}"
    )
    if not approvers:
        return _warn(
            "approvers",
            f"CLONEBOT_APPROVERS is unset: anyone but the requester may approve ({policy})",
            "set CLONEBOT_APPROVERS to Slack user IDs (U…) and/or user-group IDs (S…)",
        )
    not_ids = [entry for entry in approvers if not _SLACK_ID.fullmatch(entry)]
    if not_ids:
        return _fail(
            "approvers",
            f"CLONEBOT_APPROVERS has entries that are not Slack IDs: {', '.join(not_ids)}",
            "use member IDs (U…: profile → ⋮ → Copy member ID) and user-group IDs (S…), not names",
        )
    users = [entry for entry in approvers if not entry.startswith("S")]
    groups = len(approvers) - len(users)
    if not groups and len(users) < settings.approvals_required:
        return _fail(
            "approvers",
            f"{len(users)} approver(s) cannot reach CLONEBOT_APPROVALS_REQUIRED="
            f"{settings.approvals_required}",
            "add approvers (or a user group) or lower CLONEBOT_APPROVALS_REQUIRED",
        )
    return _ok("approvers", f"{len(users)} user(s), {groups} user group(s); {policy}")


# --- Slack -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _SlackFailure:
    """A Slack call that did not succeed: ``error`` is Slack's code when Slack answered."""

    detail: str
    error: str | None = None


async def _slack_call(
    call: Callable[[], Awaitable[AsyncSlackResponse]], method: str, timeout_s: float
) -> AsyncSlackResponse | _SlackFailure:
    """Run one Web API call; every slack_sdk / aiohttp failure becomes a ``_SlackFailure``."""
    try:
        async with asyncio.timeout(timeout_s):
            return await call()
    except SlackApiError as exc:
        data = exc.response.data
        if isinstance(data, dict) and data.get("error"):
            return _SlackFailure(f"{method}: {data['error']}", error=str(data["error"]))
        return _SlackFailure(
            f"{method}: HTTP {exc.response.status_code}, not a Slack Web API answer"
        )
    except TimeoutError:
        return _SlackFailure(f"{method}: no answer within {timeout_s:g} s")
    except aiohttp.ClientSSLError as exc:
        return _SlackFailure(f"{method}: TLS error ({_first_line(exc)})")
    except aiohttp.ClientConnectorError as exc:
        return _SlackFailure(
            f"{method}: cannot connect to {exc.host}:{exc.port} ({_os_reason(exc.os_error)})"
        )
    except (aiohttp.ClientError, SlackClientError, OSError, ValueError) as exc:
        return _SlackFailure(f"{method}: {type(exc).__name__}: {_first_line(exc)}")


def _os_reason(error: OSError) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, socket.gaierror):
        return f"host name does not resolve: {error.strerror}"
    return error.strerror or type(error).__name__


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


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
        _ok(
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
        return _fail(
            "slack",
            f"Slack rejected SLACK_BOT_TOKEN ({failure.detail})",
            "copy the Bot User OAuth Token (xoxb-…) from the app's OAuth & Permissions page into "
            "SLACK_BOT_TOKEN (reinstall the app if the token was revoked)",
        )
    if failure.error is not None:
        return _fail(
            "slack",
            f"Slack answered an error ({failure.detail})",
            f"look `{failure.error}` up at https://api.slack.com/methods/auth.test and retry",
        )
    return _fail(
        "slack",
        f"cannot use the Slack Web API at {settings.slack_api_url}: {failure.detail}",
        _unreachable_fix(settings),
    )


def _check_scopes(granted: set[str] | None) -> CheckResult:
    if granted is None:
        return _warn(
            "slack scopes",
            "Slack sent no x-oauth-scopes header with auth.test: scopes not checked",
            "check that SLACK_API_URL is Slack's Web API and not a proxy that drops headers",
        )
    missing = [scope for scope in REQUIRED_SCOPES if scope not in granted]
    if missing:
        return _fail("slack scopes", f"missing bot scopes: {', '.join(missing)}", REINSTALL)
    return _ok("slack scopes", f"all {len(REQUIRED_SCOPES)} bot scopes granted")


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
        return _ok(name, "CLONEBOT_APPROVAL_CHANNEL is unset: cards go where /clone-model is typed")
    if not _CHANNEL_ID.fullmatch(ref):
        return _warn(
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
        return _ok(name, f"the bot is a member of {ref}")
    if answer.error == "not_in_channel":
        if granted is not None and "chat:write.public" in granted:
            return _warn(
                name,
                f"the bot is not a member of {ref}: request cards still post (chat:write.public) "
                "but `approve` / `reject` replies in their threads never reach the bot",
                invite,
            )
        return _fail(
            name, f"the bot is not a member of {ref}: request cards cannot be posted", invite
        )
    if answer.error == "channel_not_found":
        return _fail(
            name,
            f"{ref} does not exist, or is a private channel without the bot",
            f"check CLONEBOT_APPROVAL_CHANNEL; for a private channel, {invite}",
        )
    if answer.error == "missing_scope":
        return _warn(name, f"membership of {ref} not checked ({answer.detail})", REINSTALL)
    return _warn(
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
            _ok("socket mode", "SLACK_APP_TOKEN accepted (apps.connections.open; no socket opened)")
        ]
    if answer.error is None:
        return [_fail("socket mode", answer.detail, _unreachable_fix(settings))]
    return [
        _fail(
            "socket mode",
            f"Slack rejected SLACK_APP_TOKEN ({answer.detail})",
            "generate an app-level token with the connections:write scope (app settings → Basic "
            "Information → App-Level Tokens), put it in SLACK_APP_TOKEN, and enable Socket Mode",
        )
    ]


# --- ZStack ----------------------------------------------------------------------------------


def _tls_description(settings: Settings) -> tuple[str, bool]:
    """How the ZStack connection is secured, and whether that deserves a warning."""
    if not settings.zstack_url.startswith("https://"):
        return "plain HTTP, no TLS", False
    if settings.zstack_ca_bundle is not None:
        return f"TLS verified with ZSTACK_CA_BUNDLE={settings.zstack_ca_bundle}", False
    if settings.zstack_verify_tls:
        return "TLS verified with the default CA bundle", False
    return "TLS without certificate verification (ZSTACK_VERIFY_TLS=false)", True


def _zstack_client(settings: Settings, timeout_s: float) -> ZStackClient:
    """Blocking: loads the CA bundle. Raises ``ssl.SSLError`` / ``OSError`` for a bad bundle."""
    verify = settings.zstack_ca_bundle or settings.zstack_verify_tls
    read_s = min(settings.zstack_timeout_s, timeout_s)
    return ZStackClient(settings.zstack_url, timeout=default_timeout(read_s), verify=verify)


def _chain(exc: BaseException) -> Iterable[BaseException]:
    """``exc`` and its causes (``raise … from None`` still keeps ``__context__``)."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not other for other in seen):
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _connect_failure(where: str, exc: ZStackConnectError, tls: str) -> CheckResult:
    for cause in _chain(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return _fail(
                "zstack",
                f"{where}: TLS certificate not trusted ({cause.verify_message or cause})",
                f"{ZSTACK_FIX}: set ZSTACK_CA_BUNDLE to the CA that signed ZStack's certificate",
            )
        if isinstance(cause, ssl.SSLError):
            return _fail(
                "zstack",
                f"{where}: TLS handshake failed ({_first_line(cause)}; {tls})",
                f"{ZSTACK_FIX}: is it http:// or https:// on that port?",
            )
        if isinstance(cause, ConnectionRefusedError):
            return _fail(
                "zstack",
                f"{where}: connection refused",
                f"{ZSTACK_FIX}: host and port (the API listens on 8080), management node running?",
            )
        if isinstance(cause, socket.gaierror):
            return _fail(
                "zstack",
                f"{where}: host name does not resolve ({cause.strerror})",
                f"{ZSTACK_FIX}: the host name in ZSTACK_URL, DNS",
            )
    return _fail("zstack", f"{where}: cannot connect ({exc})", ZSTACK_FIX)


def _zstack_failure(where: str, exc: ZStackError, tls: str, timeout_s: float) -> CheckResult:
    if isinstance(exc, ZStackConnectError):
        return _connect_failure(where, exc, tls)
    if isinstance(exc, ZStackTimeout):
        what = "answer" if exc.maybe_received else "connection"
        return _fail(
            "zstack",
            f"{where}: no {what} within {timeout_s:g} s ({tls})",
            f"{ZSTACK_FIX}: a firewall dropping packets, or a management node too busy?",
        )
    if isinstance(exc, ZStackRESTError | ZStackProtocolError):
        status = f"HTTP {exc.status}"
        return _fail(
            "zstack",
            f"{where} answers but is not ZStack ({status} on GET {API_PREFIX}/accounts/sessions/"
            "…/valid)",
            f"{ZSTACK_FIX}: ZSTACK_URL must be ZStack's API endpoint, e.g. "
            "http://zstack.example.com:8080, not the console or another service",
        )
    if isinstance(exc, ZStackAPIError):
        return _fail(
            "zstack",
            f"{where} answered with a ZStack error ({exc.error.summary()})",
            "check the management node's health and logs",
        )
    return _fail("zstack", f"{where}: {exc}", ZSTACK_FIX)


async def check_zstack(settings: Settings, timeout_s: float) -> list[CheckResult]:
    """``ZStackClient.ping()``: reachability, the TLS settings used, and the answer time."""
    tls, insecure = _tls_description(settings)
    try:
        client = await asyncio.to_thread(_zstack_client, settings, timeout_s)
    except (ssl.SSLError, OSError) as exc:
        return [
            _fail(
                "zstack",
                f"ZSTACK_CA_BUNDLE cannot be loaded ({_first_line(exc)})",
                "point ZSTACK_CA_BUNDLE at a PEM file with the CA certificate(s)",
            )
        ]
    where = f"ZStack at {redact_url(client.base_url)}"
    async with client:
        started = time.perf_counter()
        try:
            await client.ping()
        except ZStackError as exc:
            return [_zstack_failure(where, exc, tls, min(settings.zstack_timeout_s, timeout_s))]
        elapsed_ms = (time.perf_counter() - started) * 1000
    detail = f"{where} answers ({tls}; answered in {elapsed_ms:.0f} ms)"
    if insecure:
        return [
            _warn(
                "zstack",
                detail,
                "set ZSTACK_CA_BUNDLE to the CA that signed ZStack's certificate and verify TLS",
            )
        ]
    return [_ok("zstack", detail)]


# --- Redis -----------------------------------------------------------------------------------


def _redis_fix(message: str) -> str:
    if "credentials" in message:
        return "fix the user name / password in REDIS_URL"
    if "read-only" in message:
        return "point REDIS_URL at the master (or use redis+sentinel://…)"
    if "out of memory" in message:
        return "free memory on Redis or raise its maxmemory"
    return (
        "start Redis or fix REDIS_URL (host, port, password, rediss:// for TLS); "
        "unset REDIS_URL to use the embedded Redis (one replica only)"
    )


def _info_field(info: Any, field: str) -> str | None:
    if not isinstance(info, dict):
        return None
    if field in info:
        return str(info[field])
    for value in info.values():  # a cluster answers per node
        found = _info_field(value, field)
        if found is not None:
            return found
    return None


async def _round_trip(handle: RedisHandle) -> str:
    """PING, SET/GET/DEL of a throwaway key under the prefix, INFO server; the version."""
    client = handle.client
    key = f"{handle.prefix}check:{uuid.uuid4().hex}"
    value = uuid.uuid4().hex.encode("ascii")
    with store_errors("PING"):
        await client.ping()
    with store_errors("write/read/delete"):
        await client.set(key, value, ex=60)  # expires by itself should DEL never run
        read = await client.get(key)
        deleted = await client.delete(key)
    if read != value or deleted != 1:
        raise StoreUnavailable(f"write/read/delete: {key} did not read back what was written")
    with store_errors("INFO server"):
        info = await client.info("server")
    version = _info_field(info, "redis_version") or "unknown"
    mode = _info_field(info, "redis_mode")
    return f"Redis {version}" + (f" ({mode})" if mode else "")


async def check_redis(settings: Settings, timeout_s: float) -> list[CheckResult]:
    """``connect_redis`` (starts the embedded server when REDIS_URL is unset) and a round trip."""
    try:
        handle = await connect_redis(settings)
    except ConfigError as exc:
        return [_fail("redis", "; ".join(exc.problems), "fix REDIS_URL (see .env.example)")]
    except StoreUnavailable as exc:
        return [_fail("redis", str(exc), "make CLONEBOT_DATA_DIR writable, or set REDIS_URL")]
    if handle.embedded is not None:
        where = f"embedded Redis, data in {handle.embedded.data_dir} (one replica only)"
    else:
        where = f"{handle.description} ({handle.kind})"
    try:
        async with asyncio.timeout(timeout_s):
            version = await _round_trip(handle)
    except StoreUnavailable as exc:
        return [_fail("redis", f"{where}: {exc}", _redis_fix(str(exc)))]
    except TimeoutError:
        return [_fail("redis", f"{where}: no answer within {timeout_s:g} s", _redis_fix(""))]
    finally:
        await handle.aclose()
    return [_ok("redis", f"{where}: PING, write/read/delete under {handle.prefix!r} OK; {version}")]


# --- all together ----------------------------------------------------------------------------


async def _guarded(
    name: str, check: Awaitable[list[CheckResult]], timeout_s: float
) -> list[CheckResult]:
    """A check's results, or one FAIL line if it overran or broke: the report always completes."""
    try:
        async with asyncio.timeout(timeout_s):
            return await check
    except TimeoutError:
        return [_fail(name, f"no result within {timeout_s:g} s", "check the network path to it")]
    except (BotError, OSError, aiohttp.ClientError, SlackClientError) as exc:
        logger.debug("check %s failed", name, exc_info=True)
        return [_fail(name, f"{type(exc).__name__}: {_first_line(exc)}", "see the message")]


async def run_checks(
    settings: Settings, *, timeout_s: float = DEFAULT_TIMEOUT_S
) -> list[CheckResult]:
    """Every check, the independent ones concurrently; results in a fixed order."""
    for secret in (
        settings.slack_bot_token,
        settings.slack_signing_secret,
        settings.slack_app_token,
        settings.session_key,
    ):
        if secret is not None:
            secrets.add(secret.get_secret_value())
    async with aiohttp.ClientSession() as session:
        client = build_web_client(settings, session=session)
        client.timeout = max(1, round(timeout_s))
        # Slack makes up to three calls in a row (auth.test, then two that depend on it).
        groups = await asyncio.gather(
            asyncio.to_thread(check_settings, settings),
            _guarded("slack", check_slack(settings, client, timeout_s), 3 * timeout_s + 1),
            _guarded("socket mode", check_socket_mode(settings, client, timeout_s), timeout_s + 1),
            _guarded("zstack", check_zstack(settings, timeout_s), timeout_s + 1),
            # Starting or stopping the embedded Redis may take longer than a network call.
            _guarded("redis", check_redis(settings, timeout_s), timeout_s + 20),
        )
    return [result for group in groups for result in group]


def format_results(results: Sequence[CheckResult]) -> str:
    """One line per result (``STATUS  name  detail — fix: …``), then a summary line."""
    width = max((len(r.name) for r in results), default=0)
    lines = []
    for result in results:
        # Details may quote what a server said: scrub them as the logs are. Fixes are our text.
        line = f"{result.status.value:<4}  {result.name:<{width}}  {scrub(result.detail)}"
        if result.fix and result.status is not Status.OK:
            line += f" — fix: {result.fix}"
        lines.append(line)
    counts = {status: sum(r.status is status for r in results) for status in Status}
    lines.append(
        f"check: {counts[Status.OK]} OK, {counts[Status.WARN]} WARN, {counts[Status.FAIL]} FAIL"
    )
    return "\n".join(lines)


def exit_code(results: Sequence[CheckResult]) -> int:
    """0 when nothing FAILs, else 1."""
    return 1 if any(r.status is Status.FAIL for r in results) else 0


def run_check_command(settings: Settings, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> int:
    """``clone-bot check`` after the settings loaded: print the report, return the exit code."""
    results = asyncio.run(run_checks(settings, timeout_s=timeout_s))
    print(format_results(results))
    return exit_code(results)
