"""The ZStack REST client: the only owner of an HTTP connection to ZStack (reference zstack-api.md).

One ``ZStackClient`` per process (a pooled ``httpx.AsyncClient`` with explicit timeouts) with a
method per API call the bot makes: login, session validation, renewal and logout; querying and
cloning model services; polling jobs. Every httpx exception and every ZStack failure leaves it as
a ``bot.errors.ZStackError`` subclass (mapped in ``bot.zstack.responses``); callers never see
httpx. Session UUIDs travel as ``SecretStr`` and never appear in an exception message. The data
of the calls lives beside it: ``bot.zstack.credentials`` (who logs in), ``bot.zstack.jobs``
(async jobs and clone outcomes), ``bot.zstack.models`` (inventories, the clone body).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from bot.errors import JobNotFound, JobTimeout, ZStackAPIError, ZStackError
from bot.retry import RetryPolicy
from bot.zstack.credentials import Credentials, login_request
from bot.zstack.jobs import (
    JOB_PATH,
    CloneAccepted,
    CloneCompleted,
    CloneOutcome,
    JobDone,
    JobOutcome,
    JobRef,
    JobRunning,
    JobStatus,
    clone_job_outcome,
    new_job_uuid,
    read_accepted,
)
from bot.zstack.lanes import PoolLanes
from bot.zstack.models import (
    UUID_RE,
    CloneRequestBody,
    ModelServiceInventory,
    QueryResult,
    SessionInventory,
)
from bot.zstack.query import Query, name_search, names_in
from bot.zstack.responses import (
    HTTPX_ERRORS,
    expect_json,
    parse_clone_result,
    protocol_error,
    raise_for_status,
    read_model,
    transport_error,
)

API_PREFIX = "/zstack/v1"
# Answers looked through when a name can only be searched by a fragment and filtered here.
NAME_SCAN_LIMIT = 200
# Waiting for a job within one call (a session renewal, tools): 1 s doubling to 10 s; and for
# jobs that finish in moments (the renewal's own), 0.2 s doubling to 2 s.
WAIT_POLLS = RetryPolicy(base_s=1.0, cap_s=10.0)
SHORT_WAIT_POLLS = RetryPolicy(base_s=0.2, cap_s=2.0)

# Requests in flight to ZStack at most: a burst of 200 /clone-model looks up two names each at
# once (1.5 s lookups must all run together to fill every form within 2.5 s). Beyond it a request
# waits for a slot here rather than in httpcore's queue. The connections are split over a few
# small pools (``PoolLanes``): httpcore checks every connection of a pool on each request's start
# and end.
MAX_IN_FLIGHT = 400
# Connections kept open between requests: the steady lookups and job polls reuse them; a burst's
# surplus closes once idle, so the pool httpcore scans on every request stays small. httpcore
# closes an idle connection whenever its pool holds more connections than this (all of them
# counted, busy ones too), so it must cover the steady concurrency (64 commands in flight, one
# ZStack call each) or every request after a busy moment opens a new connection.
KEEPALIVE_CONNECTIONS = 64

# (operation, HTTP status or None, ZStack error code or None, seconds) after every call.
CallObserver = Callable[[str, int | None, str | None, float], None]
Sleep = Callable[[float], Awaitable[None]]


def default_timeout(read_s: float = 15.0) -> httpx.Timeout:
    return httpx.Timeout(connect=min(5.0, read_s), read=read_s, write=read_s, pool=read_s)


class ZStackClient:
    """Async client for the ZStack APIs the bot uses. Create once; ``await aclose()`` at exit."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: httpx.Timeout,
        verify: bool | str | Path = True,
        transport: httpx.AsyncBaseTransport | None = None,
        limits: httpx.Limits | None = None,
        observer: CallObserver | None = None,
    ) -> None:
        self.base_url = _normalise_base(base_url)
        self._observer = observer
        # A CA bundle becomes an SSL context (httpx no longer takes a path for ``verify``).
        verify_arg: bool | ssl.SSLContext = (
            ssl.create_default_context(cafile=str(verify))
            if isinstance(verify, str | Path)
            else verify
        )
        pool = limits or httpx.Limits(
            max_connections=MAX_IN_FLIGHT, max_keepalive_connections=KEEPALIVE_CONNECTIONS
        )
        self._slots = asyncio.Semaphore(pool.max_connections or MAX_IN_FLIGHT)
        self._slot_wait_s = timeout.pool
        self._http = httpx.AsyncClient(
            base_url=self.base_url + API_PREFIX,
            timeout=timeout,
            verify=verify_arg,
            transport=transport or PoolLanes(pool, verify=verify_arg),
            limits=pool,  # for proxy transports from the environment
            headers={"Accept": "application/json"},
            follow_redirects=False,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> ZStackClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    # -- identity --

    async def login(self, creds: Credentials) -> SessionInventory:
        """Log in (account, IAM user or IAM2 virtual ID); wrong credentials raise ZStackAPIError."""
        operation, path, body = login_request(creds)
        response = await self._send(operation, "PUT", path, json_body=body)
        data = expect_json(operation, response)
        return read_model(operation, SessionInventory, data.get("inventory"), response)

    async def validate_session(self, session: SecretStr) -> bool:
        """True while ZStack accepts the session. Does not extend it."""
        operation = "ValidateSession"
        path = f"/accounts/sessions/{_session_path(session)}/valid"
        data = expect_json(operation, await self._send(operation, "GET", path))
        return data.get("valid") is True

    async def renew_session(
        self, session: SecretStr, *, duration_s: int | None = None, timeout_s: float = 30.0
    ) -> SessionInventory:
        """Extend a session (an async API: 202, then the job's inventory)."""
        operation = "RenewSession"
        body: dict[str, Any] = {"renewSession": {}}
        if duration_s is not None:
            body["renewSession"]["duration"] = duration_s
        path = f"/accounts/sessions/{_session_path(session)}/renew"
        job_uuid = new_job_uuid()
        response = await self._send(
            operation, "PUT", path, session=session, json_body=body, headers=_job_header(job_uuid)
        )
        result = await self._async_result(operation, session, response, job_uuid, timeout_s)
        return read_model(operation, SessionInventory, result.get("inventory"), response)

    async def ping(self) -> bool:
        """ZStack answers its API (validating a session that cannot exist needs no credentials)."""
        operation = "ValidateSession"
        path = f"/accounts/sessions/{'0' * 32}/valid"
        expect_json(operation, await self._send(operation, "GET", path))
        return True

    async def logout(self, session: SecretStr) -> None:
        operation = "LogOut"
        path = f"/accounts/sessions/{_session_path(session)}"
        expect_json(operation, await self._send(operation, "DELETE", path))

    # -- model services --

    async def query_model_services(self, session: SecretStr, query: Query) -> QueryResult:
        operation = "QueryModelService"
        response = await self._send(
            operation, "GET", "/ai/model-services", session=session, params=query.to_params()
        )
        data = expect_json(operation, response)
        raw = data.get("inventories")
        if not isinstance(raw, list):
            raise protocol_error(operation, response, "no inventories in the query reply")
        items = [
            read_model(operation, ModelServiceInventory, item, response)
            for item in raw
            if isinstance(item, dict)
        ]
        total = data.get("total")
        return QueryResult(inventories=items, total=total if isinstance(total, int) else None)

    async def model_services_named(
        self, session: SecretStr, text: str, *, exact: bool, limit: int
    ) -> list[ModelServiceInventory]:
        """Services named ``text`` (``exact``) or containing it, whatever characters it holds,
        sorted by name; at most ``limit``. A name the query grammar cannot say literally is
        searched by its longest safe fragment and filtered here."""
        query, keep = name_search(text, exact=exact) if text else (Query(), None)
        page = limit if keep is None else NAME_SCAN_LIMIT
        result = await self.query_model_services(
            session, query.page(limit=page, with_total=False).sorted("+name")
        )
        found = [i for i in result.inventories if i.uuid and (keep is None or keep(i.name or ""))]
        return found[:limit]

    async def model_services_with_names(
        self, session: SecretStr, names: list[str], *, limit: int
    ) -> list[ModelServiceInventory] | None:
        """Services named any of ``names``, in one query (ZStack compares names as its database
        does, without regard to case), sorted by name; at most ``limit``. None when a name
        cannot be said literally in an IN list: ask for each with ``model_services_named``."""
        query = names_in(names)
        if query is None:
            return None
        result = await self.query_model_services(
            session, query.page(limit=limit, with_total=False).sorted("+name")
        )
        return [i for i in result.inventories if i.uuid][:limit]

    async def get_model_service(
        self, session: SecretStr, uuid: str
    ) -> ModelServiceInventory | None:
        """One model service by UUID, or None when the caller cannot see it."""
        if not UUID_RE.match(uuid):
            return None
        result = await self.query_model_services(session, Query().where("uuid", "=", uuid))
        return result.inventories[0] if result.inventories else None

    async def clone_model_service(
        self,
        session: SecretStr,
        source_uuid: str,
        body: CloneRequestBody,
        *,
        job_uuid: str,
        webhook_url: str | None = None,
    ) -> CloneOutcome:
        """Send CloneModelService once under ``job_uuid`` (chosen and stored by the caller first).

        Returns ``CloneAccepted`` (202) or ``CloneCompleted`` (200). Raises ``ZStackAPIError`` for
        a 503, ``ZStackRESTError`` for a plain-text refusal and ``ZStackUnavailable`` when the
        answer was lost; then ``maybe_received`` says whether to poll the job UUID before resending.
        """
        operation = "CloneModelService"
        if not UUID_RE.match(job_uuid):
            raise ValueError("job_uuid must be 32 lowercase hex characters")
        headers = _job_header(job_uuid)
        if webhook_url:
            headers["X-Web-Hook"] = webhook_url
        response = await self._send(
            operation,
            "POST",
            f"/ai/model-services/{_path_segment(source_uuid)}",
            session=session,
            json_body=body.to_wire(),
            headers=headers,
        )
        if response.status_code == 202:
            return CloneAccepted(self._accepted(response, job_uuid))
        data = expect_json(operation, response)
        inventory = read_model(operation, ModelServiceInventory, data.get("inventory"), response)
        return CloneCompleted(job_uuid=job_uuid, inventory=inventory)

    # -- jobs --

    def job_ref(self, job_uuid: str, *, api_timeout_s: float | None = None) -> JobRef:
        """The poll reference for a job UUID we chose ourselves (write-ahead recovery)."""
        return JobRef(job_uuid, f"{self.base_url}{JOB_PATH}{job_uuid}", api_timeout_s)

    async def poll_clone(self, session: SecretStr | None, job: JobRef) -> JobRunning | JobOutcome:
        """One poll of a clone job: running, or how it ended (typed). A 503 in the poll is the
        job's failure and raises ``ZStackAPIError`` like ``poll_job``."""
        status = await self.poll_job(session, job)
        return status if isinstance(status, JobRunning) else clone_job_outcome(status.result)

    async def poll_job(self, session: SecretStr | None, job: JobRef) -> JobStatus:
        """One poll. 202 = running, 200 = done; 503 raises ZStackAPIError, 404 JobNotFound."""
        operation = "QueryJob"
        response = await self._send(operation, "GET", job.poll_url, session=session)
        if response.status_code == 202:
            return JobRunning(job.uuid)
        if response.status_code == 404:
            raise JobNotFound(f"ZStack does not know job {job.uuid}", job_uuid=job.uuid)
        return JobDone(job.uuid, expect_json(operation, response))

    async def wait_job(
        self,
        session: SecretStr | None,
        job: JobRef,
        *,
        timeout_s: float,
        policy: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> dict[str, Any]:
        """Poll until the job finishes; the result body, or the job's error raised."""
        policy = policy or WAIT_POLLS
        deadline = clock() + timeout_s
        polls = 0
        while True:
            status = await self.poll_job(session, job)
            polls += 1
            if isinstance(status, JobDone):
                return status.result
            remaining = deadline - clock()
            if remaining <= 0:
                raise JobTimeout(
                    f"job {job.uuid} still running after {timeout_s:g} s", job_uuid=job.uuid
                )
            await sleep(min(policy.delay(polls), remaining))

    async def wait_clone(
        self,
        session: SecretStr | None,
        job: JobRef,
        *,
        timeout_s: float,
        policy: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> ModelServiceInventory:
        result = await self.wait_job(session, job, timeout_s=timeout_s, policy=policy, sleep=sleep)
        return parse_clone_result(result)

    # -- internals --

    async def _async_result(
        self,
        operation: str,
        session: SecretStr,
        response: httpx.Response,
        job_uuid: str,
        timeout_s: float,
    ) -> dict[str, Any]:
        if response.status_code == 202:
            job = self._accepted(response, job_uuid)
            return await self.wait_job(session, job, timeout_s=timeout_s, policy=SHORT_WAIT_POLLS)
        return expect_json(operation, response)

    def _accepted(self, response: httpx.Response, job_uuid: str) -> JobRef:
        """Read a 202: ``location`` rewritten onto our endpoint, ``apiTimeout`` in ms."""
        accepted_uuid, api_timeout_s = read_accepted(response, job_uuid)
        return self.job_ref(accepted_uuid, api_timeout_s=api_timeout_s)

    async def _send(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        session: SecretStr | None = None,
        json_body: dict[str, Any] | None = None,
        params: list[tuple[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        request_headers = dict(headers or {})
        if session is not None:
            request_headers["Authorization"] = f"OAuth {session.get_secret_value()}"
        content = None
        if json_body is not None:
            content = json.dumps(json_body, ensure_ascii=False).encode("utf-8")
            request_headers["Content-Type"] = "application/json;charset=UTF-8"
        started = time.perf_counter()
        status: int | None = None
        code: str | None = None
        try:
            async with self._slot(operation):
                response = await self._http.request(
                    method,
                    path,
                    content=content,
                    params=httpx.QueryParams(tuple(params or ())),
                    headers=request_headers,
                )
            status = response.status_code
            raise_for_status(operation, response, job_poll=JOB_PATH in path)
            return response
        except ZStackAPIError as exc:
            code = exc.code
            raise
        except ZStackError:
            raise
        except HTTPX_ERRORS as exc:
            raise transport_error(operation, self.base_url, exc) from None
        finally:
            if self._observer is not None:
                self._observer(operation, status, code, time.perf_counter() - started)

    @contextlib.asynccontextmanager
    async def _slot(self, operation: str) -> AsyncIterator[None]:
        """One of the requests in flight; waiting for it counts as waiting for the pool."""
        try:
            async with asyncio.timeout(self._slot_wait_s):
                await self._slots.acquire()
        except TimeoutError:
            no_slot = httpx.PoolTimeout(f"{operation}: every ZStack request slot is busy")
            raise transport_error(operation, self.base_url, no_slot) from None
        try:
            yield
        finally:
            self._slots.release()


def _normalise_base(url: str) -> str:
    url = url.rstrip("/")
    for suffix in (API_PREFIX, "/zstack"):
        if url.endswith(suffix):
            url = url[: -len(suffix)]
    return url


def _job_header(job_uuid: str) -> dict[str, str]:
    return {"X-Job-UUID": job_uuid}


def _session_path(session: SecretStr) -> str:
    return _path_segment(session.get_secret_value())


def _path_segment(value: str) -> str:
    return quote(value, safe="")
