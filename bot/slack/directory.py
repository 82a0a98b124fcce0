"""User-group membership from Slack (``usergroups.users.list``, Tier 2), cached per group."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import SlackError
from bot.metrics import Metrics
from bot.slack.client import slack_errors

logger = logging.getLogger(__name__)

# User-group membership is looked up in Slack and trusted this long.
GROUP_CACHE_S = 60.0


@dataclass
class SlackGroups:
    client: AsyncWebClient
    metrics: Metrics | None = None
    clock: Callable[[], float] = time.monotonic
    _groups: dict[str, tuple[float, frozenset[str]]] = field(default_factory=dict)

    async def members(self, group: str) -> frozenset[str]:
        """The group's members; when Slack cannot say, the last answer (or nobody)."""
        cached = self._groups.get(group)
        now = self.clock()
        if cached and now - cached[0] < GROUP_CACHE_S:
            return cached[1]
        try:
            with slack_errors("usergroups.users.list", self.metrics):
                answer = await self.client.usergroups_users_list(usergroup=group)
        except SlackError as exc:
            logger.warning(
                "user group lookup failed", extra={"usergroup": group, "error": exc.code}
            )
            return cached[1] if cached else frozenset()
        users: list[str] = answer.get("users") or []
        members = frozenset(str(u) for u in users)
        self._groups[group] = (now, members)
        return members


async def missing_groups(client: AsyncWebClient, groups: set[str]) -> list[str]:
    """The user groups Slack says do not exist (``no_such_subteam``), to refuse a policy file
    that names them; a group Slack cannot answer for now is not counted as missing."""
    missing = []
    for group in sorted(groups):
        try:
            with slack_errors("usergroups.users.list"):
                await client.usergroups_users_list(usergroup=group)
        except SlackError as exc:
            if exc.code in ("no_such_subteam", "subteam_not_found"):
                missing.append(group)
            else:
                logger.warning(
                    "user group not checked", extra={"usergroup": group, "error": exc.code}
                )
    return missing
