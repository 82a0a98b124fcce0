"""Acting as a user: build the payloads Slack would send, deliver them, and apply the app's ack.

Payload shapes follow reference §2-§3 (slash command form fields; ``block_actions``,
``view_submission``, ``view_closed``, ``block_suggestion``; ``event_callback`` message events).
The ack is processed as Slack processes it: a command's ack body becomes an ephemeral or
in-channel message, a ``response_action`` steers the modal, ``options`` fill a type-ahead.
"""

from __future__ import annotations

import json
import secrets
import uuid
from typing import Any

from bot.i18n import lang_of_locale

from .elements import (
    ElementError,
    action_payload,
    client_side_error,
    element_slots,
    fill_ids,
    find_element,
    state_values,
    typed_state,
)
from .modals import Modals
from .records import JSON, CommandRecord, Delivery, Message, OpenView, PayloadKind, Trigger
from .response_url import ResponseUrls
from .state import EmulatorState, new_id
from .transport import AppResponse, Transport
from .validation import validate_blocks, validate_options, validate_view
from .webapi import WebApi
from .workspace import Channel, User

DEFAULT_MIN_QUERY_LENGTH = 3


class UserActionError(Exception):
    """The user could not do that in Slack (unknown view, no such button, not in the channel)."""


class InputRejected(UserActionError):
    """Slack's client refused to submit the modal; ``errors`` are shown under the inputs."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(f"the modal was not submitted: {errors}")
        self.errors = errors


class Actor:
    def __init__(
        self,
        state: EmulatorState,
        modals: Modals,
        webapi: WebApi,
        response_urls: ResponseUrls,
        transport: Transport,
    ) -> None:
        self.state = state
        self.modals = modals
        self.webapi = webapi
        self.response_urls = response_urls
        self.transport = transport

    # -- helpers ---------------------------------------------------------------------------------

    def _user(self, user_id: str) -> User:
        user = self.state.workspace.users.get(user_id)
        if user is None:
            raise UserActionError(f"no user {user_id!r}")
        return user

    def _channel(self, ref: str, user: str) -> Channel:
        channel = self.state.channel(ref)
        if channel is None:
            raise UserActionError(f"no channel {ref!r}")
        if not channel.has_member(user):
            raise UserActionError(f"{user} is not a member of {channel.id} ({channel.name})")
        return channel

    def _user_obj(self, user: User) -> JSON:
        ws = self.state.workspace
        return {"id": user.id, "username": user.name, "name": user.name, "team_id": ws.team_id}

    def _common(self, user: User, type_: str) -> JSON:
        ws = self.state.workspace
        return {
            "type": type_,
            "user": self._user_obj(user),
            "api_app_id": ws.app_id,
            "token": ws.verification_token,
            "team": {"id": ws.team_id, "domain": ws.team_domain},
            "enterprise": None,
            "is_enterprise_install": False,
        }

    def _trigger(self, user: str, origin: str) -> str:
        trigger_id = (
            f"{secrets.randbelow(10**11):011d}.{secrets.randbelow(10**9):09d}."
            f"{secrets.token_hex(16)}"
        )
        trigger = Trigger(trigger_id, user, self.state.clock.monotonic(), origin)
        self.state.triggers[trigger_id] = trigger
        return trigger_id

    def _action_ts(self) -> str:
        return f"{self.state.clock.time():.6f}"

    async def _deliver(
        self,
        kind: PayloadKind,
        type_: str,
        payload: JSON,
        *,
        trigger_id: str | None = None,
        response_url: str | None = None,
    ) -> Delivery:
        delivery = Delivery(
            kind=kind,
            type=type_,
            payload=payload,
            sent_at=self.state.clock.monotonic(),
            trigger_id=trigger_id,
            response_url=response_url,
        )
        response = await self.transport.deliver(kind, payload)
        return self.record(delivery, response)

    def record(self, delivery: Delivery, response: AppResponse) -> Delivery:
        """Fill ``delivery`` from the app's answer and remember it."""
        delivery.status = response.status
        delivery.body = response.body
        delivery.latency = response.latency
        delivery.timed_out = response.timed_out
        delivery.error = response.error
        delivery.via = response.via
        delivery.connection = response.connection
        delivery.envelope_id = response.envelope_id
        delivery.retry_attempt = response.retry_attempt
        if delivery.error is None and delivery.status != 200:
            delivery.error = f"http_{delivery.status}"
        self.state.deliveries.append(delivery)
        self.state.notify()
        return delivery

    def record_redelivery(self, kind: PayloadKind, payload: JSON, response: AppResponse) -> None:
        """A transport's own retry of ``payload`` (Socket Mode events): recorded like the first."""
        type_ = str(payload.get("type") or kind)
        delivery = Delivery(
            kind=kind, type=type_, payload=payload, sent_at=self.state.clock.monotonic()
        )
        self.record(delivery, response)

    def _failure(self, source: str, code: str, messages: list[str], payload: Any) -> None:
        self.webapi.record_failure(source, code, messages, payload)

    def _bot_message(self, channel: str, text: str, blocks: list[JSON], source: str) -> Message:
        ws = self.state.workspace
        return Message(
            channel=channel,
            ts=self.state.next_ts(),
            text=text,
            user=ws.bot_user_id,
            blocks=blocks,
            bot_id=ws.bot_id,
            app_id=ws.app_id,
            team=ws.team_id,
            source=source,
        )

    def _top_view(self, user: str, view_id: str) -> OpenView:
        view = self.state.views.get(view_id)
        if view is None or not view.open or view.user != user:
            raise UserActionError(f"{user} has no open view {view_id!r}")
        if self.state.homes.get(user) == view_id:
            return view  # the App Home tab is always "on top" of itself
        top = self.modals.top(user)
        if top is None or top.id != view_id:
            raise UserActionError(f"view {view_id!r} is not the top of {user}'s stack")
        return view

    # -- slash commands --------------------------------------------------------------------------

    async def slash_command(
        self, user: str, channel: str, command: str, text: str = ""
    ) -> Delivery:
        """Type ``command text`` in ``channel``; the ack body is shown as Slack shows it."""
        who = self._user(user)
        where = self._channel(channel, user)
        ws = self.state.workspace
        trigger_id = self._trigger(user, f"command:{command}")
        hook = self.response_urls.issue(user=user, channel=where.id, origin="command")
        payload: JSON = {
            "token": ws.verification_token,
            "team_id": ws.team_id,
            "team_domain": ws.team_domain,
            "channel_id": where.id,
            "channel_name": where.command_channel_name,
            "user_id": who.id,
            "user_name": who.name,
            "command": command,
            "text": text,
            "api_app_id": ws.app_id,
            "is_enterprise_install": False,
            "response_url": hook.url,
            "trigger_id": trigger_id,
        }
        clock = self.state.clock
        self.state.commands.append(
            CommandRecord(
                command, text, user, where.id, trigger_id, hook.url, clock.monotonic(), clock.time()
            )
        )
        delivery = await self._deliver(
            "slash_commands", command, payload, trigger_id=trigger_id, response_url=hook.url
        )
        if delivery.ok:
            self._apply_command_ack(delivery, user, where.id)
        return delivery

    async def shortcut(
        self,
        user: str,
        callback_id: str,
        *,
        channel: str | None = None,
        message_ts: str | None = None,
    ) -> Delivery:
        """Use a global shortcut, or with ``channel`` and ``message_ts`` a message shortcut on
        that message (Slack's ``shortcut`` and ``message_action`` payloads)."""
        who = self._user(user)
        trigger_id = self._trigger(user, f"shortcut:{callback_id}")
        if message_ts is None:
            payload = self._common(who, "shortcut")
            payload.update(
                callback_id=callback_id, trigger_id=trigger_id, action_ts=self._action_ts()
            )
            return await self._deliver("interactive", "shortcut", payload, trigger_id=trigger_id)
        where = self._channel(channel or "", user)
        message = self.state.find_message(where.id, message_ts)
        if message is None:
            raise UserActionError(f"{user} sees no message {message_ts} in {where.id}")
        hook = self.response_urls.issue(
            user=user, channel=where.id, origin="message", message_ts=message_ts
        )
        payload = self._common(who, "message_action")
        payload.update(
            callback_id=callback_id,
            trigger_id=trigger_id,
            action_ts=self._action_ts(),
            message_ts=message_ts,
            channel={"id": where.id, "name": where.command_channel_name},
            message=message.to_dict(),
            response_url=hook.url,
        )
        return await self._deliver(
            "interactive", "message_action", payload, trigger_id=trigger_id, response_url=hook.url
        )

    def _apply_command_ack(self, delivery: Delivery, user: str, channel: str) -> None:
        if not delivery.body.strip():
            return
        body = delivery.json()
        if not isinstance(body, dict):
            body = {"text": delivery.body}
        text = str(body.get("text") or "")
        blocks = body.get("blocks") or []
        errors = validate_blocks(blocks, surface="message") if blocks else []
        if errors:
            self._failure(f"ack:{delivery.type}", "invalid_blocks", errors, blocks)
            return
        if not text and not blocks:
            return
        message = self._bot_message(channel, text, fill_ids(blocks), "ack")
        if body.get("response_type") == "in_channel":
            self.state.add_message(message)
        else:
            message.ephemeral_to = user
            self.state.add_ephemeral(message)

    # -- block actions ---------------------------------------------------------------------------

    async def click(
        self,
        user: str,
        *,
        channel: str,
        ts: str,
        action_id: str,
        value: Any = None,
        selected: Any = None,
        block_id: str | None = None,
    ) -> Delivery:
        """Click a button (or choose in a select, tick a checkbox…) in a stored message."""
        who = self._user(user)
        where = self._channel(channel, user)
        message = self.state.find_message(where.id, ts) or self.state.find_ephemeral(
            where.id, ts, user
        )
        if message is None:
            raise UserActionError(f"{user} sees no message {ts} in {where.id}")
        try:
            block, element = find_element(message.blocks, action_id, block_id)
            action = action_payload(
                block, element, selected if selected is not None else value, self._action_ts()
            )
        except ElementError as exc:
            raise UserActionError(str(exc)) from exc
        touched: dict[str, dict[str, JSON]] = {}
        if element["type"] not in ("button", "overflow", "workflow_button"):
            touched = {str(block["block_id"]): {str(element["action_id"]): _state_of(action)}}
        is_ephemeral = message.ephemeral_to is not None
        thread_ts = message.thread_ts if message.is_reply else None
        hook = self.response_urls.issue(
            user=user, channel=where.id, origin="message", message_ts=ts, thread_ts=thread_ts
        )
        trigger_id = self._trigger(user, f"message:{ts}")
        container: JSON = {
            "type": "message",
            "message_ts": ts,
            "channel_id": where.id,
            "is_ephemeral": is_ephemeral,
        }
        if message.thread_ts:
            container["thread_ts"] = message.thread_ts
        payload = self._common(who, "block_actions")
        payload.update(
            container=container,
            trigger_id=trigger_id,
            channel={"id": where.id, "name": where.command_channel_name},
            message=message.to_dict(),
            state={"values": state_values(message.blocks, touched)},
            response_url=hook.url,
            actions=[action],
        )
        return await self._deliver(
            "interactive", "block_actions", payload, trigger_id=trigger_id, response_url=hook.url
        )

    async def view_action(
        self,
        user: str,
        view_id: str,
        action_id: str,
        *,
        value: Any = None,
        selected: Any = None,
        block_id: str | None = None,
    ) -> Delivery | None:
        """Use an element of an open modal. Inputs in input blocks without ``dispatch_action``
        only change the view's state (Slack sends nothing: ``None``)."""
        who = self._user(user)
        view = self._top_view(user, view_id)
        choice = selected if selected is not None else value
        try:
            block, element = find_element(view.blocks, action_id, block_id)
            action = action_payload(block, element, choice, self._action_ts())
        except ElementError as exc:
            raise UserActionError(str(exc)) from exc
        if element["type"] not in ("button", "overflow", "workflow_button"):
            block_values = view.values.setdefault(str(block["block_id"]), {})
            block_values[str(element["action_id"])] = _state_of(action)
            self.state.notify()
        if block.get("type") == "input" and not block.get("dispatch_action"):
            return None
        trigger_id = self._trigger(user, f"view:{view_id}")
        payload = self._common(who, "block_actions")
        payload.update(
            container={"type": "view", "view_id": view.id},
            trigger_id=trigger_id,
            view=view.to_dict(state_values(view.blocks, view.values)),
            actions=[action],
        )
        return await self._deliver("interactive", "block_actions", payload, trigger_id=trigger_id)

    # -- modals ----------------------------------------------------------------------------------

    def _submission_values(
        self, view: OpenView, values: dict[str, dict[str, Any]]
    ) -> dict[str, dict[str, JSON]]:
        touched = {b: dict(a) for b, a in view.values.items()}
        for block_id, actions in values.items():
            for action_id, value in actions.items():
                try:
                    _, element = find_element(view.blocks, action_id, block_id)
                    touched.setdefault(block_id, {})[action_id] = typed_state(element, value)
                except ElementError as exc:
                    raise UserActionError(str(exc)) from exc
        return state_values(view.blocks, touched)

    def _client_errors(
        self, view: OpenView, full: dict[str, dict[str, JSON]], user: User
    ) -> dict[str, str]:
        """What Slack's client refuses to send, said in the user's language as Slack says it."""
        lang = lang_of_locale(user.locale)
        errors: dict[str, str] = {}
        for block in view.blocks:
            if block.get("type") != "input":
                continue
            for element in element_slots(block):
                block_id, action_id = str(block["block_id"]), str(element.get("action_id"))
                problem = client_side_error(block, element, full[block_id][action_id], lang)
                if problem:
                    errors[block_id] = problem
        return errors

    def _view_response_urls(
        self, view: OpenView, user: str, full: dict[str, dict[str, JSON]]
    ) -> list[JSON]:
        urls = []
        for block in view.blocks:
            element = block.get("element")
            if block.get("type") != "input" or not isinstance(element, dict):
                continue
            if not element.get("response_url_enabled"):
                continue
            block_id, action_id = str(block["block_id"]), str(element.get("action_id"))
            state = full[block_id][action_id]
            channel = state.get("selected_conversation") or state.get("selected_channel")
            if channel:
                hook = self.response_urls.issue(user=user, channel=channel, origin="view")
                urls.append(
                    {
                        "block_id": block_id,
                        "action_id": action_id,
                        "channel_id": channel,
                        "response_url": hook.url,
                    }
                )
        return urls

    async def submit_view(
        self, user: str, view_id: str, values: dict[str, dict[str, Any]] | None = None
    ) -> Delivery:
        """Press Submit. ``values`` is ``{block_id: {action_id: plain value}}``; inputs not named
        keep what they hold (their initial value unless changed). Raises :class:`InputRejected`
        when Slack's client would refuse (a required input empty, a length or number bound)."""
        who = self._user(user)
        view = self._top_view(user, view_id)
        if not view.definition.get("submit") and view.definition.get("type") == "modal":
            raise UserActionError(f"view {view_id!r} has no submit button")
        full = self._submission_values(view, values or {})
        errors = self._client_errors(view, full, who)
        if errors:
            view.errors = errors
            self.state.notify()
            raise InputRejected(errors)
        view.values = full
        view.errors = {}
        trigger_id = self._trigger(user, f"view:{view_id}")
        payload = self._common(who, "view_submission")
        payload.update(
            trigger_id=trigger_id,
            view=view.to_dict(full),
            response_urls=self._view_response_urls(view, user, full),
        )
        delivery = await self._deliver(
            "interactive", "view_submission", payload, trigger_id=trigger_id
        )
        if delivery.ok:
            self._apply_submission_ack(delivery, view)
        return delivery

    def _apply_submission_ack(self, delivery: Delivery, view: OpenView) -> None:
        source = "ack:view_submission"
        if not delivery.body.strip():
            self.modals.close_top(view.user, reason="submit")
            return
        body = delivery.json()
        if not isinstance(body, dict):
            self._failure(source, "invalid_response", ["the ack body is not JSON"], delivery.body)
            return
        action = body.get("response_action")
        if action == "errors":
            self._apply_errors(view, body.get("errors"))
        elif action in ("update", "push"):
            code, messages = validate_view(body.get("view"))
            if code is not None:
                self._failure(f"{source}:{action}", code, messages, body.get("view"))
                return
            if action == "update":
                self.modals.update(view, body["view"])
            elif self.modals.push(view.user, body["view"]) is None:
                self._failure(f"{source}:push", "push_limit_reached", [], body["view"])
        elif action == "clear":
            self.modals.clear(view.user, reason="clear")
        elif action is None:
            self.modals.close_top(view.user, reason="submit")
        else:
            message = f"unknown response_action {action!r}"
            self._failure(source, "invalid_response", [message], body)

    def _apply_errors(self, view: OpenView, errors: Any) -> None:
        inputs = {b.get("block_id") for b in view.blocks if b.get("type") == "input"}
        if not isinstance(errors, dict) or not errors:
            message = "[ERROR] errors must be a non-empty object [json-pointer:/errors]"
            self._failure("ack:view_submission:errors", "invalid_response", [message], errors)
            return
        wrong = [k for k in errors if k not in inputs]
        if wrong:
            messages = [
                f"[ERROR] {k!r} is not the block_id of an input block [json-pointer:/errors/{k}]"
                for k in wrong
            ]
            self._failure("ack:view_submission:errors", "invalid_response", messages, errors)
            return
        view.errors = {str(k): str(v) for k, v in errors.items()}
        self.state.notify()

    async def close_view(self, user: str, view_id: str) -> Delivery | None:
        """Press Close (or ×). ``view_closed`` is sent only for ``notify_on_close`` views."""
        who = self._user(user)
        view = self._top_view(user, view_id)
        cleared = bool(view.definition.get("clear_on_close"))
        if cleared:
            self.modals.clear(user, reason="close")
        else:
            self.modals.close_top(user, reason="close")
        if not view.definition.get("notify_on_close"):
            return None
        payload = self._common(who, "view_closed")
        payload.update(
            view=view.to_dict(state_values(view.blocks, view.values)), is_cleared=cleared
        )
        return await self._deliver("interactive", "view_closed", payload)

    async def suggest(
        self, user: str, view_id: str, action_id: str, text: str, *, block_id: str | None = None
    ) -> list[JSON]:
        """Type ``text`` into an external select of an open modal; the options the app returned
        (option groups flattened). Fewer characters than ``min_query_length`` (default 3) send
        nothing, as in Slack."""
        who = self._user(user)
        view = self._top_view(user, view_id)
        try:
            block, element = find_element(view.blocks, action_id, block_id)
        except ElementError as exc:
            raise UserActionError(str(exc)) from exc
        if element.get("type") not in ("external_select", "multi_external_select"):
            raise UserActionError(
                f"{action_id!r} is a {element.get('type')}, not an external select"
            )
        if len(text) < int(element.get("min_query_length", DEFAULT_MIN_QUERY_LENGTH)):
            return []
        payload = self._common(who, "block_suggestion")
        payload.update(
            container={"type": "view", "view_id": view.id},
            action_id=action_id,
            block_id=block.get("block_id"),
            value=text,
            view=view.to_dict(state_values(view.blocks, view.values)),
        )
        delivery = await self._deliver("interactive", "block_suggestion", payload)
        body = delivery.json() if delivery.ok else None
        if not isinstance(body, dict):
            return []
        options = _flatten_options(body)
        errors = validate_options(options)
        if errors:
            self._failure("ack:block_suggestion", "invalid_options", errors, body)
            return []
        delivery.options = options
        return options

    # -- messages by people --------------------------------------------------------------------

    async def post_message(
        self, user: str, channel: str, text: str, thread_ts: str | None = None
    ) -> tuple[Message, Delivery | None]:
        """Post as ``user``: the stored message, and the delivery of its ``message`` event (sent
        when the bot is in the channel or it is the user's DM with the bot; else ``None``)."""
        self._user(user)
        where = self._channel(channel, user)
        ws = self.state.workspace
        message = Message(
            channel=where.id,
            ts=self.state.next_ts(),
            text=text,
            user=user,
            team=ws.team_id,
            source="user",
        )
        if thread_ts:
            parent = self.state.find_message(where.id, thread_ts)
            if parent is None:
                raise UserActionError(f"no message {thread_ts} in {where.id} to reply to")
            message.thread_ts = parent.thread_ts if parent.is_reply else parent.ts
        self.state.add_message(message)
        if not (where.is_im or where.bot_member):
            return message, None
        event: JSON = {
            "type": "message",
            "channel": where.id,
            "user": user,
            "text": text,
            "ts": message.ts,
            "event_ts": message.ts,
            "channel_type": where.channel_type,
            "team": ws.team_id,
            "client_msg_id": str(uuid.uuid4()),
            "blocks": [{"type": "rich_text", "block_id": new_id("", 5), **_rich_text_body(text)}],
        }
        if message.thread_ts:
            event["thread_ts"] = message.thread_ts
            event["parent_user_id"] = message.parent_user_id
        payload: JSON = {
            "token": ws.verification_token,
            "team_id": ws.team_id,
            "context_team_id": ws.team_id,
            "api_app_id": ws.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": new_id("Ev"),
            "event_time": int(self.state.clock.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": ws.team_id,
                    "user_id": ws.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": new_id("4-", 24),
        }
        return message, await self._deliver("events_api", "event_callback", payload)

    async def open_home(self, user: str) -> Delivery | None:
        """The user opens the app's Home tab: an ``app_home_opened`` event."""
        self._user(user)
        ws = self.state.workspace
        dm = self._channel(user, user)
        event: JSON = {
            "type": "app_home_opened",
            "user": user,
            "channel": dm.id,
            "tab": "home",
            "event_ts": self.state.next_ts(),
        }
        home = self.state.home(user)
        if home is not None:
            event["view"] = home.to_dict()
        payload: JSON = {
            "token": ws.verification_token,
            "team_id": ws.team_id,
            "api_app_id": ws.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": new_id("Ev"),
            "event_time": int(self.state.clock.time()),
        }
        return await self._deliver("events_api", "event_callback", payload)


def _state_of(action: JSON) -> JSON:
    """The element state an action leaves behind (the action minus its envelope fields)."""
    skip = ("action_id", "block_id", "action_ts", "placeholder", "text", "style", "value_ts")
    state: JSON = json.loads(json.dumps({k: v for k, v in action.items() if k not in skip}))
    return state


def _rich_text_body(text: str) -> JSON:
    section = {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}
    return {"elements": [section]}


def _flatten_options(body: JSON) -> list[JSON]:
    if isinstance(body.get("options"), list):
        return list(body["options"])
    options: list[JSON] = []
    for group in body.get("option_groups") or []:
        if isinstance(group, dict):
            options.extend(group.get("options") or [])
    return options
