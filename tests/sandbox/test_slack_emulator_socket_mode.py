"""Socket Mode in the emulator: apps.connections.open, the WebSocket protocol, and real Bolt
``AsyncSocketModeHandler`` apps connected through ``AsyncWebClient(base_url=emu.api_url)``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox.slack_emulator import SlackEmulator
from tests.fixtures.slack import APP_TOKEN, BOT_TOKEN, SIGNING_SECRET
from tests.support.bolt import open_form, plain, register_form

Body = dict[str, Any]


@contextlib.asynccontextmanager
async def socket_app(emu: SlackEmulator) -> AsyncIterator[AsyncApp]:
    """A Bolt app connected to ``emu`` over Socket Mode (the SDK's aiohttp client)."""
    app = AsyncApp(
        signing_secret=SIGNING_SECRET,
        client=AsyncWebClient(token=BOT_TOKEN, base_url=emu.api_url),
    )
    handler = AsyncSocketModeHandler(app, APP_TOKEN)
    before = {c.id for c in emu.socket.live_connections()}
    try:
        await handler.connect_async()
        await emu.wait_for(lambda: {c.id for c in emu.socket.live_connections()} - before)
        yield app
    finally:
        await handler.close_async()
        await asyncio.sleep(0)  # let the SDK's cancelled tasks finish


async def open_socket(
    http: aiohttp.ClientSession, emu: SlackEmulator, **kwargs: Any
) -> aiohttp.ClientWebSocketResponse:
    async with http.post(
        emu.api_url + "apps.connections.open", headers={"Authorization": f"Bearer {APP_TOKEN}"}
    ) as resp:
        url = (await resp.json())["url"]
    return await http.ws_connect(url, **kwargs)


async def receive_json(ws: aiohttp.ClientWebSocketResponse) -> Body:
    message = await asyncio.wait_for(ws.receive(), 5)
    assert message.type == aiohttp.WSMsgType.TEXT, message
    data: Body = json.loads(message.data)
    return data


# -- apps.connections.open ----------------------------------------------------------------------


async def test_connections_open_takes_the_app_token_in_the_header_only(
    slack_emu_socket: SlackEmulator,
) -> None:
    emu = slack_emu_socket
    client = AsyncWebClient(base_url=emu.api_url)
    opened = await client.apps_connections_open(app_token=APP_TOKEN)
    url = opened["url"]
    assert url.startswith(emu.url.replace("http://", "ws://") + "/socket-mode/link/?ticket=")
    assert url.endswith("&app_id=A0CLONE")
    for token, error in (("xapp-wrong", "invalid_auth"), (BOT_TOKEN, "not_allowed_token_type")):
        with pytest.raises(SlackApiError) as err:
            await client.apps_connections_open(app_token=token)
        assert err.value.response["error"] == error
    async with aiohttp.ClientSession() as http:
        # As a POST parameter it is an error (reference §7), as is no token at all.
        for data in ({"token": APP_TOKEN}, {}):
            async with http.post(emu.api_url + "apps.connections.open", data=data) as resp:
                assert (await resp.json()) == {"ok": False, "error": "not_authed"}
    with pytest.raises(SlackApiError) as err:
        await AsyncWebClient(token=APP_TOKEN, base_url=emu.api_url).chat_postMessage(
            channel="C0APPROVE", text="hi"
        )
    assert err.value.response["error"] == "not_allowed_token_type"
    assert emu.state.calls("apps.connections.open")[0].ok


async def test_without_an_app_token_configured_no_app_token_is_valid() -> None:
    async with SlackEmulator(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN) as emu:
        with pytest.raises(SlackApiError) as err:
            await AsyncWebClient(base_url=emu.api_url).apps_connections_open(app_token=APP_TOKEN)
        assert err.value.response["error"] == "invalid_auth"


async def test_a_ticket_is_single_use(slack_emu_socket: SlackEmulator) -> None:
    emu = slack_emu_socket
    url = (await AsyncWebClient(base_url=emu.api_url).apps_connections_open(app_token=APP_TOKEN))[
        "url"
    ]
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
        assert (await receive_json(ws))["type"] == "hello"
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await http.ws_connect(url)
        assert err.value.status == 401


# -- the WebSocket protocol, with a raw client --------------------------------------------------


async def test_hello_envelope_and_ack_payload_applied_like_an_http_ack(
    slack_emu_socket: SlackEmulator,
) -> None:
    emu = slack_emu_socket
    async with aiohttp.ClientSession() as http, await open_socket(http, emu) as ws:
        hello = await receive_json(ws)
        assert hello["type"] == "hello" and hello["num_connections"] == 1
        assert hello["connection_info"] == {"app_id": "A0CLONE"}
        assert {"host", "build_number", "approximate_connection_time"} <= set(hello["debug_info"])
        command = asyncio.create_task(emu.slash_command("U0REQ", "C0GENERAL", "/echo", "hi"))
        envelope = await receive_json(ws)
        assert envelope["type"] == "slash_commands"
        assert envelope["accepts_response_payload"] is True
        assert "retry_attempt" not in envelope
        assert envelope["payload"]["command"] == "/echo" and envelope["payload"]["text"] == "hi"
        await ws.send_json({"envelope_id": envelope["envelope_id"], "payload": {"text": "echo"}})
        delivery = await command
    assert delivery.ok and delivery.via == "socket" and delivery.envelope_id
    assert [m.text for m in emu.state.ephemerals("U0REQ")] == ["echo"]


async def test_ping_pong_both_ways() -> None:
    async with (
        SlackEmulator(
            signing_secret=SIGNING_SECRET,
            bot_token=BOT_TOKEN,
            app_token=APP_TOKEN,
            mode="socket",
            socket_heartbeat=0.2,
        ) as emu,
        aiohttp.ClientSession() as http,
        await open_socket(http, emu, autoping=False) as ws,
    ):
        assert (await receive_json(ws))["type"] == "hello"
        await ws.ping(b"sdk-ping-pong:1")
        seen = set()
        while {aiohttp.WSMsgType.PING, aiohttp.WSMsgType.PONG} - seen:
            message = await asyncio.wait_for(ws.receive(), 5)
            seen.add(message.type)
            if message.type == aiohttp.WSMsgType.PONG:
                assert message.data == b"sdk-ping-pong:1"
            elif message.type == aiohttp.WSMsgType.PING:
                await ws.pong(message.data)  # the emulator's heartbeat
        # Heartbeats answered for a while: the connection stays.
        pings = 0
        loop = asyncio.get_running_loop()
        until = loop.time() + 0.6
        while loop.time() < until:
            with contextlib.suppress(TimeoutError):
                message = await asyncio.wait_for(ws.receive(), until - loop.time())
                if message.type == aiohttp.WSMsgType.PING:
                    pings += 1
                    await ws.pong(message.data)
        assert pings >= 2 and emu.socket.connected
        # Heartbeats unanswered: the emulator drops the connection.
        await emu.wait_for(lambda: not emu.socket.connected)


async def test_an_unacked_event_is_redelivered_with_retry_attempt() -> None:
    async with (
        SlackEmulator(
            signing_secret=SIGNING_SECRET,
            bot_token=BOT_TOKEN,
            app_token=APP_TOKEN,
            mode="socket",
            ack_timeout=0.3,
            event_retry_delays=(0.0, 0.05, 0.05),
        ) as emu,
        aiohttp.ClientSession() as http,
        await open_socket(http, emu) as ws,
    ):
        assert (await receive_json(ws))["type"] == "hello"
        first = await emu.post_message("U0APP1", "C0APPROVE", "hello bot")
        assert first is not None and first.timed_out and first.retry_attempt == 0
        envelope = await receive_json(ws)
        assert envelope["type"] == "events_api" and envelope["retry_attempt"] == 0
        assert envelope["retry_reason"] == "" and envelope["accepts_response_payload"] is False
        retry = await receive_json(ws)
        assert retry["retry_attempt"] == 1 and retry["retry_reason"] == "timeout"
        assert retry["envelope_id"] != envelope["envelope_id"]
        assert retry["payload"] == envelope["payload"]
        await ws.send_json({"envelope_id": retry["envelope_id"]})
        redelivered = await emu.wait_for(
            lambda: [d for d in emu.state.deliveries if d.retry_attempt == 1]
        )
        assert redelivered[0].ok and redelivered[0].type == "event_callback"
        await asyncio.sleep(0.5)
        assert [d.retry_attempt for d in emu.state.deliveries] == [0, 1]


async def test_no_more_than_ten_connections() -> None:
    async with (
        SlackEmulator(
            signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN, app_token=APP_TOKEN
        ) as emu,
        aiohttp.ClientSession() as http,
        contextlib.AsyncExitStack() as stack,
    ):
        for n in range(1, 11):
            ws = await stack.enter_async_context(await open_socket(http, emu))
            assert (await receive_json(ws))["num_connections"] == n
        extra = await stack.enter_async_context(await open_socket(http, emu))
        refused = await receive_json(extra)
        assert refused["type"] == "disconnect" and refused["reason"] == "too_many_websockets"
        assert (await extra.receive()).type == aiohttp.WSMsgType.CLOSE
        assert len(emu.socket.live_connections()) == 10


async def test_socket_mode_without_a_connection_fails_and_auto_falls_back_to_http() -> None:
    async with SlackEmulator(
        signing_secret=SIGNING_SECRET,
        bot_token=BOT_TOKEN,
        app_token=APP_TOKEN,
        mode="socket",
        ack_timeout=0.2,
    ) as emu:
        delivery = await emu.slash_command("U0REQ", "C0GENERAL", "/x")
        assert not delivery.ok and delivery.error == "no_socket_connection"
        emu.mode = "auto"
        with pytest.raises(RuntimeError, match="no app_url"):
            await emu.slash_command("U0REQ", "C0GENERAL", "/x")  # HTTP, which has no app_url
        with pytest.raises(ValueError, match="mode must be one of"):
            emu.mode = "carrier-pigeon"  # type: ignore[assignment]


# -- with Bolt's AsyncSocketModeHandler ---------------------------------------------------------


async def test_bolt_over_socket_mode_commands_modals_options_actions_and_events(
    slack_emu_socket: SlackEmulator,
) -> None:
    emu = slack_emu_socket
    seen: dict[str, Any] = {}
    events: list[Body] = []
    async with socket_app(emu) as app:
        register_form(app, seen)

        @app.command("/echo")
        async def echo(ack: AsyncAck, command: Body) -> None:
            await ack(text=f"echo {command['text']}")

        @app.action("approve")
        async def approve(ack: AsyncAck, body: Body) -> None:
            await ack()
            seen["click"] = body

        @app.event("message")
        async def on_message(event: Body) -> None:
            events.append(event)

        # A command whose ack carries text: an ephemeral, as over HTTP.
        delivery = await emu.slash_command("U0REQ", "C0GENERAL", "/echo", "hi")
        assert delivery.ok and delivery.via == "socket"
        assert [m.text for m in emu.state.ephemerals("U0REQ")] == ["echo hi"]

        # A modal: errors, then update, from the ack payload.
        view_id = await open_form(emu, seen)
        values = {
            "name": {"name_input": "taken"},
            "cpu": {"cpu_input": "8"},
            "kind": {"kind_select": "endpoint"},
            "approver": {"approver_select": "U0APP2"},
        }
        await emu.submit_view("U0REQ", view_id, values)
        assert emu.state.view(view_id).errors == {"name": "That name is taken"}
        values["name"] = {"name_input": "update"}
        await emu.submit_view("U0REQ", view_id, values)
        view = emu.state.view(view_id)
        assert view.open and view.callback_id == "done" and view.errors == {}
        await emu.close_view("U0REQ", view_id)
        del seen["opened"]

        # block_suggestion options come back in the ack payload.
        view_id = await open_form(emu, seen)
        options = await emu.suggest("U0REQ", view_id, "source_select", "llama")
        assert [o["value"] for o in options] == ["llama-1", "llama-2"]
        await emu.close_view("U0REQ", view_id)

        # block_actions from a message button.
        client = AsyncWebClient(token=BOT_TOKEN, base_url=emu.api_url)
        button = {
            "type": "actions",
            "block_id": "decide",
            "elements": [
                {"type": "button", "action_id": "approve", "text": plain("Approve"), "value": "7"}
            ],
        }
        ts = (await client.chat_postMessage(channel="C0APPROVE", text="card", blocks=[button]))[
            "ts"
        ]
        click = await emu.click("U0APP1", channel="C0APPROVE", ts=ts, action_id="approve")
        assert click.ok and click.via == "socket"
        await emu.wait_for(lambda: "click" in seen)
        assert seen["click"]["actions"][0]["value"] == "7"

        # A message event in a thread.
        posted = await emu.post_message("U0APP1", "C0APPROVE", "lgtm", thread_ts=ts)
        assert posted is not None and posted.ok
        await emu.wait_for(lambda: events)
        assert events[0]["text"] == "lgtm" and events[0]["thread_ts"] == ts
    assert emu.validation_failures == []


def replica_listener(name: str, handled: list[str]) -> Any:
    async def ping(ack: AsyncAck, command: Body) -> None:
        handled.append(command["text"])
        await ack(text=f"pong from {name}")

    return ping


async def test_two_connections_share_the_envelopes(slack_emu_socket: SlackEmulator) -> None:
    emu = slack_emu_socket
    emu.socket.rng = random.Random(7)
    handled: dict[str, list[str]] = {"a": [], "b": []}
    async with socket_app(emu) as replica_a, socket_app(emu) as replica_b:
        for name, app in (("a", replica_a), ("b", replica_b)):
            app.command("/ping")(replica_listener(name, handled[name]))
        assert len(await emu.wait_socket_connections(2)) == 2
        deliveries = [
            await emu.slash_command("U0REQ", "C0GENERAL", "/ping", str(i)) for i in range(16)
        ]
    assert all(d.ok for d in deliveries)
    assert handled["a"] and handled["b"]
    assert sorted(handled["a"] + handled["b"], key=int) == [str(i) for i in range(16)]
    assert len({d.connection for d in deliveries}) == 2


async def test_refresh_requested_makes_the_sdk_reconnect(slack_emu_socket: SlackEmulator) -> None:
    emu = slack_emu_socket
    async with socket_app(emu) as app:

        @app.command("/echo")
        async def echo(ack: AsyncAck, command: Body) -> None:
            await ack(text=f"echo {command['text']}")

        (old,) = await emu.wait_socket_connections(1)
        async with aiohttp.ClientSession(base_url=emu.url) as http:
            async with http.get("/_emu/socket") as resp:
                listed = await resp.json()
            assert listed["mode"] == "socket" and listed["connections"][0]["id"] == old.id
            async with http.post(
                "/_emu/socket/disconnect", json={"reason": "refresh_requested"}
            ) as resp:
                assert (await resp.json())["result"] == {"disconnected": [old.id]}
            async with http.post("/_emu/socket/disconnect", json={"connection": "nope"}) as resp:
                assert resp.status == 400
        (new,) = await emu.wait_socket_connections(1)
        assert new.id != old.id
        await emu.wait_for(lambda: old.id not in emu.socket.connections)
        delivery = await emu.slash_command("U0REQ", "C0GENERAL", "/echo", "again")
        assert delivery.ok and delivery.connection == new.id
    assert emu.state.calls("apps.connections.open")[-1].ok
    assert len(emu.state.calls("apps.connections.open")) == 2


async def test_mode_switch_through_the_control_api(slack_emu_socket: SlackEmulator) -> None:
    emu = slack_emu_socket
    async with aiohttp.ClientSession(base_url=emu.url) as http:
        async with http.post("/_emu/mode", json={"mode": "auto"}) as resp:
            assert (await resp.json())["result"] == {"mode": "auto"}
        assert emu.mode == "auto"
        async with http.post("/_emu/mode", json={"mode": "bogus"}) as resp:
            assert resp.status == 400
        async with http.get("/_emu/info") as resp:
            info = await resp.json()
    assert info["mode"] == "auto" and info["uses_socket"] is False


async def test_a_handler_that_does_not_ack_times_out_like_http(
    slack_emu_socket: SlackEmulator,
) -> None:
    emu = slack_emu_socket
    emu.socket.ack_timeout = 0.3
    async with socket_app(emu):
        # No listener: Bolt answers 404 and sends no ack over the socket.
        delivery = await emu.slash_command("U0REQ", "C0GENERAL", "/nobody-listens")
    assert delivery.timed_out and delivery.error == "operation_timeout"
    assert delivery.via == "socket"
