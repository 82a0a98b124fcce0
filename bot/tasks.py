"""Work started off the caller's path, kept track of so it can be waited for and stopped.

Listener follow-ups (``bot.background``), tracker steps and outbox runs each keep one
``TaskSet``: how many are in flight is what tests and shutdown wait on, and ``drain`` lets them
finish before cancelling what is left.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterable
from typing import Any


class TaskSet:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run ``work`` as its own task (with the caller's context: log fields carry over)."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def __len__(self) -> int:
        """How many are still running."""
        return len(self._tasks)

    async def drain(self, grace_s: float = 5.0) -> None:
        """Let running work finish (up to ``grace_s``), then cancel what is left."""
        if not self._tasks:
            return
        _done, pending = await asyncio.wait(set(self._tasks), timeout=grace_s)
        await cancel_all(pending)


async def cancel_all(tasks: Iterable[asyncio.Task[Any]]) -> None:
    """Cancel tasks and wait until they are really gone.

    A single ``cancel()`` is not enough on Python 3.11: ``asyncio.wait_for`` (which redis-py
    uses for every command) can swallow a cancellation, so cancel again until each task ends.
    """
    tasks = list(tasks)
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _done, pending = await asyncio.wait(pending, timeout=0.5)
    for task in tasks:
        if not task.cancelled():
            task.exception()  # retrieved, so asyncio does not warn about it
