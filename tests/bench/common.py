"""What every benchmark shares: the result rows, percentiles, the bot as a separate process, and
the stack it talks to (a real Redis, the ZStack simulator and the Slack emulator, on loopback).

The benchmark process hosts the emulator, the simulator and the load generator; the bot (and the
bare-Bolt baseline) run as their own processes, so the two cores are shared the way they would be
in production and the client's work does not sit in the bot's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import redis
from cryptography.fernet import Fernet

from bot.config import Settings
from bot.crypto import aload_secret_box
from bot.requests.sessions import SessionService
from bot.runtime import zstack_client_for
from bot.sandbox.slack_emulator import SlackEmulator, User, default_workspace
from bot.sandbox.zstack_sim import SimConfig, SimServer, sha512_hex
from bot.slack.client import build_web_client
from bot.store.connection import connect_redis
from bot.store.handle import RedisHandle
from bot.store.requests import RequestStore
from bot.store.sessions import SessionStore
from bot.zstack.client import ZStackClient
from bot.zstack.credentials import AccountLogin
from tests.fixtures.redis_server import RedisServer, free_port

REPO = Path(__file__).resolve().parents[2]
SIGNING_SECRET = "bench-signing-secret"
BOT_TOKEN = "xoxb-bench-bot-token"
SESSION_KEY = Fernet.generate_key().decode()
TEAM = "T0CLONE"
REQUESTER = "U0REQ"
APPROVER = "U0APP1"
GENERAL = "C0GENERAL"
APPROVALS = "C0APPROVE"
EXAMPLE_SOURCE = "90d425a802ff44eeb530f21587633700"
ACCOUNT, PASSWORD = "alice", "alice-pass"
# The bot's own defaults for job polling (bot/config.py): the benchmark measures those.
POLL_INITIAL_S = 1.0
POLL_MAX_S = 10.0
_OUR_PREFIXES = ("SLACK_", "ZSTACK_", "REDIS_", "CLONEBOT_")
START_TIMEOUT_S = 30.0
# ``--profile DIR``: record the bot with py-spy (collapsed stacks) during measured phases.
PROFILE: dict[str, Path] = {}


def log(message: str) -> None:
    """Progress goes to stderr; stdout carries only the table."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- results -----------------------------------------------------------------------------------


@dataclass
class Row:
    """One line of the table."""

    bench: str
    metric: str
    bot: str
    baseline: str = ""
    verdict: str = ""
    # The number of the performance target the row checks (README → Performance), if any.
    target: str = ""


def verdict(ok: bool, detail: str = "") -> str:
    mark = "✅ met" if ok else "❌ missed"
    return f"{mark} ({detail})" if detail else mark


def against(
    value: float, limit: float, show: Callable[[float], str], *, at_most: bool = True
) -> str:
    """The verdict of ``value`` against ``limit`` (at most, or at least); a miss says by how
    much. NaN (not measured) is a miss."""
    if math.isnan(value):
        return verdict(False, "not measured")
    if value <= limit if at_most else value >= limit:
        return verdict(True)
    ratio = value / limit if limit else math.inf
    return verdict(False, f"by {show(abs(value - limit))}, {ratio:.2f}× the target")


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """While measuring: this process plays Slack and ZStack and times the bot, and its own
    garbage collector's pauses, which grow with the emulator's records of every call, are not
    the bot's latency. Collect first, then no collection until the measurement ends."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def ms(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:.1f} ms"


def secs(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds:.2f} s"


# The performance targets, by number (README → Performance): the table's "Target" column.
TARGETS = (
    "1 CPU per /clone-model ≤ 4 ms",
    "2 acks first at 16 in flight (ack p99 ≤ 3×, throughput ≥ 0.5× bare Bolt, views.open < 3 s)",
    "3 burst: command → filled form p99 ≤ 2.5 s",
    "5 with Slack's limits: job done → DM p99 ≤ 5 s, every notice and final card exactly once",
    "6 without limits: job done → DM p99 ≤ 1.5 s (webhooks), ≤ the poll cap (polling)",
    "7 lifecycle cost per request; RSS with 10,000 tracked jobs ≤ 150 MB",
)


def markdown_table(rows: Iterable[Row]) -> str:
    rows = list(rows)
    met = sum("✅" in r.verdict for r in rows)
    missed = sum("❌" in r.verdict for r in rows)
    lines = [
        "Targets: " + "; ".join(TARGETS) + ".",
        "",
        "| Target | Benchmark | Metric | Bot | Baseline / target | Verdict |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.target} | {r.bench} | {r.metric} | {r.bot} | {r.baseline} | {r.verdict} |"
        for r in rows
    ]
    lines += ["", f"{met} met, {missed} missed."]
    return "\n".join(lines)


def machine() -> str:
    """``nproc``, CPU model, memory, Python: where the figures came from."""
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f", {int(line.split()[1]) / 1024 / 1024:.1f} GiB RAM"
                break
    py = ".".join(str(p) for p in sys.version_info[:3])
    return f"{os.cpu_count()} CPU ({cpu}){memory}, Python {py}, {sys.platform}"


def clean_environment() -> None:
    """No developer token or setting leaks into the benchmark or the processes it starts."""
    for name in list(os.environ):
        if name.startswith(_OUR_PREFIXES):
            del os.environ[name]


# --- processes -----------------------------------------------------------------------------------


def rss_bytes(pid: int) -> int:
    """Resident set size of a process (Linux ``/proc``; psutil elsewhere, if installed)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    import psutil  # only where /proc is missing

    return int(psutil.Process(pid).memory_info().rss)


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU time of a process so far (this process when ``pid`` is None)."""
    if pid is None:
        times = os.times()
        return times.user + times.system
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class ServerProcess:
    """A server in its own process, on a fixed loopback port, started with a clean environment
    in an empty directory (no ``.env`` from the work tree); ``start()`` returns its start-up time
    (spawn to the first ``200`` from ``/healthz``)."""

    def __init__(self, argv: Sequence[str], *, env: dict[str, str], port: int, log: Path) -> None:
        self.argv = list(argv)
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        self._env = env
        self._proc: subprocess.Popen[bytes] | None = None
        self.startup_s: float | None = None
        self._cwd = tempfile.mkdtemp(prefix="bench-cwd-")

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    async def start(self) -> float:
        env = {k: v for k, v in os.environ.items() if not k.startswith(_OUR_PREFIXES)}
        env.update(self._env)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        with self.log.open("ab") as sink:
            started = time.perf_counter()
            self._proc = subprocess.Popen(
                self.argv, env=env, cwd=self._cwd, stdout=sink, stderr=subprocess.STDOUT
            )
        timeout = aiohttp.ClientTimeout(total=1.0)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            while time.perf_counter() - started < START_TIMEOUT_S:
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with http.get(f"{self.url}/healthz") as rsp:
                        if rsp.status == 200:
                            self.startup_s = time.perf_counter() - started
                            return self.startup_s
                if self._proc.poll() is not None:
                    raise RuntimeError(f"{self.argv} exited:\n{self.log_tail()}")
                await asyncio.sleep(0.01)
        self.stop()
        raise RuntimeError(f"{self.argv} did not answer /healthz:\n{self.log_tail()}")

    def rss(self) -> int:
        return rss_bytes(self.pid)

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def profile(self, name: str, seconds: float) -> subprocess.Popen[bytes] | None:
        """With ``--profile DIR``: ``py-spy record`` this process for ``seconds`` (in the
        background) into ``DIR/name.txt`` as collapsed stacks; ``None`` otherwise."""
        directory = PROFILE.get("dir")
        if directory is None:
            return None
        directory.mkdir(parents=True, exist_ok=True)
        spy = Path(sys.executable).with_name("py-spy")
        argv = [str(spy) if spy.exists() else "py-spy", "record", "-p", str(self.pid)]
        argv += ["-d", str(max(1, round(seconds))), "-r", "200", "-f", "raw"]
        argv += ["-o", str(directory / f"{name}.txt")]
        return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


# --- the stack the bot talks to ------------------------------------------------------------------


def bench_users(count: int) -> list[str]:
    """Slack user ids of extra people in the emulator's workspace (all in #general)."""
    return [f"U0B{i:05d}" for i in range(count)]


@dataclass
class Tools:
    """The bot's own stores and clients, in the benchmark process, for fast set-up."""

    settings: Settings
    redis: RedisHandle
    zstack: ZStackClient
    sessions: SessionService
    requests: RequestStore
    web: aiohttp.ClientSession

    async def aclose(self) -> None:
        await self.zstack.aclose()
        await self.redis.aclose()
        await self.web.close()

    @property
    def slack(self) -> Any:
        return build_web_client(self.settings, session=self.web)

    async def login(self, users: Sequence[str], concurrency: int = 32) -> None:
        """Log ``users`` in to ZStack as alice (the bot's own SessionService: the same records)."""
        creds = AccountLogin(account_name=ACCOUNT, password_sha512=sha512_hex(PASSWORD))
        limit = asyncio.Semaphore(concurrency)

        async def one(user: str) -> None:
            async with limit:
                await self.sessions.login(TEAM, user, creds)

        await asyncio.gather(*(one(u) for u in users))


@dataclass
class Stack:
    """Redis (flushed), a fresh simulator and a fresh emulator; ``start_bot()`` adds the bot."""

    redis_server: RedisServer
    workdir: Path
    users: int = 0
    sim: SimServer = field(init=False)
    emu: SlackEmulator = field(init=False)
    bots: list[ServerProcess] = field(default_factory=list)
    _exit: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)

    async def __aenter__(self) -> Stack:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.sync_redis() as client:
            client.flushall()
            client.config_resetstat()
        config = SimConfig(max_sessions=1_000_000)
        self.sim = await self._exit.enter_async_context(SimServer("127.0.0.1", 0, config=config))
        workspace = default_workspace()
        for user in bench_users(self.users):
            workspace.add_user(User(user, user.lower(), f"Bench {user}"))
            workspace.channels[GENERAL].members.add(user)
        self.emu = await self._exit.enter_async_context(
            SlackEmulator(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN, workspace=workspace)
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        for bot in self.bots:
            bot.stop()
        await self._exit.aclose()

    def sync_redis(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.redis_server.port, socket_timeout=30)

    def settings_fields(self, **overrides: Any) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "slack_bot_token": BOT_TOKEN,
            "slack_signing_secret": SIGNING_SECRET,
            "slack_api_url": self.emu.api_url,
            "zstack_url": self.sim.url,
            "redis_url": self.redis_server.url,
            "session_key": SESSION_KEY,
            "data_dir": str(self.workdir / "data"),
            "approval_channel": APPROVALS,
            "poll_initial_s": POLL_INITIAL_S,
            "poll_max_s": POLL_MAX_S,
            "log_format": "json",
            "log_level": "INFO",
            # The emulator enforces no rate limits unless a benchmark turns them on (and this).
            "slack_pace": False,
        }
        fields.update(overrides)
        return fields

    def settings(self, **overrides: Any) -> Settings:
        return Settings(_env_file=None, **self.settings_fields(**overrides))  # type: ignore[call-arg]

    def environment(self, port: int, **overrides: Any) -> dict[str, str]:
        """The bot's settings as the environment ``python -m bot run`` reads (DESIGN §6)."""
        names = {
            name: alias.choices[0]
            for name, info in Settings.model_fields.items()
            if (alias := info.validation_alias) is not None and hasattr(alias, "choices")
        }
        fields = self.settings_fields(**overrides)
        env = {names[k]: str(v) for k, v in fields.items() if v is not None}
        env["CLONEBOT_HOST"] = "127.0.0.1"
        env["CLONEBOT_PORT"] = str(port)
        return env

    async def start_bot(
        self, name: str = "bot", *, webhooks: bool = False, **overrides: Any
    ) -> ServerProcess:
        """``python -m bot run`` on a free port; the emulator's Request URL points at it.

        ``webhooks``: the bot's public URL is its own listener, so ZStack calls it back.
        """
        port = free_port()
        if webhooks:
            overrides["public_url"] = f"http://127.0.0.1:{port}"
        bot = ServerProcess(
            [sys.executable, "-m", "bot", "run"],
            env=self.environment(port, **overrides),
            port=port,
            log=self.workdir / f"{name}.log",
        )
        await bot.start()
        self.bots.append(bot)
        self.emu.app_url = f"{bot.url}/slack/events"
        return bot

    async def start_bare(self) -> ServerProcess:
        """The bare Bolt baseline (``tests.bench.bare``) on a free port."""
        port = free_port()
        bare = ServerProcess(
            [sys.executable, "-m", "tests.bench.bare"],
            env=self.environment(port),
            port=port,
            log=self.workdir / "bare.log",
        )
        await bare.start()
        self.bots.append(bare)
        return bare

    @contextlib.asynccontextmanager
    async def tools(self, **overrides: Any) -> AsyncIterator[Tools]:
        settings = self.settings(**overrides)
        box = await aload_secret_box(settings)
        handle = await connect_redis(settings)
        zstack = zstack_client_for(settings)
        store = SessionStore(handle, box, prefix=settings.key_prefix)
        tools = Tools(
            settings=settings,
            redis=handle,
            zstack=zstack,
            sessions=SessionService(store=store, zstack=zstack),
            requests=RequestStore(handle),
            web=aiohttp.ClientSession(),
        )
        try:
            yield tools
        finally:
            await tools.aclose()

    def sim_requests(self) -> int:
        """Every ZStack API request the simulator has answered so far."""
        counts = self.sim.state.counters()["requests_by_operation"]
        return int(sum(counts.values()))

    async def quiet(self, *, idle_s: float = 0.5, limit_s: float = 30.0) -> None:
        """Wait until the bot stops calling the emulator (its background work is done)."""
        deadline = time.monotonic() + limit_s
        seen = -1
        while time.monotonic() < deadline:
            now = len(self.emu.state.api_calls)
            if now == seen:
                return
            seen = now
            await asyncio.sleep(idle_s)


def command_stats(client: redis.Redis) -> dict[str, int]:
    """``INFO commandstats`` as {command: calls} (commands run inside Lua scripts included)."""
    info = client.info("commandstats")
    return {
        str(name).removeprefix("cmdstat_"): int(value["calls"])
        for name, value in info.items()
        if isinstance(value, dict) and "calls" in value
    }
