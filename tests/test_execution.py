"""The executor's decisions on a real Redis, with no sockets: ZStack's answers come from httpx's
``MockTransport`` (the HTTP edge), the clock is the one edge moved by hand.

What is decided: a job ZStack does not know is waited for while the POST may still land, then
resent under a new UUID, at most ``MAX_SEND_ATTEMPTS`` times; a finished job ends the request
once, with its completion notices in the outbox; a session ZStack refuses parks the request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from bot.config import Settings
from bot.crypto import SecretBox, generate_key
from bot.i18n import Msg
from bot.load import AdaptiveLimit
from bot.metrics import Metrics
from bot.requests import following
from bot.requests.executor import MAX_SEND_ATTEMPTS, Executor
from bot.requests.model import CloneRequest, State
from bot.requests.sessions import SessionService
from bot.store.handle import RedisHandle
from bot.store.requests import RequestStore
from bot.store.sessions import SessionStore, StoredSession
from bot.zstack.client import ZStackClient, default_timeout
from bot.zstack.jobs import JobOutcome
from bot.zstack.models import SessionInventory
from bot.zstack.webhooks import WebhookSigner
from tests.support.records import record_in

Answer = (
    Callable[[httpx.Request], httpx.Response]
    | Callable[[httpx.Request], Coroutine[Any, Any, httpx.Response]]
)


def executor_for(redis: RedisHandle, answer: Answer) -> Executor:
    settings = Settings(zstack_url="http://zstack.test:8080", zstack_timeout_s=5)
    zstack = ZStackClient(
        settings.zstack_url,
        timeout=default_timeout(5),
        transport=httpx.MockTransport(answer),
    )
    box = SecretBox([generate_key().encode()])
    store = RequestStore(redis)
    return Executor(
        settings=settings,
        store=store,
        sessions=SessionService(store=SessionStore(redis, box), zstack=zstack),
        zstack=zstack,
        metrics=Metrics(),
        webhooks=WebhookSigner(box, None),
    )


async def in_state(executor: Executor, state: State, **fields: object) -> CloneRequest:
    return await executor.store.create(lambda request_id: record_in(state, request_id, **fields))


def unknown_job(request: httpx.Request) -> httpx.Response:
    assert request.url.path.startswith("/zstack/v1/api-jobs/")
    return httpx.Response(404, text="job not found")


def finished_job(request: httpx.Request) -> httpx.Response:
    inventory = {"uuid": "5" * 32, "name": "copy", "type": "Endpoint"}
    return httpx.Response(200, json={"inventory": inventory})


async def test_an_unknown_job_is_waited_for_while_its_post_may_still_land_then_resent(
    redis_handle: RedisHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    executor = executor_for(redis_handle, unknown_job)
    sent = datetime.now(UTC)
    record = await in_state(
        executor, State.SUBMITTING, job_uuid="a" * 32, attempts=1, submitted_at=sent
    )
    assert await executor.follow(record.id)
    stored = await executor.store.require(record.id)
    assert stored.state == State.SUBMITTING  # within the client timeout + grace: wait
    assert await executor.store.score("jobs", record.id) is not None

    later = sent.timestamp() + executor.settings.zstack_timeout_s + following.SUBMIT_GRACE_S + 1
    monkeypatch.setattr(following.time, "time", lambda: later)
    assert await executor.follow(record.id)
    stored = await executor.store.require(record.id)
    assert stored.state == State.APPROVED  # ZStack never got it: back to be sent again
    history = await executor.store.history(record.id)
    assert history[-1]["note"] == "resend: ZStack never took the job"


async def test_sends_are_bounded(redis_handle: RedisHandle) -> None:
    calls: list[str] = []

    def zstack(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(200, json={"valid": True})

    executor = executor_for(redis_handle, zstack)
    record = await in_state(executor, State.APPROVED, attempts=MAX_SEND_ATTEMPTS)
    await executor.sessions.store.put("T1", "U1", _session(executor))  # the requester is logged in
    await executor.submit(record.id)
    stored = await executor.store.require(record.id)
    assert stored.state == State.FAILED
    assert stored.error_text == f"ZStack did not take the request after {MAX_SEND_ATTEMPTS} tries."
    assert not any("model-services" in path for path in calls)  # nothing more was sent
    assert [e.kind for _slot, e in await executor.store.effects(record.id)] == ["completion"]


async def test_a_finished_job_ends_the_request_once_with_its_notices_recorded(
    redis_handle: RedisHandle,
) -> None:
    executor = executor_for(redis_handle, finished_job)
    record = await in_state(
        executor,
        State.RUNNING,
        job_uuid="b" * 32,
        attempts=1,
        submitted_at=datetime.now(UTC),
    )
    assert await executor.follow(record.id)
    stored = await executor.store.require(record.id)
    assert stored.state == State.SUCCEEDED and stored.result is not None
    assert stored.result.name == "copy"
    assert [e.kind for _slot, e in await executor.store.effects(record.id)] == ["completion"]
    assert await executor.store.score("jobs", record.id) is None
    # A second ending (a webhook racing the poll) changes nothing and records nothing.
    again = await executor.finish(record.id, "b" * 32, JobOutcome(note=Msg.of("late")))
    assert not again
    assert len(await executor.store.effects(record.id)) == 1


async def test_a_session_zstack_refuses_while_polling_parks_the_request(
    redis_handle: RedisHandle,
) -> None:
    def refused(request: httpx.Request) -> httpx.Response:
        error = {"code": "ID.1001", "description": "session expired", "details": "expired"}
        return httpx.Response(503, content=json.dumps({"error": error}))

    executor = executor_for(redis_handle, refused)
    record = await in_state(
        executor, State.RUNNING, job_uuid="c" * 32, attempts=1, submitted_at=datetime.now(UTC)
    )
    assert await executor.follow(record.id)
    stored = await executor.store.require(record.id)
    assert stored.state == State.AWAITING_LOGIN
    kinds = [e.kind for _slot, e in await executor.store.effects(record.id)]
    assert kinds == ["card", "note", "dm"]
    assert await executor.store.parked("T1", "U1") == [record.id]
    assert await executor.store.score("jobs", record.id) is None
    assert await executor.store.score("expiry", record.id) == pytest.approx(
        stored.expires_at.timestamp()
    )


async def test_a_request_another_worker_holds_is_left_to_it_and_looked_at_again(
    redis_handle: RedisHandle,
) -> None:
    executor = executor_for(redis_handle, finished_job)
    record = await in_state(executor, State.RUNNING, job_uuid="d" * 32, attempts=1)
    assert await executor.store.claim(record.id, "someone-else", 30)
    before = time.time()
    assert not await executor.follow(record.id)
    assert (await executor.store.require(record.id)).state == State.RUNNING
    due = await executor.store.score("jobs", record.id)
    assert (
        due is not None and before + executor.lease_s - 1 <= due <= time.time() + executor.lease_s
    )


async def test_a_worker_that_finds_the_request_held_never_delays_the_holders_poll(
    redis_handle: RedisHandle,
) -> None:
    # The holder sent the clone and scheduled its first poll; a second submission of the same
    # approval (the outbox's, say) or a tracker step finds the lease taken meanwhile.
    executor = executor_for(redis_handle, finished_job)
    record = await in_state(executor, State.APPROVED)
    assert await executor.store.claim(record.id, "someone-else", 30)
    soon = time.time() + 0.05
    await executor.store.schedule("jobs", record.id, soon)
    await executor.submit(record.id)
    assert not await executor.follow(record.id)
    assert await executor.store.score("jobs", record.id) == pytest.approx(soon, abs=0.01)


async def test_two_replicas_submitting_one_approval_send_one_clone(
    redis_handle: RedisHandle,
) -> None:
    posts: list[str] = []

    def zstack(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            posts.append(request.headers["X-Job-UUID"])
            return finished_job(request)
        return httpx.Response(200, json={"valid": True})

    one, other = executor_for(redis_handle, zstack), executor_for(redis_handle, zstack)
    record = await in_state(one, State.APPROVED)
    await one.sessions.store.put("T1", "U1", _session(one))
    await asyncio.gather(one.submit(record.id), other.submit(record.id), one.submit(record.id))
    stored = await one.store.require(record.id)
    assert stored.state == State.SUCCEEDED
    assert posts == [stored.job_uuid]


def _session(executor: Executor) -> StoredSession:
    now = datetime.now(UTC)
    inventory = SessionInventory.model_validate(
        {"uuid": "9" * 32, "accountUuid": "1" * 32, "userUuid": "1" * 32}
    )
    return StoredSession(
        inventory=inventory,
        login_kind="account",
        identity="admin",
        zstack_url=executor.zstack.base_url,
        logged_in_at=now,
        expires_at=now + timedelta(hours=2),
        lifetime_s=7200,
    )


def running_job(request: httpx.Request) -> httpx.Response:
    assert request.url.path.startswith("/zstack/v1/api-jobs/")
    return httpx.Response(202, json={"location": f"http://zstack.test:8080{request.url.path}"})


@pytest.mark.parametrize("webhooks", [False, True])
async def test_with_webhooks_a_running_job_is_polled_only_at_the_cap(
    redis_handle: RedisHandle, webhooks: bool
) -> None:
    """Polls stand in for a lost callback once ZStack calls back: not every second."""
    executor = executor_for(redis_handle, running_job)
    if webhooks:
        executor.webhooks.use_public_url("https://bot.example.com")
    record = await in_state(
        executor, State.RUNNING, job_uuid="a" * 32, attempts=1, submitted_at=datetime.now(UTC)
    )
    before = time.time()
    assert await executor.follow(record.id)
    assert (await executor.store.require(record.id)).state == State.RUNNING
    due = await executor.store.score("jobs", record.id)
    assert due is not None
    settings = executor.settings
    expected = settings.poll_max_s if webhooks else settings.poll_initial_s
    assert due - before == pytest.approx(expected, rel=0.25)


# (loop lag fed to the limit, most clones sent at once, how long ZStack holds a clone at most
# while waiting for all six to arrive: a calm loop lets all of them in, however busy the machine)
@pytest.mark.parametrize(("lag_s", "most_at_once", "hold_s"), [(0.0, 6, 10.0), (0.05, 1, 0.02)])
async def test_approvals_go_to_zstack_as_many_at_once_as_the_loop_lag_allows(
    redis_handle: RedisHandle, lag_s: float, most_at_once: int, hold_s: float
) -> None:
    """The submission limit narrows while the event loop lags (``bot.load``): a burst of
    approvals then waits its turn before ZStack, and every one is still sent."""
    sending, most = 0, 0
    all_in = asyncio.Event()

    async def zstack(request: httpx.Request) -> httpx.Response:
        nonlocal sending, most
        if request.method != "POST":
            return httpx.Response(200, json={"valid": True})
        sending += 1
        most = max(most, sending)
        if most == 6:
            all_in.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_in.wait(), hold_s)
        sending -= 1
        return finished_job(request)

    executor = executor_for(redis_handle, zstack)
    executor.submissions = AdaptiveLimit(1, 8, target_lag_s=0.02)
    for _ in range(3):
        executor.submissions.observe(lag_s)
    await executor.sessions.store.put("T1", "U1", _session(executor))
    records = [await in_state(executor, State.APPROVED) for _ in range(6)]
    await asyncio.gather(*(executor.submit(r.id) for r in records))
    assert most == most_at_once
    for record in records:
        assert (await executor.store.require(record.id)).state == State.SUCCEEDED
