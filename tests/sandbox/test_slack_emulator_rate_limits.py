"""The emulator enforces Slack's rate limits when told to: tiers per method, chat.postMessage
per channel, 429 with ``Retry-After``; the time is the emulator's clock (moved by hand here)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox.slack_emulator import ManualClock, SlackEmulator, default_workspace
from tests.fixtures.slack import BOT_TOKEN, SIGNING_SECRET


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def limited(clock: ManualClock) -> AsyncIterator[SlackEmulator]:
    async with SlackEmulator(
        signing_secret=SIGNING_SECRET,
        bot_token=BOT_TOKEN,
        workspace=default_workspace(),
        clock=clock,
        rate_limits=True,
    ) as emu:
        yield emu


async def _post(client: AsyncWebClient, channel: str) -> int:
    try:
        await client.chat_postMessage(channel=channel, text="x")
    except SlackApiError as exc:
        assert exc.response["error"] == "ratelimited"
        return int(exc.response.headers["Retry-After"])
    return 0


async def test_post_message_is_limited_per_channel_with_a_short_burst(
    limited: SlackEmulator, clock: ManualClock
) -> None:
    client = AsyncWebClient(token=BOT_TOKEN, base_url=limited.api_url)
    assert [await _post(client, "C0APPROVE") for _ in range(4)] == [0, 0, 0, 1]
    assert await _post(client, "U0REQ") == 0  # another channel has its own allowance
    clock.advance(1.0)
    assert await _post(client, "C0APPROVE") == 0
    assert await _post(client, "C0APPROVE") == 1
    calls = limited.state.calls("chat.postMessage")
    assert [c.status for c in calls].count(429) == 2


async def test_post_message_has_a_workspace_wide_limit_on_top_of_each_channels(
    limited: SlackEmulator, clock: ManualClock
) -> None:
    # The default assumption (Slack publishes no figure): several hundred a minute.
    assert limited.rate_limits.workspace_limits["chat.postMessage"].per_minute >= 300
    limited.rate_limits.set_workspace_limit("chat.postMessage", per_minute=120, burst=3)
    client = AsyncWebClient(token=BOT_TOKEN, base_url=limited.api_url)
    # Three channels, one post each: each channel has room, the workspace then has none.
    assert [await _post(client, c) for c in ("C0APPROVE", "U0REQ", "U0APP1")] == [0, 0, 0]
    assert await _post(client, "U0APP2") == 1  # a fourth channel, fresh, waits for the workspace
    clock.advance(0.5)  # one workspace token back (two a second)
    assert await _post(client, "U0APP2") == 0
    assert await _post(client, "U0OUT") == 1
    # The refused post goes as soon as the workspace has room again.
    clock.advance(0.5)
    assert await _post(client, "U0OUT") == 0
    # The channel's own limit still holds under the workspace's.
    clock.advance(10.0)
    assert [await _post(client, "C0APPROVE") for _ in range(4)] == [0, 0, 0, 1]
    statuses = [c.status for c in limited.state.calls("chat.postMessage")]
    assert statuses.count(429) == 3
    shown = limited.rate_limits.to_dict()["workspace_limits"]
    assert shown == {"chat.postMessage": {"per_minute": 120.0, "burst": 3}}  # type: ignore[index]


async def test_tier_3_update_answers_429_with_retry_after_until_refilled(
    limited: SlackEmulator, clock: ManualClock
) -> None:
    client = AsyncWebClient(token=BOT_TOKEN, base_url=limited.api_url)
    posted = await client.chat_postMessage(channel="C0APPROVE", text="card")
    ts = str(posted["ts"])
    for _ in range(5):  # Tier 3: 50 a minute, 5 at once
        await client.chat_update(channel="C0APPROVE", ts=ts, text="again")
    with pytest.raises(SlackApiError) as err:
        await client.chat_update(channel="C0APPROVE", ts=ts, text="too soon")
    assert err.value.response.status_code == 429
    assert err.value.response.headers["Retry-After"] == "2"  # 1.2 s to the next call, whole s
    assert err.value.response.data == {"ok": False, "error": "ratelimited"}
    clock.advance(1.2)
    await client.chat_update(channel="C0APPROVE", ts=ts, text="in time")
    # Other methods keep their own buckets.
    await client.users_info(user="U0REQ")


async def test_tier_2_group_listing_and_limits_switched_over_http(
    limited: SlackEmulator, clock: ManualClock
) -> None:
    client = AsyncWebClient(token=BOT_TOKEN, base_url=limited.api_url)
    async with aiohttp.ClientSession() as http:
        async with http.post(
            limited.url + "/_emu/rate-limits",
            json={"limits": {"usergroups.users.list": {"per_minute": 1, "burst": 1}}},
        ) as resp:
            body = await resp.json()
        assert body["result"]["limits"]["usergroups.users.list"] == {
            "per_minute": 1.0,
            "burst": 1,
        }
        group = next(iter(limited.state.workspace.usergroups), "S0")
        calls = []
        for _ in range(2):
            try:
                await client.usergroups_users_list(usergroup=group)
                calls.append("ok")
            except SlackApiError as exc:
                calls.append(exc.response.headers.get("Retry-After", exc.response["error"]))
        assert calls[1] == "60"
        async with http.post(limited.url + "/_emu/rate-limits", json={"enabled": False}) as resp:
            assert (await resp.json())["result"]["enabled"] is False
    for _ in range(10):  # off: as many as asked
        await client.auth_test()
        await _post(client, "C0APPROVE")
    assert all(c.status == 200 for c in limited.state.calls("chat.postMessage")[-10:])


async def test_off_by_default(slack_emu: SlackEmulator) -> None:
    client = AsyncWebClient(token=BOT_TOKEN, base_url=slack_emu.api_url)
    assert [await _post(client, "C0APPROVE") for _ in range(10)] == [0] * 10
