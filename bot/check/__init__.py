"""``clone-bot check``: configuration and connectivity, one line per check (DESIGN §7).

``run_checks(settings)`` returns ``CheckResult``s in a fixed order:

- ``settings``, ``session key``, ``webhooks``, ``approvers``: the settings alone (no network;
  ``bot.check.settings``);
- ``policy``, ``user groups``: with ``CLONEBOT_POLICY_FILE``, the file's problems (one FAIL line
  each), then ``usergroups.users.list`` for every user group it names (``bot.check.policy``);
- ``slack``, ``slack scopes``, ``approval channel``: ``auth.test`` (the granted scopes come in its
  ``x-oauth-scopes`` header), then ``conversations.history`` on the approval channel with
  ``oldest=now``: it proves membership with the history scopes the bot already has, and reads and
  posts nothing (``bot.check.slack``);
- ``socket mode``: ``apps.connections.open`` with the app-level token (a URL is issued; no socket
  is opened; ``bot.check.slack``);
- ``zstack``: ``ZStackClient.ping()`` (validating a made-up session needs no credentials;
  ``bot.check.zstack``);
- ``redis``: PING, a write/read/delete of a throwaway key under the prefix, ``INFO server``
  (``bot.check.store``).

The policy, Slack, Socket Mode, ZStack and Redis checks run concurrently, each call bounded by a
timeout (``bot.check.run``). No foreign exception escapes: Slack (slack_sdk, aiohttp), ZStack
(``ZStackError``) and Redis (``store_errors``) failures become FAIL lines that say what to fix.
Secret values are never printed: details name variables, and ``format_results`` scrubs every
line as the logs are.
"""

from bot.check.policy import check_policy
from bot.check.results import CheckResult, Status
from bot.check.run import (
    DEFAULT_TIMEOUT_S,
    exit_code,
    format_results,
    run_check_command,
    run_checks,
)
from bot.check.settings import check_settings
from bot.check.slack import REQUIRED_SCOPES, check_slack, check_socket_mode, check_user_groups
from bot.check.store import check_redis
from bot.check.zstack import check_zstack

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "REQUIRED_SCOPES",
    "CheckResult",
    "Status",
    "check_policy",
    "check_redis",
    "check_settings",
    "check_slack",
    "check_socket_mode",
    "check_user_groups",
    "check_zstack",
    "exit_code",
    "format_results",
    "run_check_command",
    "run_checks",
]
