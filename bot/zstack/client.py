"""The ZStack REST client: the only module that talks HTTP to ZStack (reference zstack-api.md).

One ``ZStackClient`` per process (a pooled ``httpx.AsyncClient`` with explicit timeouts). Every
httpx exception and every ZStack failure leaves this module as a ``bot.errors.ZStackError``
subclass; callers never see httpx. Session UUIDs travel as ``SecretStr`` and never appear in an
exception message.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import httpx
from pydantic import BaseModel, SecretStr, ValidationError

from bot.errors import (
    JobNotFound,
    JobTimeout,
    ZStackAPIError,
    ZStackConnectError,
    ZStackError,
    ZStackProtocolError,
    ZStackRESTError,
    ZStackSessionInvalid,
    ZStackTimeout,
    ZStackUnavailable,
)
from bot.zstack.models import (
    UUID_RE,
    CloneRequestBody,
    ErrorCode,
    ModelServiceInventory,
    QueryResult,
    SessionInventory,
)
from bot.zstack.query import Query

logger = logging.getLogger(__name__)

API_PREFIX = "/zstack/v1"
JOB_PATH = "/zstack/v1/api-jobs/"
# An invalid or expired session: the classic code, and the global code of newer releases, in
# ``code`` or in ``globalErrorCode`` (reference §4.3; ZStack's own MCP client accepts all four).
SESSION_INVALID_CODES = frozenset({"ID.1001", "ORG_ZSTACK_IDENTITY_10020"})
_EXCERPT = 500

# (operation, HTTP status or None, ZStack error code or None, seconds) after every call.
CallObserver = Callable[[str, int | None, str | None, float], None]
Sleep = Callable[[float], Awaitable[None]]
M = TypeVar("M", bound=BaseModel)


def hash_password(plain: str) -> SecretStr:
    """ZStack's password encoding: lowercase hex SHA-512 of the UTF-8 text (reference §2.1)."""
    return SecretStr(hashlib.sha512(plain.encode("utf-8")).hexdigest())


# --- credentials -----------------------------------------------------------------------------


class AccountLogin(BaseModel):
    kind: Literal["account"] = "account"
    account_name: str
    password_sha512: SecretStr


class UserLogin(BaseModel):
    """An IAM user of an account."""

    kind: Literal["user"] = "user"
    account_name: str
    user_name: str
    password_sha512: SecretStr


class IAM2Login(BaseModel):
    """An IAM2 virtual ID (project user)."""

    kind: Literal["iam2"] = "iam2"
    name: str
    password_sha512: SecretStr


Credentials = AccountLogin | UserLogin | IAM2Login


def _login_request(creds: Credentials) -> tuple[str, str, dict[str, Any]]:
    """(operation, path, body) for one kind of login."""
    password = creds.password_sha512.get_secret_value()
    if isinstance(creds, AccountLogin):
        body = {"accountName": creds.account_name, "password": password}
        return "LogInByAccount", "/accounts/login", {"logInByAccount": body}
    if isinstance(creds, UserLogin):
        body = {
            "accountName": creds.account_name,
            "userName": creds.user_name,
            "password": password,
        }
        return "LogInByUser", "/accounts/users/login", {"logInByUser": body}
    body = {"name": creds.name, "password": password}
    return "LogInIAM2VirtualID", "/iam2/virtual-ids/login", {"loginIAM2VirtualID": body}


# --- async jobs ------------------------------------------------------------------------------


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
    """How a clone job ended: the new inventory, or the error (ZStack's ErrorCode or our text)."""

    inventory: ModelServiceInventory | None = None
    error: ErrorCode | None = None
    error_text: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.inventory is not None

    def describe(self) -> str:
        if self.error is not None:
            return self.error.summary()
        return self.error_text or "unknown error"


def clone_job_outcome(body: dict[str, Any]) -> JobOutcome:
    """A finished clone job's body (a poll's 200) as a typed outcome."""
    error = parse_job_error(body)
    if error is not None:
        return JobOutcome(error=error)
    try:
        return JobOutcome(inventory=parse_clone_result(body))
    except (ZStackProtocolError, ValidationError):
        return JobOutcome(error_text="ZStack reported success without a readable new inventory.")


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


@dataclass(frozen=True)
class PollPolicy:
    """Capped exponential backoff with jitter for job polling."""

    initial_s: float = 1.0
    max_s: float = 10.0
    multiplier: float = 2.0
    jitter: float = 0.2

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds before poll number ``attempt`` (0-based), jittered by ±``jitter``."""
        base = min(self.max_s, self.initial_s * self.multiplier**attempt)
        spread = base * self.jitter
        return max(0.0, base + (rng or random).uniform(-spread, spread))


def new_job_uuid() -> str:
    """A fresh 32-hex job UUID (a version-4 UUID without dashes, as ZStack expects)."""
    import uuid

    return uuid.uuid4().hex


# --- the client ------------------------------------------------------------------------------


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
        self._http = httpx.AsyncClient(
            base_url=self.base_url + API_PREFIX,
            timeout=timeout,
            verify=verify_arg,
            transport=transport,
            # Keep every pooled connection alive: the tracker polls many jobs at once.
            limits=limits or httpx.Limits(max_connections=100, max_keepalive_connections=100),
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
        operation, path, body = _login_request(creds)
        response = await self._send(operation, "PUT", path, json_body=body)
        data = self._expect_json(operation, response)
        return self._model(operation, SessionInventory, data.get("inventory"), response)

    async def validate_session(self, session: SecretStr) -> bool:
        """True while ZStack accepts the session. Does not extend it."""
        operation = "ValidateSession"
        path = f"/accounts/sessions/{_session_path(session)}/valid"
        data = self._expect_json(operation, await self._send(operation, "GET", path))
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
        return self._model(operation, SessionInventory, result.get("inventory"), response)

    async def ping(self) -> bool:
        """ZStack answers its API (validating a session that cannot exist needs no credentials)."""
        operation = "ValidateSession"
        path = f"/accounts/sessions/{'0' * 32}/valid"
        self._expect_json(operation, await self._send(operation, "GET", path))
        return True

    async def logout(self, session: SecretStr) -> None:
        operation = "LogOut"
        path = f"/accounts/sessions/{_session_path(session)}"
        self._expect_json(operation, await self._send(operation, "DELETE", path))

    # -- model services --

    async def query_model_services(self, session: SecretStr, query: Query) -> QueryResult:
        operation = "QueryModelService"
        response = await self._send(
            operation, "GET", "/ai/model-services", session=session, params=query.to_params()
        )
        data = self._expect_json(operation, response)
        raw = data.get("inventories")
        if not isinstance(raw, list):
            raise _protocol(operation, response, "no inventories in the query reply")
        items = [
            self._model(operation, ModelServiceInventory, item, response)
            for item in raw
            if isinstance(item, dict)
        ]
        total = data.get("total")
        return QueryResult(inventories=items, total=total if isinstance(total, int) else None)

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
            return CloneAccepted(self._accepted(operation, response, job_uuid))
        data = self._expect_json(operation, response)
        inventory = self._model(operation, ModelServiceInventory, data.get("inventory"), response)
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
        return JobDone(job.uuid, self._expect_json(operation, response))

    async def wait_job(
        self,
        session: SecretStr | None,
        job: JobRef,
        *,
        timeout_s: float,
        policy: PollPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> dict[str, Any]:
        """Poll until the job finishes; the result body, or the job's error raised."""
        policy = policy or PollPolicy()
        deadline = clock() + timeout_s
        attempt = 0
        while True:
            status = await self.poll_job(session, job)
            if isinstance(status, JobDone):
                return status.result
            remaining = deadline - clock()
            if remaining <= 0:
                raise JobTimeout(
                    f"job {job.uuid} still running after {timeout_s:g} s", job_uuid=job.uuid
                )
            await sleep(min(policy.delay(attempt), remaining))
            attempt += 1

    async def wait_clone(
        self,
        session: SecretStr | None,
        job: JobRef,
        *,
        timeout_s: float,
        policy: PollPolicy | None = None,
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
            job = self._accepted(operation, response, job_uuid)
            return await self.wait_job(
                session, job, timeout_s=timeout_s, policy=PollPolicy(0.2, 2.0)
            )
        return self._expect_json(operation, response)

    def _accepted(self, operation: str, response: httpx.Response, job_uuid: str) -> JobRef:
        """Read a 202: ``location`` rewritten onto our endpoint, ``apiTimeout`` in ms."""
        data = _json_or_none(response)
        if not isinstance(data, dict):
            data = {}
        location = data.get("location")
        uuid = job_uuid
        if isinstance(location, str) and JOB_PATH in location:
            tail = location.split(JOB_PATH, 1)[1].split("?", 1)[0].strip("/")
            if UUID_RE.match(tail):
                uuid = tail
        timeout_ms = data.get("apiTimeout")
        api_timeout_s = timeout_ms / 1000 if isinstance(timeout_ms, int | float) else None
        if api_timeout_s is not None and api_timeout_s <= 0:
            api_timeout_s = None
        return self.job_ref(uuid, api_timeout_s=api_timeout_s)

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
            response = await self._http.request(
                method,
                path,
                content=content,
                params=httpx.QueryParams(tuple(params or ())),
                headers=request_headers,
            )
            status = response.status_code
            _raise_for_status(operation, response, job_poll=JOB_PATH in path)
            return response
        except ZStackAPIError as exc:
            code = exc.code
            raise
        except ZStackError:
            raise
        except httpx.TimeoutException as exc:
            never_sent = isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout)
            raise ZStackTimeout(
                f"{operation}: ZStack did not answer in time ({type(exc).__name__})",
                operation=operation,
                maybe_received=not never_sent,
            ) from None
        except httpx.ConnectError as exc:
            raise ZStackConnectError(
                f"{operation}: cannot connect to ZStack at {self.base_url} ({_reason(exc)})",
                operation=operation,
            ) from None
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise ZStackConnectError(
                f"{operation}: invalid ZStack URL ({_reason(exc)})", operation=operation
            ) from None
        except (httpx.HTTPError, httpx.StreamError, httpx.CookieConflict) as exc:
            raise ZStackUnavailable(
                f"{operation}: connection to ZStack failed ({type(exc).__name__})",
                operation=operation,
                maybe_received=True,
            ) from None
        finally:
            if self._observer is not None:
                self._observer(operation, status, code, time.perf_counter() - started)

    def _expect_json(self, operation: str, response: httpx.Response) -> dict[str, Any]:
        """A 200 body as a JSON object (an empty body counts as ``{}``)."""
        if response.status_code != 200:
            raise _protocol(operation, response, f"unexpected HTTP {response.status_code}")
        if not response.content.strip():
            return {}
        data = _json_or_none(response)
        if not isinstance(data, dict):
            raise _protocol(operation, response, "the reply is not a JSON object")
        return data

    @staticmethod
    def _model(operation: str, model: type[M], data: Any, response: httpx.Response) -> M:
        if not isinstance(data, dict):
            raise _protocol(operation, response, "the reply has no inventory")
        try:
            return model.model_validate(data)
        except ValidationError:
            raise _protocol(operation, response, "the inventory cannot be read") from None


def _raise_for_status(operation: str, response: httpx.Response, *, job_poll: bool) -> None:
    """Map ZStack's failure answers to our errors; 404 on a job poll is left to the caller."""
    status = response.status_code
    if status == 503:
        # ZStack's failure answer (reference §4.1): final, even when its body is unreadable.
        error = _error_of(response) or _unreadable_failure(response)
        cls = ZStackSessionInvalid if is_session_invalid(error) else ZStackAPIError
        raise cls(operation=operation, status=status, error=error)
    if status >= 400 and not (status == 404 and job_poll):
        raise ZStackRESTError(operation=operation, status=status, text=_excerpt(response))


def is_session_invalid(error: ErrorCode) -> bool:
    """Whether ZStack says the session is invalid or expired (in any form it has used)."""
    return bool({error.code, error.global_error_code} & SESSION_INVALID_CODES)


def _unreadable_failure(response: httpx.Response) -> ErrorCode:
    """A 503 whose body is not ZStack's ``{"error": …}`` (cut off, HTML from a proxy): the
    status and the body's first line, readable for the user."""
    first = next((line.strip() for line in _excerpt(response).splitlines() if line.strip()), "")
    return ErrorCode(
        description=f"ZStack answered HTTP {response.status_code}",
        details=first[:300] or "(empty body)",
    )


def parse_clone_result(result: dict[str, Any]) -> ModelServiceInventory:
    """The inventory of a finished clone job (poll 200 body or webhook body)."""
    data = result.get("inventory")
    if not isinstance(data, dict):
        raise ZStackProtocolError(
            "CloneModelService: the job result has no inventory",
            operation="CloneModelService",
            status=200,
            body_excerpt=json.dumps(result)[:_EXCERPT],
        )
    return ModelServiceInventory.model_validate(data)


def parse_job_error(body: Any) -> ErrorCode | None:
    """The ErrorCode of a failed job body (``{"error": ...}``), if there is one."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return ErrorCode.from_wire(body["error"])
    return None


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
    from urllib.parse import quote

    return quote(value, safe="")


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None


def _error_of(response: httpx.Response) -> ErrorCode | None:
    return parse_job_error(_json_or_none(response))


def _excerpt(response: httpx.Response) -> str:
    text = response.content[: _EXCERPT * 4].decode("utf-8", errors="replace").strip()
    return text[:_EXCERPT] or f"HTTP {response.status_code} with an empty body"


def _protocol(operation: str, response: httpx.Response, why: str) -> ZStackProtocolError:
    return ZStackProtocolError(
        f"{operation}: {why}",
        operation=operation,
        status=response.status_code,
        body_excerpt=_excerpt(response),
    )


def _reason(exc: Exception) -> str:
    text = str(exc).strip()
    return text[:200] if text else type(exc).__name__
