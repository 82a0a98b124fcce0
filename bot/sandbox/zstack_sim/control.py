"""The simulator's control API under ``/_sim`` (JSON), for tests and the sandbox web panel.

Each route validates its body with a small pydantic model and calls the matching
``ZStackSimulator`` method; a bad body is a 400 with pydantic's error list.
"""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.sandbox.zstack_sim.rest import SIM_KEY, json_response
from bot.sandbox.zstack_sim.state import CloneMode, FaultPhase
from bot.zstack.models import ErrorCode


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LatencyBody(_Body):
    seconds: float = Field(ge=0, le=600)
    operations: list[str] | None = None


class FailNextClonesBody(_Body):
    count: int = Field(default=1, ge=0, le=10_000)
    error: dict[str, Any] | None = None  # an ErrorCode tree; default: SYS.1006 chain


class CloneFaultBody(_Body):
    phase: Literal["before", "after"]
    seconds: float = Field(ge=0, le=3600)
    count: int = Field(default=1, ge=1, le=1000)


class ModeBody(_Body):
    clone: Literal["async", "sync"] | None = None
    job_duration_s: float | None = Field(default=None, ge=0, le=3600)
    webhook_retry_interval_s: float | None = Field(default=None, ge=0, le=600)
    lenient: bool | None = None
    session_error: Literal["classic", "global", "global-code"] | None = None


class ExpireBody(_Body):
    account: str | None = None
    all: bool = False


class ClockBody(_Body):
    seconds: float


async def _parse(request: web.Request, model: type[_Body]) -> Any:
    try:
        raw = await request.text()
        return model.model_validate_json(raw or "{}")
    except ValidationError as exc:
        raise web.HTTPBadRequest(
            text=exc.json(include_url=False), content_type="application/json"
        ) from exc


async def _state(request: web.Request) -> web.Response:
    return json_response(200, request.app[SIM_KEY].snapshot())


async def _counters(request: web.Request) -> web.Response:
    return json_response(200, request.app[SIM_KEY].counters())


async def _latency(request: web.Request) -> web.Response:
    body: LatencyBody = await _parse(request, LatencyBody)
    request.app[SIM_KEY].set_latency(body.seconds, body.operations)
    return json_response(200, {"ok": True})


async def _fail_next_clones(request: web.Request) -> web.Response:
    body: FailNextClonesBody = await _parse(request, FailNextClonesBody)
    error = ErrorCode.from_wire(body.error) if body.error is not None else None
    request.app[SIM_KEY].fail_next_clones(body.count, error)
    return json_response(200, {"ok": True})


async def _clone_faults(request: web.Request) -> web.Response:
    body: CloneFaultBody = await _parse(request, CloneFaultBody)
    request.app[SIM_KEY].add_clone_fault(FaultPhase(body.phase), body.seconds, body.count)
    return json_response(200, {"ok": True})


async def _mode(request: web.Request) -> web.Response:
    body: ModeBody = await _parse(request, ModeBody)
    sim = request.app[SIM_KEY]
    sim.set_mode(
        clone=CloneMode(body.clone) if body.clone else None,
        job_duration_s=body.job_duration_s,
        webhook_retry_interval_s=body.webhook_retry_interval_s,
        lenient=body.lenient,
        session_error=body.session_error,
    )
    return json_response(200, sim.snapshot()["mode"])


async def _expire(request: web.Request) -> web.Response:
    body: ExpireBody = await _parse(request, ExpireBody)
    if not body.all and body.account is None:
        raise web.HTTPBadRequest(text='give "account" or "all": true')
    count = request.app[SIM_KEY].expire_sessions(account=body.account, everything=body.all)
    return json_response(200, {"expired": count})


async def _advance_clock(request: web.Request) -> web.Response:
    body: ClockBody = await _parse(request, ClockBody)
    sim = request.app[SIM_KEY]
    sim.advance_clock(body.seconds)
    return json_response(200, {"now": sim.clock.now().isoformat(timespec="seconds")})


async def _reset(request: web.Request) -> web.Response:
    await request.app[SIM_KEY].reset()
    return json_response(200, {"ok": True})


def add_control_routes(app: web.Application) -> None:
    app.router.add_get("/_sim/state", _state)
    app.router.add_get("/_sim/counters", _counters)
    app.router.add_post("/_sim/latency", _latency)
    app.router.add_post("/_sim/fail-next-clones", _fail_next_clones)
    app.router.add_post("/_sim/clone-faults", _clone_faults)
    app.router.add_post("/_sim/mode", _mode)
    app.router.add_post("/_sim/sessions/expire", _expire)
    app.router.add_post("/_sim/clock/advance", _advance_clock)
    app.router.add_post("/_sim/reset", _reset)
