"""ZStack's asynchronous calls: the job a 202 hands back, one poll's answer, how a clone ended,
and the backoff between polls.

An async API answers 202 with the job's ``location`` and ZStack's own ``apiTimeout``; polling
``/zstack/v1/api-jobs/<uuid>`` then answers 202 while the job runs and 200 with its result (or
``{"error": …}``) once it ends (reference §3.3). The bot chooses and stores the job UUID before it
sends (``new_job_uuid``), so a lost answer can be recovered by polling that UUID.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import ValidationError

from bot.errors import ZStackProtocolError
from bot.i18n import Msg
from bot.zstack.models import UUID_RE, ErrorCode, ModelServiceInventory
from bot.zstack.responses import json_or_none, parse_clone_result, parse_job_error

JOB_PATH = "/zstack/v1/api-jobs/"


@dataclass(frozen=True)
class JobRef:
    """An accepted async call: its job UUID, where to poll, and ZStack's own timeout for it."""

    uuid: str
    poll_url: str
    api_timeout_s: float | None = None


@dataclass(frozen=True)
class JobRunning:
    uuid: str


@dataclass(frozen=True)
class JobDone:
    uuid: str
    result: dict[str, Any]


JobStatus = JobRunning | JobDone


@dataclass(frozen=True)
class JobOutcome:
    """How a clone job ended: the new inventory, or the error: ZStack's ErrorCode, or what the
    bot found (``note``: a template, so each reader gets it in their language)."""

    inventory: ModelServiceInventory | None = None
    error: ErrorCode | None = None
    note: Msg | None = None

    @property
    def succeeded(self) -> bool:
        return self.inventory is not None

    def describe(self) -> str:
        if self.error is not None:
            return self.error.summary()
        return self.note.as_plain("en") if self.note is not None else "unknown error"


def clone_job_outcome(body: dict[str, Any]) -> JobOutcome:
    """A finished clone job's body (a poll's 200) as a typed outcome."""
    error = parse_job_error(body)
    if error is not None:
        return JobOutcome(error=error)
    try:
        return JobOutcome(inventory=parse_clone_result(body))
    except (ZStackProtocolError, ValidationError):
        return JobOutcome(note=Msg.of("ZStack reported success without a readable new inventory."))


@dataclass(frozen=True)
class CloneAccepted:
    """202: ZStack took the clone; follow ``job``."""

    job: JobRef


@dataclass(frozen=True)
class CloneCompleted:
    """200: the server answered synchronously with the new inventory."""

    job_uuid: str
    inventory: ModelServiceInventory


CloneOutcome = CloneAccepted | CloneCompleted


def new_job_uuid() -> str:
    """A fresh 32-hex job UUID (a version-4 UUID without dashes, as ZStack expects)."""
    return uuid.uuid4().hex


def read_accepted(response: httpx.Response, job_uuid: str) -> tuple[str, float | None]:
    """A 202's job UUID (the one ``location`` names, else ours) and ``apiTimeout`` in seconds."""
    data = json_or_none(response)
    if not isinstance(data, dict):
        data = {}
    location = data.get("location")
    accepted_uuid = job_uuid
    if isinstance(location, str) and JOB_PATH in location:
        tail = location.split(JOB_PATH, 1)[1].split("?", 1)[0].strip("/")
        if UUID_RE.match(tail):
            accepted_uuid = tail
    timeout_ms = data.get("apiTimeout")
    api_timeout_s = timeout_ms / 1000 if isinstance(timeout_ms, int | float) else None
    if api_timeout_s is not None and api_timeout_s <= 0:
        api_timeout_s = None
    return accepted_uuid, api_timeout_s
