"""``clone-bot sandbox``: the whole product on loopback, no accounts needed.

:class:`Sandbox` starts the ZStack simulator, the Slack emulator with its web page, and the bot
(with an embedded Redis) wired to all three — HTTP mode by default, Socket Mode with
``socket_mode=True`` — on ``port`` (the page), ``port + 1`` (ZStack) and ``port + 2`` (the bot);
``port=0`` picks three free ports (tests). Everything lives in its data dir: the Redis files, the
session key, and JSON snapshots of the emulator's workspace and the simulator's state, saved when
they change (debounced, off the event loop, atomically) and loaded at start, so a restart resumes
where it was; ``reset=True`` wipes the dir first. :func:`main` is the command: it prints the URL and
the demo identities and stops cleanly on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from cryptography.fernet import Fernet

from bot.config import Settings
from bot.errors import BotError
from bot.runtime import Runtime
from bot.sandbox.slack_emulator import Login, Person, SlackEmulator, Welcome, default_workspace
from bot.sandbox.slack_emulator.workspace import (
    APPROVER_1,
    APPROVER_2,
    APPROVERS_GROUP,
    OUTSIDER,
    REQUESTER,
)
from bot.sandbox.zstack_sim import SimServer
from bot.sandbox.zstack_sim.seed import DEMO_ACCOUNTS, DEMO_USERS, DEMO_VIRTUAL_IDS

logger = logging.getLogger(__name__)

SIGNING_SECRET = "sandbox-signing-secret"
BOT_TOKEN = "xoxb-sandbox-bot-token"
APP_TOKEN = "xapp-1-sandbox-app-token"
APPROVAL_CHANNEL = "C0APPROVE"
HOST = "127.0.0.1"
DEFAULT_PORT = 8000

EMULATOR_SNAPSHOT = "slack-emulator.json"
SIMULATOR_SNAPSHOT = "zstack-simulator.json"
LOCK_FILE = "sandbox.lock"
SESSION_KEY_FILE = "sandbox-session.key"

JSON = dict[str, Any]


class SandboxError(Exception):
    """Why the sandbox cannot start, in one line for the person who ran it."""


def sandbox_data_dir(settings_data_dir: Path) -> Path:
    """Where ``clone-bot sandbox`` keeps its data: ``<CLONEBOT_DATA_DIR>/sandbox``."""
    return settings_data_dir / "sandbox"


# -- files in the data dir (blocking; called through asyncio.to_thread) ------------------------


def _session_key(data_dir: Path) -> str:
    """The sandbox's own Fernet key, kept beside its data so a restart can still decrypt."""
    path = data_dir / SESSION_KEY_FILE
    if path.exists():
        return path.read_text().strip()
    key = Fernet.generate_key().decode()
    path.write_text(key)
    path.chmod(0o600)
    return key


def _prepare_dir(data_dir: Path, reset: bool) -> IO[str]:
    """Create and lock the data dir for this process, then (``reset``) empty it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    lock = (data_dir / LOCK_FILE).open("a")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        lock.close()
        raise SandboxError(
            f"another sandbox is running with the data dir {data_dir}; stop it first"
        ) from exc
    if reset:
        for child in data_dir.iterdir():
            if child.name == LOCK_FILE:
                continue
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    return lock


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so a reader (or a crash) never sees half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_snapshot(path: Path) -> JSON | None:
    """The JSON object saved at ``path``; ``None`` when there is none or it cannot be read (the
    unreadable file is set aside as ``*.bad`` and a warning logged)."""
    try:
        data = json.loads(path.read_bytes())
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        return data
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        _set_aside(path, exc)
        return None


def _set_aside(path: Path, problem: Exception) -> None:
    bad = path.with_name(path.name + ".bad")
    with contextlib.suppress(OSError):
        os.replace(path, bad)
    logger.warning(
        "sandbox: could not use %s (%s); starting that part afresh (old file kept as %s)",
        path,
        problem,
        bad.name,
    )


# -- saving snapshots ----------------------------------------------------------------------------


class Snapshots:
    """Saves each source's JSON to its file when it changed, debounced and off the event loop.

    ``sources`` are ``(path, dump)`` pairs; ``dump()`` runs on the loop and its JSON is written by
    a worker thread through :func:`write_atomic`, only when it differs from what was last written.
    The loop wakes on ``changed(timeout)`` returning (a change, or ``interval_s`` passing — for
    sources that do not announce changes), then waits ``delay_s`` so a burst is saved once;
    ``version()`` (a counter bumped on every change) lets it notice changes made while it was
    saving.
    :meth:`close` stops the loop without interrupting a write, then saves a last time.
    """

    def __init__(
        self,
        sources: list[tuple[Path, Callable[[], JSON]]],
        *,
        changed: Callable[[float], Awaitable[None]],
        version: Callable[[], int] = lambda: 0,
        delay_s: float = 0.3,
        interval_s: float = 1.0,
    ) -> None:
        self._sources = sources
        self._changed = changed
        self._version = version
        self._delay_s = delay_s
        self._interval_s = interval_s
        self._last: dict[Path, bytes] = {}
        self._task: asyncio.Task[None] | None = None
        self._writing = False
        self._closing = False
        self._warned: set[Path] = set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def mark_saved(self, path: Path, data: JSON) -> None:
        """Record ``data`` as what ``path`` holds (loaded at start), so it is not rewritten."""
        self._last[path] = _encode(data)

    async def _run(self) -> None:
        saved_version = self._version()
        while not self._closing:
            if self._version() == saved_version:
                await self._changed(self._interval_s)
            await asyncio.sleep(self._delay_s)
            saved_version = self._version()
            await self.save()

    async def save(self) -> int:
        """Write every source whose JSON changed; how many files were written."""
        written = 0
        for path, dump in self._sources:
            try:
                data = _encode(dump())
            except Exception:  # a bug in a dump must not stop the other source or the loop
                logger.exception("sandbox: could not serialise the state for %s", path.name)
                continue
            if self._last.get(path) == data:
                continue
            self._writing = True
            try:
                await asyncio.to_thread(write_atomic, path, data)
            except OSError as exc:
                if path not in self._warned:
                    logger.warning("sandbox: could not save %s: %s", path, exc)
                    self._warned.add(path)
                continue
            finally:
                self._writing = False
            self._warned.discard(path)
            self._last[path] = data
            written += 1
        return written

    async def close(self) -> None:
        self._closing = True
        task, self._task = self._task, None
        if task is not None:
            if not self._writing:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.save()


def _encode(data: JSON) -> bytes:
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


# -- the sandbox ---------------------------------------------------------------------------------

POLICY_FILE = Path(__file__).with_name("policy.yaml")
# The account that owns the example model service: the one the page's first step logs in as.
SUGGESTED_ACCOUNT = "alice"


def welcome() -> Welcome:
    """The page's welcome panel: the people as the bot sees them (the approvers are the
    ``CLONEBOT_APPROVERS`` group) and the simulator's demo logins, as the terminal lists them."""
    return Welcome(
        people=(
            Person(REQUESTER, "requester"),
            Person(APPROVER_1, "approver", group=APPROVERS_GROUP),
            Person(APPROVER_2, "approver", group=APPROVERS_GROUP),
            Person(OUTSIDER, "outsider"),
        ),
        logins=(
            *(
                Login("account", a.password, account=a.name, suggested=a.name == SUGGESTED_ACCOUNT)
                for a in DEMO_ACCOUNTS
            ),
            *(Login("iam_user", u.password, account=u.account, user=u.name) for u in DEMO_USERS),
            *(Login("iam2", v.password, user=v.name) for v in DEMO_VIRTUAL_IDS),
        ),
        source="example",
    )


@contextlib.contextmanager
def _binding(what: str, host: str, port: int) -> Iterator[None]:
    """Turn a failed bind into a one-line :class:`SandboxError`."""
    try:
        yield
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise SandboxError(
                f"port {port} on {host} is already in use (needed for {what}); stop what uses it "
                "or pick other ports with --port N (the sandbox uses N, N+1 and N+2)"
            ) from exc
        if exc.errno == errno.EACCES:
            raise SandboxError(
                f"no permission to listen on port {port} on {host} (for {what}); "
                "use --port with a port above 1023"
            ) from exc
        raise


class Sandbox:
    """``async with Sandbox(data_dir, port=0) as sb:`` runs the whole product; ``sb.url`` is the
    page, ``sb.zstack_url`` the simulator, ``sb.bot_url`` the bot's HTTP listener;
    ``sb.emulator``, ``sb.simulator`` and ``sb.runtime`` are the running parts."""

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int = DEFAULT_PORT,
        socket_mode: bool = False,
        reset: bool = False,
        host: str = HOST,
        save_delay_s: float = 0.3,
        save_interval_s: float = 1.0,
    ) -> None:
        self.data_dir = data_dir
        self.host = host
        self.socket_mode = socket_mode
        self.reset = reset
        self.ports = (port, port + 1, port + 2) if port else (0, 0, 0)
        self.save_delay_s = save_delay_s
        self.save_interval_s = save_interval_s
        self._stack = contextlib.AsyncExitStack()
        self._emulator: SlackEmulator | None = None
        self._simulator: SimServer | None = None
        self._runtime: Runtime | None = None
        self.snapshots: Snapshots | None = None
        self.resumed: list[str] = []  # which snapshots were loaded at start

    # -- the running parts -----------------------------------------------------------------------

    @property
    def emulator(self) -> SlackEmulator:
        if self._emulator is None:
            raise RuntimeError("the sandbox is not started")
        return self._emulator

    @property
    def simulator(self) -> SimServer:
        if self._simulator is None:
            raise RuntimeError("the sandbox is not started")
        return self._simulator

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            raise RuntimeError("the sandbox is not started")
        return self._runtime

    @property
    def url(self) -> str:
        """The page people open (no trailing slash)."""
        return self.emulator.url

    @property
    def zstack_url(self) -> str:
        return self.simulator.url

    @property
    def bot_url(self) -> str:
        return self.runtime.http_url or ""

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        try:
            await self._start()
        except BaseException:
            await self._stack.aclose()
            raise

    async def _start(self) -> None:
        stack = self._stack
        page_port, zstack_port, bot_port = self.ports
        lock = await asyncio.to_thread(_prepare_dir, self.data_dir, self.reset)
        stack.callback(lock.close)
        key = await asyncio.to_thread(_session_key, self.data_dir)
        emu_file = self.data_dir / EMULATOR_SNAPSHOT
        sim_file = self.data_dir / SIMULATOR_SNAPSHOT
        emu_saved = await asyncio.to_thread(read_snapshot, emu_file)
        sim_saved = await asyncio.to_thread(read_snapshot, sim_file)

        sim = SimServer(self.host, zstack_port)
        sim_saved = await self._resume(sim_file, sim_saved, sim.state.import_state)
        with _binding("the ZStack simulator", self.host, zstack_port):
            self._simulator = await stack.enter_async_context(sim)

        emu = SlackEmulator(
            self.host,
            page_port,
            signing_secret=SIGNING_SECRET,
            bot_token=BOT_TOKEN,
            app_token=APP_TOKEN,
            mode="socket" if self.socket_mode else "http",
            workspace=default_workspace(),
            zstack_control_url=f"{sim.url}/_sim",
            approval_channel=APPROVAL_CHANNEL,
            welcome=welcome(),
        )
        emu_saved = await self._resume(emu_file, emu_saved, emu.import_state)
        with _binding("the sandbox page", self.host, page_port):
            self._emulator = await stack.enter_async_context(emu)

        snapshots = Snapshots(
            [(emu_file, emu.export_state), (sim_file, sim.state.export_state)],
            changed=emu.state.wait_changed,
            version=lambda: emu.state.version,
            delay_s=self.save_delay_s,
            interval_s=self.save_interval_s,
        )
        for path, saved in ((emu_file, emu_saved), (sim_file, sim_saved)):
            if saved is not None:
                snapshots.mark_saved(path, saved)
        # Saved last thing on the way out: after the bot has stopped, before the servers stop.
        stack.push_async_callback(snapshots.close)
        self.snapshots = snapshots

        settings = Settings(
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=None if self.socket_mode else SIGNING_SECRET,
            slack_app_token=APP_TOKEN if self.socket_mode else None,
            slack_api_url=emu.api_url,
            zstack_url=sim.url,
            redis_url=None,
            data_dir=self.data_dir,
            session_key=key,
            approval_channel=APPROVAL_CHANNEL,
            # The page's people as it names them: avery and jordan approve, sam does not.
            approvers=[APPROVERS_GROUP],
            # Rules by risk: a 1-vCPU copy needs one approval, up to 4 vCPU jordan's (avery's
            # too after 10 minutes), more with a GPU or > 8 vCPU two, each approver proving
            # their ZStack login and writing a comment; waiting requests are reminded after
            # 5 minutes.
            policy_file=POLICY_FILE,
            poll_initial_s=0.5,
            poll_max_s=2.0,
        )
        try:
            runtime = await Runtime.start(settings)
        except BotError as exc:  # e.g. the embedded Redis cannot start
            raise SandboxError(str(exc)) from exc
        stack.push_async_callback(runtime.aclose)
        stack.push_async_callback(_stop_tracker, runtime)
        self._runtime = runtime
        with _binding("the bot", self.host, bot_port):
            await runtime.serve_http(self.host, bot_port)
        runtime.deps.webhooks.use_public_url(runtime.http_url)  # ZStack calls back, as in prod
        if self.socket_mode:
            await runtime.start_socket_mode()
        else:
            emu.app_url = f"{runtime.http_url}/slack/events"
        snapshots.start()

    async def _resume(
        self, path: Path, saved: JSON | None, load: Callable[[JSON], None]
    ) -> JSON | None:
        if saved is None:
            return None
        try:
            load(saved)
        except ValueError as exc:
            await asyncio.to_thread(_set_aside, path, exc)
            return None
        self.resumed.append(path.name)
        return saved

    async def aclose(self) -> None:
        """Stop the bot (draining its work), save the snapshots, stop the servers, unlock."""
        await self._stack.aclose()
        self._runtime = None
        self._emulator = None
        self._simulator = None

    async def __aenter__(self) -> Sandbox:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


async def _stop_tracker(runtime: Runtime) -> None:
    """Stop the bot's background loops first (the tracker stops gracefully, then cancels)."""
    if runtime.tracker is not None:
        await runtime.tracker.stop()


# -- the command ---------------------------------------------------------------------------------


async def run_sandbox(
    *,
    port: int = DEFAULT_PORT,
    reset: bool = False,
    socket_mode: bool = False,
    data_dir: Path,
) -> None:
    """Serve the sandbox until cancelled: the page on ``port``, ZStack on ``port + 1``, the bot
    on ``port + 2``; ``data_dir`` is the sandbox's own (see :func:`sandbox_data_dir`)."""
    async with Sandbox(data_dir, port=port, reset=reset, socket_mode=socket_mode) as sandbox:
        _announce(sandbox)
        await asyncio.Event().wait()


def main(
    *,
    port: int = DEFAULT_PORT,
    reset: bool = False,
    socket_mode: bool = False,
    data_dir: Path | None = None,
) -> int:
    """``clone-bot sandbox``: run until Ctrl-C or SIGTERM; 0 after a clean stop, 1 (with one line
    on stderr) when the sandbox cannot start."""
    data_dir = (data_dir or sandbox_data_dir(Settings.load().data_dir)).absolute()

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(
            run_sandbox(port=port, reset=reset, socket_mode=socket_mode, data_dir=data_dir)
        )
        stopping = False

        def stop() -> None:
            nonlocal stopping
            if stopping:
                print("  Still stopping…", flush=True)
                return
            stopping = True
            print("\n  Stopping the sandbox…", flush=True)
            task.cancel()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop)
        try:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    try:
        asyncio.run(serve())
    except SandboxError as exc:
        print(f"clone-bot sandbox: {exc}", file=sys.stderr)
        return 1
    print(f"  Sandbox stopped; its data is kept in {data_dir} (--reset starts clean).", flush=True)
    return 0


def _announce(sandbox: Sandbox) -> None:
    mode = "Socket Mode" if sandbox.socket_mode else "HTTP mode"
    resumed = "resumed from" if sandbox.resumed else "data in"
    lines = [
        "",
        f"  ZStack Clone Bot sandbox: open {sandbox.url}/",
        f"  ({mode}; ZStack simulator at {sandbox.zstack_url}; {resumed} {sandbox.data_dir})",
        "  People: riley (requester), avery and jordan (approvers), sam (outsider)",
        "  ZStack logins: "
        + ", ".join(f"account {a.name}/{a.password}" for a in DEMO_ACCOUNTS)
        + "; "
        + ", ".join(f"IAM user {u.account}/{u.name}/{u.password}" for u in DEMO_USERS)
        + "; "
        + ", ".join(f"IAM2 {v.name}/{v.password}" for v in DEMO_VIRTUAL_IDS),
        "  Try: /zstack login, then /clone-model example. Ctrl-C stops.",
        "",
    ]
    print("\n".join(lines), flush=True)
