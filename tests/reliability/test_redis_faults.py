"""Redis restarted or down under load, and the bot on a real three-master Cluster and Sentinel.

tests/e2e/test_redis_down.py covers /zstack while Redis is down; here: requests in flight.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from bot.requests.model import State
from bot.sandbox.slack_emulator import SlackEmulator
from bot.sandbox.zstack_sim import SimServer
from tests.e2e.helpers import APPROVALS, APPROVER, EXAMPLE, GENERAL, REQUESTER
from tests.fixtures.bot import BotFactory
from tests.fixtures.redis_server import ClusterInfo, RedisServer, SentinelInfo
from tests.reliability.harness import HarnessConfig, run_harness
from tests.support import notices_done, wait_until
from tests.support.approval import (
    click,
    completion_count,
    request_clone,
    wait_completion,
    wait_state,
)

DONE = "Cloned: example-clone"


@pytest.mark.timeout(180)
async def test_redis_restarted_mid_run_loses_nothing(tmp_path: Path) -> None:
    """Two replicas under load; Redis (AOF, fsync always) restarted three times mid-run."""
    config = HarnessConfig(
        replicas=2,
        requests=40,
        requesters=4,
        kills=0,
        redis_restarts=3,
        failed_clones=1,
        lost_answers=0,
        slack_faults=0,
    )
    report = await run_harness(config, tmp_path / "run")
    print(report.summary())
    assert report.ok, report.summary()
    assert report.redis_restarts == 3
    assert report.approved >= 30, report.summary()


async def test_redis_down_mid_flight_then_back(
    slack_emu: SlackEmulator,
    bot_factory: BotFactory,
    zstack_sim: SimServer,
    restartable_redis: RedisServer,
) -> None:
    """A clone is running and another request waits when Redis goes away: users get a clear
    message, /readyz fails, nothing crashes; when Redis is back the clone finishes and is
    announced once, and the waiting request can be approved."""
    zstack_sim.state.set_mode(job_duration_s=1.0)
    bot = await bot_factory(approval_channel=APPROVALS, redis_url=restartable_redis.url)
    running = await request_clone(slack_emu, bot)
    waiting = await request_clone(slack_emu, bot, name="second-clone")
    await click(slack_emu, APPROVER, running, "request_approve")
    job_uuid = (await wait_state(bot, running.id, State.RUNNING)).job_uuid or ""

    await restartable_redis.astop()
    await slack_emu.slash_command(REQUESTER, GENERAL, "/clone-model", EXAMPLE)
    await click(slack_emu, APPROVER, waiting, "request_approve")

    def told(user: str) -> list[str]:
        texts = [m.text for m in slack_emu.state.ephemerals(user)]
        texts += [m.text for m in slack_emu.state.dms(user)]
        texts += [str(c.params.get("text", "")) for c in slack_emu.state.calls("response_url")]
        return [t for t in texts if "unavailable" in t]

    said = await slack_emu.wait_for(lambda: told(REQUESTER) and told(APPROVER), timeout=10)
    assert said
    for text in told(REQUESTER) + told(APPROVER):
        assert "Traceback" not in text and "ConnectionError" not in text
    async with httpx.AsyncClient(base_url=bot.http_url or "") as http:
        ready = await http.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["redis"] is False
        assert (await http.get("/healthz")).status_code == 200
        # The job ends in ZStack while the bot cannot record it; the tracker lives on.
        job = zstack_sim.state.jobs.jobs[job_uuid]
        await wait_until(lambda: job.finished is not None)
        assert bot.tracker is not None and all(not t.done() for t in bot.tracker._tasks)

        await restartable_redis.astart()
        done = await wait_state(bot, running.id, State.SUCCEEDED, timeout=20)
        await wait_completion(slack_emu, done, DONE)
        assert (await http.get("/readyz")).status_code == 200
    assert (await bot.deps.requests.require(waiting.id)).state == State.PENDING
    await click(slack_emu, APPROVER, waiting, "request_approve")
    second = await wait_state(bot, waiting.id, State.SUCCEEDED, timeout=10)
    await wait_completion(slack_emu, second, "Cloned: second-clone")
    await notices_done(bot, done.id)
    await notices_done(bot, second.id)
    assert completion_count(slack_emu, done, DONE) == (1, 1)
    assert sum(zstack_sim.state.counters()["clone_calls_by_source"].values()) == 2


async def full_clone_flow(
    slack_emu: SlackEmulator, bot_factory: BotFactory, zstack_sim: SimServer, url: str
) -> None:
    bot = await bot_factory(approval_channel=APPROVALS, redis_url=url)
    record = await request_clone(slack_emu, bot)
    await click(slack_emu, APPROVER, record, "request_approve")
    done = await wait_state(bot, record.id, State.SUCCEEDED, timeout=15)
    await wait_completion(slack_emu, done, DONE)
    assert completion_count(slack_emu, done, DONE) == (1, 1)
    assert zstack_sim.state.counters()["clone_calls_by_job"] == {done.job_uuid: 1}
    history = [h["to"] for h in await bot.deps.requests.history(record.id)]
    assert "approved" in history and "succeeded" in history
    assert (await bot.deps.sessions.peek("T0CLONE", REQUESTER)) is not None


async def test_full_flow_on_a_three_master_cluster(
    slack_emu: SlackEmulator,
    bot_factory: BotFactory,
    zstack_sim: SimServer,
    redis_cluster3: ClusterInfo,
) -> None:
    """Every Lua script touches one slot, whatever node owns it (a CROSSSLOT or MOVED error
    would fail the flow); the keys really are spread over the three masters."""
    await full_clone_flow(slack_emu, bot_factory, zstack_sim, redis_cluster3.url)
    import redis

    per_node = []
    for node in redis_cluster3.nodes:
        with redis.Redis(host="127.0.0.1", port=node.port) as client:
            per_node.append(client.dbsize())
    assert sum(1 for n in per_node if n) >= 2, per_node


async def test_full_flow_through_sentinel(
    slack_emu: SlackEmulator,
    bot_factory: BotFactory,
    zstack_sim: SimServer,
    redis_sentinel: SentinelInfo,
    redis_url: str,
) -> None:
    await full_clone_flow(slack_emu, bot_factory, zstack_sim, redis_sentinel.url)
