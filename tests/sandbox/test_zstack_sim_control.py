"""REST-layer routing errors and the ``/_sim`` control API."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable

import httpx
import pytest

from bot.sandbox.zstack_sim import SimServer, run_simulator, sha512_hex
from bot.sandbox.zstack_sim.seed import EXAMPLE_SERVICE_UUID
from tests.fixtures.zstack import oauth, wait_job

Login = Callable[[str, str], Awaitable[str]]


@pytest.mark.parametrize(
    ("method", "path", "status", "text"),
    [
        ("GET", "/zstack/v1/no/such/api", 404, "no api mapping to /v1/no/such/api"),
        ("GET", "/zstack/v2/ai/model-services", 404, "no api mapping to /v2/ai/model-services"),
        (
            "DELETE",
            "/zstack/v1/accounts/login",
            405,
            "The method[DELETE] is not allowed for the path[/zstack/v1/accounts/login]",
        ),
        (
            "PUT",
            "/zstack/v1/ai/model-services",
            405,
            "The method[PUT] is not allowed for the path[/zstack/v1/ai/model-services]",
        ),
    ],
)
async def test_rest_layer_errors_are_plain_text(
    zstack_http: httpx.AsyncClient, method: str, path: str, status: int, text: str
) -> None:
    rsp = await zstack_http.request(method, path)
    assert (rsp.status_code, rsp.text) == (status, text)
    assert rsp.headers["content-type"].startswith("text/plain")


async def test_malformed_json_body_is_a_plain_text_500(zstack_http: httpx.AsyncClient) -> None:
    rsp = await zstack_http.put("/zstack/v1/accounts/login", content=b"{not json")
    assert rsp.status_code == 500
    assert "JsonSyntaxException" in rsp.text


async def test_state_masks_session_uuids(
    zstack_http: httpx.AsyncClient, zstack_login: Login
) -> None:
    session = await zstack_login("alice", "alice-pass")
    rsp = await zstack_http.post(
        f"/zstack/v1/ai/model-services/{EXAMPLE_SERVICE_UUID}",
        json={"params": {"name": "s"}},
        headers=oauth(session),
    )
    await wait_job(zstack_http, rsp.json()["location"])

    state = (await zstack_http.get("/_sim/state")).json()
    assert session not in (await zstack_http.get("/_sim/state")).text
    [entry] = state["sessions"]
    assert entry["uuid"] == session[:6] + "…"
    assert (entry["account"], entry["user"], entry["valid"]) == ("alice", "alice", True)
    [job] = state["jobs"]
    assert (job["operation"], job["state"], job["source"]) == (
        "CloneModelService",
        "succeeded",
        EXAMPLE_SERVICE_UUID,
    )
    assert job["finished"] is not None
    owners = {s["inventory"]["name"]: s["owner_account"] for s in state["model_services"]}
    assert owners["s"] == "alice"
    assert owners["qwen2.5-7b-instruct"] == "admin"


async def test_counters_count_requests_by_operation(
    zstack_http: httpx.AsyncClient, zstack_login: Login
) -> None:
    session = await zstack_login("alice", "alice-pass")
    await zstack_http.get("/zstack/v1/ai/model-services", headers=oauth(session))
    await zstack_http.get(f"/zstack/v1/ai/model-services/{EXAMPLE_SERVICE_UUID}")  # 400, counted

    counters = (await zstack_http.get("/_sim/counters")).json()
    assert counters["requests_by_operation"] == {"LogInByAccount": 1, "QueryModelService": 2}
    assert counters["clone_calls_by_source"] == {}
    assert counters["webhook_deliveries"] == []


async def test_reset_returns_to_the_seed(
    zstack_http: httpx.AsyncClient, zstack_login: Login, zstack_sim: SimServer
) -> None:
    session = await zstack_login("alice", "alice-pass")
    await zstack_http.post("/_sim/mode", json={"clone": "sync", "job_duration_s": 0})
    await zstack_http.post(
        f"/zstack/v1/ai/model-services/{EXAMPLE_SERVICE_UUID}",
        json={"params": {"name": "gone-after-reset"}},
        headers=oauth(session),
    )
    await zstack_http.post("/_sim/fail-next-clones", json={"count": 3})
    assert len(zstack_sim.state.services) == 5

    assert (await zstack_http.post("/_sim/reset")).status_code == 200

    state = (await zstack_http.get("/_sim/state")).json()
    assert len(state["model_services"]) == 4
    assert state["sessions"] == [] and state["jobs"] == []
    assert state["mode"]["clone"] == "async"
    assert state["pending_failures"] == 0
    assert (await zstack_http.get("/_sim/counters")).json()["requests_by_operation"] == {}


async def test_clock_advance_route_moves_session_time(
    zstack_http: httpx.AsyncClient, zstack_login: Login
) -> None:
    session = await zstack_login("alice", "alice-pass")
    await zstack_http.post("/_sim/clock/advance", json={"seconds": 7201})
    valid = await zstack_http.get(f"/zstack/v1/accounts/sessions/{session}/valid")
    assert valid.json() == {"valid": False}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/_sim/latency", {"seconds": -1}),
        ("/_sim/mode", {"clone": "sometimes"}),
        ("/_sim/clone-faults", {"phase": "during", "seconds": 1}),
        ("/_sim/sessions/expire", {}),
        ("/_sim/fail-next-clones", {"count": 1, "bogus": True}),
    ],
)
async def test_bad_control_bodies_are_400(
    zstack_http: httpx.AsyncClient, path: str, body: dict[str, object]
) -> None:
    assert (await zstack_http.post(path, json=body)).status_code == 400


async def test_latency_zero_clears_it(
    zstack_http: httpx.AsyncClient, zstack_sim: SimServer
) -> None:
    await zstack_http.post("/_sim/latency", json={"seconds": 1.0})
    assert zstack_sim.state.latency is not None
    await zstack_http.post("/_sim/latency", json={"seconds": 0})
    assert zstack_sim.state.latency is None


async def test_leaving_simserver_cancels_running_jobs() -> None:
    async with SimServer() as sim, httpx.AsyncClient(base_url=sim.url) as client:
        sim.state.set_mode(job_duration_s=30)
        body = {"logInByAccount": {"accountName": "alice", "password": sha512_hex("alice-pass")}}
        session = (await client.put("/zstack/v1/accounts/login", json=body)).json()["inventory"]
        rsp = await client.post(
            f"/zstack/v1/ai/model-services/{EXAMPLE_SERVICE_UUID}",
            json={"params": {}},
            headers=oauth(session["uuid"]),
        )
        assert rsp.status_code == 202
        before = asyncio.all_tasks()
    await asyncio.sleep(0)
    leftovers = [t for t in before & asyncio.all_tasks() if t is not asyncio.current_task()]
    assert leftovers == []


async def test_run_simulator_serves_until_cancelled(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    caplog.set_level(logging.INFO, logger="bot.sandbox.zstack_sim")
    task = asyncio.create_task(run_simulator("127.0.0.1", port, sync=True))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(100):
                try:
                    state = (await client.get("/_sim/state")).json()
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.05)
            else:
                pytest.fail("the simulator did not come up")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert state["mode"]["clone"] == "sync"
    assert "carol / carol-pass" in caplog.text
    assert f"http://127.0.0.1:{port}" in caplog.text
