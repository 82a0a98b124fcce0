"""The policy file check: ``CLONEBOT_POLICY_FILE`` loads (one FAIL line per problem, as the bot
would refuse to start with), and the user groups it names exist in Slack."""

from __future__ import annotations

import asyncio

from slack_sdk.web.async_client import AsyncWebClient

from bot.check.results import CheckResult, fail, ok
from bot.check.slack import check_user_groups
from bot.config import Settings
from bot.errors import ConfigError
from bot.requests.rules import load_policy

FIX = "correct the policy file (the README's approvals section shows its fields)"


async def check_policy(
    settings: Settings, client: AsyncWebClient, timeout_s: float
) -> list[CheckResult]:
    """Nothing when no policy file is set (the settings' rule is checked as ``approvers``)."""
    path = settings.policy_file
    if path is None:
        return []
    try:
        policy = await asyncio.to_thread(load_policy, path)
    except ConfigError as exc:
        return [fail("policy", problem, FIX) for problem in exc.problems]
    names = ", ".join(rule.name for rule in policy.rules[:10])
    more = f" and {len(policy.rules) - 10} more" if len(policy.rules) > 10 else ""
    summary = (
        f"{path.name}: {len(policy.rules)} rule(s), tried in order: {names}{more}"
        if policy.rules
        else f"{path.name}: no rules, the settings apply to every request"
    )
    groups = sorted(policy.groups())
    return [ok("policy", summary), *await check_user_groups(settings, client, groups, timeout_s)]
