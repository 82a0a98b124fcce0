"""All the checks together: run concurrently, each bounded by a timeout, reported in a fixed
order; the report's text and the command's exit code."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Sequence

import aiohttp
from slack_sdk.errors import SlackClientError

from bot.check.policy import check_policy
from bot.check.results import CheckResult, Status, fail, first_line
from bot.check.settings import check_settings
from bot.check.slack import check_slack, check_socket_mode
from bot.check.store import check_redis
from bot.check.zstack import check_zstack
from bot.config import Settings
from bot.errors import BotError
from bot.logs import scrub, secrets
from bot.slack.client import build_web_client

logger = logging.getLogger(__name__)

# Seconds allowed for each network call of a check (``clone-bot check --timeout``).
DEFAULT_TIMEOUT_S = 5.0


async def _guarded(
    name: str, check: Awaitable[list[CheckResult]], timeout_s: float
) -> list[CheckResult]:
    """A check's results, or one FAIL line if it overran or broke: the report always completes."""
    try:
        async with asyncio.timeout(timeout_s):
            return await check
    except TimeoutError:
        return [fail(name, f"no result within {timeout_s:g} s", "check the network path to it")]
    except (BotError, OSError, aiohttp.ClientError, SlackClientError) as exc:
        logger.debug("check %s failed", name, exc_info=True)
        return [fail(name, f"{type(exc).__name__}: {first_line(exc)}", "see the message")]


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
            _guarded("policy", check_policy(settings, client, timeout_s), timeout_s + 1),
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
