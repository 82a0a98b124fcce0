"""The ZStack REST layer under ``/zstack/v1``: routing, headers, envelopes (reference §1–§5).

Mirrors ``RestServer``: one dispatcher matches the path itself so that unknown paths and wrong
methods get ZStack's plain-text 404/405; REST-layer refusals are plain text (``RestError``);
sync APIs answer business failures as 503 ``{"error": ...}``; async APIs answer 202 with a
``location`` on the node's advertised base URL and finish as jobs.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.sandbox.zstack_sim.clone import parse_clone_body
from bot.sandbox.zstack_sim.errors import ApiFailure, RestError, error_to_wire
from bot.sandbox.zstack_sim.models import new_uuid
from bot.sandbox.zstack_sim.query import Condition, QueryOp, QuerySpec, parse_query
from bot.sandbox.zstack_sim.state import CloneMode, FaultPhase, RawReply, ZStackSimulator

SIM_KEY = web.AppKey("zstack_sim", ZStackSimulator)

CONTEXT_PATH = "/zstack"
JOB_OPERATION = "QueryApiJob"  # not a ZStack API name: the api-jobs endpoint, for counters

Handler = Callable[[web.Request, ZStackSimulator, dict[str, str]], Awaitable[web.Response]]


@dataclass(frozen=True)
class Api:
    operation: str
    handler: Handler


@dataclass(frozen=True)
class Route:
    pattern: re.Pattern[str]
    by_method: dict[str, Api]


def _path(template: str) -> re.Pattern[str]:
    # ``{name}`` matches one path segment, like Spring's AntPathMatcher.
    return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$")


_JOB_PATH = _path("/v1/api-jobs/{uuid}")


# -- responses --------------------------------------------------------------------------------


def json_response(status: int, body: dict[str, Any]) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps(body, ensure_ascii=False),
        content_type="application/json",
        charset="utf-8",
    )


def text_response(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text, content_type="text/plain", charset="utf-8")


def failure_response(failure: ApiFailure) -> web.Response:
    return json_response(503, {"error": error_to_wire(failure.error)})


# -- request pieces ---------------------------------------------------------------------------


async def _read_body(request: web.Request) -> dict[str, Any]:
    """The JSON body as a map; empty means ``{}``. Gson failures surface as 500, as on a node."""
    raw = await request.text()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise RestError(500, f"com.google.gson.JsonSyntaxException: {exc}") from exc
    if not isinstance(body, dict):
        raise RestError(
            500,
            "com.google.gson.JsonSyntaxException: java.lang.IllegalStateException:"
            " Expected BEGIN_OBJECT",
        )
    return body


def _session_id(request: web.Request) -> str:
    auth = request.headers.get("Authorization")
    if auth is None:
        raise RestError(400, "missing header 'Authorization'")
    auth = auth.strip()
    if not auth.startswith("OAuth"):
        raise RestError(400, "Authorization type must be 'OAuth'")
    return auth.replace("OAuth", "", 1).strip()


def _message_id(request: web.Request, sim: ZStackSimulator, *, claim: bool) -> str:
    """``X-Job-UUID`` (must be 32 chars) or a generated id; ``claim`` rejects reuse."""
    job_uuid = request.headers.get("X-Job-UUID")
    if job_uuid is None:
        return new_uuid()
    if len(job_uuid) != 32:
        raise RestError(400, "Invalid header[X-Job-UUID], it must be a UUID with '-' stripped")
    if claim:
        sim.claim_message_id(job_uuid)
    return job_uuid


def _action(body: dict[str, Any], key: str, url: str) -> dict[str, Any]:
    """The parameters of a PUT action API, keyed by the uncapitalised action name."""
    params = body.get(key)
    if key not in body:
        raise RestError(400, f"the body doesn't contain action mapping to the URL[{url}]")
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise RestError(400, f"Invalid value for [{key}]: an object expected")
    return params


def _text_field(params: dict[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):  # Gson reads scalars into a String field
        return str(value).lower() if isinstance(value, bool) else str(value)
    raise RestError(400, f"Invalid value for field[{name}]: a string expected, but {value!r} found")


def _accepted(sim: ZStackSimulator, job_uuid: str) -> web.Response:
    return json_response(
        202, {"location": sim.location(job_uuid), "apiTimeout": sim.config.api_timeout_ms}
    )


# -- identity ---------------------------------------------------------------------------------


async def _login_account(
    request: web.Request, sim: ZStackSimulator, _v: dict[str, str]
) -> web.Response:
    params = _action(await _read_body(request), "logInByAccount", "/v1/accounts/login")
    _message_id(request, sim, claim=True)
    session = sim.identity.login_account(
        _text_field(params, "accountName"), _text_field(params, "password")
    )
    return json_response(200, {"inventory": session.to_inventory()})


async def _login_user(
    request: web.Request, sim: ZStackSimulator, _v: dict[str, str]
) -> web.Response:
    params = _action(await _read_body(request), "logInByUser", "/v1/accounts/users/login")
    _message_id(request, sim, claim=True)
    session = sim.identity.login_user(
        _text_field(params, "accountName"),
        _text_field(params, "accountUuid"),
        _text_field(params, "userName"),
        _text_field(params, "password"),
    )
    return json_response(200, {"inventory": session.to_inventory()})


async def _login_virtual_id(
    request: web.Request, sim: ZStackSimulator, _v: dict[str, str]
) -> web.Response:
    body = await _read_body(request)
    params = _action(body, "loginIAM2VirtualID", "/v1/iam2/virtual-ids/login")
    _message_id(request, sim, claim=True)
    session = sim.identity.login_virtual_id(
        _text_field(params, "name"), _text_field(params, "password")
    )
    return json_response(200, {"inventory": session.to_inventory()})


async def _validate_session(
    request: web.Request, sim: ZStackSimulator, variables: dict[str, str]
) -> web.Response:
    _message_id(request, sim, claim=False)
    return json_response(200, {"valid": sim.identity.is_valid(variables["uuid"])})


async def _renew_session(
    request: web.Request, sim: ZStackSimulator, variables: dict[str, str]
) -> web.Response:
    body = await _read_body(request)
    sid = _session_id(request)
    url = f"/v1/accounts/sessions/{variables['uuid']}/renew"
    duration = _action(body, "renewSession", url).get("duration")
    if duration is not None and (isinstance(duration, bool) or not isinstance(duration, int)):
        raise RestError(
            400, f"Invalid value for field[duration]: a number expected, but {duration!r} found"
        )
    job_uuid = _message_id(request, sim, claim=True)
    target = variables["uuid"]
    sim.accept(
        "RenewSession",
        job_uuid,
        lambda: sim.renew_session(sid, target, duration),
        webhook=request.headers.get("X-Web-Hook"),
    )
    return _accepted(sim, job_uuid)


async def _logout(
    request: web.Request, sim: ZStackSimulator, variables: dict[str, str]
) -> web.Response:
    _message_id(request, sim, claim=True)
    sim.identity.logout(variables["uuid"])
    return json_response(200, {})


# -- model services ---------------------------------------------------------------------------


async def _query_services(
    request: web.Request, sim: ZStackSimulator, variables: dict[str, str]
) -> web.Response:
    sid = _session_id(request)
    if "uuid" in variables:
        # GET /xxx/{uuid}: the path becomes the only condition; other parameters are ignored.
        spec = QuerySpec(conditions=(Condition("uuid", QueryOp.EQ, variables["uuid"]),))
    else:
        spec = parse_query(request.query.items())
    session = sim.identity.authenticate(sid)
    return json_response(200, sim.query_services(session, spec))


async def _clone_service(
    request: web.Request, sim: ZStackSimulator, variables: dict[str, str]
) -> web.Response:
    source_uuid = variables["uuid"]
    sim.counts.clone_calls_by_source[source_uuid] += 1
    if "X-Job-UUID" in request.headers:
        sim.counts.clone_calls_by_job[request.headers["X-Job-UUID"]] += 1
    body = await _read_body(request)
    sid = _session_id(request)
    sim.record_clone_call(request.headers.get("X-Job-UUID"), source_uuid, sid)
    params = parse_clone_body(body, lenient=sim.config.lenient)
    job_uuid = _message_id(request, sim, claim=False)
    reply = sim.next_clone_reply()
    if reply is not None and not reply.accept:
        return _raw(reply)
    fault = sim.next_clone_fault()
    if fault is not None and fault.phase is FaultPhase.BEFORE_ACCEPT:
        await asyncio.sleep(fault.seconds)
        return text_response(
            504, "simulated fault: the request hung and was dropped before ZStack accepted it"
        )
    if "X-Job-UUID" in request.headers:
        sim.claim_message_id(job_uuid)
    else:
        sim.counts.clone_calls_by_job[job_uuid] += 1
    injected = sim.take_injected_failure(source_uuid)
    if sim.config.clone_mode is CloneMode.SYNC:
        result = await sim.clone(sid, source_uuid, params, injected)
        return json_response(200, result)
    sim.accept(
        "CloneModelService",
        job_uuid,
        lambda: sim.clone(sid, source_uuid, params, injected),
        webhook=request.headers.get("X-Web-Hook"),
        source_uuid=source_uuid,
    )
    if fault is not None:
        await asyncio.sleep(fault.seconds)  # accepted and running; only the answer is late
    if reply is not None:
        return _raw(reply)  # accepted and running; only the answer is spoilt
    return _accepted(sim, job_uuid)


def _raw(reply: RawReply) -> web.Response:
    return web.Response(
        status=reply.status, text=reply.body, content_type=reply.content_type, charset="utf-8"
    )


ROUTES: tuple[Route, ...] = (
    Route(_path("/v1/accounts/login"), {"PUT": Api("LogInByAccount", _login_account)}),
    Route(_path("/v1/accounts/users/login"), {"PUT": Api("LogInByUser", _login_user)}),
    Route(
        _path("/v1/iam2/virtual-ids/login"),
        {"PUT": Api("LoginIAM2VirtualID", _login_virtual_id)},
    ),
    Route(
        _path("/v1/accounts/sessions/{uuid}/valid"),
        {"GET": Api("ValidateSession", _validate_session)},
    ),
    Route(
        _path("/v1/accounts/sessions/{uuid}/renew"),
        {"PUT": Api("RenewSession", _renew_session)},
    ),
    Route(_path("/v1/accounts/sessions/{uuid}"), {"DELETE": Api("LogOut", _logout)}),
    Route(_path("/v1/ai/model-services"), {"GET": Api("QueryModelService", _query_services)}),
    Route(
        _path("/v1/ai/model-services/{uuid}"),
        {
            "GET": Api("QueryModelService", _query_services),
            "POST": Api("CloneModelService", _clone_service),
        },
    ),
)


# -- dispatch ---------------------------------------------------------------------------------


async def _job_query(request: web.Request, sim: ZStackSimulator, job_uuid: str) -> web.Response:
    """``/v1/api-jobs/{uuid}``: no Authorization check, GET only."""
    if request.method != "GET":
        return text_response(405, "only GET method is allowed for querying job status")
    reply = sim.next_poll_reply()
    if reply is not None:
        return _raw(reply)
    job = sim.jobs.get(job_uuid)
    if job is None:
        return text_response(404, "the job has been expired")
    status, body = job.response()
    return json_response(status, body)


async def dispatch(request: web.Request) -> web.Response:
    """Entry point for every request under ``/zstack``."""
    sim = request.app[SIM_KEY]
    path = request.path.removeprefix(CONTEXT_PATH)
    if len(path) > 1:
        path = path.rstrip("/") or "/"
    job = _JOB_PATH.match(path)
    if job:
        sim.count_request(JOB_OPERATION)
        await sim.apply_latency(JOB_OPERATION)
        return await _job_query(request, sim, job["uuid"])
    for route in ROUTES:
        found = route.pattern.match(path)
        if found is None:
            continue
        api = route.by_method.get(request.method)
        if api is None:
            return text_response(
                405, f"The method[{request.method}] is not allowed for the path[{request.path}]"
            )
        sim.count_request(api.operation)
        await sim.apply_latency(api.operation)
        try:
            return await api.handler(request, sim, found.groupdict())
        except RestError as exc:
            return text_response(exc.status, exc.text)
        except ApiFailure as failure:
            return failure_response(failure)
    return text_response(404, f"no api mapping to {path}")
