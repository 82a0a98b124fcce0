"""The ZStack client against the simulator over real HTTP: every outcome of reference §3-§4."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from pydantic import SecretStr

from bot.errors import (
    JobNotFound,
    JobTimeout,
    ZStackAPIError,
    ZStackConnectError,
    ZStackRESTError,
    ZStackSessionInvalid,
    ZStackTimeout,
)
from bot.retry import RetryPolicy
from bot.sandbox.zstack_sim import SimServer
from bot.zstack.client import ZStackClient, default_timeout
from bot.zstack.credentials import AccountLogin, IAM2Login, UserLogin, hash_password
from bot.zstack.jobs import (
    CloneAccepted,
    CloneCompleted,
    JobDone,
    JobRunning,
    clone_job_outcome,
    new_job_uuid,
)
from bot.zstack.models import ArchitectureImage, CloneParams, CloneRequestBody
from bot.zstack.query import Query, like_contains
from bot.zstack.responses import parse_clone_result, parse_job_error
from tests.fixtures.zstack import ALICE, alice_session

EXAMPLE = "90d425a802ff44eeb530f21587633700"
QWEN = "5f1c2a7e3d9b4c8e9a6f0b1d2c3e4f50"
FAST = RetryPolicy(base_s=0.05, cap_s=0.2)


@pytest.fixture
async def client(zstack_sim: SimServer) -> AsyncIterator[ZStackClient]:
    async with ZStackClient(zstack_sim.url, timeout=default_timeout(5)) as zc:
        yield zc


def body(name: str = "copy", **params: object) -> CloneRequestBody:
    return CloneRequestBody(params=CloneParams(name=name, **params))  # type: ignore[arg-type]


# --- identity -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "creds",
    [
        ALICE,
        UserLogin(account_name="alice", user_name="bob", password_sha512=hash_password("bob-pass")),
        IAM2Login(name="carol", password_sha512=hash_password("carol-pass")),
    ],
    ids=["account", "iam-user", "iam2"],
)
async def test_each_login_kind_returns_a_session(client: ZStackClient, creds: object) -> None:
    inv = await client.login(creds)  # type: ignore[arg-type]
    assert len(inv.uuid.get_secret_value()) == 32
    assert inv.expired_date is not None and inv.create_date is not None
    assert (inv.expired_date - inv.create_date).total_seconds() == pytest.approx(7200, abs=2)
    assert await client.validate_session(inv.uuid)


async def test_wrong_password_is_zstack_id_1000(client: ZStackClient) -> None:
    with pytest.raises(ZStackAPIError) as caught:
        await client.login(AccountLogin(account_name="alice", password_sha512=hash_password("no")))
    assert caught.value.code == "ID.1000"
    assert caught.value.status == 503
    assert "wrong account name or password" in (caught.value.error.details or "")


async def test_renew_and_logout(client: ZStackClient) -> None:
    session = await alice_session(client)
    renewed = await client.renew_session(session, duration_s=3600)
    assert renewed.uuid.get_secret_value() == session.get_secret_value()
    assert renewed.expired_date is not None
    await client.logout(session)
    assert not await client.validate_session(session)


async def test_expired_session_is_id_1001_on_sync_and_async_calls(
    client: ZStackClient, zstack_sim: SimServer
) -> None:
    session = await alice_session(client)
    zstack_sim.state.advance_clock(7201)
    assert not await client.validate_session(session)
    with pytest.raises(ZStackSessionInvalid) as caught:
        await client.query_model_services(session, Query())
    assert caught.value.code == "ID.1001"
    # An async API accepts first and fails in the job (reference §2.3).
    outcome = await client.clone_model_service(session, EXAMPLE, body(), job_uuid=new_job_uuid())
    assert isinstance(outcome, CloneAccepted)
    with pytest.raises(ZStackSessionInvalid):
        await client.wait_job(session, outcome.job, timeout_s=5, policy=FAST)


async def test_use_slides_the_session(client: ZStackClient, zstack_sim: SimServer) -> None:
    session = await alice_session(client)
    zstack_sim.state.advance_clock(7000)
    await client.query_model_services(session, Query())
    zstack_sim.state.advance_clock(7000)
    assert await client.validate_session(session)


# --- queries ------------------------------------------------------------------------------


async def test_query_grammar_paging_sort_and_projection(client: ZStackClient) -> None:
    admin = (
        await client.login(
            AccountLogin(account_name="admin", password_sha512=hash_password("password"))
        )
    ).uuid
    everything = await client.query_model_services(admin, Query().page(limit=2).sorted("+name"))
    assert everything.total is not None and everything.total >= 4
    assert len(everything.inventories) == 2
    names = [i.name for i in everything.inventories]
    assert names == sorted(names, key=lambda n: (n or "").lower())
    found = await client.query_model_services(
        admin, Query().where("name", "~=", like_contains("qwen")).only("uuid", "name")
    )
    assert [i.uuid for i in found.inventories] == [QWEN]
    assert found.inventories[0].model_service_images == []
    nested = await client.query_model_services(
        admin, Query().where("modelServiceImages.cpuArchitecture", "=", "aarch64")
    )
    assert EXAMPLE in {i.uuid for i in nested.inventories}


async def test_get_one_sees_only_what_the_caller_may_see(client: ZStackClient) -> None:
    session = await alice_session(client)
    example = await client.get_model_service(session, EXAMPLE)
    assert example is not None and example.name == "example"
    assert {i.cpu_architecture for i in example.model_service_images} == {"x86_64", "aarch64"}
    assert await client.get_model_service(session, QWEN) is None  # admin's, not alice's
    assert await client.get_model_service(session, "not-a-uuid") is None


# --- CloneModelService ------------------------------------------------------------------------


async def test_every_parameter_goes_inside_params_and_reaches_the_clone(
    client: ZStackClient, zstack_sim: SimServer
) -> None:
    session = await alice_session(client)
    params = CloneParams(
        name="example-full",
        description="all fields",
        readme="# readme",
        size=123,
        gpu_compute_capability="8.0",
        install_path="/opt/model",
        start_command="python serve.py",
        container_command="/bin/sh",
        container_args="-c run",
        python_version="3.11.7",
        conda_version="24.1.0",
        system=False,
        type="FineTune",
        yaml="a: 1\n",
        source="HuggingFace",
        framework="vLLM",
        request_cpu=8,
        request_memory=16384,
        cpu_architectures=["x86_64"],
        architecture_images=[
            ArchitectureImage(
                cpu_architecture="x86_64", docker_image="reg/x:2", vm_image_uuid="e" * 32
            )
        ],
        support_distributed=True,
        vendor_to_spec_uuids_map={"NVIDIA": ["f" * 32]},
    )
    job = new_job_uuid()
    outcome = await client.clone_model_service(
        session, EXAMPLE, CloneRequestBody(params=params), job_uuid=job
    )
    assert isinstance(outcome, CloneAccepted)
    assert outcome.job.uuid == job
    assert outcome.job.poll_url.startswith(zstack_sim.url)  # internal host rewritten
    assert outcome.job.api_timeout_s and outcome.job.api_timeout_s > 0
    created = await client.wait_clone(session, outcome.job, timeout_s=5, policy=FAST)
    fetched = await client.get_model_service(session, created.uuid or "")
    assert fetched is not None
    sent = params.model_dump(by_alias=False, exclude={"architecture_images", "cpu_architectures"})
    inventory_fields = set(type(fetched).model_fields)
    for field, value in sent.items():
        if value is not None:
            assert field in inventory_fields
            assert getattr(fetched, field) == value, field
    assert fetched.cpu_architectures == ["x86_64"]
    assert [
        (i.cpu_architecture, i.docker_image, i.vm_image_uuid) for i in fetched.model_service_images
    ] == [("x86_64", "reg/x:2", "e" * 32)]
    assert zstack_sim.state.counters()["clone_calls_by_job"] == {job: 1}


async def test_poll_shows_running_then_done(client: ZStackClient, zstack_sim: SimServer) -> None:
    zstack_sim.state.set_mode(job_duration_s=0.5)
    session = await alice_session(client)
    outcome = await client.clone_model_service(session, EXAMPLE, body(), job_uuid=new_job_uuid())
    assert isinstance(outcome, CloneAccepted)
    assert isinstance(await client.poll_job(session, outcome.job), JobRunning)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while isinstance(done := await client.poll_job(session, outcome.job), JobRunning):
        assert loop.time() < deadline, "the job never finished"
        await asyncio.sleep(0.05)
    assert isinstance(done, JobDone)
    assert parse_clone_result(done.result).name == "copy"


async def test_sync_mode_answers_200_inline(client: ZStackClient, zstack_sim: SimServer) -> None:
    zstack_sim.state.set_mode(clone="sync")
    session = await alice_session(client)
    outcome = await client.clone_model_service(
        session, EXAMPLE, body("inline"), job_uuid=new_job_uuid()
    )
    assert isinstance(outcome, CloneCompleted)
    assert outcome.inventory.name == "inline"


async def test_failed_job_raises_the_whole_cause_chain(
    client: ZStackClient, zstack_sim: SimServer
) -> None:
    zstack_sim.state.fail_next_clones(1)
    session = await alice_session(client)
    outcome = await client.clone_model_service(session, EXAMPLE, body(), job_uuid=new_job_uuid())
    assert isinstance(outcome, CloneAccepted)
    with pytest.raises(ZStackAPIError) as caught:
        await client.wait_job(session, outcome.job, timeout_s=5, policy=FAST)
    chain = caught.value.error.chain_root_first()
    assert len(chain) == 3
    assert chain[0][1].code == "SYS.1015"


async def test_invalid_argument_and_permission_fail_in_the_job(client: ZStackClient) -> None:
    session = await alice_session(client)
    for source, expected in ((QWEN, "ID.1002"), ("0" * 32, "SYS.1003")):
        outcome = await client.clone_model_service(session, source, body(), job_uuid=new_job_uuid())
        assert isinstance(outcome, CloneAccepted)
        with pytest.raises(ZStackAPIError) as caught:
            await client.wait_job(session, outcome.job, timeout_s=5, policy=FAST)
        assert caught.value.code == expected


async def test_duplicate_job_uuid_is_a_plain_text_400(client: ZStackClient) -> None:
    session = await alice_session(client)
    job = new_job_uuid()
    await client.clone_model_service(session, EXAMPLE, body(), job_uuid=job)
    with pytest.raises(ZStackRESTError) as caught:
        await client.clone_model_service(session, EXAMPLE, body(), job_uuid=job)
    assert caught.value.status == 400
    assert "Duplicate job uuid" in caught.value.text


async def test_unknown_path_is_a_plain_text_404(zstack_sim: SimServer) -> None:
    async with ZStackClient(zstack_sim.url + "/elsewhere", timeout=default_timeout(5)) as zc:
        with pytest.raises(ZStackRESTError) as caught:
            await zc.query_model_services(SecretStr("a" * 32), Query())
    assert caught.value.status == 404


# --- jobs -------------------------------------------------------------------------------------


async def test_unknown_and_expired_jobs_are_job_not_found(
    client: ZStackClient, zstack_sim: SimServer
) -> None:
    session = await alice_session(client)
    with pytest.raises(JobNotFound):
        await client.poll_job(session, client.job_ref(new_job_uuid()))
    outcome = await client.clone_model_service(session, EXAMPLE, body(), job_uuid=new_job_uuid())
    assert isinstance(outcome, CloneAccepted)
    await client.wait_job(session, outcome.job, timeout_s=5, policy=FAST)
    zstack_sim.state.advance_clock(3 * 3600 + 1)
    with pytest.raises(JobNotFound):
        await client.poll_job(session, outcome.job)


async def test_wait_job_gives_up_after_its_timeout(
    client: ZStackClient, zstack_sim: SimServer
) -> None:
    zstack_sim.state.set_mode(job_duration_s=30)
    session = await alice_session(client)
    outcome = await client.clone_model_service(session, EXAMPLE, body(), job_uuid=new_job_uuid())
    assert isinstance(outcome, CloneAccepted)
    with pytest.raises(JobTimeout):
        await client.wait_job(session, outcome.job, timeout_s=0.3, policy=FAST)


def test_poll_backoff_is_capped_and_jittered() -> None:
    policy = RetryPolicy(base_s=1, cap_s=8, multiplier=2, jitter=0.2)
    delays = [policy.delay(n) for n in range(1, 11)]
    assert 0.8 <= delays[0] <= 1.2
    assert all(d <= 8 * 1.2 for d in delays)
    assert delays[-1] >= 8 * 0.8
    assert policy.delay(10_000) <= 8 * 1.2  # no overflow however long it runs


def test_a_bounded_policy_says_when_it_is_exhausted() -> None:
    policy = RetryPolicy(base_s=1, cap_s=60, attempts=3, jitter=0.0)
    assert [policy.delay(n) for n in (1, 2, 3)] == [1, 2, 4]
    assert not policy.exhausted(2) and policy.exhausted(3)
    assert not RetryPolicy(base_s=1, cap_s=1).exhausted(10**6)


async def test_webhook_delivers_the_result(client: ZStackClient, zstack_sim: SimServer) -> None:
    received: asyncio.Queue[tuple[dict[str, str], dict[str, object]]] = asyncio.Queue()

    async def hook(request: web.Request) -> web.Response:
        await received.put((dict(request.headers), await request.json()))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/zstack/webhook/test", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        session = await alice_session(client)
        job = new_job_uuid()
        await client.clone_model_service(
            session,
            EXAMPLE,
            body("hooked"),
            job_uuid=job,
            webhook_url=f"http://127.0.0.1:{port}/zstack/webhook/test",
        )
        headers, payload = await asyncio.wait_for(received.get(), 5)
    finally:
        await runner.cleanup()
    assert headers["X-Job-UUID"] == job
    assert headers["X-Job-Success"] == "true"
    assert parse_clone_result(payload).name == "hooked"
    assert parse_job_error(payload) is None


# --- transport failures -----------------------------------------------------------------------


async def test_slow_answer_is_a_timeout_that_may_have_landed(zstack_sim: SimServer) -> None:
    zstack_sim.state.set_latency(2.0, ["QueryModelService"])
    async with ZStackClient(zstack_sim.url, timeout=default_timeout(0.3)) as zc:
        session = await alice_session(zc)
        with pytest.raises(ZStackTimeout) as caught:
            await zc.query_model_services(session, Query())
    assert caught.value.maybe_received


async def test_clone_timeout_before_acceptance_leaves_no_job(zstack_sim: SimServer) -> None:
    zstack_sim.state.add_clone_fault("before", 1.0)
    async with ZStackClient(zstack_sim.url, timeout=default_timeout(0.3)) as zc:
        session = await alice_session(zc)
        job = new_job_uuid()
        with pytest.raises(ZStackTimeout) as caught:
            await zc.clone_model_service(session, EXAMPLE, body(), job_uuid=job)
        assert caught.value.maybe_received  # the client cannot know; the job UUID tells
        with pytest.raises(JobNotFound):
            await zc.poll_job(session, zc.job_ref(job))


async def test_clone_timeout_after_acceptance_is_found_by_its_job_uuid(
    zstack_sim: SimServer,
) -> None:
    zstack_sim.state.add_clone_fault("after", 1.0)
    async with ZStackClient(zstack_sim.url, timeout=default_timeout(0.3)) as zc:
        session = await alice_session(zc)
        job = new_job_uuid()
        with pytest.raises(ZStackTimeout):
            await zc.clone_model_service(session, EXAMPLE, body("late"), job_uuid=job)
        created = await zc.wait_clone(session, zc.job_ref(job), timeout_s=5, policy=FAST)
    assert created.name == "late"
    assert zstack_sim.state.counters()["clone_calls_by_job"] == {job: 1}


async def test_connection_refused_is_a_connect_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with ZStackClient(f"http://127.0.0.1:{port}", timeout=default_timeout(2)) as zc:
        with pytest.raises(ZStackConnectError) as caught:
            await zc.validate_session(SecretStr("a" * 32))
    assert not caught.value.maybe_received
    assert "a" * 32 not in str(caught.value)


@pytest.mark.parametrize(
    ("method", "path", "headers", "status", "text"),
    [
        ("GET", "/ai/model-services", {}, 400, "missing header 'Authorization'"),
        ("GET", "/ai/model-services", {"Authorization": "Basic x"}, 400, "OAuth"),
        ("POST", f"/ai/model-services/{EXAMPLE}", {"X-Job-UUID": "short"}, 400, "X-Job-UUID"),
        ("GET", "/no/such/api", {}, 404, "no api mapping"),
        ("POST", "/api-jobs/" + "a" * 32, {}, 405, "only GET"),
    ],
    ids=["no-auth", "bad-scheme", "bad-job-uuid", "unknown-path", "job-method"],
)
async def test_each_rest_layer_refusal_is_a_plain_text_error(
    client: ZStackClient, method: str, path: str, headers: dict[str, str], status: int, text: str
) -> None:
    """Requests the client never builds itself, sent through its transport to check the mapping."""
    session = await alice_session(client)
    if "Authorization" not in headers and path.startswith("/ai/model-services/"):
        headers = {**headers, "Authorization": f"OAuth {session.get_secret_value()}"}
    with pytest.raises(ZStackRESTError) as caught:
        await client._send("Probe", method, path, headers=headers, json_body={"params": {}})
    assert caught.value.status == status
    assert text in caught.value.text


async def test_poll_clone_gives_the_typed_outcome(
    client: ZStackClient, zstack_sim: SimServer
) -> None:
    """The executor gets an inventory model (or ZStack's error), never a raw job body."""
    session = await alice_session(client)
    outcome = await client.clone_model_service(session, EXAMPLE, body(), job_uuid=new_job_uuid())
    assert isinstance(outcome, CloneAccepted)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while isinstance(status := await client.poll_clone(session, outcome.job), JobRunning):
        assert loop.time() < deadline, "the job never finished"
        await asyncio.sleep(0.05)
    assert status.succeeded and status.inventory is not None
    assert status.inventory.name == "copy" and status.inventory.uuid in zstack_sim.state.services
    assert clone_job_outcome({"inventory": {"name": 5, "uuid": []}}).succeeded  # lenient fields
    broken = clone_job_outcome({"nothing": True})
    assert not broken.succeeded and "without a readable new inventory" in broken.describe()
