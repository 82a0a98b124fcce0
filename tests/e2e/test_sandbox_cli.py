"""``clone-bot sandbox`` as a person runs it: a separate process that prints the URL and the demo
identities, serves the page, stops cleanly on Ctrl-C (SIGINT) or SIGTERM, resumes from its data dir
on the next start, and says in one line when its port is taken."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.timeout(90)


def free_base_port() -> int:
    """A port N with N, N+1 and N+2 free on loopback (for now)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = int(probe.getsockname()[1])
        if base > 65000:
            continue
        try:
            for port in (base, base + 1, base + 2):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise AssertionError("no three free ports in a row")


def start(cwd: Path, *args: str) -> subprocess.Popen[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "ZSTACK_", "CLONEBOT_", "REDIS_"))
    }
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "sandbox", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_up(proc: subprocess.Popen[str], url: str) -> None:
    """Until the page answers and the bot is wired to it."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            page = httpx.get(url, timeout=1)
            info = httpx.get(f"{url}_emu/info", timeout=1).json()
            if page.status_code == 200 and info["app_url"]:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"the sandbox did not come up: {proc.communicate()}")


def stop(proc: subprocess.Popen[str], sig: signal.Signals) -> tuple[int, str, str]:
    proc.send_signal(sig)
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"the sandbox did not stop on {sig.name}: {out}\n{err}") from None
    return proc.returncode, out, err


def test_starts_prints_the_url_and_stops_cleanly_then_resumes(tmp_path: Path) -> None:
    port = free_base_port()
    url = f"http://127.0.0.1:{port}/"
    proc = start(tmp_path, "--port", str(port))
    wait_up(proc, url)
    info = httpx.get(f"{url}_emu/info", timeout=5).json()
    assert info["app_url"] == f"http://127.0.0.1:{port + 2}/slack/events"
    assert httpx.get(f"http://127.0.0.1:{port + 1}/_sim/state", timeout=5).status_code == 200
    code, out, err = stop(proc, signal.SIGINT)
    assert code == 0, err
    assert f"ZStack Clone Bot sandbox: open {url}" in out
    assert "riley (requester)" in out and "account alice/alice-pass" in out
    assert "Sandbox stopped" in out
    assert "Traceback" not in err and "Error" not in err, err
    data = tmp_path / ".clonebot" / "sandbox"
    assert (data / "slack-emulator.json").is_file() and (data / "zstack-simulator.json").is_file()

    again = start(tmp_path, "--port", str(port))
    wait_up(again, url)
    code, out, err = stop(again, signal.SIGTERM)
    assert code == 0 and "Traceback" not in err, err
    assert "resumed from" in out

    clean = start(tmp_path, "--port", str(port), "--reset")
    wait_up(clean, url)
    code, out, err = stop(clean, signal.SIGINT)
    assert code == 0 and "resumed from" not in out and "data in" in out, out


def test_a_taken_port_is_one_line_on_stderr(tmp_path: Path) -> None:
    port = free_base_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        proc = start(tmp_path, "--port", str(port))
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    lines = [line for line in err.splitlines() if line.startswith("clone-bot")]
    assert lines == [
        f"clone-bot sandbox: port {port} on 127.0.0.1 is already in use (needed for the sandbox "
        "page); stop what uses it or pick other ports with --port N (the sandbox uses N, N+1 and "
        "N+2)"
    ]
    assert "Traceback" not in err
