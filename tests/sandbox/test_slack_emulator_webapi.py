"""The emulator's Web API, driven by slack_sdk's real AsyncWebClient over HTTP."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox.slack_emulator import SlackEmulator
from tests.fixtures.slack import BOT_TOKEN


@pytest.fixture
def client(slack_emu: SlackEmulator) -> AsyncWebClient:
    return AsyncWebClient(token=BOT_TOKEN, base_url=slack_emu.api_url)


def section(text: str) -> dict[str, object]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


async def test_auth_test_names_the_bot_and_sends_scopes(client: AsyncWebClient) -> None:
    resp = await client.auth_test()
    assert resp["team_id"] == "T0CLONE"
    assert resp["user_id"] == "U0BOT"
    assert resp["bot_id"] == "B0BOT"
    assert "chat:write" in resp.headers["x-oauth-scopes"].split(",")


async def test_missing_token_is_not_authed(slack_emu: SlackEmulator) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(slack_emu.api_url + "auth.test") as resp:
            assert resp.status == 200
            assert await resp.json() == {"ok": False, "error": "not_authed"}
        # A token field in a JSON body does not count: JSON needs the Authorization header.
        async with http.post(
            slack_emu.api_url + "chat.postMessage",
            json={"token": BOT_TOKEN, "channel": "C0APPROVE", "text": "hi"},
        ) as resp:
            assert (await resp.json())["error"] == "not_authed"
        # ...but a form field does.
        async with http.post(
            slack_emu.api_url + "chat.postMessage",
            data={"token": BOT_TOKEN, "channel": "C0APPROVE", "text": "hi"},
        ) as resp:
            assert (await resp.json())["ok"] is True
    assert "token" not in slack_emu.state.calls("chat.postMessage")[-1].params


async def test_wrong_token_is_invalid_auth(slack_emu: SlackEmulator) -> None:
    wrong = AsyncWebClient(token="xoxb-not-the-token", base_url=slack_emu.api_url)
    with pytest.raises(SlackApiError) as err:
        await wrong.auth_test()
    assert err.value.response.status_code == 200
    assert err.value.response["error"] == "invalid_auth"


async def test_unknown_method(client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as err:
        await client.api_call("chat.doesNotExist")
    assert err.value.response["error"] == "unknown_method"


async def test_invalid_json_body(slack_emu: SlackEmulator) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            slack_emu.api_url + "chat.postMessage",
            data=b"{not json",
            headers={
                "Content-Type": "application/json;charset=utf-8",
                "Authorization": f"Bearer {BOT_TOKEN}",
            },
        ) as resp,
    ):
        assert (await resp.json())["error"] == "invalid_json"
    assert slack_emu.state.calls("chat.postMessage")[-1].error == "invalid_json"


async def test_post_message_returns_and_stores_the_message(
    client: AsyncWebClient, slack_emu: SlackEmulator
) -> None:
    resp = await client.chat_postMessage(channel="C0APPROVE", text="hello", blocks=[section("hi")])
    assert resp["channel"] == "C0APPROVE"
    ts = resp["ts"]
    assert resp["message"]["bot_id"] == "B0BOT"
    assert resp["message"]["text"] == "hello"
    whole, frac = ts.split(".")
    assert whole.isdigit() and len(frac) == 6
    stored = slack_emu.state.messages("C0APPROVE")
    assert [m.ts for m in stored] == [ts]
    assert stored[0].blocks[0]["block_id"]  # Slack fills in block ids
    # By name too.
    assert slack_emu.state.messages("#model-approvals") == stored
    call = slack_emu.state.calls("chat.postMessage")[-1]
    assert call.ok and call.http_method == "POST" and call.params["channel"] == "C0APPROVE"


async def test_timestamps_are_unique_and_increasing(client: AsyncWebClient) -> None:
    seen = []
    for i in range(20):
        seen.append((await client.chat_postMessage(channel="C0APPROVE", text=str(i)))["ts"])
    assert seen == sorted(seen, key=lambda ts: tuple(map(int, ts.split("."))))
    assert len(set(seen)) == len(seen)


async def test_threads_reply_counts_and_broadcast(
    client: AsyncWebClient, slack_emu: SlackEmulator
) -> None:
    parent = (await client.chat_postMessage(channel="C0APPROVE", text="card"))["ts"]
    first = await client.chat_postMessage(channel="C0APPROVE", text="r1", thread_ts=parent)
    assert first["message"]["thread_ts"] == parent
    # Replying to a reply lands in the parent's thread.
    await client.chat_postMessage(channel="C0APPROVE", text="r2", thread_ts=first["ts"])
    await client.chat_postMessage(
        channel="C0APPROVE", text="r3", thread_ts=parent, reply_broadcast=True
    )
    replies = slack_emu.state.thread("C0APPROVE", parent)
    assert [r.text for r in replies] == ["r1", "r2", "r3"]
    top = slack_emu.state.messages("C0APPROVE")
    assert [m.text for m in top] == ["card", "r3"]
    assert top[1].subtype == "thread_broadcast"
    assert top[0].to_dict()["reply_count"] == 3
    with pytest.raises(SlackApiError) as err:
        await client.chat_postMessage(channel="C0APPROVE", text="x", thread_ts="123.000001")
    assert err.value.response["error"] == "thread_not_found"


async def test_posting_to_a_user_opens_their_dm(
    client: AsyncWebClient, slack_emu: SlackEmulator
) -> None:
    resp = await client.chat_postMessage(channel="U0REQ", text="your request")
    dm = resp["channel"]
    assert dm.startswith("D")
    opened = await client.conversations_open(users="U0REQ")
    assert opened["channel"]["id"] == dm
    assert opened["already_open"] is True
    assert [m.text for m in slack_emu.state.dms("U0REQ")] == ["your request"]
    fresh = await client.conversations_open(users="U0APP1")
    assert fresh["channel"]["id"].startswith("D") and "already_open" not in fresh.data
    assert (await client.conversations_open(users="U0APP1"))["channel"]["id"] == fresh["channel"][
        "id"
    ]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"channel": "C0NOPE", "text": "x"}, "channel_not_found"),
        ({"channel": "C0APPROVE"}, "no_text"),
    ],
)
async def test_post_message_errors(
    client: AsyncWebClient, kwargs: dict[str, str], error: str
) -> None:
    with pytest.raises(SlackApiError) as err:
        # api_call: chat_postMessage() itself warns when text is missing.
        await client.api_call("chat.postMessage", json=kwargs)
    assert err.value.response["error"] == error


async def test_outside_channels_need_chat_write_public(slack_emu: SlackEmulator) -> None:
    client = AsyncWebClient(token=BOT_TOKEN, base_url=slack_emu.api_url)
    assert (await client.chat_postMessage(channel="C0GENERAL", text="public"))["ok"]
    slack_emu.state.workspace.scopes = tuple(
        s for s in slack_emu.state.workspace.scopes if s != "chat:write.public"
    )
    with pytest.raises(SlackApiError) as err:
        await client.chat_postMessage(channel="C0GENERAL", text="no longer")
    assert err.value.response["error"] == "not_in_channel"


async def test_bot_membership_is_configurable(slack_emu: SlackEmulator) -> None:
    slack_emu.state.workspace.channels["C0GENERAL"].bot_member = True
    client = AsyncWebClient(token=BOT_TOKEN, base_url=slack_emu.api_url)
    assert (await client.chat_postMessage(channel="C0GENERAL", text="now I can"))["ok"]


async def test_long_text_is_truncated_by_post_message_and_refused_by_update(
    client: AsyncWebClient, slack_emu: SlackEmulator
) -> None:
    resp = await client.chat_postMessage(channel="C0APPROVE", text="x" * 40_050)
    assert len(slack_emu.state.messages("C0APPROVE")[-1].text) == 40_000
    assert resp["warning"] == "message_truncated"
    with pytest.raises(SlackApiError) as err:
        await client.chat_update(channel="C0APPROVE", ts=resp["ts"], text="y" * 40_001)
    assert err.value.response["error"] == "msg_too_long"
    with pytest.raises(SlackApiError) as err:
        await client.chat_postEphemeral(channel="C0APPROVE", user="U0REQ", text="y" * 40_001)
    assert err.value.response["error"] == "msg_too_long"


async def test_chat_update(client: AsyncWebClient, slack_emu: SlackEmulator) -> None:
    ts = (await client.chat_postMessage(channel="C0APPROVE", text="pending"))["ts"]
    resp = await client.chat_update(channel="C0APPROVE", ts=ts, text="approved", blocks=[])
    assert resp["ts"] == ts and resp["text"] == "approved"
    stored = slack_emu.state.message("C0APPROVE", ts)
    assert stored is not None and stored.text == "approved" and stored.edited_ts
    with pytest.raises(SlackApiError) as err:
        await client.chat_update(channel="C0APPROVE", ts="1.000001", text="x")
    assert err.value.response["error"] == "message_not_found"
    await slack_emu.actor.post_message("U0REQ", "C0GENERAL", "a person wrote this")
    theirs = slack_emu.state.messages("C0GENERAL")[-1].ts
    slack_emu.state.workspace.channels["C0GENERAL"].bot_member = True
    with pytest.raises(SlackApiError) as err:
        await client.chat_update(channel="C0GENERAL", ts=theirs, text="x")
    assert err.value.response["error"] == "cant_update_message"


async def test_ephemerals_are_visible_only_to_their_user(
    client: AsyncWebClient, slack_emu: SlackEmulator
) -> None:
    resp = await client.chat_postEphemeral(channel="C0APPROVE", user="U0APP1", text="only you")
    assert resp["message_ts"]
    assert [m.text for m in slack_emu.state.ephemerals("U0APP1")] == ["only you"]
    assert slack_emu.state.ephemerals("U0REQ") == []
    assert slack_emu.state.messages("C0APPROVE") == []
    dm = (await client.conversations_open(users="U0REQ"))["channel"]["id"]
    with pytest.raises(SlackApiError) as err:
        await client.chat_postEphemeral(channel=dm, user="U0APP1", text="not yours")
    assert err.value.response["error"] == "user_not_in_channel"


async def test_permalink(client: AsyncWebClient, slack_emu: SlackEmulator) -> None:
    ts = (await client.chat_postMessage(channel="C0APPROVE", text="card"))["ts"]
    link = await client.chat_getPermalink(channel="C0APPROVE", message_ts=ts)
    assert link["permalink"] == f"{slack_emu.url}/archives/C0APPROVE/p{ts.replace('.', '')}"
    assert slack_emu.state.calls("chat.getPermalink")[-1].http_method == "GET"
    reply = (await client.chat_postMessage(channel="C0APPROVE", text="r", thread_ts=ts))["ts"]
    reply_link = (await client.chat_getPermalink(channel="C0APPROVE", message_ts=reply))[
        "permalink"
    ]
    assert f"thread_ts={ts}" in reply_link
    async with aiohttp.ClientSession() as http, http.get(link["permalink"]) as resp:
        assert (await resp.json())["message"]["ts"] == ts


async def test_users_and_groups(client: AsyncWebClient, slack_emu: SlackEmulator) -> None:
    jordan = await client.users_info(user="U0APP2", include_locale=True)
    assert jordan["user"]["name"] == "jordan"
    assert jordan["user"]["locale"] == "zh-CN"
    riley = await client.users_info(user="U0REQ")
    assert "locale" not in riley["user"]
    assert slack_emu.state.calls("users.info")[-1].http_method == "GET"
    with pytest.raises(SlackApiError) as err:
        await client.users_info(user="U0NOBODY")
    assert err.value.response["error"] == "user_not_found"
    group = await client.usergroups_users_list(usergroup="S0APPROVERS")
    assert group["users"] == ["U0APP1", "U0APP2"]
    with pytest.raises(SlackApiError) as err:
        await client.usergroups_users_list(usergroup="S0NOPE")
    assert err.value.response["error"] == "no_such_subteam"


async def test_51_blocks_are_invalid_blocks(
    client: AsyncWebClient, slack_emu: SlackEmulator
) -> None:
    with pytest.raises(SlackApiError) as err:
        await client.chat_postMessage(
            channel="C0APPROVE", text="t", blocks=[{"type": "divider"}] * 51
        )
    body = err.value.response
    assert body["error"] == "invalid_blocks"
    assert body["response_metadata"]["messages"] == [
        "[ERROR] no more than 50 items allowed [json-pointer:/blocks]"
    ]
    assert slack_emu.state.messages("C0APPROVE") == []
    failure = slack_emu.validation_failures[-1]
    assert (failure.source, failure.code) == ("chat.postMessage", "invalid_blocks")
    # 50 is fine.
    await client.chat_postMessage(channel="C0APPROVE", text="t", blocks=[{"type": "divider"}] * 50)


@pytest.mark.parametrize(
    ("blocks", "pointer"),
    [
        ([section("x" * 3001)], "/blocks/0"),
        ([{"type": "no_such_block"}], "/blocks/0/type"),
        (
            [
                {
                    "type": "section",
                    "fields": [{"type": "mrkdwn", "text": "f" * 2001}],
                }
            ],
            "/blocks/0/fields/0/text",
        ),
        (
            [{"type": "actions", "elements": [{"type": "fancy_widget", "action_id": "a"}]}],
            "/blocks/0/elements/0/type",
        ),
        (
            [section("a") | {"block_id": "x"}, section("b") | {"block_id": "x"}],
            "/blocks/1/block_id",
        ),
    ],
)
async def test_block_kit_violations_on_update(
    client: AsyncWebClient, slack_emu: SlackEmulator, blocks: list[dict[str, object]], pointer: str
) -> None:
    ts = (await client.chat_postMessage(channel="C0APPROVE", text="ok"))["ts"]
    with pytest.raises(SlackApiError) as err:
        await client.chat_update(channel="C0APPROVE", ts=ts, text="t", blocks=blocks)
    assert err.value.response["error"] == "invalid_blocks"
    messages = err.value.response["response_metadata"]["messages"]
    assert any(m.endswith(f"[json-pointer:{pointer}]") for m in messages), messages
    assert slack_emu.validation_failures


async def test_form_encoded_blocks_are_parsed(slack_emu: SlackEmulator) -> None:
    async with aiohttp.ClientSession() as http:
        form = {"channel": "C0APPROVE", "text": "t", "blocks": json.dumps([section("hi")])}
        headers = {"Authorization": f"Bearer {BOT_TOKEN}"}
        async with http.post(
            slack_emu.api_url + "chat.postMessage", data=form, headers=headers
        ) as r:
            assert (await r.json())["ok"] is True
        form["blocks"] = "[{broken"
        async with http.post(
            slack_emu.api_url + "chat.postMessage", data=form, headers=headers
        ) as r:
            assert (await r.json())["error"] == "invalid_blocks_format"
    assert slack_emu.state.messages("C0APPROVE")[0].blocks[0]["text"]["text"] == "hi"


async def test_ratelimit_fault_sends_429_with_retry_after(
    client: AsyncWebClient, slack_emu: SlackEmulator
) -> None:
    slack_emu.inject_fault("chat.postMessage", status=429, retry_after=7, count=1)
    with pytest.raises(SlackApiError) as err:
        await client.chat_postMessage(channel="C0APPROVE", text="x")
    assert err.value.response.status_code == 429
    assert err.value.response.headers["Retry-After"] == "7"
    assert err.value.response["error"] == "ratelimited"
    # count=1: the next call goes through.
    assert (await client.chat_postMessage(channel="C0APPROVE", text="x"))["ok"]
    assert [c.error for c in slack_emu.state.calls("chat.postMessage")] == ["ratelimited", None]


async def test_rate_limit_retry_handler_recovers(slack_emu: SlackEmulator) -> None:
    slack_emu.inject_fault("chat.postMessage", status=429, retry_after=1, count=1)
    client = AsyncWebClient(
        token=BOT_TOKEN,
        base_url=slack_emu.api_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)],
    )
    started = time.monotonic()
    resp = await client.chat_postMessage(channel="C0APPROVE", text="eventually")
    assert resp["ok"]
    assert time.monotonic() - started >= 1.0  # it honoured Retry-After
    assert len(slack_emu.state.calls("chat.postMessage")) == 2


async def test_server_error_and_application_error_faults(
    client: AsyncWebClient, slack_emu: SlackEmulator
) -> None:
    slack_emu.inject_fault("users.info", status=503, count=2)
    slack_emu.inject_fault("chat.postMessage", error="fatal_error")
    for _ in range(2):
        with pytest.raises(SlackApiError) as err:
            await client.users_info(user="U0REQ")
        assert err.value.response.status_code == 503
    assert (await client.users_info(user="U0REQ"))["ok"]
    with pytest.raises(SlackApiError) as err:
        await client.chat_postMessage(channel="C0APPROVE", text="x")
    assert (err.value.response.status_code, err.value.response["error"]) == (200, "fatal_error")


async def test_wait_for_returns_the_value_or_explains_the_timeout(
    client: AsyncWebClient, slack_emu: SlackEmulator
) -> None:
    async def later() -> None:
        await asyncio.sleep(0.05)
        await client.chat_postMessage(channel="C0APPROVE", text="arrived")

    task = asyncio.create_task(later())
    found = await slack_emu.wait_for(lambda: slack_emu.state.messages("C0APPROVE"), timeout=2)
    await task
    assert found[0].text == "arrived"
    with pytest.raises(AssertionError, match="last calls"):
        await slack_emu.wait_for(lambda: slack_emu.state.messages("C0GENERAL"), timeout=0.2)
