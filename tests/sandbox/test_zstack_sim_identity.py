"""The simulator's logins, sessions and Authorization handling, over real HTTP."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

import httpx
import pytest

from bot.sandbox.zstack_sim import SimServer, sha512_hex
from bot.sandbox.zstack_sim.seed import ADMIN_ACCOUNT_UUID, DEMO_ACCOUNTS, DEMO_USERS
from bot.zstack.models import UUID_RE, parse_zstack_date
from tests.fixtures.zstack import oauth, wait_job

Login = Callable[[str, str], Awaitable[str]]
ALICE_UUID = next(a.uuid for a in DEMO_ACCOUNTS if a.name == "alice")
BOB_UUID = DEMO_USERS[0].uuid


async def test_account_login_returns_a_session_inventory(zstack_http: httpx.AsyncClient) -> None:
    body = {"logInByAccount": {"accountName": "alice", "password": sha512_hex("alice-pass")}}
    rsp = await zstack_http.put("/zstack/v1/accounts/login", json=body)

    assert rsp.status_code == 200
    inv = rsp.json()["inventory"]
    assert UUID_RE.match(inv["uuid"])
    assert inv["accountUuid"] == ALICE_UUID
    assert inv["userUuid"] == ALICE_UUID  # account session: userUuid == accountUuid
    assert inv["userType"] == "AccountVO"
    created = parse_zstack_date(inv["createDate"])
    expires = parse_zstack_date(inv["expiredDate"])
    assert (expires - created).total_seconds() == pytest.approx(7200, abs=1)
    assert "noSessionEvaluation" not in inv


async def test_admin_account_login(zstack_login: Login, zstack_sim: SimServer) -> None:
    session = await zstack_login("admin", "password")
    assert zstack_sim.state.identity.sessions[session].principal.account_uuid == ADMIN_ACCOUNT_UUID


@pytest.mark.parametrize(
    ("path", "body", "details"),
    [
        (
            "/zstack/v1/accounts/login",
            {"logInByAccount": {"accountName": "alice", "password": sha512_hex("nope")}},
            "wrong account name or password",
        ),
        (
            "/zstack/v1/accounts/login",
            {"logInByAccount": {"accountName": "alice", "password": "alice-pass"}},
            "wrong account name or password",  # plaintext is not the SHA-512 hex
        ),
        (
            "/zstack/v1/accounts/users/login",
            {
                "logInByUser": {
                    "accountName": "alice",
                    "userName": "bob",
                    "password": sha512_hex("x"),
                }
            },
            "wrong account or username or password",
        ),
        (
            "/zstack/v1/accounts/users/login",
            {
                "logInByUser": {
                    "accountName": "admin",
                    "userName": "bob",
                    "password": sha512_hex("bob-pass"),
                }
            },
            "wrong account or username or password",  # bob is alice's user, not admin's
        ),
    ],
)
async def test_wrong_credentials_are_503_id_1000(
    zstack_http: httpx.AsyncClient, path: str, body: dict[str, object], details: str
) -> None:
    rsp = await zstack_http.put(path, json=body)

    assert rsp.status_code == 503
    assert rsp.json() == {
        "error": {
            "code": "ID.1000",
            "description": "Unable to authenticate a user",
            "details": details,
        }
    }


async def test_iam2_login_wrong_password_is_id_1000(zstack_http: httpx.AsyncClient) -> None:
    body = {"loginIAM2VirtualID": {"name": "carol", "password": sha512_hex("bad")}}
    rsp = await zstack_http.put("/zstack/v1/iam2/virtual-ids/login", json=body)
    assert rsp.status_code == 503
    assert rsp.json()["error"]["code"] == "ID.1000"


@pytest.mark.parametrize("by", ["accountName", "accountUuid"])
async def test_iam_user_login(zstack_http: httpx.AsyncClient, by: str) -> None:
    account = "alice" if by == "accountName" else ALICE_UUID
    body = {"logInByUser": {by: account, "userName": "bob", "password": sha512_hex("bob-pass")}}
    rsp = await zstack_http.put("/zstack/v1/accounts/users/login", json=body)

    assert rsp.status_code == 200
    inv = rsp.json()["inventory"]
    assert inv["accountUuid"] == ALICE_UUID
    assert inv["userUuid"] == BOB_UUID
    assert inv["userType"] == "UserVO"


async def test_iam2_virtual_id_login(zstack_http: httpx.AsyncClient) -> None:
    body = {"loginIAM2VirtualID": {"name": "carol", "password": sha512_hex("carol-pass")}}
    rsp = await zstack_http.put("/zstack/v1/iam2/virtual-ids/login", json=body)

    assert rsp.status_code == 200
    inv = rsp.json()["inventory"]
    assert inv["userType"] == "IAM2VirtualIDVO"
    assert inv["userUuid"] != inv["accountUuid"]


async def test_wrong_wrapper_key_is_400_plain_text(zstack_http: httpx.AsyncClient) -> None:
    body = {"logInByUser": {"accountName": "alice", "password": sha512_hex("alice-pass")}}
    rsp = await zstack_http.put("/zstack/v1/accounts/login", json=body)

    assert rsp.status_code == 400
    assert rsp.headers["content-type"].startswith("text/plain")
    assert "doesn't contain action mapping" in rsp.text


async def test_missing_login_field_is_sys_1007(zstack_http: httpx.AsyncClient) -> None:
    rsp = await zstack_http.put(
        "/zstack/v1/accounts/login", json={"logInByAccount": {"accountName": "alice"}}
    )
    assert rsp.status_code == 503
    error = rsp.json()["error"]
    assert error["code"] == "SYS.1007"
    assert "field[password]" in error["details"]


async def test_validate_session_needs_no_auth_and_reports_validity(
    zstack_http: httpx.AsyncClient, zstack_login: Login
) -> None:
    session = await zstack_login("alice", "alice-pass")

    ok = await zstack_http.get(f"/zstack/v1/accounts/sessions/{session}/valid")
    unknown = await zstack_http.get(f"/zstack/v1/accounts/sessions/{'0' * 32}/valid")

    assert (ok.status_code, ok.json()) == (200, {"valid": True})
    assert (unknown.status_code, unknown.json()) == (200, {"valid": False})


async def test_logout_invalidates_the_session(
    zstack_http: httpx.AsyncClient, zstack_login: Login
) -> None:
    session = await zstack_login("alice", "alice-pass")

    rsp = await zstack_http.delete(f"/zstack/v1/accounts/sessions/{session}")
    assert (rsp.status_code, rsp.json()) == (200, {})

    valid = await zstack_http.get(f"/zstack/v1/accounts/sessions/{session}/valid")
    assert valid.json() == {"valid": False}
    query = await zstack_http.get("/zstack/v1/ai/model-services", headers=oauth(session))
    assert query.status_code == 503
    assert query.json()["error"]["code"] == "ID.1001"


async def test_sliding_expiry_follows_the_injected_clock(
    zstack_http: httpx.AsyncClient, zstack_login: Login, zstack_sim: SimServer
) -> None:
    session = await zstack_login("alice", "alice-pass")
    clock = zstack_sim.state.clock

    clock.advance(7000)  # near the end of the 2 h window
    used = await zstack_http.get("/zstack/v1/ai/model-services", headers=oauth(session))
    assert used.status_code == 200  # ...and this call slides the expiry to now + 2 h

    clock.advance(7000)  # 14000 s after login, but only 7000 s after the last use
    valid = await zstack_http.get(f"/zstack/v1/accounts/sessions/{session}/valid")
    assert valid.json() == {"valid": True}

    clock.advance(300)  # validating did not extend it: now 7300 s since the last use
    valid = await zstack_http.get(f"/zstack/v1/accounts/sessions/{session}/valid")
    assert valid.json() == {"valid": False}
    expired = await zstack_http.get("/zstack/v1/ai/model-services", headers=oauth(session))
    assert expired.status_code == 503
    assert expired.json() == {
        "error": {
            "code": "ID.1001",
            "description": "The session is invalid, either wrong session id or the session has"
            " been expired",
            "details": "Session expired",
        }
    }


async def test_injected_clock_callable_drives_expiry() -> None:
    now = [datetime(2025, 11, 25, 11, 51, 50)]
    async with (
        SimServer(clock=lambda: now[0]) as sim,
        httpx.AsyncClient(base_url=sim.url) as client,
    ):
        body = {"logInByAccount": {"accountName": "alice", "password": sha512_hex("alice-pass")}}
        inv = (await client.put("/zstack/v1/accounts/login", json=body)).json()["inventory"]
        assert inv["createDate"] == "Nov 25, 2025 11:51:50 AM"
        assert inv["expiredDate"] == "Nov 25, 2025 1:51:50 PM"

        now[0] = datetime(2025, 11, 25, 13, 51, 51)
        valid = await client.get(f"/zstack/v1/accounts/sessions/{inv['uuid']}/valid")
        assert valid.json() == {"valid": False}


async def test_renew_session_is_async_and_sets_the_duration(
    zstack_http: httpx.AsyncClient, zstack_login: Login, zstack_sim: SimServer
) -> None:
    session = await zstack_login("alice", "alice-pass")

    rsp = await zstack_http.put(
        f"/zstack/v1/accounts/sessions/{session}/renew",
        json={"renewSession": {"duration": 86400}},
        headers=oauth(session),
    )
    assert rsp.status_code == 202
    done = await wait_job(zstack_http, rsp.json()["location"])

    assert done.status_code == 200
    inv = done.json()["inventory"]
    assert inv["uuid"] == session
    lifetime = parse_zstack_date(inv["expiredDate"]) - zstack_sim.state.clock.now()
    assert 86000 < lifetime.total_seconds() <= 86400
    zstack_sim.state.clock.advance(80000)
    valid = await zstack_http.get(f"/zstack/v1/accounts/sessions/{session}/valid")
    assert valid.json() == {"valid": True}


async def test_renew_duration_out_of_range_fails_the_job(
    zstack_http: httpx.AsyncClient, zstack_login: Login
) -> None:
    session = await zstack_login("alice", "alice-pass")
    rsp = await zstack_http.put(
        f"/zstack/v1/accounts/sessions/{session}/renew",
        json={"renewSession": {"duration": 59}},
        headers=oauth(session),
    )
    done = await wait_job(zstack_http, rsp.json()["location"])
    assert done.status_code == 503
    assert done.json()["error"]["code"] == "SYS.1007"


@pytest.mark.parametrize(
    ("headers", "text"),
    [
        ({}, "missing header 'Authorization'"),
        ({"Authorization": "Bearer abc"}, "Authorization type must be 'OAuth'"),
    ],
)
async def test_authorization_header_problems_are_400_plain_text(
    zstack_http: httpx.AsyncClient, headers: dict[str, str], text: str
) -> None:
    rsp = await zstack_http.get("/zstack/v1/ai/model-services", headers=headers)
    assert rsp.status_code == 400
    assert rsp.text == text


async def test_unknown_session_on_async_api_is_accepted_then_fails(
    zstack_http: httpx.AsyncClient,
) -> None:
    rsp = await zstack_http.post(
        "/zstack/v1/ai/model-services/90d425a802ff44eeb530f21587633700",
        json={"params": {"name": "x"}},
        headers=oauth("f" * 32),
    )
    assert rsp.status_code == 202
    done = await wait_job(zstack_http, rsp.json()["location"])
    assert done.status_code == 503
    assert done.json()["error"]["code"] == "ID.1001"
    assert done.json()["error"]["details"] == "Session expired"


async def test_expire_sessions_control_route(
    zstack_http: httpx.AsyncClient, zstack_login: Login
) -> None:
    alice = await zstack_login("alice", "alice-pass")
    admin = await zstack_login("admin", "password")

    rsp = await zstack_http.post("/_sim/sessions/expire", json={"account": "alice"})
    assert rsp.json() == {"expired": 1}
    assert (await zstack_http.get(f"/zstack/v1/accounts/sessions/{alice}/valid")).json() == {
        "valid": False
    }
    assert (await zstack_http.get(f"/zstack/v1/accounts/sessions/{admin}/valid")).json() == {
        "valid": True
    }

    rsp = await zstack_http.post("/_sim/sessions/expire", json={"all": True})
    assert rsp.json() == {"expired": 2}
    assert (await zstack_http.get(f"/zstack/v1/accounts/sessions/{admin}/valid")).json() == {
        "valid": False
    }
