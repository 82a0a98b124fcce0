"""QueryModelService and its query grammar (reference §5), over real HTTP."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.sandbox.zstack_sim.errors import RestError
from bot.sandbox.zstack_sim.query import QueryOp, parse_condition, split_whole_separator
from bot.sandbox.zstack_sim.seed import (
    BGE_SERVICE_UUID,
    EXAMPLE_SERVICE_UUID,
    LLAMA_SERVICE_UUID,
    QWEN_SERVICE_UUID,
)
from tests.fixtures.zstack import oauth

Login = Callable[[str, str], Awaitable[str]]
PATH = "/zstack/v1/ai/model-services"
ALL = {EXAMPLE_SERVICE_UUID, QWEN_SERVICE_UUID, LLAMA_SERVICE_UUID, BGE_SERVICE_UUID}


@pytest.fixture
async def admin(zstack_login: Login) -> str:
    return await zstack_login("admin", "password")


async def _query(
    client: httpx.AsyncClient, session: str, params: list[tuple[str, Any]] | None = None
) -> httpx.Response:
    return await client.get(PATH, params=params or [], headers=oauth(session))


async def _uuids(client: httpx.AsyncClient, session: str, *q: str) -> set[str]:
    rsp = await _query(client, session, [("q", c) for c in q])
    assert rsp.status_code == 200, rsp.text
    return {inv["uuid"] for inv in rsp.json()["inventories"]}


async def test_admin_sees_everything_with_schema(
    zstack_http: httpx.AsyncClient, admin: str
) -> None:
    rsp = await _query(zstack_http, admin)
    body = rsp.json()
    assert rsp.status_code == 200
    assert {inv["uuid"] for inv in body["inventories"]} == ALL
    assert "total" not in body
    assert body["schema"]["inventories[0]"].endswith("ModelServiceInventory")


async def test_each_account_sees_only_its_own_services(
    zstack_http: httpx.AsyncClient, zstack_login: Login
) -> None:
    alice = await zstack_login("alice", "alice-pass")
    assert await _uuids(zstack_http, alice) == {EXAMPLE_SERVICE_UUID, BGE_SERVICE_UUID}
    single = await zstack_http.get(f"{PATH}/{QWEN_SERVICE_UUID}", headers=oauth(alice))
    assert single.status_code == 200
    assert single.json()["inventories"] == []


async def test_single_resource_path_returns_the_example_inventory(
    zstack_http: httpx.AsyncClient, zstack_login: Login
) -> None:
    alice = await zstack_login("alice", "alice-pass")
    rsp = await zstack_http.get(f"{PATH}/{EXAMPLE_SERVICE_UUID}", headers=oauth(alice))

    [inv] = rsp.json()["inventories"]
    assert inv["name"] == "example"
    assert inv["createDate"] == "Nov 25, 2025 11:51:50 AM"
    assert [i["cpuArchitecture"] for i in inv["modelServiceImages"]] == ["x86_64", "aarch64"]
    assert "readme" not in inv and "framework" not in inv  # null fields are omitted


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        (["name=example"], {EXAMPLE_SERVICE_UUID}),
        (["name=EXAMPLE"], {EXAMPLE_SERVICE_UUID}),  # MySQL's case-insensitive collation
        (["type!=Endpoint"], {LLAMA_SERVICE_UUID}),
        (["requestCpu>=8"], {QWEN_SERVICE_UUID, LLAMA_SERVICE_UUID}),
        (["requestCpu<=4"], {EXAMPLE_SERVICE_UUID, BGE_SERVICE_UUID}),
        (["requestCpu>8"], {LLAMA_SERVICE_UUID}),
        (["requestCpu<4"], {EXAMPLE_SERVICE_UUID}),
        (["requestMemory=1024"], {EXAMPLE_SERVICE_UUID}),
        (
            [f"uuid?={EXAMPLE_SERVICE_UUID},{BGE_SERVICE_UUID}"],
            {EXAMPLE_SERVICE_UUID, BGE_SERVICE_UUID},
        ),
        (
            [f"uuid!?={EXAMPLE_SERVICE_UUID},{BGE_SERVICE_UUID}"],
            {QWEN_SERVICE_UUID, LLAMA_SERVICE_UUID},
        ),
        (["name~=%qwen%"], {QWEN_SERVICE_UUID}),
        (["name~=llama-3._-8b%"], {LLAMA_SERVICE_UUID}),
        (["name~=exampl"], set()),  # LIKE without wildcards is an exact match
        (["name!~=%b%"], {EXAMPLE_SERVICE_UUID}),
        (["framework is null"], {EXAMPLE_SERVICE_UUID}),
        (["framework not null"], {QWEN_SERVICE_UUID, LLAMA_SERVICE_UUID, BGE_SERVICE_UUID}),
        (["system=true"], {EXAMPLE_SERVICE_UUID}),
        (["supportDistributed=false"], {BGE_SERVICE_UUID}),
        (
            ["modelServiceImages.cpuArchitecture=aarch64"],
            {EXAMPLE_SERVICE_UUID, LLAMA_SERVICE_UUID},
        ),
        (
            ["modelServiceImages.cpuArchitecture=AARCH64"],
            {EXAMPLE_SERVICE_UUID, LLAMA_SERVICE_UUID},
        ),
        (["modelServiceImages.gpuVendor=NVIDIA"], {QWEN_SERVICE_UUID}),
        (["cpuArchitectures=aarch64"], {LLAMA_SERVICE_UUID}),
        (["createDate>Nov 1, 2025 12:00:00 AM"], {EXAMPLE_SERVICE_UUID, BGE_SERVICE_UUID}),
        (["createDate<2025-10-01 00:00:00"], {LLAMA_SERVICE_UUID}),
        (["type=Endpoint", "requestCpu>1"], {QWEN_SERVICE_UUID, BGE_SERVICE_UUID}),  # ANDed
        (["description=Example description for modelService"], {EXAMPLE_SERVICE_UUID}),
    ],
)
async def test_query_operators(
    zstack_http: httpx.AsyncClient, admin: str, conditions: list[str], expected: set[str]
) -> None:
    assert await _uuids(zstack_http, admin, *conditions) == expected


async def test_value_is_not_trimmed(zstack_http: httpx.AsyncClient, admin: str) -> None:
    assert await _uuids(zstack_http, admin, " name =example") == {EXAMPLE_SERVICE_UUID}
    assert await _uuids(zstack_http, admin, "name= example") == set()


async def test_sort_limit_start_and_reply_with_count(
    zstack_http: httpx.AsyncClient, admin: str
) -> None:
    params = [("sort", "-requestCpu"), ("limit", "2"), ("start", "1"), ("replyWithCount", "true")]
    body = (await _query(zstack_http, admin, params)).json()

    assert [inv["requestCpu"] for inv in body["inventories"]] == [8, 4]
    assert body["total"] == 4

    asc = (await _query(zstack_http, admin, [("sort", "+name")])).json()["inventories"]
    names = [inv["name"] for inv in asc]
    assert names == sorted(names)
    plain = (await _query(zstack_http, admin, [("sort", "name")])).json()["inventories"]
    assert [inv["name"] for inv in plain] == names


async def test_count_only(zstack_http: httpx.AsyncClient, admin: str) -> None:
    body = (await _query(zstack_http, admin, [("count", "true"), ("q", "type=Endpoint")])).json()
    assert body["total"] == 3
    assert "inventories" not in body


async def test_fields_projection(zstack_http: httpx.AsyncClient, admin: str) -> None:
    body = (await _query(zstack_http, admin, [("fields", "uuid, name")])).json()
    assert all(set(inv) == {"uuid", "name"} for inv in body["inventories"])
    assert len(body["inventories"]) == 4


async def test_default_limit_is_1000(zstack_http: httpx.AsyncClient, admin: str) -> None:
    body = (await _query(zstack_http, admin, [("limit", "0"), ("replyWithCount", "true")])).json()
    assert body["inventories"] == []
    assert body["total"] == 4


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ([("q", "name")], "doesn't contain any query operator"),
        ([("q", "=example")], "is not a key-value pair"),
        ([("q", "name=")], "is not a key-value pair"),
        ([("limit", "ten")], "'limit' must be an integer"),
        ([("start", "1.5")], "'start' must be an integer"),
        ([("limit", "99999999999")], "'limit' must be an integer"),
        ([("fields", ",")], "'fields' contains zero field"),
        ([("fields", "")], "'fields' contains zero field"),
    ],
)
async def test_bad_query_parameters_are_400_plain_text(
    zstack_http: httpx.AsyncClient, admin: str, params: list[tuple[str, str]], fragment: str
) -> None:
    rsp = await _query(zstack_http, admin, params)
    assert rsp.status_code == 400
    assert fragment in rsp.text
    assert rsp.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize(
    "params",
    [
        [("q", "nosuchfield=1")],
        [("q", "modelServiceImages.nope=1")],
        [("q", "requestCpu=many")],
        [("sort", "modelServiceImages")],
        [("fields", "modelServiceImages")],
    ],
)
async def test_unknown_fields_and_bad_values_are_sys_1007(
    zstack_http: httpx.AsyncClient, admin: str, params: list[tuple[str, str]]
) -> None:
    rsp = await _query(zstack_http, admin, params)
    assert rsp.status_code == 503
    assert rsp.json()["error"]["code"] == "SYS.1007"


def test_operators_are_matched_in_the_server_order() -> None:
    assert parse_condition("a!=b").op is QueryOp.NOT_EQ
    assert parse_condition("a!?=b,c").op is QueryOp.NOT_IN
    assert parse_condition("a!~=%b").op is QueryOp.NOT_LIKE
    assert parse_condition("a?=b").op is QueryOp.IN
    assert parse_condition("a>=1").op is QueryOp.GT_AND_EQ
    # the first operator in the fixed order wins, wherever it occurs in the text
    cond = parse_condition("name=a!=b")
    assert (cond.name, cond.op, cond.value) == ("name=a", QueryOp.NOT_EQ, "b")
    cond = parse_condition("name=a=b")
    assert (cond.name, cond.value) == ("name", "a=b")
    assert parse_condition("name is null").name == "name"


def test_split_whole_separator_matches_apache_commons() -> None:
    assert split_whole_separator("name==x", "=", 2) == ["name", "x"]
    assert split_whole_separator("=x", "=", 2) == ["x"]
    assert split_whole_separator("a=b=c", "=", 2) == ["a", "b=c"]
    assert split_whole_separator("", "=", 2) == []


@given(st.text(max_size=40))
def test_parse_condition_only_ever_raises_rest_400(text: str) -> None:
    try:
        parse_condition(text)
    except RestError as exc:
        assert exc.status == 400


_Q_ALPHABET = st.sampled_from(
    [*list("=!?~<>%_,. ab"), "is null", "not null", "name", "requestCpu", "createDate", "é", "\t"]
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    q=st.lists(st.lists(_Q_ALPHABET, max_size=8).map("".join) | st.text(max_size=20), max_size=3)
)
async def test_arbitrary_q_never_breaks_the_server(
    zstack_http: httpx.AsyncClient, admin: str, q: list[str]
) -> None:
    rsp = await _query(zstack_http, admin, [("q", c) for c in q])
    # A syntax problem is 400 (plain text); a condition on a field the inventory lacks is a
    # business failure (503 SYS.1007) as on a real node; nothing is a 500.
    assert rsp.status_code in (200, 400, 503), rsp.text
    if rsp.status_code == 503:
        body: dict[str, Any] = rsp.json()
        assert body["error"]["code"] == "SYS.1007"
    elif rsp.status_code == 200:
        assert "inventories" in rsp.json()
