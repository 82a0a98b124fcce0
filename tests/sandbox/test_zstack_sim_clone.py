"""CloneModelService, async jobs, webhooks and injected faults, over real HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiohttp import web

from bot.sandbox.zstack_sim import SimServer, sha512_hex
from bot.sandbox.zstack_sim.seed import (
    BGE_SERVICE_UUID,
    EXAMPLE_SERVICE_UUID,
    LLAMA_SERVICE_UUID,
    QWEN_SERVICE_UUID,
)
from bot.sandbox.zstack_sim.state import CloneMode
from bot.zstack.models import UUID_RE
from tests.fixtures.zstack import job_path, oauth, wait_job

Login = Callable[[str, str], Awaitable[str]]
CLONE = f"/zstack/v1/ai/model-services/{EXAMPLE_SERVICE_UUID}"

FULL_PARAMS: dict[str, Any] = {
    "name": "example-clone",
    "description": "a copy",
    "readme": "# readme",
    "size": 42,
    "gpuComputeCapability": "8.9",
    "installPath": "/opt/clone",
    "startCommand": "python start.py",
    "containerCommand": "python",
    "containerArgs": "start.py --port 9000",
    "pythonVersion": "3.11.4",
    "condaVersion": "24.1.0",
    "system": False,
    "type": "FineTune",
    "yaml": "services: []\n",
    "source": "HuggingFace",
    "framework": "vLLM",
    "requestCpu": 4,
    "requestMemory": 8192,
    "cpuArchitectures": ["x86_64"],
    "architectureImages": [
        {
            "cpuArchitecture": "x86_64",
            "vmImageUuid": "1" * 32,
            "dockerImage": "registry.example.com/clone:1",
        }
    ],
    "supportDistributed": False,
    "vendorToSpecUuidsMap": {"NVIDIA": ["2" * 32]},
    "tagUuids": ["3" * 32],
}


@pytest.fixture
async def alice(zstack_login: Login) -> str:
    return await zstack_login("alice", "alice-pass")


async def _clone(
    client: httpx.AsyncClient,
    session: str,
    body: dict[str, Any],
    *,
    source: str = EXAMPLE_SERVICE_UUID,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return await client.post(
        f"/zstack/v1/ai/model-services/{source}",
        json=body,
        headers={**oauth(session), **(headers or {})},
    )


async def _clone_error(
    client: httpx.AsyncClient, session: str, body: dict[str, Any], **kw: Any
) -> dict[str, Any]:
    rsp = await _clone(client, session, body, **kw)
    assert rsp.status_code == 202, rsp.text
    done = await wait_job(client, rsp.json()["location"])
    assert done.status_code == 503, done.text
    error: dict[str, Any] = done.json()["error"]
    return error


async def test_async_clone_creates_a_service_with_every_param(
    zstack_http: httpx.AsyncClient, alice: str
) -> None:
    rsp = await _clone(
        zstack_http, alice, {"params": FULL_PARAMS, "systemTags": ["a::b"], "userTags": ["u"]}
    )

    assert rsp.status_code == 202
    accepted = rsp.json()
    assert accepted["location"].startswith("http://10.0.0.5:8080/zstack/v1/api-jobs/")
    assert accepted["apiTimeout"] > 0
    running = await zstack_http.get(job_path(accepted["location"]))
    assert (running.status_code, running.json()) == (202, {})

    done = await wait_job(zstack_http, accepted["location"])
    assert done.status_code == 200
    inv = done.json()["inventory"]
    assert UUID_RE.match(inv["uuid"]) and inv["uuid"] != EXAMPLE_SERVICE_UUID
    for key, value in FULL_PARAMS.items():
        if key not in ("architectureImages", "tagUuids"):
            assert inv[key] == value, key
    [image] = inv["modelServiceImages"]
    assert image["cpuArchitecture"] == "x86_64"
    assert image["vmImageUuid"] == "1" * 32
    assert image["dockerImage"] == "registry.example.com/clone:1"
    assert image["modelServiceUuid"] == inv["uuid"]
    assert inv["modelCenterUuid"] == "432c5fdd49374bb0a2fd7877f0a877cf"  # from the source
    assert inv["createDate"] != "Nov 25, 2025 11:51:50 AM"

    found = await zstack_http.get(
        "/zstack/v1/ai/model-services", params={"q": "name=example-clone"}, headers=oauth(alice)
    )
    assert found.json()["inventories"] == [inv]


async def test_clone_without_images_copies_the_source_images_with_new_uuids(
    zstack_http: httpx.AsyncClient, alice: str
) -> None:
    rsp = await _clone(zstack_http, alice, {"params": {"name": "copy"}})
    inv = (await wait_job(zstack_http, rsp.json()["location"])).json()["inventory"]

    assert [i["cpuArchitecture"] for i in inv["modelServiceImages"]] == ["x86_64", "aarch64"]
    assert {i["uuid"] for i in inv["modelServiceImages"]}.isdisjoint(
        {"c13336388d574fec824752525ae05a21", "46c0e4bb46e849059e6d6bc8881d86f3"}
    )
    assert all(i["modelServiceUuid"] == inv["uuid"] for i in inv["modelServiceImages"])
    assert inv["requestMemory"] == 1024 and inv["system"] is True  # inherited


async def test_flat_body_sets_nothing_but_lenient_mode_reads_it(
    zstack_http: httpx.AsyncClient, alice: str, zstack_sim: SimServer
) -> None:
    flat = {"name": "flat-name", "requestCpu": 2, "params": {"containerArgs": "--x"}}

    strict = await _clone(zstack_http, alice, flat)
    inv = (await wait_job(zstack_http, strict.json()["location"])).json()["inventory"]
    assert inv["name"] == "example"  # the top-level fields were ignored, as by a real node
    assert inv["requestCpu"] == 1
    assert inv["containerArgs"] == "--x"  # only what was inside "params" counts

    zstack_sim.state.set_mode(lenient=True)
    lenient = await _clone(zstack_http, alice, flat)
    inv = (await wait_job(zstack_http, lenient.json()["location"])).json()["inventory"]
    assert (inv["name"], inv["requestCpu"], inv["containerArgs"]) == ("flat-name", 2, "--x")


async def test_sync_mode_answers_inline(zstack_http: httpx.AsyncClient, alice: str) -> None:
    mode = await zstack_http.post("/_sim/mode", json={"clone": "sync", "job_duration_s": 0})
    assert mode.json()["clone"] == "sync"

    ok = await _clone(zstack_http, alice, {"params": {"name": "inline"}})
    assert ok.status_code == 200
    assert ok.json()["inventory"]["name"] == "inline"

    bad = await _clone(zstack_http, alice, {"params": {"type": "Foo"}})
    assert bad.status_code == 503
    assert bad.json()["error"]["code"] == "SYS.1007"


@pytest.mark.parametrize(
    ("params", "details"),
    [
        (
            {"type": "Foo"},
            "valid value for field[type] of message[org.zstack.ai.message."
            "APICloneModelServiceMsg] are [Endpoint, FineTune, App, ModelEval], but Foo found",
        ),
        (
            {"source": "S3"},
            "valid value for field[source] of message[org.zstack.ai.message."
            "APICloneModelServiceMsg] are [Other, Bentoml, HuggingFace], but S3 found",
        ),
        ({"requestCpu": 0}, "field[requestCpu] must be in range of [1, 2147483647]"),
        ({"requestCpu": 2147483648}, "field[requestCpu] must be in range of [1, 2147483647]"),
        (
            {"requestMemory": -1},
            "field[requestMemory] must be in range of [1, 9223372036854775807]",
        ),
    ],
)
async def test_invalid_arguments_fail_the_job_with_sys_1007(
    zstack_http: httpx.AsyncClient, alice: str, params: dict[str, Any], details: str
) -> None:
    error = await _clone_error(zstack_http, alice, {"params": params})
    assert error == {
        "code": "SYS.1007",
        "description": "One or more API argument is invalid",
        "details": details,
    }


async def test_unknown_source_is_sys_1003(zstack_http: httpx.AsyncClient, alice: str) -> None:
    error = await _clone_error(zstack_http, alice, {"params": {}}, source="d" * 32)
    assert error["code"] == "SYS.1003"
    assert error["details"] == (
        f"invalid field[uuid], resource[uuid:{'d' * 32}, type:ModelServiceVO] not found"
    )


async def test_another_accounts_source_is_id_1002(
    zstack_http: httpx.AsyncClient, alice: str
) -> None:
    error = await _clone_error(zstack_http, alice, {"params": {}}, source=QWEN_SERVICE_UUID)
    assert error["code"] == "ID.1002"
    assert QWEN_SERVICE_UUID in error["details"]


async def test_iam_user_and_virtual_id_clone_their_accounts_services(
    zstack_http: httpx.AsyncClient,
) -> None:
    bob = await zstack_http.put(
        "/zstack/v1/accounts/users/login",
        json={
            "logInByUser": {
                "accountName": "alice",
                "userName": "bob",
                "password": sha512_hex("bob-pass"),
            }
        },
    )
    carol = await zstack_http.put(
        "/zstack/v1/iam2/virtual-ids/login",
        json={"loginIAM2VirtualID": {"name": "carol", "password": sha512_hex("carol-pass")}},
    )
    bob_s, carol_s = bob.json()["inventory"]["uuid"], carol.json()["inventory"]["uuid"]

    ok = await _clone(zstack_http, bob_s, {"params": {"name": "bob-copy"}}, source=BGE_SERVICE_UUID)
    assert (await wait_job(zstack_http, ok.json()["location"])).status_code == 200
    ok = await _clone(zstack_http, carol_s, {"params": {}}, source=LLAMA_SERVICE_UUID)
    assert (await wait_job(zstack_http, ok.json()["location"])).status_code == 200
    denied = await _clone_error(zstack_http, carol_s, {"params": {}}, source=BGE_SERVICE_UUID)
    assert denied["code"] == "ID.1002"


@pytest.mark.parametrize(
    "params",
    [{"system": "yes"}, {"supportDistributed": 1}, {"requestCpu": "4"}, {"requestCpu": 1.5}],
)
async def test_wrong_json_types_are_400_plain_text(
    zstack_http: httpx.AsyncClient, alice: str, params: dict[str, Any], zstack_sim: SimServer
) -> None:
    rsp = await _clone(zstack_http, alice, {"params": params})
    assert rsp.status_code == 400
    assert rsp.headers["content-type"].startswith("text/plain")
    assert zstack_sim.state.jobs.jobs == {}


async def test_x_job_uuid_is_used_validated_and_never_reused(
    zstack_http: httpx.AsyncClient, alice: str
) -> None:
    job = "ab" * 16
    rsp = await _clone(zstack_http, alice, {"params": {}}, headers={"X-Job-UUID": job})
    assert rsp.json()["location"].endswith(f"/zstack/v1/api-jobs/{job}")

    again = await _clone(zstack_http, alice, {"params": {}}, headers={"X-Job-UUID": job})
    assert (again.status_code, again.text) == (400, f"Duplicate job uuid[{job}]")

    short = await _clone(zstack_http, alice, {"params": {}}, headers={"X-Job-UUID": "abc"})
    assert short.status_code == 400
    assert short.text == "Invalid header[X-Job-UUID], it must be a UUID with '-' stripped"

    counters = (await zstack_http.get("/_sim/counters")).json()
    assert counters["clone_calls_by_job"][job] == 2
    assert counters["clone_calls_by_source"][EXAMPLE_SERVICE_UUID] == 3


async def test_job_results_expire_after_three_hours(
    zstack_http: httpx.AsyncClient, alice: str, zstack_sim: SimServer
) -> None:
    rsp = await _clone(zstack_http, alice, {"params": {}})
    location = rsp.json()["location"]
    assert (await wait_job(zstack_http, location)).status_code == 200

    zstack_sim.state.advance_clock(3 * 3600 - 10)
    assert (await zstack_http.get(job_path(location))).status_code == 200
    zstack_sim.state.advance_clock(20)
    gone = await zstack_http.get(job_path(location))
    assert (gone.status_code, gone.text) == (404, "the job has been expired")


async def test_job_endpoint_rules(zstack_http: httpx.AsyncClient, alice: str) -> None:
    unknown = await zstack_http.get(f"/zstack/v1/api-jobs/{'e' * 32}")
    assert (unknown.status_code, unknown.text) == (404, "the job has been expired")

    rsp = await _clone(zstack_http, alice, {"params": {}})
    path = job_path(rsp.json()["location"])
    for method in ("POST", "PUT", "DELETE"):
        wrong = await zstack_http.request(method, path)
        assert wrong.status_code == 405
        assert wrong.text == "only GET method is allowed for querying job status"
    # no Authorization needed to poll
    assert (await wait_job(zstack_http, rsp.json()["location"])).status_code == 200


@dataclass
class Receiver:
    url: str
    statuses: list[int]  # answers to give, in order; 200 once exhausted
    calls: list[tuple[dict[str, str], Any]] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver(url="", statuses=[])

    async def hook(request: web.Request) -> web.Response:
        rec.calls.append((dict(request.headers), await request.json()))
        status = rec.statuses.pop(0) if rec.statuses else 200
        if status == 200:
            rec.done.set()
        return web.Response(status=status)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    rec.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    yield rec
    await runner.cleanup()


async def test_webhook_is_posted_and_retried_until_2xx(
    zstack_http: httpx.AsyncClient, alice: str, receiver: Receiver, zstack_sim: SimServer
) -> None:
    zstack_sim.state.set_mode(webhook_retry_interval_s=0.05)
    receiver.statuses = [500, 404]
    rsp = await _clone(zstack_http, alice, {"params": {}}, headers={"X-Web-Hook": receiver.url})
    job = rsp.json()["location"].rsplit("/", 1)[1]

    await asyncio.wait_for(receiver.done.wait(), 5)

    assert len(receiver.calls) == 3
    headers, body = receiver.calls[-1]
    assert headers["X-Job-UUID"] == job
    assert headers["X-Job-Success"] == "true"
    polled = await zstack_http.get(job_path(rsp.json()["location"]))
    assert body == polled.json()
    deliveries = (await zstack_http.get("/_sim/counters")).json()["webhook_deliveries"]
    assert [(d["attempt"], d["status"], d["success"]) for d in deliveries] == [
        (1, 500, False),
        (2, 404, False),
        (3, 200, True),
    ]


async def test_webhook_gives_up_after_the_configured_attempts(
    zstack_http: httpx.AsyncClient, alice: str, zstack_sim: SimServer
) -> None:
    zstack_sim.state.set_mode(webhook_retry_interval_s=0.01)
    zstack_sim.state.jobs.webhook.attempts = 4
    unreachable = "http://127.0.0.1:9/hook"  # discard port: connection refused
    await _clone(zstack_http, alice, {"params": {}}, headers={"X-Web-Hook": unreachable})

    for _ in range(200):
        if len(zstack_sim.state.jobs.deliveries) == 4:
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.1)
    deliveries = zstack_sim.state.jobs.deliveries
    assert len(deliveries) == 4
    assert all(not d.success and d.error for d in deliveries)


async def test_fail_next_clones_default_chain_then_success(
    zstack_http: httpx.AsyncClient, alice: str, receiver: Receiver
) -> None:
    await zstack_http.post("/_sim/fail-next-clones", json={"count": 1})

    rsp = await _clone(zstack_http, alice, {"params": {}}, headers={"X-Web-Hook": receiver.url})
    assert rsp.status_code == 202
    failed = await wait_job(zstack_http, rsp.json()["location"])
    error = failed.json()["error"]
    chain = [error["code"], error["cause"]["code"], error["cause"]["cause"]["code"]]
    assert chain == ["SYS.1006", "SYS.1006", "SYS.1015"]
    assert "cause" not in error["cause"]["cause"]
    await asyncio.wait_for(receiver.done.wait(), 5)
    headers, body = receiver.calls[0]
    assert headers["X-Job-Success"] == "false"
    assert body == failed.json()

    nxt = await _clone(zstack_http, alice, {"params": {}})
    assert (await wait_job(zstack_http, nxt.json()["location"])).status_code == 200


async def test_fail_next_clones_with_a_custom_tree(
    zstack_http: httpx.AsyncClient, alice: str
) -> None:
    tree = {
        "code": "SYS.1006",
        "description": "An operation failed",
        "details": "outer",
        "causes": [{"code": "SYS.1001", "details": "a"}, {"code": "SYS.1015", "details": "b"}],
    }
    await zstack_http.post("/_sim/fail-next-clones", json={"count": 2, "error": tree})
    for _ in range(2):
        assert await _clone_error(zstack_http, alice, {"params": {}}) == tree


async def test_clone_fault_before_accept_leaves_no_job(
    zstack_http: httpx.AsyncClient, alice: str, zstack_sim: SimServer
) -> None:
    await zstack_http.post("/_sim/clone-faults", json={"phase": "before", "seconds": 2})
    job = "cd" * 16
    with pytest.raises(httpx.ReadTimeout):
        await zstack_http.post(
            CLONE, json={"params": {}}, headers={**oauth(alice), "X-Job-UUID": job}, timeout=0.3
        )
    lost = await zstack_http.get(f"/zstack/v1/api-jobs/{job}")
    assert lost.status_code == 404
    # the same id can be sent again: it was never taken
    retry = await _clone(zstack_http, alice, {"params": {}}, headers={"X-Job-UUID": job})
    assert retry.status_code == 202


async def test_clone_fault_after_accept_keeps_the_job(
    zstack_http: httpx.AsyncClient, alice: str
) -> None:
    await zstack_http.post("/_sim/clone-faults", json={"phase": "after", "seconds": 2})
    job = "ef" * 16
    with pytest.raises(httpx.ReadTimeout):
        await zstack_http.post(
            CLONE, json={"params": {}}, headers={**oauth(alice), "X-Job-UUID": job}, timeout=0.3
        )
    done = await wait_job(zstack_http, f"http://10.0.0.5:8080/zstack/v1/api-jobs/{job}")
    assert done.status_code == 200


async def test_latency_applies_to_the_chosen_operations(
    zstack_http: httpx.AsyncClient, alice: str
) -> None:
    await zstack_http.post(
        "/_sim/latency", json={"seconds": 0.4, "operations": ["QueryModelService"]}
    )
    loop = asyncio.get_running_loop()

    start = loop.time()
    await zstack_http.get("/zstack/v1/ai/model-services", headers=oauth(alice))
    slow = loop.time() - start
    start = loop.time()
    await zstack_http.get(f"/zstack/v1/accounts/sessions/{alice}/valid")
    fast = loop.time() - start

    assert slow >= 0.4
    assert fast < 0.3


async def test_job_duration_is_settable(zstack_http: httpx.AsyncClient, alice: str) -> None:
    await zstack_http.post("/_sim/mode", json={"job_duration_s": 0.6})
    rsp = await _clone(zstack_http, alice, {"params": {}})
    assert (await zstack_http.get(job_path(rsp.json()["location"]))).status_code == 202
    assert (await wait_job(zstack_http, rsp.json()["location"])).status_code == 200


async def test_advertised_base_url_is_configurable() -> None:
    async with SimServer(advertised_base_url="http://mn.internal:8080") as sim:
        assert sim.state.location("a" * 32) == (
            "http://mn.internal:8080/zstack/v1/api-jobs/" + "a" * 32
        )
        assert sim.state.config.clone_mode is CloneMode.ASYNC
