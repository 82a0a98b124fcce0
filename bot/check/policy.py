"""The policy file check: ``CLONEBOT_POLICY_FILE`` loads (one FAIL line per problem, as the bot
would refuse to start with), its reminders, escalations and skipped steps can happen before a
request expires (a WARN for each that cannot), and the user groups it names — approvers, steps,
``escalate_to``, ``break_glass``, requesters — exist in Slack."""

from __future__ import annotations

import asyncio

from slack_sdk.web.async_client import AsyncWebClient

from bot.check.results import CheckResult, fail, ok, warn
from bot.check.slack import check_user_groups
from bot.config import Settings
from bot.errors import ConfigError
from bot.requests.rules import Rules, default_rule, load_policy, never_due

FIX = "correct the policy file (the README's approvals section shows its fields)"
# What to change, by what cannot happen (what a rule leaves out comes from the settings).
FIXES: dict[str, str] = {
    "timing": "make remind_after, escalate_after or skip_after shorter than the rule's ttl, or "
    "the ttl longer (left out of the rule: CLONEBOT_REMIND_AFTER_S, CLONEBOT_ESCALATE_AFTER_S, "
    "CLONEBOT_APPROVAL_TTL_S, …)",
    "approvers": "name the rule's approvers (or CLONEBOT_APPROVERS) for reminders to reach "
    "them, or drop remind_after",
    "escalate_to": "name fallback approvers in escalate_to who do not approve already",
}


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
    rules = Rules(policy.rules, default_rule(settings))
    timing = [
        warn("policy", f"{path.name}: rule {rule.name}: {problem.text}", FIXES[problem.change])
        for rule in policy.rules
        if not (rule.deny or rule.auto_approve)
        for problem in never_due(rules.resolved(rule))
    ]
    groups = sorted(policy.groups())
    return [
        ok("policy", summary),
        *timing,
        *await check_user_groups(settings, client, groups, timeout_s),
    ]
