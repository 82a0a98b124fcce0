"""The emulator's web page without a browser: assets, the event stream, the per-person state
projection, the ZStack proxy, the page's words in each language and its welcome panel."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox.launcher import welcome
from bot.sandbox.slack_emulator import SlackEmulator
from bot.sandbox.slack_emulator.page_labels import PLURALS, TEXTS
from bot.sandbox.zstack_sim import SimServer
from bot.sandbox.zstack_sim.seed import DEMO_ACCOUNTS, DEMO_USERS, DEMO_VIRTUAL_IDS
from tests.fixtures.slack import BOT_TOKEN, SIGNING_SECRET


@pytest.fixture
async def http(slack_emu: SlackEmulator) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=slack_emu.url) as session:
        yield session


@pytest.mark.parametrize(
    ("path", "content_type", "needle"),
    [
        ("/", "text/html", 'data-testid="person-switcher"'),
        ("/static/app.js", "text/javascript", "EventSource"),
        ("/static/style.css", "text/css", ".modal"),
    ],
)
async def test_page_and_assets_have_their_content_types(
    http: aiohttp.ClientSession, path: str, content_type: str, needle: str
) -> None:
    async with http.get(path) as resp:
        assert resp.status == 200
        assert resp.content_type == content_type and resp.charset == "utf-8"
        assert needle in await resp.text()


async def test_the_page_loads_nothing_from_elsewhere(http: aiohttp.ClientSession) -> None:
    async with http.get("/") as resp:
        html = await resp.text()
    assert "http://" not in html and "https://" not in html and "//cdn" not in html
    assert 'src="/static/app.js"' in html and 'href="/static/style.css"' in html


@pytest.mark.parametrize("name", ["nope.js", "..%2Fslack_emulator%2Fpage.py", ".hidden.css"])
async def test_unknown_assets_are_404(http: aiohttp.ClientSession, name: str) -> None:
    async with http.get(f"/static/{name}") as resp:
        assert resp.status == 404


async def next_event(resp: aiohttp.ClientResponse) -> dict[str, Any]:
    """The next ``event: state`` of a Server-Sent Events stream (comments skipped)."""
    event: dict[str, Any] = {}
    while True:
        line = (await asyncio.wait_for(resp.content.readline(), 5)).decode().rstrip("\n")
        if not line:
            if "data" in event:
                return event
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(": ")
        event[field] = json.loads(value) if field == "data" else value


async def test_event_stream_announces_state_changes(
    slack_emu: SlackEmulator, http: aiohttp.ClientSession
) -> None:
    async with http.get("/_emu/events") as resp:
        assert resp.status == 200 and resp.content_type == "text/event-stream"
        first = await next_event(resp)
        assert first["event"] == "state" and first["data"]["version"] == slack_emu.state.version
        async with http.post(
            "/_emu/message", json={"user": "U0REQ", "channel": "C0GENERAL", "text": "hi"}
        ) as posted:
            assert posted.status == 200
        second = await next_event(resp)
        assert second["data"]["version"] > first["data"]["version"]
        assert int(second["id"]) == second["data"]["version"]
        assert slack_emu.events.clients == 1
    await slack_emu.wait_for(lambda: slack_emu.events.clients == 0)


async def test_event_streams_end_when_the_emulator_stops() -> None:
    async with SlackEmulator(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN) as emu:
        session = aiohttp.ClientSession()
        resp = await session.get(f"{emu.url}/_emu/events")
        await next_event(resp)
    try:
        assert await asyncio.wait_for(resp.content.read(), 5) is not None  # stream ended
    finally:
        resp.release()
        await session.close()


async def test_state_projection_shows_only_what_the_person_sees(
    slack_emu: SlackEmulator, http: aiohttp.ClientSession
) -> None:
    client = AsyncWebClient(token=BOT_TOKEN, base_url=slack_emu.api_url)
    await client.chat_postEphemeral(channel="C0APPROVE", user="U0REQ", text="for riley")
    await client.chat_postEphemeral(channel="C0APPROVE", user="U0APP1", text="for avery")
    for user in ("U0REQ", "U0APP1"):
        dm = (await client.conversations_open(users=user))["channel"]["id"]
        await client.chat_postMessage(channel=dm, text=f"dm to {user}")

    async def view_as(user: str) -> dict[str, Any]:
        async with http.get("/_emu/state", params={"as": user}) as resp:
            assert resp.status == 200
            data: dict[str, Any] = await resp.json()
            return data

    riley = await view_as("U0REQ")
    assert [m["text"] for m in riley["ephemerals"]] == ["for riley"]
    ims = [c for c in riley["channels"] if c["type"] == "im"]
    assert [c["id"] for c in ims] == ["D0REQ"] and riley["dm"] == "D0REQ"
    assert [m["text"] for m in ims[0]["messages"]] == ["dm to U0REQ"]
    assert "calls" not in riley and "deliveries" not in riley
    avery = await view_as("U0APP1")
    assert [m["text"] for m in avery["ephemerals"]] == ["for avery"]
    assert [c["id"] for c in avery["channels"] if c["type"] == "im"] == ["D0APP1"]
    sam = await view_as("U0OUT")
    assert "C0MLOPS" not in {c["id"] for c in sam["channels"]}
    assert sam["ephemerals"] == [] and sam["emulator"]["approval_channel"] == "C0APPROVE"
    # The unprojected state still has everything.
    async with http.get("/_emu/state") as resp:
        full = await resp.json()
    assert set(full["ephemerals"]) == {"U0REQ", "U0APP1"}
    async with http.get("/_emu/state", params={"as": "U0NOBODY"}) as resp:
        assert resp.status == 400


async def test_state_projection_shows_only_the_persons_modals(
    slack_emu: SlackEmulator, http: aiohttp.ClientSession
) -> None:
    view = {
        "type": "modal",
        "callback_id": "x",
        "title": {"type": "plain_text", "text": "Mine"},
        "blocks": [],
    }
    slack_emu.modals.open("U0REQ", view)
    async with http.get("/_emu/state", params={"as": "U0REQ"}) as resp:
        mine = await resp.json()
    async with http.get("/_emu/state", params={"as": "U0APP2"}) as resp:
        theirs = await resp.json()
    assert [v["callback_id"] for v in mine["views"]] == ["x"] and len(mine["stack"]) == 1
    assert theirs["views"] == [] and theirs["stack"] == []


async def test_zstack_proxy_forwards_to_the_simulator(zstack_sim: SimServer) -> None:
    async with (
        SlackEmulator(
            signing_secret=SIGNING_SECRET,
            bot_token=BOT_TOKEN,
            zstack_control_url=f"{zstack_sim.url}/_sim/",
        ) as emu,
        aiohttp.ClientSession(base_url=emu.url) as http,
    ):
        async with http.get("/_emu/zstack/state") as resp:
            assert resp.status == 200 and resp.content_type == "application/json"
            state = await resp.json()
        assert state["model_services"] and state["mode"]["clone"] == "async"
        async with http.post("/_emu/zstack/latency", json={"seconds": 0.25}) as resp:
            assert resp.status == 200
        latency = zstack_sim.state.latency
        assert latency is not None and latency.seconds == 0.25
        async with http.post("/_emu/zstack/fail-next-clones", json={"count": 1}) as resp:
            assert resp.status == 200
        async with http.post("/_emu/zstack/mode", json={"clone": "sync"}) as resp:
            assert (await resp.json())["clone"] == "sync"
        async with http.post("/_emu/zstack/sessions/expire", json={"all": True}) as resp:
            assert (await resp.json()) == {"expired": 0}
        async with http.get("/_emu/zstack/state") as resp:
            assert (await resp.json())["pending_failures"] == 1
        # The simulator's own validation errors come back as they are.
        async with http.post("/_emu/zstack/latency", json={"seconds": -1}) as resp:
            assert resp.status == 400
        async with http.get("/_emu/zstack/counters") as resp:
            assert "requests_by_operation" in await resp.json()
        async with http.get("/_emu/zstack/..%2F..%2Fzstack%2Fv1") as resp:
            assert resp.status == 400
        async with http.get("/_emu/info") as resp:
            assert (await resp.json())["zstack_connected"] is True


async def test_zstack_proxy_without_a_simulator_says_not_connected(
    http: aiohttp.ClientSession,
) -> None:
    async with http.get("/_emu/zstack/state") as resp:
        assert resp.status == 503
        body = await resp.json()
    assert body["connected"] is False and body["error"] == "not_connected"
    async with http.get("/_emu/info") as resp:
        assert (await resp.json())["zstack_connected"] is False


async def test_zstack_proxy_reports_an_unreachable_simulator() -> None:
    async with SimServer() as sim:
        gone = f"{sim.url}/_sim"
    async with (
        SlackEmulator(
            signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN, zstack_control_url=gone
        ) as emu,
        aiohttp.ClientSession(base_url=emu.url) as http,
        http.get("/_emu/zstack/state") as resp,
    ):
        assert resp.status == 502
        assert (await resp.json())["error"] == "unreachable"


# -- the page's words and its welcome panel -----------------------------------------------------

STATIC = Path(__file__).resolve().parents[2] / "bot" / "sandbox" / "static"
# L("…"), Lnodes("…"), Ln("…", "…", n) in app.js; data-label*="…" in index.html.
USED_TEXT = re.compile(r'\bL(?:nodes)?\(\s*"((?:[^"\\]|\\.)*)"')
USED_PLURAL = re.compile(r'\bLn\(\s*"((?:[^"\\]|\\.)*)",\s*"((?:[^"\\]|\\.)*)"')
MARKED = re.compile(r'\bdata-label(?:-placeholder|-title|-aria)?="([^"]*)"')


def test_every_word_the_page_uses_is_served_and_every_served_word_is_used() -> None:
    script = (STATIC / "app.js").read_text(encoding="utf-8")
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    texts = set(USED_TEXT.findall(script)) | set(MARKED.findall(html))
    plurals = set(USED_PLURAL.findall(script))
    assert len(texts) > 80 and plurals
    assert sorted(texts - set(TEXTS)) == [], "add them to page_labels.TEXTS, then `make i18n`"
    assert sorted(plurals - set(PLURALS)) == [], "add them to page_labels.PLURALS"
    assert sorted(set(TEXTS) - texts) == [] and set(PLURALS) == plurals, "no longer used"


async def test_the_page_reads_its_words_in_each_language(http: aiohttp.ClientSession) -> None:
    async with http.get("/_emu/page") as resp:
        assert resp.status == 200
        text = await resp.json()
    en, zh = text["labels"]["en"], text["labels"]["zh"]
    assert set(en["texts"]) == set(zh["texts"]) == set(TEXTS)
    assert all(key == value for key, value in en["texts"].items())
    assert zh["texts"]["Channels"] == "频道" and zh["texts"]["Send"] == "发送"
    assert en["plurals"]["{count} reply"] == ["{count} reply", "{count} replies"]
    assert zh["plurals"]["{count} reply"] == ["{count} 条回复", "{count} 条回复"]
    assert text["welcome"] is None  # nobody told this emulator who its people are


async def test_the_page_follows_the_language_of_the_person_it_acts_as(
    http: aiohttp.ClientSession,
) -> None:
    async def lang_as(user: str) -> tuple[str, dict[str, str]]:
        async with http.get("/_emu/state", params={"as": user}) as resp:
            data = await resp.json()
            return data["lang"], data["langs"]

    assert await lang_as("U0REQ") == (
        "en",
        {"U0REQ": "en", "U0APP1": "en", "U0APP2": "zh", "U0OUT": "en"},
    )
    assert (await lang_as("U0APP2"))[0] == "zh"  # jordan's locale is zh-CN


async def test_the_sandbox_welcomes_with_its_people_and_the_simulators_logins() -> None:
    shown = welcome().to_dict()
    assert [(p["user"], p["role"], p["group"]) for p in shown["people"]] == [
        ("U0REQ", "requester", None),
        ("U0APP1", "approver", "S0APPROVERS"),
        ("U0APP2", "approver", "S0APPROVERS"),
        ("U0OUT", "outsider", None),
    ]
    logins = [(x["kind"], x["account"], x["user"], x["password"]) for x in shown["logins"]]
    assert logins == [
        *(("account", a.name, None, a.password) for a in DEMO_ACCOUNTS),
        *(("iam_user", u.account, u.name, u.password) for u in DEMO_USERS),
        *(("iam2", None, v.name, v.password) for v in DEMO_VIRTUAL_IDS),
    ]
    assert [x["account"] for x in shown["logins"] if x["suggested"]] == ["alice"]
    assert shown["source"] == "example"
    async with (
        SlackEmulator(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN, welcome=welcome()) as emu,
        aiohttp.ClientSession(base_url=emu.url) as http,
        http.get("/_emu/page") as resp,
    ):
        assert (await resp.json())["welcome"] == shown
