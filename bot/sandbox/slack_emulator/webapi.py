"""The Web API subset the bot calls, answering as Slack does.

Errors are HTTP 200 ``{"ok": false, "error": ...}`` envelopes, except rate limits (429 with
``Retry-After``: Slack's tiers when :mod:`.ratelimits` is on, or injected) and injected 5xx.
Every call is recorded in :attr:`EmulatorState.api_calls`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from .elements import fill_ids
from .modals import Modals
from .ratelimits import RateLimits
from .records import JSON, ApiCall, Fault, Message, OpenView, ValidationFailure
from .state import EmulatorState
from .validation import MAX_MESSAGE_TEXT, validate_blocks, validate_view
from .workspace import Channel

TRIGGER_TTL_S = 3.0


@dataclass
class ApiResult:
    body: JSON | str
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


class ApiError(Exception):
    """Ends a method with ``{"ok": false, "error": code}`` (plus ``response_metadata``)."""

    def __init__(self, code: str, messages: list[str] | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.messages = messages or []

    def body(self) -> JSON:
        body: JSON = {"ok": False, "error": self.code}
        if self.messages:
            body["response_metadata"] = {"messages": self.messages}
        return body


Params = dict[str, Any]
Handler = Callable[[Params], Awaitable[JSON]]


def _str(params: Params, key: str) -> str | None:
    value = params.get(key)
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _bool(params: Params, key: str) -> bool:
    value = params.get(key)
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("1", "true", "yes")


def _json_arg(params: Params, key: str) -> Any:
    """A structured argument: native in JSON bodies, a JSON string in forms and queries."""
    value = params.get(key)
    if isinstance(value, str):
        if not value.strip():
            return None
        return json.loads(value)
    return value


class WebApi:
    def __init__(
        self,
        state: EmulatorState,
        modals: Modals,
        *,
        bot_token: str,
        base_url: Callable[[], str],
        app_token: str | None = None,
        rate_limits: RateLimits | None = None,
    ) -> None:
        self.state = state
        self.rate_limits = rate_limits or RateLimits(state.clock)
        self.modals = modals
        self.bot_token = bot_token
        self.app_token = app_token
        self.base_url = base_url
        # Methods that take the app-level token (``xapp-…``), and only in the header.
        self.app_methods: dict[str, Handler] = {}
        self.methods: dict[str, Handler] = {
            "auth.test": self.auth_test,
            "chat.postMessage": self.chat_post_message,
            "chat.update": self.chat_update,
            "chat.delete": self.chat_delete,
            "chat.postEphemeral": self.chat_post_ephemeral,
            "chat.getPermalink": self.chat_get_permalink,
            "views.open": self.views_open,
            "views.update": self.views_update,
            "views.publish": self.views_publish,
            "views.push": self.views_push,
            "conversations.open": self.conversations_open,
            "conversations.history": self.conversations_history,
            "conversations.replies": self.conversations_replies,
            "users.info": self.users_info,
            "usergroups.users.list": self.usergroups_users_list,
        }

    # -- dispatch --------------------------------------------------------------------------------

    async def handle(
        self,
        method: str,
        http_method: str,
        params: Params,
        token: str | None,
        *,
        early_error: str | None = None,
        token_in_header: bool = True,
    ) -> ApiResult:
        """Answer one call and record it; ``early_error`` (e.g. ``invalid_json``) short-cuts.
        ``token_in_header`` says whether ``token`` came as ``Authorization: Bearer``."""
        clock = self.state.clock
        call = ApiCall(
            method=method,
            params={k: v for k, v in params.items() if k != "token"},
            http_method=http_method,
            received_at=clock.monotonic(),
            received_wall=clock.time(),
        )
        self.state.api_calls.append(call)
        try:
            if early_error is not None:
                result = ApiResult({"ok": False, "error": early_error})
            else:
                result = await self._handle(method, params, token, token_in_header)
        finally:
            self.state.notify()
        body = result.body
        if isinstance(body, dict):
            call.ok = bool(body.get("ok"))
            call.error = body.get("error")
        call.status = result.status
        return result

    def _auth_error(self, method: str, token: str | None, token_in_header: bool) -> str | None:
        if method in self.app_methods:
            # reference §7: the app-level token must come in the Authorization header.
            if not token or not token_in_header:
                return "not_authed"
            if token == self.bot_token:
                return "not_allowed_token_type"
            return None if self.app_token and token == self.app_token else "invalid_auth"
        if not token:
            return "not_authed"
        if self.app_token and token == self.app_token:
            return "not_allowed_token_type"
        return None if token == self.bot_token else "invalid_auth"

    async def _handle(
        self, method: str, params: Params, token: str | None, token_in_header: bool = True
    ) -> ApiResult:
        handler = self.methods.get(method) or self.app_methods.get(method)
        if handler is None:
            return ApiResult({"ok": False, "error": "unknown_method", "req_method": method})
        auth_error = self._auth_error(method, token, token_in_header)
        if auth_error is not None:
            return ApiResult({"ok": False, "error": auth_error})
        headers = {"x-oauth-scopes": ",".join(self.state.workspace.scopes)}
        if method in self.app_methods:
            headers = {"x-oauth-scopes": "connections:write"}
        fault = self.take_fault(method)
        if fault is not None and fault.passes:
            await asyncio.sleep(fault.delay)
        elif fault is not None:
            return await self.fault_result(fault, headers)
        retry_after = self.rate_limits.check(method, _str(params, "channel"))
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
            return ApiResult({"ok": False, "error": "ratelimited"}, status=429, headers=headers)
        try:
            body = await handler(params)
        except ApiError as exc:
            return ApiResult(exc.body(), headers=headers)
        return ApiResult(body, headers=headers)

    def take_fault(self, method: str) -> Fault | None:
        for fault in self.state.faults:
            if fault.method in (method, "*") and (fault.count is None or fault.count > 0):
                if fault.count is not None:
                    fault.count -= 1
                return fault
        return None

    async def fault_result(self, fault: Fault, headers: dict[str, str]) -> ApiResult:
        if fault.delay:
            await asyncio.sleep(fault.delay)
        headers = dict(headers)
        if fault.status == 429:
            headers["Retry-After"] = str(fault.retry_after if fault.retry_after is not None else 1)
        return ApiResult({"ok": False, "error": fault.code}, status=fault.status, headers=headers)

    # -- shared checks ---------------------------------------------------------------------------

    def _channel(self, params: Params, key: str = "channel") -> Channel:
        ref = _str(params, key)
        channel = self.state.channel(ref) if ref else None
        if channel is None:
            raise ApiError("channel_not_found")
        return channel

    def _postable(self, params: Params) -> Channel:
        """Where the bot may post: its DMs, channels it is in, and with ``chat:write.public``
        any public channel; a private channel it is not in does not exist for it."""
        channel = self._channel(params)
        if channel.is_im or channel.bot_member:
            return channel
        if channel.is_private:
            raise ApiError("channel_not_found")
        if "chat:write.public" not in self.state.workspace.scopes:
            raise ApiError("not_in_channel")
        return channel

    def record_failure(self, source: str, code: str, messages: list[str], payload: Any) -> None:
        self.state.validation_failures.append(ValidationFailure(source, code, messages, payload))
        self.state.notify()

    def _blocks(self, params: Params, source: str) -> list[JSON] | None:
        if params.get("blocks") is None:
            return None
        try:
            blocks = _json_arg(params, "blocks")
        except ValueError as exc:
            self.record_failure(source, "invalid_blocks_format", [str(exc)], params.get("blocks"))
            raise ApiError("invalid_blocks_format") from exc
        if blocks is None:
            return None
        errors = validate_blocks(blocks, surface="message")
        if errors:
            self.record_failure(source, "invalid_blocks", errors, blocks)
            raise ApiError("invalid_blocks", errors)
        return fill_ids(json.loads(json.dumps(blocks)))

    def _content(self, params: Params, source: str) -> tuple[str, list[JSON] | None, Any]:
        text = _str(params, "text") or ""
        blocks = self._blocks(params, source)
        attachments = _json_arg(params, "attachments") if params.get("attachments") else None
        if not text and not blocks and not attachments:
            raise ApiError("no_text")
        return text, blocks, attachments

    def _bot_message(self, channel: str, text: str, blocks: list[JSON] | None) -> Message:
        ws = self.state.workspace
        return Message(
            channel=channel,
            ts=self.state.next_ts(),
            text=text,
            user=ws.bot_user_id,
            blocks=blocks or [],
            bot_id=ws.bot_id,
            app_id=ws.app_id,
            team=ws.team_id,
        )

    # -- methods ---------------------------------------------------------------------------------

    async def auth_test(self, params: Params) -> JSON:
        ws = self.state.workspace
        return {
            "ok": True,
            "url": self.base_url() + "/",
            "team": ws.team_name,
            "user": ws.bot_name,
            "team_id": ws.team_id,
            "user_id": ws.bot_user_id,
            "bot_id": ws.bot_id,
            "is_enterprise_install": False,
        }

    async def chat_post_message(self, params: Params) -> JSON:
        channel = self._postable(params)
        text, blocks, attachments = self._content(params, "chat.postMessage")
        response: JSON = {"ok": True, "channel": channel.id}
        if len(text) > MAX_MESSAGE_TEXT:
            text = text[:MAX_MESSAGE_TEXT]
            response["warning"] = "message_truncated"
            response["response_metadata"] = {"warnings": ["message_truncated"]}
        thread_ts = _str(params, "thread_ts") or None
        if thread_ts is not None:
            parent = self.state.find_message(channel.id, thread_ts)
            if parent is None:
                raise ApiError("thread_not_found")
            thread_ts = parent.thread_ts if parent.is_reply else parent.ts
        message = self._bot_message(channel.id, text, blocks)
        message.thread_ts = thread_ts
        message.attachments = attachments
        message.metadata = _json_arg(params, "metadata") if params.get("metadata") else None
        self.state.add_message(message, broadcast=_bool(params, "reply_broadcast"))
        response.update(ts=message.ts, message=message.to_dict())
        return response

    async def chat_update(self, params: Params) -> JSON:
        channel = self._channel(params)
        ts = _str(params, "ts") or ""
        message = self.state.find_message(channel.id, ts)
        if message is None:
            raise ApiError("message_not_found")
        if message.bot_id != self.state.workspace.bot_id:
            raise ApiError("cant_update_message")
        has_text = params.get("text") is not None
        blocks = self._blocks(params, "chat.update")
        if not has_text and blocks is None and not params.get("attachments"):
            raise ApiError("no_text")
        text = _str(params, "text") or ""
        if len(text) > MAX_MESSAGE_TEXT:
            raise ApiError("msg_too_long")
        if has_text:
            message.text = text
        if blocks is not None:
            message.blocks = blocks
        message.edited_ts = self.state.next_ts()
        self.state.notify()
        return {
            "ok": True,
            "channel": channel.id,
            "ts": message.ts,
            "text": message.text,
            "message": message.to_dict(),
        }

    async def chat_delete(self, params: Params) -> JSON:
        channel = self._channel(params)
        message = self.state.find_message(channel.id, _str(params, "ts") or "")
        if message is None:
            raise ApiError("message_not_found")
        if message.bot_id != self.state.workspace.bot_id:
            raise ApiError("cant_delete_message")
        self.state.delete_message(message)
        return {"ok": True, "channel": channel.id, "ts": message.ts}

    async def chat_post_ephemeral(self, params: Params) -> JSON:
        user = _str(params, "user") or ""
        if user not in self.state.workspace.users:
            raise ApiError("user_not_found")
        channel = self._postable(params)
        if not channel.has_member(user):
            raise ApiError("user_not_in_channel")
        text, blocks, attachments = self._content(params, "chat.postEphemeral")
        if len(text) > MAX_MESSAGE_TEXT:
            raise ApiError("msg_too_long")
        message = self._bot_message(channel.id, text, blocks)
        message.attachments = attachments
        message.thread_ts = _str(params, "thread_ts") or None
        message.ephemeral_to = user
        message.source = "chat.postEphemeral"
        self.state.add_ephemeral(message)
        return {"ok": True, "message_ts": message.ts}

    async def chat_get_permalink(self, params: Params) -> JSON:
        channel = self._channel(params)
        message = self.state.find_message(channel.id, _str(params, "message_ts") or "")
        if message is None:
            raise ApiError("message_not_found")
        link = f"{self.base_url()}/archives/{channel.id}/p{message.ts.replace('.', '')}"
        if message.is_reply:
            link += f"?thread_ts={message.thread_ts}&cid={channel.id}"
        return {"ok": True, "channel": channel.id, "permalink": link}

    # -- views -----------------------------------------------------------------------------------

    def _view_arg(self, params: Params, source: str) -> JSON:
        try:
            view = _json_arg(params, "view")
        except ValueError as exc:
            message = "[ERROR] failed to parse view [json-pointer:/view]"
            self.record_failure(source, "invalid_arguments", [message], params.get("view"))
            raise ApiError("invalid_arguments", [message]) from exc
        if view is None:
            raise ApiError("invalid_arguments", ["[ERROR] missing required field: view"])
        code, errors = validate_view(view)
        if code is not None:
            self.record_failure(source, code, errors, view)
            raise ApiError(code, errors)
        assert isinstance(view, dict)
        return view

    @staticmethod
    def _trigger_id(params: Params) -> str:
        return _str(params, "trigger_id") or _str(params, "interactivity_pointer") or ""

    def _note_arrival(self, params: Params) -> None:
        """Remember when the first views call for a slash command's trigger arrived."""
        trigger_id = self._trigger_id(params)
        for command in self.state.commands:
            if command.trigger_id == trigger_id and command.views_open_at is None:
                command.views_open_at = self.state.clock.monotonic()

    def _exchange_trigger(self, params: Params) -> str:
        """Use up a trigger_id; the user it was issued to."""
        trigger_id = self._trigger_id(params)
        now = self.state.clock.monotonic()
        trigger = self.state.triggers.get(trigger_id)
        if trigger is None:
            raise ApiError("invalid_trigger_id")
        if trigger.used_at is not None:
            raise ApiError("exchanged_trigger_id")
        if now - trigger.issued_at > TRIGGER_TTL_S:
            raise ApiError("expired_trigger_id")
        trigger.used_at = now
        return trigger.user

    def _check_external_id(self, view: JSON, other_than: str | None = None) -> None:
        external_id = view.get("external_id")
        if isinstance(external_id, str) and self.modals.external_id_taken(
            external_id, other_than=other_than
        ):
            raise ApiError("duplicate_external_id")

    async def views_open(self, params: Params) -> JSON:
        self._note_arrival(params)
        view = self._view_arg(params, "views.open")
        self._check_external_id(view)
        user = self._exchange_trigger(params)
        opened = self.modals.open(user, view)
        return {"ok": True, "view": opened.to_dict()}

    async def views_publish(self, params: Params) -> JSON:
        """App Home: ``user_id`` + a ``home`` view; ``hash`` guards against stale publishes."""
        user_id = _str(params, "user_id")
        if not user_id or user_id not in self.state.workspace.users:
            raise ApiError("user_not_found")
        view = self._view_arg(params, "views.publish")
        if view.get("type") != "home":
            raise ApiError(
                "invalid_arguments", ["[ERROR] must be a home view [json-pointer:/view/type]"]
            )
        expected = _str(params, "hash")
        current = self.state.home(user_id)
        if expected and current is not None and expected != current.hash:
            raise ApiError("hash_conflict")
        published = self.modals.publish(user_id, view)
        return {"ok": True, "view": published.to_dict()}

    async def views_push(self, params: Params) -> JSON:
        self._note_arrival(params)
        view = self._view_arg(params, "views.push")
        self._check_external_id(view)
        user = self._exchange_trigger(params)
        pushed = self.modals.push(user, view)
        if pushed is None:
            raise ApiError("push_limit_reached")
        return {"ok": True, "view": pushed.to_dict()}

    async def views_update(self, params: Params) -> JSON:
        view_id = _str(params, "view_id")
        external_id = _str(params, "external_id")
        if not view_id and not external_id:
            raise ApiError("invalid_arguments", ["[ERROR] view_id or external_id is required"])
        target: OpenView | None
        if view_id:
            target = self.state.views.get(view_id)
        else:
            target = self.modals.by_external_id(external_id or "")
        if target is None or not target.open:
            raise ApiError("not_found")
        view = self._view_arg(params, "views.update")
        expected = _str(params, "hash")
        if expected and expected != target.hash:
            raise ApiError("hash_conflict")
        self._check_external_id(view, other_than=target.id)
        self.modals.update(target, view)
        return {"ok": True, "view": target.to_dict()}

    # -- people and conversations ----------------------------------------------------------------

    async def conversations_open(self, params: Params) -> JSON:
        ws = self.state.workspace
        channel_ref = _str(params, "channel")
        users = [u.strip() for u in (_str(params, "users") or "").split(",") if u.strip()]
        if channel_ref:
            channel = ws.channels.get(channel_ref)
            if channel is None or not channel.is_im:
                raise ApiError("channel_not_found")
            existed = True
        elif len(users) == 1:
            if users[0] not in ws.users:
                raise ApiError("user_not_found")
            existed = any(c.is_im and c.im_user == users[0] for c in ws.channels.values())
            channel = ws.im_for(users[0])
        elif not users:
            raise ApiError("users_list_not_supplied")
        else:
            raise ApiError("not_supported_in_emulator")  # group DMs are not modelled
        body: JSON = {"ok": True}
        if existed:
            body.update(no_op=True, already_open=True)
        if _bool(params, "return_im"):
            body["channel"] = {"id": channel.id, "is_im": True, "user": channel.im_user}
        else:
            body["channel"] = {"id": channel.id}
        self.state.notify()
        return body

    async def conversations_history(self, params: Params) -> JSON:
        """Top-level messages, newest first, between ``oldest`` and ``latest`` (exclusive unless
        ``inclusive``). The bot must be in the conversation: a public channel it has not joined
        answers ``not_in_channel``, a private one it cannot see ``channel_not_found``."""
        channel = self._channel(params)
        if not channel.is_im and not channel.bot_member:
            raise ApiError("channel_not_found" if channel.is_private else "not_in_channel")
        try:
            oldest = float(_str(params, "oldest") or 0)
            latest = float(_str(params, "latest") or "inf")
            limit = max(1, min(999, int(_str(params, "limit") or 100)))
            # The cursor is the ts of the last message handed out: the next page is older.
            cursor = float(_str(params, "cursor") or "inf")
        except ValueError:
            raise ApiError("invalid_arguments") from None
        inclusive = _bool(params, "inclusive")

        def within(message: Message) -> bool:
            ts = float(message.ts)
            if inclusive:
                return oldest <= ts <= latest and ts < cursor
            return oldest < ts < latest and ts < cursor

        found = [m for m in reversed(self.state.messages(channel.id)) if within(m)]
        page = found[:limit]
        has_more = len(found) > limit
        return {
            "ok": True,
            "messages": [m.to_dict() for m in page],
            "has_more": has_more,
            "pin_count": 0,
            "response_metadata": {"next_cursor": page[-1].ts if has_more else ""},
        }

    async def conversations_replies(self, params: Params) -> JSON:
        """A thread: the parent then its replies, oldest first, the replies limited to
        ``oldest``/``latest`` (the parent always comes first, as on Slack). Membership rules
        as for ``conversations.history``; an unknown ``ts`` is ``thread_not_found``."""
        channel = self._channel(params)
        if not channel.is_im and not channel.bot_member:
            raise ApiError("channel_not_found" if channel.is_private else "not_in_channel")
        parent = self.state.message(channel.id, _str(params, "ts") or "")
        if parent is None:
            raise ApiError("thread_not_found")
        try:
            oldest = float(_str(params, "oldest") or 0)
            latest = float(_str(params, "latest") or "inf")
            limit = max(1, min(1000, int(_str(params, "limit") or 1000)))
        except ValueError:
            raise ApiError("invalid_arguments") from None
        inclusive = _bool(params, "inclusive")

        def within(message: Message) -> bool:
            ts = float(message.ts)
            return oldest <= ts <= latest if inclusive else oldest < ts < latest

        replies = [m for m in parent.replies if within(m)][: limit - 1]
        return {
            "ok": True,
            "messages": [parent.to_dict(), *(m.to_dict() for m in replies)],
            "has_more": False,
            "response_metadata": {"next_cursor": ""},
        }

    async def users_info(self, params: Params) -> JSON:
        ws = self.state.workspace
        user = ws.users.get(_str(params, "user") or "")
        if user is None:
            raise ApiError("user_not_found")
        include_locale = _bool(params, "include_locale")
        return {"ok": True, "user": user.to_dict(ws.team_id, include_locale=include_locale)}

    async def usergroups_users_list(self, params: Params) -> JSON:
        group = self.state.workspace.usergroups.get(_str(params, "usergroup") or "")
        if group is None:
            raise ApiError("no_such_subteam")
        return {"ok": True, "users": list(group.members)}
