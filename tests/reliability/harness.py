"""Several bot replicas on one Redis, driven through the Slack emulator, killed at random moments.

:class:`Harness` runs, in the test's event loop, one AOF Redis (``RedisServer``), one ZStack
simulator, one Slack emulator and a small load balancer (:class:`LoadBalancer`, what operators
put in front of replicas: round robin over live replicas, the next one on a refused connection),
and N bots as subprocesses (``BotProcess``) that it can SIGKILL and restart.

HTTP mode: the emulator's Request URL is the load balancer, so commands and clicks are spread
across replicas. Socket Mode: every replica holds a connection and the emulator sends each
envelope to one connection at random, as Slack does. ZStack's webhooks go through the load
balancer in both modes.

:meth:`Harness.run` logs users in, then creates requests (``/clone-model`` + submit), approves
them, and meanwhile kills replicas (at random, or right when one holds a request in submission,
polling or notification) and injects faults (failed clones, lost ZStack answers, Slack 5xx/429,
Redis restarts). It then waits (bounded) for every approved request to end and checks the
invariants from Redis, the simulator's counters and the emulator's state: :class:`Report`.
Everything random comes from one seeded ``random.Random``; the seed is in the report.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import aiohttp
from aiohttp import web

from bot.config import Settings
from bot.errors import BotError
from bot.requests.model import CloneRequest, State
from bot.sandbox.slack_emulator import (
    Channel,
    OpenView,
    SlackEmulator,
    User,
    UserActionError,
    Workspace,
    default_workspace,
)
from bot.sandbox.zstack_sim import SimServer
from bot.sandbox.zstack_sim.seed import LLAMA_SERVICE_UUID
from bot.store.connection import connect_redis
from bot.store.handle import RedisHandle
from bot.store.requests import RequestStore
from tests.fixtures.process import BotProcess, bot_env, free_port
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.slack import APP_TOKEN, BOT_TOKEN, SIGNING_SECRET

logger = logging.getLogger(__name__)

TEAM = "T0CLONE"
GENERAL = "C0GENERAL"
APPROVALS = "C0APPROVE"
APPROVERS = ("U0APP1", "U0APP2")
EXAMPLE = "90d425a802ff44eeb530f21587633700"
FINISHED = (State.SUCCEEDED, State.FAILED)
STEPS = {"thread", "card", "dm"}

# Who the requesters log in as, what they clone, and the ZStack account that must own the copy.
LOGINS: tuple[tuple[dict[str, Any], str, str], ...] = (
    (
        {
            "login_kind": {"kind": "account"},
            "account_name": {"value": "alice"},
            "password": {"value": "alice-pass"},
        },
        EXAMPLE,
        "alice",
    ),
    (
        {
            "login_kind": {"kind": "iam2"},
            "user_name": {"value": "carol"},
            "password": {"value": "carol-pass"},
        },
        LLAMA_SERVICE_UUID,
        "ml-platform",
    ),
)

Mode = Literal["http", "socket"]
Phase = Literal["any", "submission", "polling", "notification"]
PHASES: tuple[Phase, ...] = ("any", "submission", "polling", "notification")


@dataclass
class HarnessConfig:
    replicas: int = 3
    mode: Mode = "http"
    requests: int = 80  # stop creating after this many (None-like 0: only the duration counts)
    duration_s: float | None = None  # soak: keep creating until this much time has passed
    requesters: int = 6  # concurrent Slack users creating requests (each one at a time)
    kills: int = 4  # SIGKILLs spread over the run (soak: per minute, see ``kills_per_min``)
    kills_per_min: float | None = None
    seed: int | None = None
    job_duration_s: float = 0.3
    failed_clones: int = 3  # simulator-failed clones (the expected ``failed`` outcome)
    lost_answers: int = 2  # ZStack answers lost before/after acceptance (timeouts)
    slack_faults: int = 3  # Slack 5xx/429 on chat.postMessage / chat.update
    redis_restarts: int = 0
    zstack_timeout_s: float = 2.0
    settle_timeout_s: float = 90.0
    step_timeout_s: float = 10.0


@dataclass
class Report:
    seed: int
    mode: str
    replicas: int
    elapsed_s: float = 0.0
    requests: int = 0  # records created in Redis
    submissions: int = 0  # submissions the users made (a retried one counts twice)
    orphaned: int = 0  # records whose card was never posted (the process died in between)
    approved: int = 0
    succeeded: int = 0
    failed: int = 0
    kills: int = 0
    kills_by_phase: dict[str, int] = field(default_factory=dict)
    restarts: int = 0
    redis_restarts: int = 0
    faults_injected: dict[str, int] = field(default_factory=dict)
    clone_calls: int = 0
    sim_failed_jobs: int = 0
    user_retries: int = 0  # a user repeated an action whose delivery failed
    lost: int = 0
    doubled: int = 0
    problems: list[str] = field(default_factory=list)
    failure_reasons: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        data = asdict(self)
        data["problems"] = self.problems[:20]
        return json.dumps(data, indent=2, sort_keys=False)

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.doubled == 0 and not self.problems


class LoadBalancer:
    """A reverse proxy over the live replicas: round robin, next replica on a refused connect."""

    def __init__(self, upstreams: Callable[[], list[str]]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._upstreams = upstreams
        self._turn = 0
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.forwarded: Counter[str] = Counter()

    async def start(self) -> None:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        assert self._session is not None
        body = await request.read()
        skip = {"host", "content-length", "transfer-encoding", "connection"}
        headers = {k: v for k, v in request.headers.items() if k.lower() not in skip}
        upstreams = self._upstreams()
        self._turn += 1
        for i in range(len(upstreams)):
            target = upstreams[(self._turn + i) % len(upstreams)]
            try:
                async with self._session.request(
                    request.method, target + request.path_qs, data=body, headers=headers
                ) as answer:
                    payload = await answer.read()
                    self.forwarded[target] += 1
                    out = {"Content-Type": answer.headers.get("Content-Type", "text/plain")}
                    return web.Response(status=answer.status, body=payload, headers=out)
            except aiohttp.ClientConnectorError:
                continue  # refused: the request never left, another replica may take it
            except (aiohttp.ClientError, TimeoutError):
                return web.Response(status=502, text="upstream failed mid-request")
        return web.Response(status=502, text="no live replica")


class Replica(BotProcess):
    """A ``BotProcess`` that knows whether it runs and its pid (lease holders name their pid)."""

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.alive and self._proc is not None else None


def harness_workspace(requesters: int) -> Workspace:
    """The default workspace plus ``U0RQ01``… requesters in #general and #model-approvals."""
    ws = default_workspace()
    for i in range(1, requesters + 1):
        uid = f"U0RQ{i:02d}"
        ws.add_user(User(uid, f"requester{i}", f"Requester {i}"))
        for channel in (GENERAL, APPROVALS):
            found = ws.channels[channel]
            assert isinstance(found, Channel)
            found.members.add(uid)
    return ws


class Harness:
    """``async with Harness(config, workdir) as h: report = await h.run()``."""

    def __init__(self, config: HarnessConfig, workdir: Path) -> None:
        self.config = config
        self.seed = (
            config.seed if config.seed is not None else random.SystemRandom().randrange(10**9)
        )
        self.rng = random.Random(self.seed)
        self.workdir = workdir
        self.report = Report(seed=self.seed, mode=config.mode, replicas=config.replicas)
        self.redis = RedisServer(workdir / "redis", persistent=True)
        self.sim: SimServer | None = None
        self.emu: SlackEmulator | None = None
        self.lb = LoadBalancer(self._live_urls)
        self.replicas: list[Replica] = []
        self.handle: RedisHandle | None = None
        self.store: RequestStore | None = None
        self.requesters = [f"U0RQ{i:02d}" for i in range(1, config.requesters + 1)]
        self.login_of = {u: LOGINS[i % len(LOGINS)] for i, u in enumerate(self.requesters)}
        self.created: dict[str, str] = {}  # request id -> name
        self.names: dict[str, str] = {}  # name -> requester
        self._done_creating = asyncio.Event()
        self._faults: Counter[str] = Counter()
        self._kill_lock = asyncio.Lock()

    # -- lifecycle -------------------------------------------------------------------------------

    async def __aenter__(self) -> Harness:
        self.workdir.mkdir(parents=True, exist_ok=True)
        await self.redis.astart()
        self.sim = await SimServer("127.0.0.1", 0).__aenter__()
        self.sim.state.set_mode(job_duration_s=self.config.job_duration_s)
        socket = self.config.mode == "socket"
        self.emu = await SlackEmulator(
            signing_secret=SIGNING_SECRET,
            bot_token=BOT_TOKEN,
            app_token=APP_TOKEN if socket else None,
            mode="socket" if socket else "http",
            workspace=harness_workspace(self.config.requesters),
            event_retry_delays=(1.0, 5.0),
        ).__aenter__()
        await self.lb.start()
        self.emu.app_url = f"{self.lb.url}/slack/events"
        for i in range(self.config.replicas):
            extra = {
                "CLONEBOT_APPROVAL_CHANNEL": APPROVALS,
                "ZSTACK_TIMEOUT_S": str(self.config.zstack_timeout_s),
                "CLONEBOT_PUBLIC_URL": self.lb.url,
                "CLONEBOT_LOG_LEVEL": "INFO",
                "CLONEBOT_SLACK_PACE": "false",  # the emulator here enforces no rate limits
            }
            if socket:
                extra["SLACK_APP_TOKEN"] = APP_TOKEN
            env = bot_env(
                api_url=self.emu.api_url,
                zstack_url=self.sim.url,
                redis_url=self.redis.url,
                data_dir=self.workdir / f"data-{i}",
                **extra,
            )
            self.replicas.append(Replica(env=env, port=free_port(), log=self.log_path(i)))
        await asyncio.gather(*(r.start() for r in self.replicas))
        if socket:
            await self.emu.wait_socket_connections(self.config.replicas, timeout=15)
        self.handle = await connect_redis(Settings(redis_url=self.redis.url))
        self.store = RequestStore(self.handle)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        for replica in self.replicas:
            replica.stop()
        if self.handle is not None:
            await self.handle.aclose()
        await self.lb.stop()
        if self.emu is not None:
            await self.emu.__aexit__(None, None, None)
        if self.sim is not None:
            await self.sim.__aexit__(None, None, None)
        await self.redis.astop()

    def log_path(self, i: int) -> Path:
        return self.workdir / f"bot-{i}.log"

    def _live_urls(self) -> list[str]:
        return [r.url for r in self.replicas if r.alive]

    @property
    def e(self) -> SlackEmulator:
        assert self.emu is not None
        return self.emu

    @property
    def s(self) -> SimServer:
        assert self.sim is not None
        return self.sim

    @property
    def st(self) -> RequestStore:
        assert self.store is not None
        return self.store

    # -- the run ---------------------------------------------------------------------------------

    async def run(self) -> Report:
        started = time.monotonic()
        await self.login_everyone()
        chaos = asyncio.ensure_future(self._chaos(started))
        try:
            await asyncio.gather(*(self._requester(u, started) for u in self.requesters))
        finally:
            self._done_creating.set()
            with contextlib.suppress(Exception):
                await chaos
        await self._restart_dead()
        await self._settle()
        await asyncio.sleep(1.0)  # late duplicates, if any, would land now
        await self.load_history()
        await self.check()
        self.report.elapsed_s = round(time.monotonic() - started, 1)
        return self.report

    async def login_everyone(self) -> None:
        for user in self.requesters:
            values = self.login_of[user][0]
            for _ in range(5):
                if await self._login(user, values):
                    break
            else:
                raise AssertionError(f"{user} could not log in")

    async def _login(self, user: str, values: dict[str, Any]) -> bool:
        self.e.modals.clear(user, reason="close")
        delivery = await self.e.slash_command(user, GENERAL, "/zstack", "login")
        if delivery.status != 200:
            return False
        try:
            view = await self._top(user, "zstack_login", set())
            await self.e.submit_view(user, view.id, values)
            await self._top(user, "zstack_login_info", set())
        except (AssertionError, UserActionError):
            return False
        return True

    async def _top(self, user: str, callback_id: str, not_ids: set[str]) -> OpenView:
        def found() -> OpenView | None:
            views = self.e.state.open_views(user)
            top = views[-1] if views else None
            if top and top.callback_id == callback_id and top.id not in not_ids:
                return top
            return None

        return await self.e.wait_for(found, timeout=self.config.step_timeout_s)

    def _more(self, started: float) -> bool:
        if self.config.duration_s is not None:
            return time.monotonic() - started < self.config.duration_s
        return self.report.submissions < self.config.requests

    async def _requester(self, user: str, started: float) -> None:
        while self._more(started):
            self.report.submissions += 1
            name = f"rel-{self.seed % 10000:04d}-{self.report.submissions:05d}"
            self.names[name] = user
            try:
                record = await self._create(user, name)
                if record is not None:
                    await self._approve(record)
            except Exception:
                logger.exception("requester %s failed on %s", user, name)
                self.report.problems.append(f"driver error on {name}")

    async def _create(self, user: str, name: str) -> CloneRequest | None:
        """``/clone-model <source>``, then submit; the card's request, or None (orphaned)."""
        source = self.login_of[user][1]
        for attempt in range(6):
            if attempt:
                self.report.user_retries += 1
                await asyncio.sleep(0.5)
            self.e.modals.clear(user, reason="close")
            delivery = await self.e.slash_command(user, GENERAL, "/clone-model", source)
            if delivery.status != 200:
                continue
            try:
                view = await self._top(user, "clone_model", set())
                values = {"reason": {"value": "reliability run"}, "name": {"value": name}}
                submitted = await self.e.submit_view(user, view.id, values)
            except (AssertionError, UserActionError):
                continue
            if submitted.status != 200:
                continue  # not taken: the user presses Submit again (a fresh form)
            card = await self._wait_card(name)
            if card is not None:
                return card
            # Acknowledged, but no card: the process died between record and card.
            self.report.orphaned += 1
            return None
        self.report.problems.append(f"{name}: could not submit after 6 tries")
        return None

    async def _wait_card(self, name: str) -> CloneRequest | None:
        marker = f"→ {name} ("

        def card() -> Any:
            for message in self.e.state.messages(APPROVALS):
                if marker in message.text:
                    return message
            return None

        try:
            message = await self.e.wait_for(card, timeout=self.config.step_timeout_s)
        except AssertionError:
            return None
        for _ in range(200):
            request_id = await self._retrying(lambda: self.st.by_thread(APPROVALS, message.ts))
            if request_id:
                record = await self._retrying(lambda rid=request_id: self.st.require(rid))
                self.created[record.id] = name
                return record
            await asyncio.sleep(0.05)
        return None

    async def _approve(self, record: CloneRequest) -> None:
        approver = self.rng.choice(APPROVERS)
        for attempt in range(8):
            if attempt:
                self.report.user_retries += 1
            current = await self._retrying(lambda: self.st.require(record.id))
            if current.state != State.PENDING:
                return
            if current.approvals:  # counted: the transition is under way or done
                return
            await self.e.click(
                approver, channel=APPROVALS, ts=record.card_ts or "", action_id="request_approve"
            )
            deadline = time.monotonic() + self.config.step_timeout_s
            while time.monotonic() < deadline:
                current = await self._retrying(lambda: self.st.require(record.id))
                if current.state != State.PENDING:
                    return
                await asyncio.sleep(0.1)
        self.report.problems.append(f"{record.id}: never left pending after 8 approvals")

    async def _retrying(self, call: Callable[[], Awaitable[Any]]) -> Any:
        """An observer read that rides out a Redis restart."""
        for _ in range(100):
            try:
                return await call()
            except BotError:
                await asyncio.sleep(0.2)
        return await call()

    # -- chaos -----------------------------------------------------------------------------------

    def _plan(self) -> list[tuple[float, str]]:
        """(progress in [0, 1], what) for every kill and fault; progress is the share of the
        requests submitted, or of the duration gone by (soak)."""
        config = self.config
        minutes = (config.duration_s or 0) / 60
        kills = config.kills
        if config.kills_per_min is not None and config.duration_s is not None:
            kills = round(config.kills_per_min * minutes)
        plan = [(self.rng.uniform(0.05, 0.95), "kill") for _ in range(kills)]
        for what, count in (
            ("failed_clone", config.failed_clones),
            ("lost_answer", config.lost_answers),
            ("slack_fault", config.slack_faults),
            ("redis_restart", config.redis_restarts),
        ):
            n = round(count * minutes) if config.duration_s and what != "redis_restart" else count
            plan += [(self.rng.uniform(0.03, 0.9), what) for _ in range(n)]
        return sorted(plan)

    def _progress(self, started: float) -> float:
        if self.config.duration_s:
            return (time.monotonic() - started) / self.config.duration_s
        return self.report.submissions / max(1, self.config.requests)

    async def _chaos(self, started: float) -> None:
        """Kills in one sequence (a kill and its restart take seconds), faults in another."""
        plan = self._plan()
        await asyncio.gather(
            self._steps(started, [p for p in plan if p[1] == "kill"]),
            self._steps(started, [p for p in plan if p[1] != "kill"]),
        )
        self.report.faults_injected = dict(self._faults)

    async def _steps(self, started: float, plan: list[tuple[float, str]]) -> None:
        for at, what in plan:
            while self._progress(started) < at and not self._done_creating.is_set():
                await asyncio.sleep(0.05)
            try:
                await self._act(what)
            except Exception:
                logger.exception("chaos step %s failed", what)
                self.report.problems.append(f"chaos step {what} failed")

    async def _act(self, what: str) -> None:
        if what == "kill":
            await self._kill(self.rng.choice(PHASES))
        elif what == "failed_clone":
            self.s.state.fail_next_clones(1)
            self._faults["failed_clone"] += 1
        elif what == "lost_answer":
            phase = self.rng.choice(("before", "after"))
            self.s.state.add_clone_fault(phase, self.config.zstack_timeout_s + 1.0)
            self._faults[f"lost_answer_{phase}"] += 1
        elif what == "slack_fault":
            method = self.rng.choice(("chat.postMessage", "chat.update"))
            if self.rng.random() < 0.5:
                self.e.inject_fault(method, status=429, retry_after=1)
                self._faults[f"slack_429_{method}"] += 1
            else:
                self.e.inject_fault(method, status=500)
                self._faults[f"slack_500_{method}"] += 1
        elif what == "redis_restart":
            await self.redis.astop()
            await asyncio.sleep(self.rng.uniform(0.3, 1.5))
            await self.redis.astart()
            self.report.redis_restarts += 1
            self._faults["redis_restart"] += 1

    async def _kill(self, phase: Phase) -> None:
        """SIGKILL a replica (the one holding a request in ``phase`` if one shows up within a
        few seconds, else a random one), then restart it after a random pause."""
        async with self._kill_lock:
            victim = None
            if phase != "any":
                victim = await self._holder(phase, within_s=4.0)
            if victim is None:
                live = [r for r in self.replicas if r.alive]
                if not live:
                    return
                victim = self.rng.choice(live)
                phase = "any"
            victim.kill()
            self.report.kills += 1
            self.report.kills_by_phase[phase] = self.report.kills_by_phase.get(phase, 0) + 1
            await asyncio.sleep(self.rng.uniform(0.2, 2.0))
            await victim.start()
            self.report.restarts += 1

    async def _holder(self, phase: Phase, within_s: float) -> Replica | None:
        """The replica that holds the lease of a request now in ``phase``."""
        assert self.handle is not None
        client = self.handle.client
        part = "outbox-lease" if phase == "notification" else "lock"
        states = {
            "submission": {State.APPROVED, State.SUBMITTING},
            "polling": {State.RUNNING},
            "notification": set(FINISHED),
        }[phase]
        by_pid = {r.pid: r for r in self.replicas if r.alive}
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            try:
                async for key in client.scan_iter(match=f"*{{req:*}}:{part}", count=500):
                    owner = await client.get(key)
                    if owner is None:
                        continue
                    match = re.match(r"^[^:]*:(\d+):", owner.decode())
                    replica = by_pid.get(int(match.group(1))) if match else None
                    request_id = key.decode().split("{req:", 1)[1].split("}", 1)[0]
                    record = await self.st.get(request_id)
                    if replica is not None and record is not None and record.state in states:
                        return replica
            except BotError:
                return None
            except Exception:  # Redis restarting under us: no target this time
                return None
            await asyncio.sleep(0.02)
        return None

    async def _restart_dead(self) -> None:
        for replica in self.replicas:
            if not replica.alive:
                await replica.start()
                self.report.restarts += 1

    # -- the end ---------------------------------------------------------------------------------

    async def _settle(self) -> None:
        """Wait until every approved request is finished and fully notified (bounded)."""
        deadline = time.monotonic() + self.config.settle_timeout_s
        while time.monotonic() < deadline:
            records = await self._records()
            open_ = [
                r
                for r in records
                if r.approved_at is not None
                and (r.state not in FINISHED or not STEPS.issubset(r.notified))
            ]
            if not open_:
                return
            await asyncio.sleep(0.25)

    async def _records(self) -> list[CloneRequest]:
        assert self.handle is not None
        client = self.handle.client
        ids: set[str] = set()

        async def scan() -> list[CloneRequest]:
            async for key in client.scan_iter(match="*{req:*}:record", count=1000):
                ids.add(key.decode().split("{req:", 1)[1].split("}", 1)[0])
            found = [await self.st.get(i) for i in sorted(ids)]
            return [r for r in found if r is not None]

        result: list[CloneRequest] = await self._retrying(scan)
        return result

    async def check(self) -> None:
        """The invariants; each violation is a line in ``report.problems``."""
        report = self.report
        records = await self._records()
        counters = self.s.state.counters()
        services = Counter(
            s["inventory"]["name"] for s in self.s.state.snapshot()["model_services"]
        )
        owners = {
            s["inventory"]["name"]: s["owner_account"]
            for s in self.s.state.snapshot()["model_services"]
        }
        calls_by_job: dict[str, int] = counters["clone_calls_by_job"]
        accounts_by_job: dict[str, set[str | None]] = {}
        for call in counters["clone_calls"]:
            accounts_by_job.setdefault(call["job_uuid"], set()).add(call["account"])
        self._sim_jobs = {j["uuid"]: j["state"] for j in self.s.state.snapshot()["jobs"]}
        report.sim_failed_jobs = sum(v == "failed" for v in self._sim_jobs.values())
        report.requests = len(records)
        report.clone_calls = sum(calls_by_job.values())
        reasons: Counter[str] = Counter()
        for record in records:
            if record.card_ts is None and record.approved_at is None:
                continue  # orphaned (counted by the driver) or never decided
            if record.approved_at is None:
                if record.state != State.PENDING:
                    report.problems.append(f"{record.id} ended {record.state} without approval")
                continue
            report.approved += 1
            self._check_one(record, calls_by_job, accounts_by_job, services, owners, reasons)
        report.failure_reasons = dict(reasons)
        for job, count in calls_by_job.items():
            if count > 1:
                report.doubled += 1
                report.problems.append(f"job {job} was sent {count} times")

    def _check_one(
        self,
        record: CloneRequest,
        calls_by_job: dict[str, int],
        accounts_by_job: dict[str, set[str | None]],
        services: Counter[str],
        owners: dict[str, str | None],
        reasons: Counter[str],
    ) -> None:
        report = self.report
        history_states = self._history.get(record.id, [])
        ends = sum(1 for s in history_states if s in ("succeeded", "failed"))
        account = self.login_of[record.requester][2]
        if record.state not in FINISHED:
            report.lost += 1
            report.problems.append(f"{record.id} approved but still {record.state.value}")
            return
        if record.state == State.SUCCEEDED:
            report.succeeded += 1
        else:
            report.failed += 1
            reasons[_reason(record.error_text or "")] += 1
        if ends != 1:
            report.doubled += ends > 1
            report.problems.append(f"{record.id} ended {ends} times")
        sim_state = self._sim_jobs.get(record.job_uuid or "")
        if sim_state not in (None, record.state.value):
            report.problems.append(f"{record.id} is {record.state.value}, its job {sim_state}")
        name = record.new_name
        made = services.get(name, 0)
        if record.state == State.SUCCEEDED and made != 1:
            report.lost += made == 0
            report.doubled += made > 1
            report.problems.append(f"{record.id}: {made} services named {name}")
        if record.state == State.FAILED and made:
            report.problems.append(f"{record.id} failed, yet {made} services named {name}")
        if made and owners.get(name) != account:
            report.problems.append(f"{record.id}: {name} owned by {owners.get(name)}")
        for job in self._jobs.get(record.id, []):
            wrong = accounts_by_job.get(job, set()) - {account, None}
            if wrong:
                report.problems.append(f"{record.id}: job {job} sent with {wrong}'s session")
        thread, dms = self._notices(record)
        if thread != 1 or dms != 1 or not STEPS.issubset(record.notified):
            missing = thread == 0 or dms == 0 or not STEPS.issubset(record.notified)
            report.lost += missing
            report.doubled += thread > 1 or dms > 1
            report.problems.append(
                f"{record.id}: {thread} thread notices, {dms} DMs, steps {record.notified}"
            )

    def _notices(self, record: CloneRequest) -> tuple[int, int]:
        prefixes = (f"{record.id} done:", f"{record.id} failed:")
        thread = sum(
            m.text.startswith(prefixes)
            for m in self.e.state.thread(APPROVALS, record.card_ts or "")
        )
        dms = sum(m.text.startswith(prefixes) for m in self.e.state.dms(record.requester))
        return thread, dms

    _history: dict[str, list[str]]
    _jobs: dict[str, list[str]]
    _sim_jobs: dict[str, str]

    async def load_history(self) -> None:
        """Audit entries of every request (state changes and the job UUIDs they carried)."""
        self._history, self._jobs = {}, {}
        for record in await self._records():
            entries = await self._retrying(lambda r=record: self.st.history(r.id))
            self._history[record.id] = [
                e.get("to", "") for e in entries if e.get("from") != e.get("to")
            ]
            self._jobs[record.id] = sorted(
                {e["job"] for e in entries if e.get("to") == "submitting" and e.get("job")}
            )


def _reason(text: str) -> str:
    """A failure text reduced to its kind (for the report)."""
    text = re.sub(r"[0-9a-f]{32}", "<uuid>", text)
    text = re.sub(r"CR-[0-9A-Z]{6}", "<id>", text)
    return text[:80]


async def run_harness(config: HarnessConfig, workdir: Path) -> Report:
    async with Harness(config, workdir) as harness:
        return await harness.run()
