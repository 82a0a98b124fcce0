"""No httpx exception escapes the ZStack client: every one maps to a ZStackError (STYLE item 3)."""

from __future__ import annotations

import inspect

import httpx
import pytest
from pydantic import SecretStr

from bot.errors import (
    ZStackAPIError,
    ZStackConnectError,
    ZStackError,
    ZStackProtocolError,
    ZStackRESTError,
    ZStackSessionInvalid,
    ZStackTimeout,
    ZStackUnavailable,
)
from bot.zstack.client import ZStackClient, default_timeout
from bot.zstack.query import Query

SESSION = SecretStr("0123456789abcdef0123456789abcdef")


def _all_httpx_exceptions() -> list[type[Exception]]:
    found = []
    for _name, obj in inspect.getmembers(httpx):
        if inspect.isclass(obj) and issubclass(obj, Exception):
            found.append(obj)
    return found


def _instance(cls: type[Exception]) -> Exception:
    request = httpx.Request("GET", "http://zstack.test/zstack/v1/ai/model-services")
    for attempt in (
        lambda: cls("boom", request=request),  # type: ignore[call-arg]
        lambda: cls("boom", request=request, response=httpx.Response(500, request=request)),  # type: ignore[call-arg]
        lambda: cls("boom"),
        lambda: cls(),
    ):
        try:
            return attempt()
        except TypeError:
            continue
    raise AssertionError(f"cannot build {cls}")


def _client(handler: object) -> ZStackClient:
    return ZStackClient(
        "http://zstack.test:8080",
        timeout=default_timeout(1),
        transport=httpx.MockTransport(handler),  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("exc_type", _all_httpx_exceptions(), ids=lambda c: c.__name__)
async def test_every_httpx_exception_is_mapped(exc_type: type[Exception]) -> None:
    def raise_it(request: httpx.Request) -> httpx.Response:
        raise _instance(exc_type)

    async with _client(raise_it) as client:
        with pytest.raises(ZStackError) as caught:
            await client.query_model_services(SESSION, Query())
    assert not isinstance(caught.value, httpx.HTTPError)
    assert caught.value.__cause__ is None or not isinstance(caught.value.__cause__, httpx.HTTPError)
    assert SESSION.get_secret_value() not in str(caught.value)


@pytest.mark.parametrize(
    ("exc", "expected", "maybe_received"),
    [
        (httpx.ConnectError("refused"), ZStackConnectError, False),
        (httpx.ConnectTimeout("slow connect"), ZStackTimeout, False),
        (httpx.PoolTimeout("pool"), ZStackTimeout, False),
        (httpx.ReadTimeout("slow"), ZStackTimeout, True),
        (httpx.WriteTimeout("slow"), ZStackTimeout, True),
        (httpx.RemoteProtocolError("closed"), ZStackUnavailable, True),
        (httpx.ReadError("reset"), ZStackUnavailable, True),
    ],
)
async def test_transport_failures_say_whether_zstack_may_have_the_request(
    exc: Exception, expected: type[ZStackUnavailable], maybe_received: bool
) -> None:
    def raise_it(request: httpx.Request) -> httpx.Response:
        raise exc

    async with _client(raise_it) as client:
        with pytest.raises(expected) as caught:
            await client.query_model_services(SESSION, Query())
    assert caught.value.maybe_received is maybe_received


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, b"<html>proxy</html>", ZStackProtocolError),
        (200, b'{"inventories": "nope"}', ZStackProtocolError),
        (200, b'{"inventories": [', ZStackProtocolError),
        (200, b"[1, 2]", ZStackProtocolError),
        (503, b"Service Unavailable", ZStackAPIError),  # final, even unreadable (reference §4.1)
        (503, b'{"error": {"code": "SYS.1000", "details": "boom"}}', ZStackAPIError),
        (
            503,
            b'{"error": {"code": "ID.1001", "details": "Session expired"}}',
            ZStackSessionInvalid,
        ),
        (400, b"missing header 'Authorization'", ZStackRESTError),
        (404, b"no api mapping to /v1/ai/model-services", ZStackRESTError),
        (500, b"java.lang.NullPointerException", ZStackRESTError),
        (502, b"", ZStackRESTError),
    ],
)
async def test_answers_map_to_typed_errors(
    status: int, body: bytes, expected: type[ZStackError]
) -> None:
    async with _client(lambda request: httpx.Response(status, content=body)) as client:
        with pytest.raises(expected) as caught:
            await client.query_model_services(SESSION, Query())
    assert type(caught.value) is expected


async def test_rest_error_keeps_a_bounded_excerpt_of_the_text() -> None:
    body = b"x" * 100_000
    async with _client(lambda request: httpx.Response(500, content=body)) as client:
        with pytest.raises(ZStackRESTError) as caught:
            await client.query_model_services(SESSION, Query())
    assert caught.value.status == 500
    assert len(caught.value.text) <= 500
