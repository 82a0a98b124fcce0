"""The checks that need the settings alone (no network): mode and Slack credentials, the session
key, ZStack webhooks, the approvers, and (when set) the default rule's reminders and
escalation."""

from __future__ import annotations

from bot.check.results import CheckResult, fail, ok, warn
from bot.config import Settings
from bot.crypto import KEY_FILE_NAME, parse_keys
from bot.errors import ConfigError
from bot.requests.rules import default_rule, duration_text, never_due

GENERATE_KEY = (
    "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
)


def check_settings(settings: Settings) -> list[CheckResult]:
    """Mode and credentials, the session key, webhooks, approvers, reminders. Blocking: may
    stat a file."""
    return [
        _check_mode(settings),
        _check_session_key(settings),
        _check_webhooks(settings),
        _check_approvers(settings),
        *_check_reminders(settings),
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
        missing = settings.missing_slack_credentials()
        return fail(
            "settings",
            f"loaded, but Slack credentials are incomplete ({credentials})",
            f"{missing}; to try the bot without a Slack app, run `clone-bot sandbox`"
            if missing
            else "set SLACK_BOT_TOKEN plus SLACK_SIGNING_SECRET (HTTP mode) or SLACK_APP_TOKEN "
            "(Socket Mode); to try the bot without a Slack app, run `clone-bot sandbox`",
        )
    mode = "Socket Mode" if settings.socket_mode else "HTTP mode"
    return ok("settings", f"loaded; {mode} ({credentials})")


def _check_session_key(settings: Settings) -> CheckResult:
    if settings.session_key is not None:
        try:
            keys = parse_keys(settings.session_key.get_secret_value())
        except ConfigError as exc:
            return fail("session key", "; ".join(exc.problems), f"generate one: {GENERATE_KEY}")
        count = f"{len(keys)} keys, newest first" if len(keys) > 1 else "1 key"
        return ok("session key", f"CLONEBOT_SESSION_KEY is a valid Fernet key ({count})")
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
    return warn(
        "session key",
        f"CLONEBOT_SESSION_KEY is unset: {where}, one key per data dir, wrong for several replicas",
        fix,
    )


def _check_webhooks(settings: Settings) -> CheckResult:
    if settings.public_url is None:
        return warn(
            "webhooks",
            "CLONEBOT_PUBLIC_URL is unset: no ZStack webhooks, jobs are followed by polling only",
            "set CLONEBOT_PUBLIC_URL to the bot's public base URL, reachable from ZStack",
        )
    return ok("webhooks", f"ZStack calls back at {settings.public_url}/zstack/webhook/…")


def _check_approvers(settings: Settings) -> CheckResult:
    approvers = settings.approvers
    policy = (
        f"{settings.approvals_required} approval(s) required, self-approval "
        f"{'allowed' if settings.allow_self_approval else 'off'}"
    )
    if not approvers:
        return warn(
            "approvers",
            f"CLONEBOT_APPROVERS is unset: anyone but the requester may approve ({policy})",
            "set CLONEBOT_APPROVERS to Slack user IDs (U…) and/or user-group IDs (S…)",
        )
    # Entries that are not Slack IDs are refused with the settings (bot.config).
    users = [entry for entry in approvers if not entry.startswith("S")]
    groups = len(approvers) - len(users)
    if not groups and len(users) < settings.approvals_required:
        return fail(
            "approvers",
            f"{len(users)} approver(s) cannot reach CLONEBOT_APPROVALS_REQUIRED="
            f"{settings.approvals_required}",
            "add approvers (or a user group) or lower CLONEBOT_APPROVALS_REQUIRED",
        )
    return ok("approvers", f"{len(users)} user(s), {groups} user group(s); {policy}")


_REMINDER_FIXES = {
    "timing": "make CLONEBOT_REMIND_AFTER_S / CLONEBOT_ESCALATE_AFTER_S shorter than "
    "CLONEBOT_APPROVAL_TTL_S, or the TTL longer",
    "approvers": "set CLONEBOT_APPROVERS for reminders to reach them, or unset "
    "CLONEBOT_REMIND_AFTER_S",
    "escalate_to": "name fallback approvers in CLONEBOT_ESCALATE_TO who are not in "
    "CLONEBOT_APPROVERS",
}


def _check_reminders(settings: Settings) -> list[CheckResult]:
    """The default rule's reminders and escalation, when set: what they do, or a WARN for each
    that cannot happen before a request expires."""
    rule = default_rule(settings)
    if not (rule.remind_after_s or rule.escalate_after_s):
        return []
    problems = never_due(rule)
    if problems:
        return [
            warn("reminders", f"default rule: {problem.text}", _REMINDER_FIXES[problem.change])
            for problem in problems
        ]
    said = []
    if rule.remind_after_s:
        after = duration_text(rule.remind_after_s)
        if rule.remind_every_s and rule.remind_max > 1:
            every = duration_text(rule.remind_every_s)
            said.append(f"reminders after {after}, then every {every}, at most {rule.remind_max}")
        else:
            said.append(f"one reminder after {after}")
    if rule.escalate_after_s:
        said.append(
            f"escalation to {', '.join(rule.escalate_to)} after "
            f"{duration_text(rule.escalate_after_s)}"
        )
    ttl = duration_text(rule.ttl_s)
    return [ok("reminders", f"default rule: {'; '.join(said)} (requests expire after {ttl})")]
