"""The emulator against a real slack_bolt AsyncApp served over aiohttp, verifying signatures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox.slack_emulator import InputRejected, ManualClock, SlackEmulator, UserActionError
from tests.fixtures.slack import BOT_TOKEN, SIGNING_SECRET
from tests.support.bolt import (
    DONE,
    FORM,
    Body,
    bolt_for,
    field,
    open_form,
    option,
    plain,
    register_form,
)


@pytest.fixture
async def app(slack_emu: SlackEmulator) -> AsyncIterator[AsyncApp]:
    async with bolt_for(slack_emu) as bolt:
        yield bolt


async def test_slash_command_is_signed_delivered_and_opens_a_modal_in_time(
    slack_emu: SlackEmulator, app: AsyncApp
) -> None:
    seen: dict[str, Any] = {}
    register_form(app, seen)
    view_id = await open_form(slack_emu, seen)
    command = seen["command"]
    assert command["command"] == "/clone-model" and command["text"] == "llama"
    assert command["user_id"] == "U0REQ" and command["channel_name"] == "general"
    assert command["team_id"] == "T0CLONE" and command["api_app_id"] == "A0CLONE"
    assert command["is_enterprise_install"] == "false"
    assert command["response_url"].startswith(slack_emu.url + "/response/")
    view = seen["opened"]["view"]
    assert view["id"] == view_id and view_id.startswith("V")
    assert view["root_view_id"] == view_id and view["previous_view_id"] is None
    assert (view["app_id"], view["bot_id"], view["team_id"]) == ("A0CLONE", "B0BOT", "T0CLONE")
    assert view["hash"] and view["state"] == {"values": {}}
    assert view["private_metadata"] == "req-1" and view["callback_id"] == "clone_form"
    record = slack_emu.state.commands[-1]
    assert record.views_open_delay is not None and 0 <= record.views_open_delay < 3
    delivery = slack_emu.state.deliveries[-1]
    assert delivery.status == 200 and delivery.latency < 3
    assert slack_emu.validation_failures == []


async def test_a_wrong_signature_is_rejected_by_bolt(
    slack_emu: SlackEmulator, app: AsyncApp
) -> None:
    seen: dict[str, Any] = {}
    register_form(app, seen)
    async with SlackEmulator(
        signing_secret="not-the-apps-secret", bot_token=BOT_TOKEN, app_url=slack_emu.app_url
    ) as impostor:
        delivery = await impostor.slash_command("U0REQ", "C0GENERAL", "/clone-model")
    assert delivery.status == 401 and not delivery.ok
    assert "command" not in seen


async def test_command_acks_become_ephemeral_or_channel_messages(
    slack_emu: SlackEmulator, app: AsyncApp
) -> None:
    @app.command("/echo")
    async def echo(ack: AsyncAck, command: Body) -> None:
        await ack(text=f"echo {command['text']}")

    @app.command("/shout")
    async def shout(ack: AsyncAck) -> None:
        await ack(response_type="in_channel", text="hello all")

    await slack_emu.slash_command("U0REQ", "C0GENERAL", "/echo", "hi")
    assert [m.text for m in slack_emu.state.ephemerals("U0REQ", "C0GENERAL")] == ["echo hi"]
    assert slack_emu.state.ephemerals("U0APP1") == []
    await slack_emu.slash_command("U0REQ", "C0GENERAL", "/shout")
    assert [m.text for m in slack_emu.state.messages("C0GENERAL")] == ["hello all"]


async def test_unhandled_command_and_outsider_channel(
    slack_emu: SlackEmulator, app: AsyncApp
) -> None:
    delivery = await slack_emu.slash_command("U0REQ", "C0GENERAL", "/nobody-listens")
    assert delivery.status == 404 and delivery.error == "http_404"
    with pytest.raises(UserActionError, match="not a member"):
        await slack_emu.slash_command("U0OUT", "C0MLOPS", "/clone-model")


async def test_slow_ack_is_an_operation_timeout() -> None:
    async with (
        SlackEmulator(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN, ack_timeout=0.3) as emu,
        bolt_for(emu) as bolt,
    ):

        @bolt.command("/slow")
        async def slow(ack: AsyncAck) -> None:
            await asyncio.sleep(0.6)
            await ack()

        delivery = await emu.slash_command("U0REQ", "C0GENERAL", "/slow")
        assert delivery.timed_out and delivery.error == "operation_timeout"
        assert delivery.status is None and delivery.latency >= 0.3
        assert emu.state.deliveries[-1] is delivery
        await asyncio.sleep(0.5)  # let the listener finish before the server goes


async def test_view_submission_state_is_typed_per_element(
    slack_emu: SlackEmulator, app: AsyncApp
) -> None:
    seen: dict[str, Any] = {}
    register_form(app, seen)
    view_id = await open_form(slack_emu, seen)
    delivery = await slack_emu.submit_view(
        "U0REQ",
        view_id,
        {
            "cpu": {"cpu_input": 4},
            "kind": {"kind_select": "finetune"},
            "tags": {"tags_select": ["a", "b"]},
            "approver": {"approver_select": "U0APP1"},
            "flags": {"flags_check": ["distributed"]},
        },
    )
    assert delivery.ok and delivery.body == ""
    body = seen["submissions"][-1]
    assert body["type"] == "view_submission" and body["response_urls"] == []
    assert body["trigger_id"] and body["user"]["id"] == "U0REQ"
    values = body["view"]["state"]["values"]
    assert values["name"]["name_input"] == {"type": "plain_text_input", "value": "llama-clone"}
    assert values["cpu"]["cpu_input"] == {"type": "number_input", "value": "4"}
    assert values["kind"]["kind_select"]["selected_option"]["value"] == "finetune"
    assert [o["value"] for o in values["tags"]["tags_select"]["selected_options"]] == ["a", "b"]
    assert values["approver"]["approver_select"] == {
        "type": "users_select",
        "selected_user": "U0APP1",
    }
    assert values["flags"]["flags_check"]["selected_options"][0]["value"] == "distributed"
    assert values["arch"]["arch_radio"]["selected_option"]["value"] == "x86_64"
    assert values["source"]["source_select"] == {"type": "external_select", "selected_option": None}
    # An empty ack closes the modal.
    assert slack_emu.state.open_views("U0REQ") == []
    assert slack_emu.state.view(view_id).closed_by == "submit"


async def test_submission_errors_keep_the_view_open_then_update_replaces_it(
    slack_emu: SlackEmulator, app: AsyncApp
) -> None:
    seen: dict[str, Any] = {}
    register_form(app, seen)
    view_id = await open_form(slack_emu, seen)
    values = {
        "name": {"name_input": "taken"},
        "cpu": {"cpu_input": "8"},
        "kind": {"kind_select": "endpoint"},
        "approver": {"approver_select": "U0APP2"},
    }
    await slack_emu.submit_view("U0REQ", view_id, values)
    view = slack_emu.state.view(view_id)
    assert view.open and view.errors == {"name": "That name is taken"}
    hash_before = view.hash
    values["name"] = {"name_input": "update"}
    await slack_emu.submit_view("U0REQ", view_id, values)
    view = slack_emu.state.view(view_id)
    assert view.open and view.callback_id == "done" and view.errors == {}
    assert view.hash != hash_before and view.id == view_id


async def test_errors_for_blocks_that_are_not_inputs_are_a_validation_failure(
    slack_emu: SlackEmulator, app: AsyncApp
) -> None:
    seen: dict[str, Any] = {}
    register_form(app, seen)
    view_id = await open_form(slack_emu, seen)
    values = {
        "name": {"name_input": "bad-errors"},
        "cpu": {"cpu_input": "8"},
        "kind": {"kind_select": "endpoint"},
        "approver": {"approver_select": "U0APP2"},
    }
    await slack_emu.submit_view("U0REQ", view_id, values)
    assert slack_emu.state.view(view_id).open
    assert slack_emu.validation_failures[-1].source == "ack:view_submission:errors"


async def test_client_refuses_to_submit_missing_required_inputs(
    slack_emu: SlackEmulator, app: AsyncApp
) -> None:
    seen: dict[str, Any] = {}
    register_form(app, seen)
    view_id = await open_form(slack_emu, seen)
    sent = len(slack_emu.state.deliveries)
    with pytest.raises(InputRejected) as err:
        await slack_emu.submit_view("U0REQ", view_id, {"cpu": {"cpu_input": "1.5"}})
    assert set(err.value.errors) == {"cpu", "kind", "approver"}
    assert len(slack_emu.state.deliveries) == sent
    assert "submissions" not in seen


async def test_view_block_action_updates_the_view_with_its_hash(
    slack_emu: SlackEmulator, app: AsyncApp
) -> None:
    seen: dict[str, Any] = {}
    register_form(app, seen)

    @app.action("advanced")
    async def advanced(ack: AsyncAck, body: Body, client: AsyncWebClient) -> None:
        await ack()
        seen["action"] = body
        seen["updated"] = await client.views_update(
            view_id=body["view"]["id"], hash=body["view"]["hash"], view=DONE
        )

    view_id = await open_form(slack_emu, seen)
    old_hash = slack_emu.state.view(view_id).hash
    # Typing into an input without dispatch_action sends nothing but is kept in state.
    assert await slack_emu.view_action("U0REQ", view_id, "name_input", value="typed") is None
    delivery = await slack_emu.view_action("U0REQ", view_id, "advanced")
    assert delivery is not None and delivery.ok
    await slack_emu.wait_for(lambda: "updated" in seen)
    body = seen["action"]
    assert body["container"] == {"type": "view", "view_id": view_id}
    assert body["actions"][0]["value"] == "1" and body["actions"][0]["block_id"] == "tools"
    assert body["view"]["state"]["values"]["name"]["name_input"]["value"] == "typed"
    assert slack_emu.state.view(view_id).callback_id == "done"
    client = AsyncWebClient(token=BOT_TOKEN, base_url=slack_emu.api_url)
    with pytest.raises(SlackApiError) as err:
        await client.views_update(view_id=view_id, hash=old_hash, view=FORM)
    assert err.value.response["error"] == "hash_conflict"
    with pytest.raises(SlackApiError) as err:
        await client.views_update(view_id="VNOPE", view=FORM)
    assert err.value.response["error"] == "not_found"
    with pytest.raises(SlackApiError) as err:
        await client.views_update(external_id="nope", view=FORM)
    assert err.value.response["error"] == "not_found"
    # By external_id, without a hash: last write wins.
    await client.views_update(view_id=view_id, view=dict(DONE, external_id="req-1"))
    updated = await client.views_update(external_id="req-1", view=dict(DONE, external_id="req-1"))
    assert updated["view"]["id"] == view_id


async def test_views_push_stops_at_three(slack_emu: SlackEmulator, app: AsyncApp) -> None:
    seen: dict[str, Any] = {"pushes": []}
    register_form(app, seen)

    @app.action("more")
    async def more(ack: AsyncAck, body: Body, client: AsyncWebClient) -> None:
        await ack()
        pushed = dict(FORM, callback_id="pushed")
        try:
            seen["pushes"].append(
                await client.views_push(trigger_id=body["trigger_id"], view=pushed)
            )
        except SlackApiError as exc:
            seen["pushes"].append(exc.response["error"])

    view_id = await open_form(slack_emu, seen)
    for expected in (1, 2, 3):
        top = slack_emu.state.open_views("U0REQ")[-1]
        await slack_emu.view_action("U0REQ", top.id, "more")
        await slack_emu.wait_for(lambda n=expected: len(seen["pushes"]) == n)
    stack = slack_emu.state.open_views("U0REQ")
    assert len(stack) == 3
    assert seen["pushes"][-1] == "push_limit_reached"
    assert stack[1].root_view_id == view_id and stack[2].previous_view_id == stack[1].id


async def test_triggers_are_single_use_and_expire() -> None:
    clock = ManualClock()
    async with (
        SlackEmulator(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN, clock=clock) as emu,
        bolt_for(emu) as bolt,
    ):

        @bolt.command("/later")
        async def later(ack: AsyncAck) -> None:
            await ack()

        client = AsyncWebClient(token=BOT_TOKEN, base_url=emu.api_url)
        fresh = (await emu.slash_command("U0REQ", "C0GENERAL", "/later")).trigger_id
        stale = (await emu.slash_command("U0REQ", "C0GENERAL", "/later")).trigger_id
        assert fresh and stale
        clock.advance(2.9)
        assert (await client.views_open(trigger_id=fresh, view=DONE))["ok"]
        with pytest.raises(SlackApiError) as err:
            await client.views_open(trigger_id=fresh, view=DONE)
        assert err.value.response["error"] == "exchanged_trigger_id"
        clock.advance(0.2)
        with pytest.raises(SlackApiError) as err:
            await client.views_open(trigger_id=stale, view=DONE)
        assert err.value.response["error"] == "expired_trigger_id"
        with pytest.raises(SlackApiError) as err:
            await client.views_open(trigger_id="123.456.abc", view=DONE)
        assert err.value.response["error"] == "invalid_trigger_id"
        assert emu.state.commands[0].views_open_delay == pytest.approx(2.9)


@pytest.mark.parametrize(
    ("view", "error", "needle"),
    [
        (dict(DONE, title=plain("x" * 25)), "invalid_arguments", "title must be between 1 and 24"),
        (dict(FORM, submit=None), "invalid_arguments", "submit is required"),
        (dict(DONE, blocks=[{"type": "divider"}] * 101), "invalid_arguments", "no more than 100"),
        (
            dict(DONE, blocks=[{"type": "section", "text": plain("x" * 2900)}] * 90),
            "view_too_large",
            "250000 bytes",
        ),
        (
            dict(
                FORM,
                blocks=[
                    field("n", "a", {"type": "plain_text_input", "max_length": 3001}),
                ],
            ),
            "invalid_arguments",
            "/view/blocks/0/element/max_length",
        ),
    ],
)
async def test_invalid_views_are_rejected(
    slack_emu: SlackEmulator, app: AsyncApp, view: dict[str, Any], error: str, needle: str
) -> None:
    seen: dict[str, Any] = {}

    @app.command("/bad-view")
    async def bad(ack: AsyncAck, body: Body, client: AsyncWebClient) -> None:
        await ack()
        try:
            await client.views_open(trigger_id=body["trigger_id"], view=view)
        except SlackApiError as exc:
            seen["error"] = exc.response.data

    await slack_emu.slash_command("U0REQ", "C0GENERAL", "/bad-view")
    response = await slack_emu.wait_for(lambda: seen.get("error"))
    assert response["error"] == error
    assert any(needle in m for m in response["response_metadata"]["messages"])
    assert slack_emu.state.open_views("U0REQ") == []
    assert slack_emu.validation_failures[-1].source == "views.open"


async def test_block_suggestion_returns_the_apps_options(
    slack_emu: SlackEmulator, app: AsyncApp
) -> None:
    seen: dict[str, Any] = {}
    register_form(app, seen)
    view_id = await open_form(slack_emu, seen)
    assert await slack_emu.suggest("U0REQ", view_id, "source_select", "ll") == []
    assert "suggestion" not in seen  # below min_query_length (3): nothing is sent
    options = await slack_emu.suggest("U0REQ", view_id, "source_select", "llama")
    assert [o["value"] for o in options] == ["llama-1", "llama-2"]
    body = seen["suggestion"]
    assert body["type"] == "block_suggestion" and body["value"] == "llama"
    assert body["action_id"] == "source_select" and body["block_id"] == "source"
    assert body["view"]["id"] == view_id


async def test_view_closed_only_when_notify_on_close(
    slack_emu: SlackEmulator, app: AsyncApp
) -> None:
    closed: list[Body] = []

    @app.command("/note")
    async def note(ack: AsyncAck, body: Body, client: AsyncWebClient, command: Body) -> None:
        await ack()
        view = dict(DONE, callback_id="note", notify_on_close=command["text"] == "notify")
        await client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.view_closed("note")
    async def on_close(ack: AsyncAck, body: Body) -> None:
        await ack()
        closed.append(body)

    for text in ("quiet", "notify"):
        await slack_emu.slash_command("U0REQ", "C0GENERAL", "/note", text)
        views = await slack_emu.wait_for(lambda: slack_emu.state.open_views("U0REQ"))
        delivery = await slack_emu.close_view("U0REQ", views[0].id)
        assert (delivery is None) == (text == "quiet")
    assert len(closed) == 1 and closed[0]["is_cleared"] is False
    assert closed[0]["type"] == "view_closed"


async def test_button_click_in_a_thread_message_and_respond(
    slack_emu: SlackEmulator, app: AsyncApp
) -> None:
    seen: dict[str, Any] = {}

    @app.action("approve")
    async def approve(ack: AsyncAck, body: Body, respond: AsyncRespond) -> None:
        await ack()
        seen["click"] = body
        seen["ephemeral"] = await respond(text="only you see this")
        seen["replaced"] = await respond(replace_original=True, text="Approved by avery")

    client = AsyncWebClient(token=BOT_TOKEN, base_url=slack_emu.api_url)
    card = (await client.chat_postMessage(channel="C0APPROVE", text="card"))["ts"]
    buttons = [
        {
            "type": "actions",
            "block_id": "decide",
            "elements": [
                {
                    "type": "button",
                    "action_id": "approve",
                    "text": plain("Approve"),
                    "value": "CR-7F3K2Q",
                    "style": "primary",
                },
                {
                    "type": "static_select",
                    "action_id": "reason",
                    "options": [option("cost"), option("risk")],
                },
            ],
        }
    ]
    reply = (
        await client.chat_postMessage(
            channel="C0APPROVE", text="params", blocks=buttons, thread_ts=card
        )
    )["ts"]
    delivery = await slack_emu.click("U0APP1", channel="C0APPROVE", ts=reply, action_id="approve")
    assert delivery.ok
    await slack_emu.wait_for(lambda: "replaced" in seen)
    body = seen["click"]
    assert body["type"] == "block_actions" and body["user"]["id"] == "U0APP1"
    assert body["container"]["type"] == "message" and body["container"]["message_ts"] == reply
    assert body["channel"] == {"id": "C0APPROVE", "name": "model-approvals"}
    assert body["message"]["thread_ts"] == card and body["message"]["ts"] == reply
    action = body["actions"][0]
    assert (action["value"], action["style"], action["text"]["text"]) == (
        "CR-7F3K2Q",
        "primary",
        "Approve",
    )
    assert body["state"]["values"]["decide"]["reason"]["selected_option"] is None
    assert seen["ephemeral"].status_code == 200 and seen["replaced"].status_code == 200
    assert [m.text for m in slack_emu.state.ephemerals("U0APP1")] == ["only you see this"]
    updated = slack_emu.state.message("C0APPROVE", reply)
    assert updated is not None and updated.text == "Approved by avery"


async def test_select_in_a_message_carries_the_selected_option(
    slack_emu: SlackEmulator, app: AsyncApp
) -> None:
    seen: list[Body] = []

    @app.action("reason")
    async def reason(ack: AsyncAck, body: Body) -> None:
        await ack()
        seen.append(body)

    client = AsyncWebClient(token=BOT_TOKEN, base_url=slack_emu.api_url)
    blocks = [
        {
            "type": "section",
            "block_id": "why",
            "text": {"type": "mrkdwn", "text": "Why?"},
            "accessory": {
                "type": "static_select",
                "action_id": "reason",
                "options": [option("cost"), option("risk")],
            },
        }
    ]
    ts = (await client.chat_postMessage(channel="C0APPROVE", text="why", blocks=blocks))["ts"]
    await slack_emu.click("U0APP2", channel="C0APPROVE", ts=ts, action_id="reason", selected="risk")
    await slack_emu.wait_for(lambda: seen)
    assert seen[0]["actions"][0]["selected_option"]["value"] == "risk"
    assert seen[0]["state"]["values"]["why"]["reason"]["selected_option"]["value"] == "risk"
    with pytest.raises(UserActionError):
        await slack_emu.click("U0APP2", channel="C0APPROVE", ts=ts, action_id="no-such-button")


async def test_response_url_limits(slack_emu: SlackEmulator, app: AsyncApp) -> None:
    @app.command("/ack-only")
    async def ack_only(ack: AsyncAck) -> None:
        await ack()

    delivery = await slack_emu.slash_command("U0REQ", "C0GENERAL", "/ack-only")
    url = delivery.response_url
    assert url
    async with aiohttp.ClientSession() as http:
        for i in range(5):
            body = {"text": f"update {i}", "response_type": "in_channel" if i == 0 else "ephemeral"}
            async with http.post(url, json=body) as resp:
                assert resp.status == 200
        async with http.post(url, json={"text": "one too many"}) as resp:
            assert resp.status == 404
            assert await resp.text() == "used_url"
    assert [m.text for m in slack_emu.state.messages("C0GENERAL")] == ["update 0"]
    assert len(slack_emu.state.ephemerals("U0REQ")) == 4
    attempts = slack_emu.state.calls("response_url")
    assert [c.status for c in attempts] == [200] * 5 + [404]


async def test_response_url_expires_after_30_minutes() -> None:
    clock = ManualClock()
    async with (
        SlackEmulator(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN, clock=clock) as emu,
        bolt_for(emu) as bolt,
    ):

        @bolt.command("/ack-only")
        async def ack_only(ack: AsyncAck) -> None:
            await ack()

        url = (await emu.slash_command("U0REQ", "C0GENERAL", "/ack-only")).response_url
        assert url
        clock.advance(30 * 60 + 1)
        async with aiohttp.ClientSession() as http, http.post(url, json={"text": "late"}) as resp:
            assert (resp.status, await resp.text()) == (404, "expired_url")
        assert emu.state.ephemerals("U0REQ") == []


async def test_message_events_reach_the_app_when_the_bot_is_in_the_channel(
    slack_emu: SlackEmulator, app: AsyncApp
) -> None:
    events: list[Body] = []

    @app.event("message")
    async def on_message(event: Body) -> None:
        events.append(event)

    client = AsyncWebClient(token=BOT_TOKEN, base_url=slack_emu.api_url)
    card = (await client.chat_postMessage(channel="C0APPROVE", text="card"))["ts"]
    delivery = await slack_emu.post_message("U0APP1", "C0APPROVE", "approve", thread_ts=card)
    assert delivery is not None and delivery.ok
    assert delivery.payload["type"] == "event_callback" and delivery.payload["event_id"]
    await slack_emu.wait_for(lambda: events)
    event = events[0]
    assert (event["type"], event["user"], event["text"]) == ("message", "U0APP1", "approve")
    assert event["channel"] == "C0APPROVE" and event["thread_ts"] == card
    assert [r.text for r in slack_emu.state.thread("C0APPROVE", card)] == ["approve"]
    # The bot is not in #general: no event, but the message is there.
    assert await slack_emu.post_message("U0REQ", "C0GENERAL", "hello") is None
    assert slack_emu.state.messages("C0GENERAL")[-1].text == "hello"


async def test_control_api_acts_and_reports(slack_emu: SlackEmulator, app: AsyncApp) -> None:
    seen: dict[str, Any] = {}
    register_form(app, seen)
    async with aiohttp.ClientSession(base_url=slack_emu.url) as http:
        async with http.post(
            "/_emu/command",
            json={"user": "U0REQ", "channel": "C0GENERAL", "command": "/clone-model"},
        ) as resp:
            result = await resp.json()
            assert result["ok"] and result["result"]["status"] == 200
        views = await slack_emu.wait_for(lambda: slack_emu.state.open_views("U0REQ"))
        async with http.post(
            "/_emu/submit", json={"user": "U0REQ", "view_id": views[0].id, "values": {}}
        ) as resp:
            # Refused by the client, as Slack's does: not an error of the request.
            assert resp.status == 200
            assert "approver" in (await resp.json())["result"]["refused"]
        async with http.post(
            "/_emu/faults",
            json={"method": "chat.postMessage", "error": "ratelimited", "status": 429},
        ) as resp:
            assert (await resp.json())["result"]["faults"][0]["status"] == 429
        async with http.post(
            "/_emu/message", json={"user": "U0REQ", "channel": "C0GENERAL", "text": "hi"}
        ) as resp:
            posted = (await resp.json())["result"]
            assert posted["ts"] and posted["delivery"] is None
        async with http.get("/_emu/state") as resp:
            state = await resp.json()
        general = next(c for c in state["channels"] if c["id"] == "C0GENERAL")
        assert general["messages"][0]["text"] == "hi"
        assert state["views"][0]["errors"]["approver"]
        assert state["calls"]["by_method"]["views.open"] == 1
        assert state["validation_failures"] == []
        async with http.post("/_emu/click", json={"user": "U0REQ"}) as resp:
            assert resp.status == 400
        async with http.post("/_emu/reset") as resp:
            assert (await resp.json())["ok"]
    assert slack_emu.state.messages("C0GENERAL") == []
    assert slack_emu.state.faults == []
