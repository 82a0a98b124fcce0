"""Work that runs after a listener's ack, with the same error reporting as Bolt's handler.

Bolt answers Slack when a listener returns (``process_before_response``: no polling for the
ack), so anything slow runs here instead, as its own task, and the listener returns at once.
Listeners spawn the work first and ack last: by the time Slack has its answer, the work is
registered here (``in_flight``), which is what "nothing is left to do" is judged by.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.error_reporting import ErrorReporter
from bot.tasks import TaskSet

logger = logging.getLogger(__name__)


class Background:
    def __init__(self, reporter: ErrorReporter) -> None:
        self._reporter = reporter
        self._tasks = TaskSet()

    def spawn(
        self, work: Coroutine[Any, Any, Any], *, body: dict[str, Any], client: AsyncWebClient
    ) -> asyncio.Task[None]:
        return self._tasks.spawn(self._guard(work, body, client))

    async def _guard(
        self, work: Coroutine[Any, Any, Any], body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception as error:  # reported to the user and logged with a reference
            await self._reporter.report(error, body, client)

    @property
    def in_flight(self) -> int:
        """How many pieces of work are still running."""
        return len(self._tasks)

    async def drain(self, grace_s: float = 5.0) -> None:
        """Let running work finish (up to ``grace_s``), then cancel what is left."""
        await self._tasks.drain(grace_s)
