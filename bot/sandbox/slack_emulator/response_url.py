"""``response_url``s: issued with commands and interactions, usable 5 times within 30 minutes.

Bodies follow Bolt's ``respond()``: ``text``, ``blocks``, ``response_type`` (``ephemeral`` by
default, or ``in_channel``), ``replace_original``, ``delete_original``, ``thread_ts``. What Slack
answers past the limits is unconfirmed (reference §2); the emulator answers ``404`` with a short
text body and records the attempt.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .elements import fill_ids
from .records import JSON, ApiCall, Message, ResponseUrl
from .state import EmulatorState
from .validation import MAX_MESSAGE_TEXT, validate_blocks
from .webapi import WebApi

RESPONSE_URL_TTL_S = 30 * 60
RESPONSE_URL_MAX_USES = 5


@dataclass
class HookResult:
    status: int
    body: str


class ResponseUrls:
    def __init__(self, state: EmulatorState, webapi: WebApi, base_url: Callable[[], str]) -> None:
        self.state = state
        self.webapi = webapi
        self.base_url = base_url

    def issue(
        self,
        *,
        user: str,
        channel: str,
        origin: str,
        message_ts: str | None = None,
        thread_ts: str | None = None,
    ) -> ResponseUrl:
        url_id = secrets.token_urlsafe(18)
        hook = ResponseUrl(
            id=url_id,
            url=f"{self.base_url()}/response/{url_id}",
            user=user,
            channel=channel,
            created_at=self.state.clock.monotonic(),
            origin=origin,
            message_ts=message_ts,
            thread_ts=thread_ts,
        )
        self.state.response_urls[url_id] = hook
        return hook

    async def handle(self, url_id: str, raw: str) -> HookResult:
        clock = self.state.clock
        call = ApiCall(
            method="response_url",
            params={"response_url_id": url_id},
            http_method="POST",
            received_at=clock.monotonic(),
            received_wall=clock.time(),
        )
        self.state.api_calls.append(call)
        try:
            result = await self._handle(url_id, raw, call)
        finally:
            self.state.notify()
        call.status = result.status
        call.ok = result.status == 200
        call.error = None if call.ok else result.body
        return result

    async def _handle(self, url_id: str, raw: str, call: ApiCall) -> HookResult:
        hook = self.state.response_urls.get(url_id)
        if hook is None:
            return HookResult(404, "no_service")
        if self.state.clock.monotonic() - hook.created_at > RESPONSE_URL_TTL_S:
            return HookResult(404, "expired_url")
        if hook.uses >= RESPONSE_URL_MAX_USES:
            return HookResult(404, "used_url")
        hook.uses += 1
        fault = self.webapi.take_fault("response_url")
        if fault is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            return HookResult(fault.status if fault.status != 200 else 500, fault.code)
        try:
            body: Any = json.loads(raw)
        except ValueError:
            return HookResult(400, "invalid_payload")
        if not isinstance(body, dict):
            return HookResult(400, "invalid_payload")
        call.params.update(body)
        return self._apply(hook, body)

    def _apply(self, hook: ResponseUrl, body: JSON) -> HookResult:
        if body.get("delete_original"):
            original = self._original(hook)
            if original is not None:
                self.state.delete_message(original)
            return HookResult(200, "ok")
        text = str(body.get("text") or "")
        blocks = body.get("blocks")
        if blocks is not None:
            errors = validate_blocks(blocks, surface="message")
            if errors:
                self.webapi.record_failure("response_url", "invalid_blocks", errors, blocks)
                return HookResult(400, "invalid_blocks")
            blocks = fill_ids(json.loads(json.dumps(blocks)))
        if not text and not blocks:
            return HookResult(400, "no_text")
        text = text[:MAX_MESSAGE_TEXT]
        if body.get("replace_original"):
            original = self._original(hook)
            if original is not None:
                original.text = text
                original.blocks = blocks or []
                original.edited_ts = self.state.next_ts()
                self.state.notify()
                return HookResult(200, "ok")
        self._post(hook, body, text, blocks or [])
        return HookResult(200, "ok")

    def _original(self, hook: ResponseUrl) -> Message | None:
        if hook.message_ts is None:
            return None
        return self.state.find_message(hook.channel, hook.message_ts) or self.state.find_ephemeral(
            hook.channel, hook.message_ts, hook.user
        )

    def _post(self, hook: ResponseUrl, body: JSON, text: str, blocks: list[JSON]) -> None:
        ws = self.state.workspace
        thread_ts = body.get("thread_ts") or hook.thread_ts
        message = Message(
            channel=hook.channel,
            ts=self.state.next_ts(),
            text=text,
            user=ws.bot_user_id,
            blocks=blocks,
            bot_id=ws.bot_id,
            app_id=ws.app_id,
            team=ws.team_id,
            source="response_url",
        )
        if body.get("response_type") == "in_channel":
            parent = self.state.find_message(hook.channel, thread_ts) if thread_ts else None
            if parent is not None:
                message.thread_ts = parent.thread_ts if parent.is_reply else parent.ts
            self.state.add_message(message)
        else:
            message.thread_ts = thread_ts
            message.ephemeral_to = hook.user
            self.state.add_ephemeral(message)
        if hook.origin == "command" and hook.message_ts is None:
            hook.message_ts = message.ts  # a later replace_original edits this response
