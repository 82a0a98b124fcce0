"""``GET /_emu/events``: Server-Sent Events telling the web page that the state changed.

Each event is ``event: state`` with ``data: {"version": N}`` (:attr:`EmulatorState.version`);
the page re-fetches ``/_emu/state?as=<user>``. Bursts of changes are coalesced, and a comment
line keeps idle connections open through proxies.
"""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from .state import EmulatorState

KEEPALIVE_S = 15.0
COALESCE_S = 0.05
POLL_S = 0.5  # how often a stream notices that its page went away


class EventStream:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.closed = False
        self.clients = 0

    def close(self) -> None:
        """End every open stream (on shutdown)."""
        self.closed = True
        self.state.notify()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        self.clients += 1
        loop = asyncio.get_running_loop()
        sent = -1
        last_write = loop.time()
        try:
            await response.write(b"retry: 1000\n\n")
            while not self.closed and not _gone(request):
                version = self.state.version
                if version != sent:
                    sent = version
                    data = json.dumps({"version": version})
                    await response.write(f"event: state\nid: {version}\ndata: {data}\n\n".encode())
                    last_write = loop.time()
                    await asyncio.sleep(COALESCE_S)
                    continue
                await self.state.wait_changed(POLL_S)
                if self.state.version == sent and loop.time() - last_write >= KEEPALIVE_S:
                    await response.write(b": keepalive\n\n")
                    last_write = loop.time()
        except ConnectionResetError:
            pass  # the page went away
        finally:
            self.clients -= 1
        return response


def _gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()
