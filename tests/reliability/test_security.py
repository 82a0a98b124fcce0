"""Security: replayed Slack requests, webhook HMACs, whose ZStack session is used, secrets at
rest and in logs, and fuzzing of every command and modal through the real Bolt request path.

Already covered (tests/e2e/test_slack_security.py): missing, wrong, stale and forged signatures;
(tests/e2e/test_approval_flow.py): self-approval, outsiders, quorum, a forged webhook MAC.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import threading
import time
from collections.abc import Awaitable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from hashlib import sha512
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import httpx
import pytest
from cryptography.fernet import Fernet
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import Settings
from bot.logs import configure_logging
from bot.requests.model import State
from bot.runtime import Runtime
from bot.sandbox.slack_emulator import (
    InputRejected,
    SlackEmulator,
    UserActionError,
    default_workspace,
)
from bot.sandbox.slack_emulator.signing import signature_headers
from bot.sandbox.slack_emulator.transport import encode
from bot.sandbox.zstack_sim import SimServer
from tests.e2e.helpers import (
    APPROVALS,
    APPROVER,
    APPROVER2,
    EXAMPLE,
    GENERAL,
    REQUESTER,
    login,
    top_view,
)
from tests.fixtures.bot import SESSION_KEY, BotFactory
from tests.fixtures.slack import BOT_TOKEN, SIGNING_SECRET
from tests.support import Canary, counter, redis_snapshot, settled, wait_until
from tests.support.approval import click, request_clone, wait_state
from tests.support.zstack_login import LOGINS

T = TypeVar("T")


# -- replays -----------------------------------------------------------------------------------


async def replay(bot: Runtime, kind: str, payload: dict[str, Any], times: int) -> list[int]:
    """POST one signed body ``times`` times, byte for byte (a replay inside Slack's 5 min)."""
    content_type, body = encode(kind, payload)  # type: ignore[arg-type]
    headers = {"Content-Type": content_type}
    headers.update(signature_headers(SIGNING_SECRET, body, int(time.time())))
    async with httpx.AsyncClient(base_url=bot.http_url or "") as http:
        answers = [await http.post("/slack/events", content=body, headers=headers)]
        answers += await asyncio.gather(
            *(http.post("/slack/events", content=body, headers=headers) for _ in range(times - 1))
        )
    return [a.status_code for a in answers]


async def test_a_replayed_approval_counts_once(
    slack_emu: SlackEmulator, bot_factory: BotFactory, zstack_sim: SimServer
) -> None:
    """Slack's scheme accepts a captured request again within 5 minutes. The bot answers it
    (200), but an approval is a vote of one person: replayed, it neither reaches a quorum of
    two nor sends a second clone."""
    bot = await bot_factory(approval_channel=APPROVALS, approvals_required=2)
    record = await request_clone(slack_emu, bot)
    await click(slack_emu, APPROVER, record, "request_approve")
    captured = slack_emu.state.deliveries[-1]
    assert captured.type == "block_actions"
    statuses = await replay(bot, "interactive", captured.payload, 5)
    assert statuses == [200] * 5
    await wait_until(lambda: repeats(bot) == 5)  # each one recognised as a repeat
    after = await bot.deps.requests.require(record.id)
    assert after.state == State.PENDING and after.approvals == [APPROVER]
    await click(slack_emu, APPROVER2, record, "request_approve")
    second = slack_emu.state.deliveries[-1]
    await wait_state(bot, record.id, State.SUCCEEDED)
    await replay(bot, "interactive", second.payload, 5)
    await wait_until(lambda: repeats(bot) == 10)
    await settled(bot)
    history = [h["to"] for h in await bot.deps.requests.history(record.id)]
    assert history.count("approved") == 1 and history.count("submitting") == 1
    assert sum(zstack_sim.state.counters()["clone_calls_by_source"].values()) == 1


def repeats(bot: Runtime) -> float:
    return counter(bot, "clonebot_repeated_slack_deliveries", kind="action")


# -- webhooks ----------------------------------------------------------------------------------


async def test_webhook_urls_are_good_for_their_own_request_and_job_only(
    slack_emu: SlackEmulator, bot_factory: BotFactory, zstack_sim: SimServer
) -> None:
    zstack_sim.state.set_mode(job_duration_s=2.0, webhook_retry_interval_s=0.2)
    bot = await bot_factory(approval_channel=APPROVALS, poll_initial_s=30, poll_max_s=60)
    bot.deps.webhooks.use_public_url(bot.http_url)
    first = await request_clone(slack_emu, bot)
    other = await request_clone(slack_emu, bot, name="other-clone")
    await click(slack_emu, APPROVER, first, "request_approve")
    running = await wait_state(bot, first.id, State.RUNNING)
    job = running.job_uuid or ""
    signer = bot.deps.webhooks
    good = signer.url_for(first.id, job) or ""
    mac = good.rsplit("/", 1)[1]
    body = json.dumps({"inventory": {"uuid": "e" * 32, "name": "forged"}})
    ok = {"X-Job-Success": "true"}
    async with httpx.AsyncClient() as http:
        # Another request's id under this job's MAC.
        stolen = f"{bot.http_url}/zstack/webhook/{other.id}/{job}/{mac}"
        assert (
            await http.post(stolen, content=body, headers={**ok, "X-Job-UUID": job})
        ).status_code == 403
        # This request, another job's UUID under this job's MAC.
        swapped = f"{bot.http_url}/zstack/webhook/{first.id}/{'f' * 32}/{mac}"
        answer = await http.post(swapped, content=body, headers={**ok, "X-Job-UUID": "f" * 32})
        assert answer.status_code == 403
        # A genuine URL of this request for a job it no longer runs (e.g. before a retry).
        stale = signer.url_for(first.id, "a" * 32) or ""
        answer = await http.post(stale, content=body, headers={**ok, "X-Job-UUID": "a" * 32})
        assert answer.status_code == 200 and answer.json()["applied"] is False
        # The right URL with another job in the header.
        answer = await http.post(good, content=body, headers={**ok, "X-Job-UUID": "b" * 32})
        assert answer.status_code == 400
    assert (await bot.deps.requests.require(first.id)).state == State.RUNNING
    assert (await bot.deps.requests.require(other.id)).state == State.PENDING
    done = await wait_state(bot, first.id, State.SUCCEEDED, timeout=10)
    assert done.result and done.result.name == "example-clone"  # ZStack's own webhook


# -- whose session ---------------------------------------------------------------------------


async def test_the_clone_carries_the_requesters_session_not_the_approvers(
    slack_emu: SlackEmulator, bot_factory: BotFactory, zstack_sim: SimServer
) -> None:
    bot = await bot_factory(approval_channel=APPROVALS)
    await login(slack_emu, APPROVER, LOGINS["user"])  # the approver is alice/bob in ZStack
    await login(slack_emu, APPROVER2, LOGINS["iam2"])  # and this one carol
    record = await request_clone(slack_emu, bot)  # the requester is alice (account)
    await click(slack_emu, APPROVER, record, "request_approve")
    done = await wait_state(bot, record.id, State.SUCCEEDED)
    calls = zstack_sim.state.counters()["clone_calls"]
    assert calls == [
        {"job_uuid": done.job_uuid, "source_uuid": EXAMPLE, "account": "alice", "user": "alice"}
    ]
    services = zstack_sim.state.snapshot()["model_services"]
    assert (
        next(s for s in services if s["inventory"]["name"] == "example-clone")["owner_account"]
        == "alice"
    )


# -- secrets at rest and in logs -------------------------------------------------------------


async def dump_redis(bot: Runtime) -> str:
    """Every key and every value of every type, as text."""
    client = bot.deps.redis.client
    out: list[str] = []
    async for key in client.scan_iter("*"):
        out.append(repr(key))
        kind = (await client.type(key)).decode()
        if kind == "string":
            out.append(repr(await client.get(key)))
        elif kind == "hash":
            out.append(repr(await client.hgetall(key)))
        elif kind == "list":
            out.append(repr(await client.lrange(key, 0, -1)))
        elif kind == "set":
            out.append(repr(await client.smembers(key)))
        elif kind == "zset":
            out.append(repr(await client.zrange(key, 0, -1, withscores=True)))
        elif kind == "stream":
            out.append(repr(await client.xrange(key)))
        else:
            raise AssertionError(f"unexpected Redis type {kind} for {key!r}")
    return "\n".join(out)


async def test_no_secret_in_redis_or_logs_after_a_full_run(
    slack_emu: SlackEmulator, bot_factory: BotFactory, zstack_sim: SimServer
) -> None:
    stream = io.StringIO()
    configure_logging("DEBUG", "json", stream=stream)
    try:
        zstack_sim.state.set_mode(webhook_retry_interval_s=0.1)
        bot = await bot_factory(approval_channel=APPROVALS)
        bot.deps.webhooks.use_public_url(bot.http_url)
        await login(slack_emu, APPROVER, LOGINS["user"])
        await login(slack_emu, APPROVER2, LOGINS["iam2"])
        ok = await request_clone(slack_emu, bot)
        await click(slack_emu, APPROVER, ok, "request_approve")
        await wait_state(bot, ok.id, State.SUCCEEDED)
        zstack_sim.state.fail_next_clones(1)
        bad = await request_clone(slack_emu, bot, name="failing-clone")
        await click(slack_emu, APPROVER2, bad, "request_approve")
        await wait_state(bot, bad.id, State.FAILED)
        await slack_emu.slash_command(REQUESTER, GENERAL, "/zstack", "whoami")
        sessions = set(zstack_sim.state.identity.sessions)
        await slack_emu.slash_command(APPROVER, GENERAL, "/zstack", "logout")
        await settled(bot)
        everything = await dump_redis(bot)
    finally:
        logging.getLogger().handlers.clear()
    logs = stream.getvalue()
    assert len(sessions) >= 3
    passwords = {"alice-pass", "bob-pass", "carol-pass"}
    forbidden = (
        sessions
        | passwords
        | {sha512(p.encode()).hexdigest() for p in passwords}
        | {BOT_TOKEN, SIGNING_SECRET, SESSION_KEY}
    )
    assert "request transition" in logs
    for secret in forbidden:
        assert secret not in everything, "a secret is stored in clear in Redis"
        assert secret not in logs, "a secret is in the logs"


# -- fuzzing through Bolt ----------------------------------------------------------------------


class Stack:
    """Simulator, emulator and bot in a background event loop, for synchronous hypothesis
    tests (hypothesis drives plain functions; each example runs a coroutine here)."""

    def __init__(self, redis_url: str, data_dir: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.redis_url = redis_url
        self.data_dir = data_dir
        self.emu: SlackEmulator
        self.sim: SimServer
        self.bot: Runtime

    def run(self, coro: Awaitable[T], timeout: float = 30.0) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)  # type: ignore[arg-type]
        return future.result(timeout)

    async def start(self) -> None:
        self.sim = await SimServer("127.0.0.1", 0).__aenter__()
        self.emu = await SlackEmulator(
            signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN, workspace=default_workspace()
        ).__aenter__()
        settings = Settings(
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SIGNING_SECRET,
            slack_api_url=self.emu.api_url,
            zstack_url=self.sim.url,
            redis_url=self.redis_url,
            session_key=Fernet.generate_key().decode(),
            data_dir=self.data_dir,
            approval_channel=APPROVALS,
            poll_initial_s=0.05,
            poll_max_s=0.2,
            slack_pace=False,  # the emulator here enforces no rate limits
        )
        self.bot = await Runtime.start(settings)
        port = await self.bot.serve_http("127.0.0.1", 0)
        self.emu.app_url = f"http://127.0.0.1:{port}/slack/events"
        await login(self.emu)

    async def stop(self) -> None:
        await self.bot.aclose()
        await self.emu.__aexit__(None, None, None)
        await self.sim.__aexit__(None, None, None)

    def crashes(self) -> float:
        samples = self.bot.deps.metrics.handler_errors.collect()[0].samples
        return sum(s.value for s in samples if s.name.endswith("_total"))

    def said(self, user: str) -> list[str]:
        texts = [m.text for m in self.emu.state.ephemerals(user)]
        texts += [m.text for m in self.emu.state.dms(user)]
        texts += [str(c.params.get("text", "")) for c in self.emu.state.calls("response_url")]
        return texts


@pytest.fixture
def stack(redis_url: str, tmp_path: Path) -> Iterator[Stack]:
    running = Stack(redis_url, tmp_path / "data")
    running.run(running.start())
    try:
        yield running
    finally:
        running.run(running.stop())
        running.loop.call_soon_threadsafe(running.loop.stop)
        running.thread.join(5)
        running.loop.close()


FUZZ = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
TEXT = st.one_of(
    st.text(max_size=200),
    st.sampled_from(
        [
            "status CR-AAAAAA",
            "status ../../etc/passwd",
            "list extra",
            "help me",
            "logout now",
            "<@U0APP1> <!channel> &lt;script&gt;",
            "' OR 1=1 --",
            "name~=%25",
            "90d425a802ff44eeb530f21587633700 extra words",
            "x" * 3000,
            "\u202eevil\u0000",
        ]
    ),
)


def check_answer(stack: Stack, status: int | None, before: float) -> None:
    assert status == 200
    assert stack.crashes() == before, "a listener crashed (ERR- reference given to the user)"
    for text in stack.said(REQUESTER) + stack.said(APPROVER):
        assert "Traceback" not in text and 'File "' not in text


@pytest.mark.timeout(300)
@pytest.mark.parametrize("command", ["/zstack", "/clone-model"])
def test_fuzz_command_text(stack: Stack, command: str) -> None:
    @FUZZ
    @given(text=TEXT)
    def one(text: str) -> None:
        if text.split()[:1] == ["logout"]:
            return  # keeps the session the other examples use
        before = stack.crashes()
        try:
            delivery = stack.run(stack.emu.slash_command(REQUESTER, GENERAL, command, text))
        except UserActionError:
            return  # Slack's client would not send it
        stack.run(settled(stack.bot))
        check_answer(stack, delivery.status, before)
        stack.emu.modals.clear(REQUESTER, reason="close")

    one()


def text_inputs(definition: dict[str, Any]) -> list[tuple[str, str]]:
    """(block_id, action_id) of every plain-text input of a modal."""
    found = []
    for block in definition.get("blocks", []):
        element = block.get("element") or {}
        if block.get("type") == "input" and element.get("type") == "plain_text_input":
            found.append((block["block_id"], element["action_id"]))
    return found


async def open_modal(stack: Stack, callback_id: str) -> Any:
    emu = stack.emu
    emu.modals.clear(REQUESTER, reason="close")
    if callback_id == "zstack_login":
        await emu.slash_command(REQUESTER, GENERAL, "/zstack", "login")
    elif callback_id == "clone_model":
        await emu.slash_command(REQUESTER, GENERAL, "/clone-model", EXAMPLE)
    return await top_view(emu, REQUESTER, callback_id, timeout=10)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("callback_id", ["zstack_login", "clone_model"])
def test_fuzz_modal_submissions(stack: Stack, callback_id: str) -> None:
    view = stack.run(open_modal(stack, callback_id))
    inputs = text_inputs(view.definition)
    assert inputs
    answered: list[int | None] = []

    @FUZZ
    @given(values=st.lists(TEXT, min_size=len(inputs), max_size=len(inputs)))
    def one(values: list[str]) -> None:
        before = stack.crashes()
        current = stack.run(open_modal(stack, callback_id))
        filled = {b: {a: v} for (b, a), v in zip(inputs, values, strict=True)}
        try:
            delivery = stack.run(stack.emu.submit_view(REQUESTER, current.id, filled))
        except (InputRejected, UserActionError):
            return  # Slack's client refuses it (required, too long...)
        stack.run(settled(stack.bot))
        check_answer(stack, delivery.status, before)
        answered.append(delivery.status)
        if delivery.body:
            answer = json.loads(delivery.body)
            assert answer.get("response_action") in ("errors", "update", "clear", None)

    one()
    assert len(answered) >= 3, "the examples never reached the bot"


@pytest.mark.timeout(300)
def test_fuzz_reject_reason(stack: Stack) -> None:
    @FUZZ
    @given(reason=TEXT)
    def one(reason: str) -> None:
        record = stack.run(request_clone(stack.emu, stack.bot))
        before = stack.crashes()
        stack.run(click(stack.emu, APPROVER, record, "request_reject"))
        view = stack.run(top_view(stack.emu, APPROVER, "reject_request"))
        try:
            delivery = stack.run(
                stack.emu.submit_view(APPROVER, view.id, {"reject_reason": {"value": reason}})
            )
        except (InputRejected, UserActionError):
            stack.emu.modals.clear(APPROVER, reason="close")
            return
        check_answer(stack, delivery.status, before)
        stack.emu.modals.clear(APPROVER, reason="close")

    one()


# -- fuzzing the HTTP doors ----------------------------------------------------------------------

HEADER_TEXT = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80).map(
    str.strip
)  # what an HTTP client can send at all
HEADERS = st.dictionaries(
    st.sampled_from(
        [
            "X-Slack-Request-Timestamp",
            "X-Slack-Signature",
            "Content-Type",
            "X-Slack-Retry-Num",
            "X-Job-UUID",
            "X-Job-Success",
            "X-Anything",
        ]
    ),
    st.one_of(
        HEADER_TEXT,
        st.sampled_from(
            ["application/json", "application/x-www-form-urlencoded", "true", "false", "1"]
        ),
        st.integers(-(10**12), 10**12).map(str),
    ),
    max_size=6,
)
JSONISH = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=30)),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
PAYLOAD_TYPES = ["block_actions", "view_submission", "event_callback", "block_suggestion", None]


def hostile_body(canary_url: str) -> st.SearchStrategy[bytes]:
    """Arbitrary bytes, JSON, form bodies, and payload-shaped bodies naming an outside URL."""
    shaped = st.builds(
        lambda kind, extra, user: {
            **({"type": kind} if kind else {"command": "/clone-model"}),
            "response_url": canary_url,
            "user": {"id": user},
            "user_id": user,
            "trigger_id": "1.2.x",
            **extra,
        },
        st.sampled_from(PAYLOAD_TYPES),
        st.dictionaries(st.sampled_from(["view", "actions", "event", "team", "text"]), JSONISH),
        st.sampled_from(["U0REQ", "U0APP1", "", "u:1", "{x}"]),
    )
    user = st.fixed_dictionaries(
        {"id": st.sampled_from(["U0REQ", "U0APP1", "U0NEW"])},
        optional={"team_id": st.sampled_from(["T0CLONE", "T0OTHER"])},
    )
    state = st.dictionaries(
        st.sampled_from(["name", "reason", "source", "yaml", "request_cpu", "login_kind", "x"]),
        st.dictionaries(st.text(max_size=8), st.dictionaries(st.text(max_size=12), JSONISH)),
        max_size=5,
    )
    view = st.fixed_dictionaries(
        {
            "id": st.text(min_size=1, max_size=12),
            "callback_id": st.sampled_from(
                ["clone_model", "zstack_login", "reject_request", "clone_model_loading", "x"]
            ),
            "state": st.fixed_dictionaries({"values": state}),
        },
        optional={"private_metadata": st.one_of(st.text(max_size=40), JSONISH.map(json.dumps))},
    )
    action = st.fixed_dictionaries(
        {
            "action_id": st.sampled_from(
                [
                    "request_approve",
                    "request_reject",
                    "request_cancel",
                    "request_retry",
                    "request_show_full",
                    "toggle_advanced",
                    "source",
                    "clone_retry_lookup",
                    "home_login",
                    "home_logout",
                ]
            )
        },
        optional={"value": st.text(max_size=20), "action_ts": st.text(max_size=12)},
    )
    listened = st.one_of(
        st.fixed_dictionaries(
            {
                "type": st.just("block_actions"),
                "user": user,
                "actions": st.lists(action, min_size=1, max_size=2),
            },
            optional={
                "view": view,
                "trigger_id": st.text(max_size=10),
                "team": st.just({"id": "T0CLONE"}),
            },
        ),
        st.fixed_dictionaries(
            {"type": st.just("view_submission"), "user": user, "view": view},
            optional={"team": st.just({"id": "T0CLONE"})},
        ),
        st.fixed_dictionaries(
            {"type": st.just("block_suggestion"), "user": user, "action_id": st.just("source")},
            optional={"value": st.text(max_size=20), "view": view},
        ),
        st.fixed_dictionaries(
            {
                "type": st.just("event_callback"),
                "event_id": st.text(min_size=1, max_size=10),
                "team_id": st.just("T0CLONE"),
                "event": st.fixed_dictionaries(
                    {"type": st.sampled_from(["message", "app_home_opened"])},
                    optional={
                        "text": st.sampled_from(["approve", "reject why", "hi", ""]),
                        "user": st.sampled_from(["U0APP1", "", "B0"]),
                        "thread_ts": st.text(max_size=10),
                        "channel": st.text(max_size=10),
                        "tab": st.sampled_from(["home", "messages"]),
                    },
                ),
            }
        ),
    )
    as_json = st.one_of(JSONISH, shaped).map(lambda v: json.dumps(v).encode())
    as_listened = listened.map(lambda v: urlencode({"payload": json.dumps(v)}).encode())
    as_form = shaped.map(lambda v: urlencode({"payload": json.dumps(v)}).encode())
    as_command = shaped.map(
        lambda v: urlencode({k: str(x) for k, x in v.items() if k != "user"}).encode()
    )
    return st.one_of(st.binary(max_size=600), as_json, as_form, as_command, as_listened)


# A key this close to its expiry may lapse while one example runs (a cache, such as the marker
# of a session ZStack accepted moments ago): its going away is time passing, not the request.
_LAPSING_MS = 60_000


@dataclass(frozen=True)
class Observed:
    """Slack calls, ZStack requests and Redis contents: what an unverified request must not move."""

    slack: int
    zstack: int
    redis: dict[bytes, bytes]
    lapsing: frozenset[bytes]

    def unmoved_by_the_request(self, later: Observed) -> bool:
        expected = {
            k: v for k, v in self.redis.items() if k in later.redis or k not in self.lapsing
        }
        return (later.slack, later.zstack, later.redis) == (self.slack, self.zstack, expected)


async def observed(stack: Stack) -> Observed:
    client = stack.bot.deps.redis.client
    snapshot = await redis_snapshot(client)
    lapsing = []
    for key in snapshot:
        ttl = await client.pttl(key)
        if 0 <= ttl < _LAPSING_MS:
            lapsing.append(key)
    return Observed(
        len(stack.emu.state.calls()),
        sum(stack.sim.state.counters()["requests_by_operation"].values()),
        snapshot,
        frozenset(lapsing),
    )


@pytest.mark.timeout(300)
def test_fuzz_the_http_doors(stack: Stack) -> None:
    """Arbitrary headers and bodies, unsigned and signed, into ``/slack/events`` and
    ``/zstack/webhook/…``: never a 5xx; unless validly signed, no outbound request (Slack,
    ZStack, a response_url), no Slack message and no Redis change."""
    canary = stack.run(Canary().__aenter__())
    record = stack.run(request_clone(stack.emu, stack.bot))
    job = "a" * 32
    good_hook = stack.bot.deps.webhooks.url_for(record.id, job)
    base = stack.bot.http_url or ""
    http = httpx.Client(base_url=base, timeout=10)

    @settings(FUZZ, max_examples=400)
    @given(
        target=st.sampled_from(["slack", "slack-signed", "webhook", "webhook-signed"]),
        headers=HEADERS,
        body=hostile_body(canary.url),
        segments=st.tuples(*[st.text(st.characters(exclude_categories=("Cs",)), max_size=60)] * 3),
    )
    def one(target: str, headers: dict[str, str], body: bytes, segments: tuple[str, ...]) -> None:
        signed = target.endswith("signed")
        if target.startswith("slack"):
            path = "/slack/events"
            if signed:
                stamp = str(int(time.time()))
                text = body.decode("utf-8", "replace")
                body = text.encode()
                headers = {**headers, **signature_headers(SIGNING_SECRET, text, int(stamp))}
        elif signed:
            path = (good_hook or "").replace(base, "")
        else:
            path = "/zstack/webhook/" + "/".join(quote(s, safe="") or "x" for s in segments)
        before = stack.run(observed(stack))
        answer = http.post(path, content=body, headers=headers)
        assert answer.status_code < 500, (path, answer.status_code, answer.text[:200])
        if not signed:
            assert answer.status_code in (400, 401, 403, 404, 405), answer.status_code
            assert before.unmoved_by_the_request(stack.run(observed(stack)))
            assert canary.hits == []

    try:
        one()
        stack.run(settled(stack.bot))
        assert canary.hits == [], "an outside response_url was called"
    finally:
        http.close()
        stack.run(canary.__aexit__(None, None, None))
