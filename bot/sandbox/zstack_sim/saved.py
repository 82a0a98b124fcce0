"""The simulator's state across restarts: :func:`export_state` and :func:`import_state`.

Saved: model services, sessions, jobs (with their results or errors), the X-Job-UUIDs already
claimed, the clock offset, the clone mode and job duration, and the clone failures queued from the
panel. Not saved: latency, hanging-request faults, counters and webhook deliveries (transient test
knobs and logs). A job that was still running when the state was saved cannot go on (its work died
with the process), so it is restored as failed, as a real job whose management node restarted.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from datetime import datetime, timedelta
from typing import Any

from bot.sandbox.zstack_sim.errors import err, error_to_wire
from bot.sandbox.zstack_sim.identity import Principal, Session
from bot.sandbox.zstack_sim.jobs import Job, JobState
from bot.sandbox.zstack_sim.models import ModelService, ServiceImage
from bot.sandbox.zstack_sim.state import CloneMode, ZStackSimulator
from bot.zstack.models import ErrorCode

SAVED_FORMAT = 1
_DATE_FIELDS = ("create_date", "last_op_date")
_SERVICE_FIELDS = tuple(f.name for f in fields(ModelService))
_IMAGE_FIELDS = tuple(f.name for f in fields(ServiceImage))
RESTART_DETAILS = "the management node restarted while the job was running"


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _date(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


def _service_to_saved(service: ModelService) -> dict[str, Any]:
    saved = asdict(service)
    for name in _DATE_FIELDS:
        saved[name] = _iso(getattr(service, name))
    for image, saved_image in zip(service.images, saved["images"], strict=True):
        for name in _DATE_FIELDS:
            saved_image[name] = _iso(getattr(image, name))
    return saved


def _service_from_saved(saved: dict[str, Any]) -> ModelService:
    values = {k: saved[k] for k in _SERVICE_FIELDS if k in saved}
    for name in _DATE_FIELDS:
        values[name] = _date(values.get(name))
    images = []
    for saved_image in values.pop("images", []) or []:
        image = {k: saved_image[k] for k in _IMAGE_FIELDS if k in saved_image}
        for name in _DATE_FIELDS:
            image[name] = _date(image.get(name))
        images.append(ServiceImage(**image))
    return ModelService(**values, images=images)


def _job_to_saved(job: Job) -> dict[str, Any]:
    return {
        "uuid": job.uuid,
        "operation": job.operation,
        "created": _iso(job.created),
        "source_uuid": job.source_uuid,
        "webhook": job.webhook,
        "state": job.state.value,
        "finished": _iso(job.finished),
        "result": job.result,
        "error": None if job.error is None else error_to_wire(job.error),
    }


def _job_from_saved(saved: dict[str, Any], now: datetime) -> Job:
    created = _date(saved["created"])
    if created is None:
        raise ValueError(f"job {saved.get('uuid')} has no creation date")
    job = Job(
        uuid=str(saved["uuid"]),
        operation=str(saved["operation"]),
        created=created,
        source_uuid=saved.get("source_uuid"),
        webhook=saved.get("webhook"),
        state=JobState(saved["state"]),
        finished=_date(saved.get("finished")),
        result=saved.get("result"),
        error=None if saved.get("error") is None else ErrorCode.from_wire(saved["error"]),
    )
    if job.state is JobState.RUNNING:
        job.state, job.finished = JobState.FAILED, now
        job.error = err("SYS.1000", RESTART_DETAILS)
    return job


def export_state(sim: ZStackSimulator) -> dict[str, Any]:
    """The lasting part of ``sim``, JSON-ready (see the module docstring)."""
    return {
        "format": SAVED_FORMAT,
        "clock_offset_s": sim.clock.offset_s,
        "mode": {
            "clone": sim.config.clone_mode.value,
            "job_duration_s": sim.config.job_duration_s,
            "lenient": sim.config.lenient,
        },
        "services": [_service_to_saved(s) for s in sim.services.values()],
        "sessions": [
            {
                "uuid": s.uuid,
                "principal": s.principal.uuid,
                "created": _iso(s.created),
                "expires": _iso(s.expires),
            }
            for s in sim.identity.sessions.values()
        ],
        "jobs": [_job_to_saved(j) for j in sim.jobs.jobs.values()],
        "message_ids": {k: _iso(v) for k, v in sim._message_ids.items()},
        "pending_failures": [None if e is None else error_to_wire(e) for e in sim._fail_queue],
    }


def _sessions(sim: ZStackSimulator, saved_sessions: list[Any]) -> list[Session]:
    principals: dict[str, Principal] = {
        p.uuid: p
        for p in [
            *sim.identity.accounts.values(),
            *sim.identity.users.values(),
            *sim.identity.virtual_ids.values(),
        ]
    }
    sessions = []
    for saved in saved_sessions:
        principal = principals.get(str(saved["principal"]))
        created, expires = _date(saved["created"]), _date(saved["expires"])
        if principal is not None and created is not None and expires is not None:
            sessions.append(Session(str(saved["uuid"]), principal, created, expires))
    return sessions


def import_state(sim: ZStackSimulator, data: dict[str, Any]) -> None:
    """Load ``data`` from :func:`export_state` into ``sim`` (freshly built, nothing running).

    Sessions of people the seed no longer has are dropped. ``ValueError`` when the data is of
    another format or malformed; ``sim`` is then left as it was."""
    if not isinstance(data, dict) or data.get("format") != SAVED_FORMAT:
        raise ValueError(f"not a saved simulator state of format {SAVED_FORMAT}")
    try:
        offset = float(data.get("clock_offset_s") or 0.0)
        now = sim.clock.now() + timedelta(seconds=offset - sim.clock.offset_s)
        mode = data.get("mode") or {}
        clone_mode = CloneMode(mode.get("clone", sim.config.clone_mode.value))
        job_duration_s = float(mode.get("job_duration_s", sim.config.job_duration_s))
        services = [_service_from_saved(s) for s in data["services"]]
        sessions = _sessions(sim, data["sessions"])
        jobs = [_job_from_saved(j, now) for j in data["jobs"]]
        message_ids = {str(k): _date(v) for k, v in (data.get("message_ids") or {}).items()}
        failures = [
            None if e is None else ErrorCode.from_wire(e) for e in data.get("pending_failures", [])
        ]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"inconsistent saved simulator state: {exc!r}") from exc
    sim.clock.advance(offset - sim.clock.offset_s)
    sim.config.clone_mode = clone_mode
    sim.config.job_duration_s = job_duration_s
    sim.config.lenient = bool(mode.get("lenient", sim.config.lenient))
    sim.services = {s.uuid: s for s in services}
    sim.identity.sessions = {s.uuid: s for s in sessions}
    sim.jobs.jobs = {j.uuid: j for j in jobs}
    sim._message_ids = {k: v for k, v in message_ids.items() if v is not None}
    sim._fail_queue.clear()
    sim._fail_queue.extend(failures)
