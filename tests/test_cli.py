from __future__ import annotations

import contextlib
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import httpx
import pytest
from cryptography.fernet import Fernet

from bot.cli import NO_SLACK, main
from tests.fixtures.redis_server import RedisServer, free_port, sync_client


def test_run_without_slack_credentials_points_to_the_sandbox(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["run"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "no Slack credentials" in err[0] and "clone-bot sandbox" in err[0]


def test_bad_configuration_is_one_line_per_problem(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLONEBOT_PORT", "x")
    monkeypatch.setenv("ZSTACK_URL", "nope")
    assert main(["run"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2
    assert all(line.startswith("clone-bot: configuration: ") for line in err)
    assert "Traceback" not in "".join(err)


# --- `clone-bot run` as an operator starts it: a separate process, a clean environment -------

BOT_TOKEN = "xoxb-startup-test"
SECRET = "startup-signing-secret"
CONFIG = "clone-bot: configuration: "


def bot_env(**values: str) -> dict[str, str]:
    """The environment without any setting of ours, plus ``values``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "ZSTACK_", "CLONEBOT_", "REDIS_"))
    }
    # Slack is never called at start; should it be, the call goes nowhere.
    env["SLACK_API_URL"] = "http://127.0.0.1:9/api/"
    return env | values


def run_bot(cwd: Path, **values: str) -> subprocess.CompletedProcess[str]:
    cwd.mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        cwd=cwd,
        env=bot_env(**values),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "line"),
    [
        (
            {"SLACK_BOT_TOKEN": BOT_TOKEN},
            "clone-bot: SLACK_SIGNING_SECRET is missing: HTTP mode needs it with SLACK_BOT_TOKEN "
            "(or set SLACK_APP_TOKEN for Socket Mode)",
        ),
        (
            {"SLACK_APP_TOKEN": "xapp-1-startup"},
            "clone-bot: SLACK_BOT_TOKEN is missing: Socket Mode needs the bot token (xoxb-…) "
            "with SLACK_APP_TOKEN",
        ),
        (
            {"SLACK_SIGNING_SECRET": SECRET},
            "clone-bot: SLACK_BOT_TOKEN is missing: HTTP mode needs the bot token (xoxb-…) "
            "with SLACK_SIGNING_SECRET",
        ),
        (
            {"SLACK_SIGNING_SECRET": SECRET, "SLACK_APP_TOKEN": "xapp-1-startup"},
            "clone-bot: SLACK_BOT_TOKEN is missing: both Socket Mode (SLACK_APP_TOKEN) and HTTP "
            "mode (SLACK_SIGNING_SECRET) need the bot token (xoxb-…) too",
        ),
        ({}, NO_SLACK),
    ],
    ids=["bot-token-alone", "app-token-alone", "secret-alone", "no-bot-token", "none"],
)
def test_incomplete_slack_credentials_say_what_is_missing(
    tmp_path: Path, env: dict[str, str], line: str
) -> None:
    done = run_bot(tmp_path, **env)
    assert (done.returncode, done.stdout, done.stderr) == (2, "", line + "\n")
    assert list(tmp_path.iterdir()) == []


def test_bad_settings_are_refused_together_before_anything_is_written(tmp_path: Path) -> None:
    done = run_bot(
        tmp_path,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SECRET,
        CLONEBOT_APPROVERS="U0APP1,avery,@jordan",
        REDIS_URL="http://:hunter2@cache.example:6379/0",
        CLONEBOT_PORT="eighty",
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines() == [
        CONFIG + "REDIS_URL: unknown scheme http://: use redis://, rediss://, unix://, "
        "redis+sentinel:// or redis+cluster://",
        CONFIG + "CLONEBOT_APPROVERS: not Slack IDs: avery, @jordan (use member IDs U… or W…, "
        "from the profile's ⋮ → Copy member ID, and user-group IDs S…, not names)",
        CONFIG + "CLONEBOT_PORT: Input should be a valid integer, unable to parse string as an "
        "integer",
    ]
    assert "hunter2" not in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_malformed_redis_url_is_refused_before_the_session_key_is_written(
    tmp_path: Path,
) -> None:
    # The scheme is right, the port is not: the store's own parser says so, still first.
    done = run_bot(
        tmp_path,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SECRET,
        REDIS_URL="redis://:hunter2@cache.example:99999/0",
    )
    assert (done.returncode, done.stdout, done.stderr) == (
        2,
        "",
        CONFIG + "REDIS_URL (redis://:***@cache.example:99999/0): Port out of range 0-65535\n",
    )
    assert list(tmp_path.iterdir()) == []


class Lines:
    """A process's stderr, line by line, read in a thread so the test can wait on a line."""

    def __init__(self, stream: IO[str]) -> None:
        self.seen: list[str] = []
        self._stream = stream
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def close(self) -> None:
        """After the process ended: the reader has met the end of the stream."""
        self._thread.join(timeout=10)
        self._stream.close()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def until(self, text: str, timeout_s: float = 30.0) -> list[str]:
        """Every line up to and with the first one holding ``text`` (since the last call)."""
        deadline = time.monotonic() + timeout_s
        lines: list[str] = []
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no line with {text!r} in time; got {lines}") from None
            if line is None:
                raise AssertionError(f"stderr closed before {text!r}; got {lines}")
            lines.append(line)
            self.seen.append(line)
            if text in line:
                return lines


class RefusingListener:
    """A TCP port that accepts and at once closes every connection (so a Redis client's every
    try fails) and counts them: the retries can be waited for."""

    def __init__(self, port: int) -> None:
        self.accepted = 0
        self._sock = socket.create_server(("127.0.0.1", port))
        self._sock.settimeout(0.1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            conn.close()
            self.accepted += 1

    def wait_for(self, connections: int, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while self.accepted < connections:
            assert time.monotonic() < deadline, f"only {self.accepted} connections"
            time.sleep(0.05)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._sock.close()


@pytest.mark.timeout(90)
def test_an_unreachable_redis_is_one_line_then_quiet_retries_until_it_answers(
    tmp_path: Path,
) -> None:
    redis_port, http_port = free_port(), free_port()
    listener = RefusingListener(redis_port)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        cwd=tmp_path,
        env=bot_env(
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=SECRET,
            CLONEBOT_SESSION_KEY=Fernet.generate_key().decode(),
            REDIS_URL=f"redis://:hunter2@127.0.0.1:{redis_port}/0",
            CLONEBOT_PORT=str(http_port),
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    server = RedisServer(tmp_path / "redis", port=redis_port)
    assert proc.stderr is not None
    lines = Lines(proc.stderr)
    try:
        first = lines.until("Redis at")
        assert len(first) == 1
        assert first[0].endswith(
            f"Redis at 127.0.0.1:{redis_port} cannot be reached; the bot starts when it "
            "answers (retrying quietly) [bot.store.handle]"
        )
        # Several tries, each of them failing (redis-py reconnects a few times per try).
        listener.wait_for(connections=12)
        listener.close()
        server.start()
        # Not a line between the warning and the one saying Redis answers.
        assert lines.until("answers now") == [
            line for line in lines.seen[1:] if "answers now" in line
        ]
        lines.until("listening")
        ready = httpx.get(f"http://127.0.0.1:{http_port}/readyz", timeout=5).json()
        assert ready["checks"]["redis"] is True  # (no ZStack here: the bot is not ready)
        assert not any("hunter2" in line or "Traceback" in line for line in lines.seen)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            lines.close()
            server.stop()
            with contextlib.suppress(OSError):
                listener.close()


def test_a_redis_that_refuses_the_password_is_one_line_at_once(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        with sync_client(server.port) as admin:
            admin.config_set("requirepass", "the-right-one")
        done = run_bot(
            tmp_path / "bot",
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=SECRET,
            CLONEBOT_SESSION_KEY=Fernet.generate_key().decode(),
            REDIS_URL=f"redis://:hunter2@127.0.0.1:{server.port}/0",
        )
    finally:
        server.stop()
    assert (done.returncode, done.stdout, done.stderr) == (
        1,
        "",
        f"clone-bot: Redis at 127.0.0.1:{server.port} refused the credentials in REDIS_URL\n",
    )
