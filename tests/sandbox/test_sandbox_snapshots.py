"""What the sandbox saves across restarts: the emulator's workspace and the simulator's state
(``export_state``/``import_state``), and how the launcher writes them (atomic, only on change)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.sandbox.launcher import Snapshots, read_snapshot, write_atomic
from bot.sandbox.slack_emulator import ManualClock, Message, default_workspace
from bot.sandbox.slack_emulator.records import OpenView
from bot.sandbox.slack_emulator.state import EmulatorState
from bot.sandbox.zstack_sim import SimServer
from bot.sandbox.zstack_sim.saved import RESTART_DETAILS
from bot.sandbox.zstack_sim.seed import EXAMPLE_SERVICE_UUID
from tests.fixtures.zstack import job_path, oauth, wait_job
from tests.support import wait_until

Login = Callable[[str, str], Awaitable[str]]
CLONE = f"/zstack/v1/ai/model-services/{EXAMPLE_SERVICE_UUID}"


# -- the emulator ----------------------------------------------------------------------------------


def busy_state() -> EmulatorState:
    state = EmulatorState(default_workspace(), ManualClock(wall=1_700_000_000.0))
    card = state.add_message(
        Message(
            "C0APPROVE",
            state.next_ts(),
            "card",
            "U0BOT",
            blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "*card*"}}],
            bot_id="B0BOT",
            metadata={"event_type": "clone", "event_payload": {"id": "CR-1"}},
        )
    )
    state.add_message(
        Message("C0APPROVE", state.next_ts(), "first reply", "U0APP1", thread_ts=card.ts)
    )
    state.add_message(
        Message("C0APPROVE", state.next_ts(), "broadcast", "U0BOT", thread_ts=card.ts),
        broadcast=True,
    )
    dm = state.workspace.im_for("U0REQ")
    state.add_message(Message(dm.id, state.next_ts(), "your clone is done", "U0BOT"))
    state.add_ephemeral(
        Message("C0GENERAL", state.next_ts(), "only you", "U0BOT", ephemeral_to="U0REQ")
    )
    state.views["V1"] = OpenView("V1", "U0REQ", {"type": "modal"}, "h", "T", "A", "B", "V1")
    state.stacks["U0REQ"] = ["V1"]
    return state


def test_the_workspace_round_trips_through_json() -> None:
    before = busy_state()
    saved = json.loads(json.dumps(before.export_state()))
    after = EmulatorState(default_workspace(), ManualClock(wall=1_600_000_000.0))
    after.import_state(saved)

    assert after.snapshot()["channels"] == before.snapshot()["channels"]
    card = after.messages("C0APPROVE")[0]
    assert [r.text for r in after.thread("C0APPROVE", card.ts)] == ["first reply", "broadcast"]
    # A broadcast is one message, in the thread and in the channel.
    assert after.messages("C0APPROVE")[1] is after.thread("C0APPROVE", card.ts)[1]
    assert card.metadata == {"event_type": "clone", "event_payload": {"id": "CR-1"}}
    assert [m.text for m in after.dms("U0REQ")] == ["your clone is done"]
    assert after.workspace.channels["D0REQ"].is_im
    assert [m.text for m in after.ephemerals("U0REQ")] == ["only you"]
    # Open modals do not outlive a restart.
    assert after.open_views("U0REQ") == [] and after.views == {}
    # New messages sort after the restored ones even though this clock is behind.
    assert float(after.next_ts()) > float(before.messages("D0REQ")[-1].ts)
    # A reply to a restored card finds its parent.
    after.add_message(Message("C0APPROVE", after.next_ts(), "late", "U0APP2", thread_ts=card.ts))
    assert after.thread("C0APPROVE", card.ts)[-1].text == "late"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda d: d.update(format=99),
        lambda d: d["timeline"].update(C0APPROVE=["1.000001"]),
        lambda d: d["messages"][0].update(replies=["nope"]),
        lambda d: d["channels"].append({"name": "no id"}),
        lambda d: d.update(messages="not a list of messages"),
    ],
)
def test_unusable_emulator_data_is_refused_and_leaves_a_clean_state(
    mangle: Callable[[dict[str, Any]], None],
) -> None:
    saved = json.loads(json.dumps(busy_state().export_state()))
    mangle(saved)
    state = EmulatorState(default_workspace(), ManualClock())
    with pytest.raises(ValueError, match="saved emulator state"):
        state.import_state(saved)
    assert state.messages("C0APPROVE") == [] and state.ephemerals("U0REQ") == []


# -- the simulator ---------------------------------------------------------------------------------


async def clone(client: httpx.AsyncClient, session: str, name: str) -> tuple[str, str]:
    job = uuid.uuid4().hex
    rsp = await client.post(
        CLONE,
        json={"params": {"name": name}},
        headers={**oauth(session), "X-Job-UUID": job},
    )
    assert rsp.status_code == 202, rsp.text
    return job, rsp.json()["location"]


async def test_the_simulator_resumes_services_sessions_and_jobs(
    zstack_sim: SimServer, zstack_http: httpx.AsyncClient, zstack_login: Login
) -> None:
    session = await zstack_login("alice", "alice-pass")
    done_job, location = await clone(zstack_http, session, "kept-clone")
    finished = await wait_job(zstack_http, location)
    assert finished.status_code == 200
    zstack_sim.state.set_mode(job_duration_s=30)
    running_job, running_location = await clone(zstack_http, session, "interrupted")
    zstack_sim.state.fail_next_clones(1)
    zstack_sim.state.advance_clock(60)
    saved = json.loads(json.dumps(zstack_sim.state.export_state()))

    async with (
        SimServer("127.0.0.1", 0) as restarted,
        httpx.AsyncClient(base_url=restarted.url, timeout=10) as client,
    ):
        restarted.state.import_state(saved)
        # The same session still works, and sees the clone.
        rsp = await client.get(
            "/zstack/v1/ai/model-services", params={"q": "name=kept-clone"}, headers=oauth(session)
        )
        assert rsp.status_code == 200, rsp.text
        assert [s["name"] for s in rsp.json()["inventories"]] == ["kept-clone"]
        assert rsp.json()["inventories"][0] == finished.json()["inventory"]
        # A finished job answers as before; a running one failed with the restart.
        again = await client.get(job_path(location))
        assert (again.status_code, again.json()) == (200, finished.json())
        interrupted = await client.get(job_path(running_location))
        assert interrupted.status_code == 503
        assert interrupted.json()["error"]["details"] == RESTART_DETAILS
        # Job ids stay claimed; the queued failure, clock offset and mode are kept.
        reused = await client.post(
            CLONE,
            json={"params": {"name": "dup"}},
            headers={**oauth(session), "X-Job-UUID": done_job},
        )
        assert reused.status_code == 400 and "Duplicate job uuid" in reused.text
        state = restarted.state.snapshot()
        assert state["pending_failures"] == 1 and state["mode"]["job_duration_s"] == 30
        assert restarted.state.clock.offset_s == 60
        assert {j["uuid"] for j in state["jobs"]} == {done_job, running_job}


async def test_unusable_simulator_data_is_refused_and_changes_nothing(
    zstack_sim: SimServer,
) -> None:
    saved = json.loads(json.dumps(zstack_sim.state.export_state()))
    saved["services"][0]["create_date"] = "not a date"
    before = zstack_sim.state.snapshot()
    with pytest.raises(ValueError, match="saved simulator state"):
        zstack_sim.state.import_state(saved)
    with pytest.raises(ValueError, match="format"):
        zstack_sim.state.import_state({"format": 0})
    assert zstack_sim.state.snapshot()["model_services"] == before["model_services"]


# -- writing the files -----------------------------------------------------------------------------


def test_write_atomic_replaces_the_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    write_atomic(target, b'{"a": 1}')
    write_atomic(target, b'{"a": 2}')
    assert read_snapshot(target) == {"a": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_an_unreadable_snapshot_is_set_aside(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    assert read_snapshot(target) is None
    target.write_text("[1, 2")
    assert read_snapshot(target) is None
    assert not target.exists() and (tmp_path / "state.json.bad").read_text() == "[1, 2"


async def test_snapshots_are_debounced_written_on_change_and_on_close(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source: dict[str, Any] = {"n": 0}
    changed = asyncio.Event()
    writes: list[bytes] = []
    target = tmp_path / "s.json"

    async def wait_changed(timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), timeout)
        changed.clear()

    snapshots = Snapshots([(target, lambda: dict(source))], changed=wait_changed, delay_s=0.05)
    snapshots.mark_saved(target, {"n": 0})  # what was loaded at start is not rewritten
    original = write_atomic

    def counting(path: Path, data: bytes) -> None:
        writes.append(data)
        original(path, data)

    monkeypatch.setattr("bot.sandbox.launcher.write_atomic", counting)
    snapshots.start()
    await asyncio.sleep(0.15)
    assert writes == []
    for n in range(1, 6):  # a burst of changes…
        source["n"] = n
        changed.set()
        await asyncio.sleep(0.005)
    await wait_until(lambda: target.exists() and read_snapshot(target) == {"n": 5})
    assert len(writes) <= 2  # …is saved once or twice, not five times
    source["n"] = 6
    await snapshots.close()  # the last change is saved on the way out
    assert read_snapshot(target) == {"n": 6}
