"""Crashes and lost answers: a clone is never sent twice, a notice never lost or doubled."""

from __future__ import annotations

from pathlib import Path

from bot.requests.model import State
from bot.sandbox.slack_emulator import SlackEmulator
from bot.sandbox.zstack_sim import SimServer
from tests.e2e.helpers import APPROVALS, APPROVER
from tests.fixtures.bot import BotFactory
from tests.fixtures.gate import TcpGate
from tests.fixtures.process import BotProcess, bot_env, free_port
from tests.support import counter, notices_done, wait_until
from tests.support.approval import (
    click,
    completion_count,
    request_clone,
    wait_completion,
    wait_state,
)


def clones_named(sim: SimServer, name: str) -> int:
    return sum(s["inventory"]["name"] == name for s in sim.state.snapshot()["model_services"])


async def test_timeout_after_acceptance_is_not_resent(
    slack_emu: SlackEmulator, bot_factory: BotFactory, zstack_sim: SimServer
) -> None:
    bot = await bot_factory(approval_channel=APPROVALS, zstack_timeout_s=0.5)
    record = await request_clone(slack_emu, bot)
    zstack_sim.state.add_clone_fault("after", 1.5)
    await click(slack_emu, APPROVER, record, "request_approve")
    done = await wait_state(bot, record.id, State.SUCCEEDED, State.FAILED, timeout=15)
    assert done.state == State.SUCCEEDED
    assert done.attempts == 1
    assert sum(zstack_sim.state.counters()["clone_calls_by_source"].values()) == 1
    assert clones_named(zstack_sim, "example-clone") == 1


async def test_timeout_before_acceptance_is_resent_once_under_a_new_job_uuid(
    slack_emu: SlackEmulator, bot_factory: BotFactory, zstack_sim: SimServer
) -> None:
    bot = await bot_factory(approval_channel=APPROVALS, zstack_timeout_s=0.5)
    record = await request_clone(slack_emu, bot)
    zstack_sim.state.add_clone_fault("before", 1.5)
    await click(slack_emu, APPROVER, record, "request_approve")
    first = await wait_state(bot, record.id, State.SUBMITTING, State.RUNNING, State.SUCCEEDED)
    done = await wait_state(bot, record.id, State.SUCCEEDED, State.FAILED, timeout=20)
    assert done.state == State.SUCCEEDED
    assert done.attempts == 2
    assert done.job_uuid != first.job_uuid
    # The first POST reached ZStack but was dropped before acceptance; only the second created.
    assert set(zstack_sim.state.counters()["clone_calls_by_job"]) == {first.job_uuid, done.job_uuid}
    assert clones_named(zstack_sim, "example-clone") == 1
    history = [h["to"] for h in await bot.deps.requests.history(record.id)]
    assert history.count("submitting") == 2


async def test_refused_connection_is_resent(
    slack_emu: SlackEmulator, bot_factory: BotFactory, zstack_sim: SimServer
) -> None:
    """Connection refused means ZStack never saw the clone: nothing is sent (the session check
    right before the clone cannot reach ZStack either), and it is sent once ZStack answers."""
    host, port = zstack_sim.url.removeprefix("http://").split(":")
    gate = TcpGate(host, int(port))
    await gate.open()
    bot = await bot_factory(approval_channel=APPROVALS, zstack_url=gate.url)
    record = await request_clone(slack_emu, bot)
    await gate.shut()
    try:
        await click(slack_emu, APPROVER, record, "request_approve")
        await wait_until(
            lambda: (
                counter(
                    bot,
                    "clonebot_zstack_calls",
                    operation="ValidateSession",
                    status="none",
                    code="",
                )
                >= 2
            )  # tried, and tried again later
        )
        retried = await bot.deps.requests.require(record.id)
        assert retried.state == State.APPROVED
        assert zstack_sim.state.counters()["clone_calls_by_source"] == {}
    finally:
        await gate.open()
    done = await wait_state(bot, record.id, State.SUCCEEDED, timeout=15)
    assert done.attempts == 1
    assert clones_named(zstack_sim, "example-clone") == 1
    await gate.shut()


async def test_killed_while_running_resumes_and_notifies_once(
    slack_emu: SlackEmulator,
    bot_factory: BotFactory,
    zstack_sim: SimServer,
    redis_url: str,
    tmp_path: Path,
) -> None:
    # An in-process bot does the request (it also gives us a store to read); a separate
    # process gets the approval and is killed with SIGKILL while ZStack's job runs.
    observer = await bot_factory(approval_channel=APPROVALS)
    record = await request_clone(slack_emu, observer)
    await observer.tracker.stop()  # only the subprocess may work on the job
    zstack_sim.state.set_mode(job_duration_s=2.0)
    port = free_port()
    env = bot_env(
        api_url=slack_emu.api_url,
        zstack_url=zstack_sim.url,
        redis_url=redis_url,
        data_dir=tmp_path / "proc",
        CLONEBOT_APPROVAL_CHANNEL=APPROVALS,
    )
    process = BotProcess(env=env, port=port, log=tmp_path / "bot.log")
    await process.start()
    try:
        slack_emu.app_url = f"{process.url}/slack/events"
        await click(slack_emu, APPROVER, record, "request_approve")
        await wait_state(observer, record.id, State.RUNNING)
        process.kill()
        await process.start()  # a new process: the job is found in Redis
        done = await wait_state(observer, record.id, State.SUCCEEDED, timeout=20)
        await wait_completion(slack_emu, done, "Cloned: example-clone")
        await notices_done(observer, done.id)  # every step recorded, nothing left to deliver
        assert completion_count(slack_emu, done, "Cloned: example-clone") == (1, 1)
        assert sum(zstack_sim.state.counters()["clone_calls_by_source"].values()) == 1
    finally:
        process.stop()
