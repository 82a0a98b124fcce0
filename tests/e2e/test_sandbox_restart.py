"""``clone-bot sandbox`` keeps its data: a restart resumes where it was, ``--reset`` starts clean.

The whole sandbox (embedded Redis, simulator, emulator, bot) runs on free ports with its data in
``tmp_path``; people act through the emulator's Python API, as in the other end-to-end tests.
"""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest

from bot.requests.model import CloneRequest, State
from bot.sandbox.launcher import (
    EMULATOR_SNAPSHOT,
    SIMULATOR_SNAPSHOT,
    Sandbox,
    SandboxError,
)
from tests.e2e.helpers import APPROVALS, APPROVER, GENERAL, REQUESTER, blocks_text, login, top_view
from tests.support import wait_until

pytestmark = pytest.mark.timeout(90)


async def request_clone(sandbox: Sandbox, name: str) -> CloneRequest:
    emu, bot = sandbox.emulator, sandbox.runtime
    await login(emu)
    await emu.slash_command(REQUESTER, GENERAL, "/clone-model", "example")
    view = await top_view(emu, REQUESTER, "clone_model", timeout=10)
    await emu.submit_view(
        REQUESTER, view.id, {"reason": {"value": "restart test"}, "name": {"value": name}}
    )
    card = await emu.wait_for(
        lambda: next((m for m in emu.state.messages(APPROVALS) if name in m.text), None)
    )
    for _ in range(100):
        request_id = await bot.deps.requests.by_thread(APPROVALS, card.ts)
        if request_id:
            return await bot.deps.requests.require(request_id)
        await asyncio.sleep(0.05)
    raise AssertionError("the card was never indexed")


async def wait_state(sandbox: Sandbox, request_id: str, state: State) -> CloneRequest:
    for _ in range(300):
        record = await sandbox.runtime.deps.requests.require(request_id)
        if record.state == state:
            return record
        await asyncio.sleep(0.05)
    raise AssertionError(f"{request_id} is {record.state}, not {state}")


async def wait_saved(sandbox: Sandbox) -> None:
    """Let the debounced saver run, then force a save: the files match the live state."""
    assert sandbox.snapshots is not None
    await sandbox.snapshots.save()


async def test_a_pending_request_survives_a_restart_and_completes(tmp_path: Path) -> None:
    data = tmp_path / "sandbox"
    async with Sandbox(data, port=0, save_delay_s=0.05) as first:
        assert first.resumed == []
        record = await request_clone(first, "survivor")
        assert record.state == State.PENDING
        ws_before = [m.ts for m in first.emulator.state.messages(APPROVALS)]
        snapshot = data / EMULATOR_SNAPSHOT
        # The debounced saver writes without being asked.
        await wait_until(lambda: snapshot.exists() and "survivor" in snapshot.read_text())
        saved = json.loads(snapshot.read_text())
        assert any("survivor" in m["text"] for m in saved["messages"])
    for name in (EMULATOR_SNAPSHOT, SIMULATOR_SNAPSHOT):
        assert (data / name).stat().st_size > 0
    assert not list(data.glob(".*.tmp"))  # written through a temp file, renamed into place

    async with Sandbox(data, port=0, save_delay_s=0.05) as second:
        assert sorted(second.resumed) == sorted([EMULATOR_SNAPSHOT, SIMULATOR_SNAPSHOT])
        emu = second.emulator
        # The workspace is back: the card, its thread and the requester's DM.
        assert [m.ts for m in emu.state.messages(APPROVALS)] == ws_before
        card = emu.state.message(APPROVALS, record.card_ts or "")
        assert card is not None and "request_approve" in blocks_text(card.blocks)
        # The requester's ZStack session is still known to the simulator, so approving works.
        delivery = await emu.click(
            APPROVER, channel=APPROVALS, ts=card.ts, action_id="request_approve"
        )
        assert delivery.status == 200
        done = await wait_state(second, record.id, State.SUCCEEDED)
        assert done.result is not None and done.result.name == "survivor"
        await emu.wait_for(
            lambda: any(
                "Cloned: survivor" in m.text + blocks_text(m.blocks)
                for m in emu.state.thread(APPROVALS, card.ts)
            ),
            timeout=10,
        )
        services = second.simulator.state.snapshot()["model_services"]
        assert any(s["inventory"]["name"] == "survivor" for s in services)
        # New messages sort after the restored ones.
        assert float(emu.state.thread(APPROVALS, card.ts)[-1].ts) > float(card.ts)
        await wait_saved(second)

    async with Sandbox(data, port=0) as third:
        # The clone made after the first restart is remembered too.
        names = [s["inventory"]["name"] for s in third.simulator.state.snapshot()["model_services"]]
        assert "survivor" in names
        done = await third.runtime.deps.requests.require(record.id)
        assert done.state == State.SUCCEEDED

    async with Sandbox(data, port=0, reset=True) as clean:
        assert clean.resumed == []
        assert clean.emulator.state.messages(APPROVALS) == []
        names = [s["inventory"]["name"] for s in clean.simulator.state.snapshot()["model_services"]]
        assert "survivor" not in names
        assert await clean.runtime.deps.requests.by_thread(APPROVALS, record.card_ts or "") is None


async def test_a_corrupt_snapshot_is_set_aside_and_the_sandbox_starts(tmp_path: Path) -> None:
    data = tmp_path / "sandbox"
    data.mkdir()
    (data / EMULATOR_SNAPSHOT).write_text('{"format": 1, "channels": [')
    (data / SIMULATOR_SNAPSHOT).write_text('{"format": 999}')
    async with Sandbox(data, port=0) as sandbox:
        assert sandbox.resumed == []
        assert (data / (EMULATOR_SNAPSHOT + ".bad")).exists()
        assert (data / (SIMULATOR_SNAPSHOT + ".bad")).exists()
        await login(sandbox.emulator)  # and it works


async def test_a_taken_port_is_one_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SandboxError, match=r"port \d+ on 127.0.0.1 is already in use"):
            async with Sandbox(tmp_path / "a", port=port):
                pass
    # Everything it had started was stopped: the data dir is unlocked for the next one.
    async with Sandbox(tmp_path / "a", port=0):
        pass


async def test_two_sandboxes_cannot_share_a_data_dir(tmp_path: Path) -> None:
    async with Sandbox(tmp_path / "d", port=0) as running:
        assert running.snapshots is not None
        await running.snapshots.save()
        before = sorted(p.name for p in (tmp_path / "d").iterdir())
        for reset in (False, True):  # --reset must not wipe a running sandbox's data either
            with pytest.raises(SandboxError, match="another sandbox is running"):
                async with Sandbox(tmp_path / "d", port=0, reset=reset):
                    pass
        assert sorted(p.name for p in (tmp_path / "d").iterdir()) == before
        assert EMULATOR_SNAPSHOT in before and "appendonly.aof" in before


async def test_socket_mode_round_trip(tmp_path: Path) -> None:
    async with Sandbox(tmp_path / "s", port=0, socket_mode=True) as sandbox:
        await sandbox.emulator.wait_socket_connections(1, timeout=10)
        await login(sandbox.emulator)
        assert sandbox.emulator.state.deliveries[-1].via == "socket"
