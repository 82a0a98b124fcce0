"""``clone-bot check`` against real servers: Slack emulator, ZStack simulator, real Redis."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio
from cryptography.fernet import Fernet

from bot.check import (
    REQUIRED_SCOPES,
    CheckResult,
    Status,
    check_settings,
    exit_code,
    format_results,
    run_checks,
)
from bot.check.zstack import tls_description
from bot.cli import main
from bot.config import Settings
from bot.sandbox.slack_emulator import SlackEmulator, default_workspace
from bot.sandbox.slack_emulator.workspace import (
    APPROVALS,
    APPROVER_1,
    APPROVERS_GROUP,
    GENERAL,
    REQUESTER,
    Channel,
    Workspace,
)
from bot.sandbox.zstack_sim import SimServer
from tests.deploy.support import DEPLOY, load_yaml
from tests.fixtures.redis_server import RedisServer, free_port
from tests.fixtures.slack import APP_TOKEN, BOT_TOKEN, SIGNING_SECRET

SESSION_KEY = Fernet.generate_key().decode()
ZSTACK_FIX = "check ZSTACK_URL / network / TLS (ZSTACK_CA_BUNDLE)"
NAMES = [
    "settings",
    "session key",
    "webhooks",
    "approvers",
    "slack",
    "slack scopes",
    "approval channel",
    "zstack",
    "redis",
]


@pytest.fixture
def make_settings(
    slack_emu: SlackEmulator, zstack_sim: SimServer, redis_url: str, tmp_path: Path
) -> Any:
    """Settings for a healthy deployment against the fixtures; keyword overrides."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "slack_bot_token": BOT_TOKEN,
            "slack_signing_secret": SIGNING_SECRET,
            "slack_api_url": slack_emu.api_url,
            "zstack_url": zstack_sim.url,
            "redis_url": redis_url,
            "session_key": SESSION_KEY,
            "data_dir": tmp_path / "data",
            "approval_channel": APPROVALS,
            "approvers": [APPROVER_1, APPROVERS_GROUP],
            "public_url": "https://clone-bot.example.com",
        }
        values.update(overrides)
        return Settings(**values)

    return make


def by_name(results: list[CheckResult]) -> dict[str, CheckResult]:
    names = [r.name for r in results]
    assert len(names) == len(set(names)), names
    return {r.name: r for r in results}


def only_failure(results: list[CheckResult], name: str) -> CheckResult:
    """The one non-OK result, which must be ``name``'s."""
    bad = [r for r in results if r.status is not Status.OK]
    assert [r.name for r in bad] == [name], format_results(results)
    assert bad[0].fix, "a WARN/FAIL must say what to do"
    return bad[0]


async def emulator(workspace: Workspace) -> SlackEmulator:
    emu = SlackEmulator(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN, workspace=workspace)
    await emu.start()
    return emu


@pytest.fixture
async def own_emu() -> AsyncIterator[list[SlackEmulator]]:
    """Emulators started by a test (with its own workspace), stopped after it."""
    started: list[SlackEmulator] = []
    yield started
    for emu in started:
        await emu.stop()


# --- healthy ---------------------------------------------------------------------------------


async def test_healthy_deployment_is_all_ok_and_leaves_no_trace(
    make_settings: Any, slack_emu: SlackEmulator, redis_url: str
) -> None:
    results = await run_checks(make_settings())

    assert [r.name for r in results] == NAMES
    assert all(r.status is Status.OK for r in results), format_results(results)
    assert exit_code(results) == 0
    checks = by_name(results)
    assert "HTTP mode" in checks["settings"].detail
    assert "@clonebot (U0BOT)" in checks["slack"].detail
    assert "Clone Bot Sandbox (T0CLONE)" in checks["slack"].detail
    assert f"member of {APPROVALS}" in checks["approval channel"].detail
    assert "plain HTTP" in checks["zstack"].detail and " ms)" in checks["zstack"].detail
    assert "Redis " in checks["redis"].detail and "'clonebot:'" in checks["redis"].detail
    # Nothing posted, read or left behind.
    methods = {call.method for call in slack_emu.state.api_calls}
    assert methods == {"auth.test", "conversations.history"}
    assert slack_emu.state.messages(APPROVALS) == []
    async with redis.asyncio.Redis.from_url(redis_url) as client:
        assert await client.keys("*") == []


async def test_report_lines_and_summary(make_settings: Any) -> None:
    text = format_results(await run_checks(make_settings(public_url=None)))
    lines = text.splitlines()
    assert len(lines) == len(NAMES) + 1
    for line, name in zip(lines, NAMES, strict=False):
        status, _, rest = line.partition("  ")
        assert status.strip() in ("OK", "WARN")
        assert rest.lstrip().startswith(name)
    webhooks = next(line for line in lines if line.startswith("WARN"))
    assert (
        "CLONEBOT_PUBLIC_URL is unset" in webhooks and " — fix: set CLONEBOT_PUBLIC_URL" in webhooks
    )
    assert lines[-1] == f"check: {len(NAMES) - 1} OK, 1 WARN, 0 FAIL"


async def test_independent_checks_run_concurrently(
    make_settings: Any, slack_emu: SlackEmulator, zstack_sim: SimServer
) -> None:
    slack_emu.inject_fault("auth.test", error="fatal_error", delay=1.2)
    zstack_sim.state.set_latency(1.2, ["ValidateSession"])
    started = time.monotonic()
    results = await run_checks(make_settings(), timeout_s=4)
    elapsed = time.monotonic() - started
    assert by_name(results)["zstack"].status is Status.OK
    slack = by_name(results)["slack"]
    assert slack.status is Status.FAIL and "fatal_error" in slack.detail
    assert slack.fix is not None and "`fatal_error`" in slack.fix
    assert 1.2 <= elapsed < 2.3  # one after the other would take 2.4 s or more


# --- settings --------------------------------------------------------------------------------


async def test_unset_key_public_url_and_approvers_warn_with_fixes(
    make_settings: Any, tmp_path: Path
) -> None:
    settings = make_settings(session_key=None, public_url=None, approvers=[])
    results = await run_checks(settings)

    warned = {r.name: r for r in results if r.status is Status.WARN}
    assert set(warned) == {"session key", "webhooks", "approvers"}
    assert all(r.status is Status.OK for r in results if r.name not in warned)
    assert exit_code(results) == 0
    key = warned["session key"]
    assert "CLONEBOT_SESSION_KEY is unset" in key.detail and "several replicas" in key.detail
    assert str(tmp_path / "data" / "session.key") in key.detail
    assert key.fix is not None and "CLONEBOT_SESSION_KEY" in key.fix
    assert not (tmp_path / "data" / "session.key").exists(), "a check must not create the key"
    assert "polling only" in warned["webhooks"].detail
    assert "anyone but the requester" in warned["approvers"].detail
    assert warned["approvers"].fix is not None and "CLONEBOT_APPROVERS" in warned["approvers"].fix


async def test_an_existing_generated_key_is_named_in_the_fix(
    make_settings: Any, tmp_path: Path
) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "session.key").write_text(Fernet.generate_key().decode())
    result = by_name(check_settings(make_settings(session_key=None)))["session key"]
    assert result.status is Status.WARN
    assert "uses the key generated in" in result.detail
    assert result.fix is not None and "content of that file" in result.fix


def test_settings_problems_fail_without_network(tmp_path: Path) -> None:
    settings = Settings(
        slack_bot_token=BOT_TOKEN,
        session_key="not-a-fernet-key",
        approvers=[APPROVER_1],
        data_dir=tmp_path,
    )
    results = by_name(check_settings(settings))
    assert results["settings"].status is Status.FAIL  # a bot token alone: no mode
    assert "SLACK_SIGNING_SECRET" in (results["settings"].fix or "")
    assert "clone-bot sandbox" in (results["settings"].fix or "")
    assert results["session key"].status is Status.FAIL
    assert "Fernet" in results["session key"].detail
    assert "not-a-fernet-key" not in format_results(list(results.values()))


def test_a_quorum_the_approvers_cannot_reach_fails(tmp_path: Path) -> None:
    settings = Settings(approvers=[APPROVER_1], approvals_required=2, data_dir=tmp_path)
    result = by_name(check_settings(settings))["approvers"]
    assert result.status is Status.FAIL
    assert "CLONEBOT_APPROVALS_REQUIRED=2" in result.detail


async def test_secrets_are_never_printed(make_settings: Any) -> None:
    text = format_results(await run_checks(make_settings(slack_bot_token="xoxb-not-the-right-one")))
    for secret in ("xoxb-not-the-right-one", SIGNING_SECRET, SESSION_KEY, BOT_TOKEN):
        assert secret not in text


def test_format_results_appends_fixes_only_to_warn_and_fail() -> None:
    results = [
        CheckResult(Status.OK, "a", "fine", fix="ignored"),
        CheckResult(Status.WARN, "bb", "meh", fix="do this"),
        CheckResult(Status.FAIL, "c", "bad", fix="do that"),
    ]
    assert format_results(results).splitlines() == [
        "OK    a   fine",
        "WARN  bb  meh — fix: do this",
        "FAIL  c   bad — fix: do that",
        "check: 1 OK, 1 WARN, 1 FAIL",
    ]
    assert exit_code(results) == 1
    assert exit_code(results[:2]) == 0


# --- Slack -----------------------------------------------------------------------------------


async def test_bad_slack_token_fails_and_skips_the_calls_that_need_it(
    make_settings: Any,
) -> None:
    results = await run_checks(make_settings(slack_bot_token="xoxb-wrong"))
    failure = only_failure(results, "slack")
    assert failure.status is Status.FAIL
    assert "invalid_auth" in failure.detail
    assert failure.fix is not None and "SLACK_BOT_TOKEN" in failure.fix
    names = [r.name for r in results]
    assert "slack scopes" not in names and "approval channel" not in names
    assert exit_code(results) == 1


async def test_revoked_token_reported_by_slack(
    make_settings: Any, slack_emu: SlackEmulator
) -> None:
    slack_emu.inject_fault("auth.test", error="token_revoked")
    failure = only_failure(await run_checks(make_settings()), "slack")
    assert failure.status is Status.FAIL and "token_revoked" in failure.detail


async def test_missing_scopes_fail_naming_them(
    make_settings: Any, own_emu: list[SlackEmulator]
) -> None:
    workspace = default_workspace()
    workspace.scopes = tuple(s for s in workspace.scopes if s not in ("users:read", "commands"))
    emu = await emulator(workspace)
    own_emu.append(emu)

    failure = only_failure(
        await run_checks(make_settings(slack_api_url=emu.api_url)), "slack scopes"
    )
    assert failure.status is Status.FAIL
    assert failure.detail == "missing bot scopes: commands, users:read"
    assert failure.fix is not None and "reinstall the app with the manifest" in failure.fix


async def test_approval_channel_the_bot_is_not_in_warns_to_invite_it(make_settings: Any) -> None:
    failure = only_failure(
        await run_checks(make_settings(approval_channel=GENERAL)), "approval channel"
    )
    assert failure.status is Status.WARN  # cards still post (chat:write.public)
    assert f"not a member of {GENERAL}" in failure.detail
    assert failure.fix == f"invite the bot: type `/invite @clonebot` in {GENERAL}"


async def test_approval_channel_without_the_bot_or_chat_write_public_fails(
    make_settings: Any, own_emu: list[SlackEmulator]
) -> None:
    workspace = default_workspace()
    workspace.scopes = tuple(s for s in workspace.scopes if s != "chat:write.public")
    emu = await emulator(workspace)
    own_emu.append(emu)

    results = by_name(
        await run_checks(make_settings(slack_api_url=emu.api_url, approval_channel=GENERAL))
    )
    assert results["slack scopes"].status is Status.FAIL
    channel = results["approval channel"]
    assert channel.status is Status.FAIL
    assert "cannot be posted" in channel.detail and "/invite @clonebot" in (channel.fix or "")


async def test_private_or_unknown_approval_channel_fails(
    make_settings: Any, own_emu: list[SlackEmulator]
) -> None:
    workspace = default_workspace()
    workspace.add_channel(Channel("G0SECRET", "secret", members={REQUESTER}, is_private=True))
    emu = await emulator(workspace)
    own_emu.append(emu)

    for channel in ("G0SECRET", "C0NOSUCH"):
        settings = make_settings(slack_api_url=emu.api_url, approval_channel=channel)
        failure = only_failure(await run_checks(settings), "approval channel")
        assert failure.status is Status.FAIL
        assert f"{channel} does not exist, or is a private channel" in failure.detail
        assert failure.fix is not None and "CLONEBOT_APPROVAL_CHANNEL" in failure.fix


async def test_approval_channel_by_name_is_not_checked(
    make_settings: Any, slack_emu: SlackEmulator
) -> None:
    failure = only_failure(
        await run_checks(make_settings(approval_channel="#model-approvals")), "approval channel"
    )
    assert failure.status is Status.WARN and "not a channel ID" in failure.detail
    assert "conversations.history" not in {c.method for c in slack_emu.state.api_calls}


async def test_unset_approval_channel_is_fine(make_settings: Any) -> None:
    results = by_name(await run_checks(make_settings(approval_channel=None)))
    assert results["approval channel"].status is Status.OK
    assert "where /clone-model is typed" in results["approval channel"].detail


async def test_slack_api_unreachable_fails_with_the_url_to_check(make_settings: Any) -> None:
    url = f"http://127.0.0.1:{free_port()}/api/"
    failure = only_failure(await run_checks(make_settings(slack_api_url=url)), "slack")
    assert failure.status is Status.FAIL
    assert url in failure.detail and "Connect call failed" not in failure.detail
    assert (
        f"cannot connect to 127.0.0.1:{url.split(':')[2].split('/')[0]} (connection refused)"
        in (failure.detail)
    )
    assert failure.fix is not None and "SLACK_API_URL" in failure.fix


async def test_slack_api_url_that_is_not_slack(make_settings: Any, zstack_sim: SimServer) -> None:
    failure = only_failure(
        await run_checks(make_settings(slack_api_url=zstack_sim.url + "/api/")), "slack"
    )
    assert "HTTP 404, not a Slack Web API answer" in failure.detail


async def test_slack_that_does_not_answer_in_time(
    make_settings: Any, slack_emu: SlackEmulator
) -> None:
    slack_emu.inject_fault("auth.test", error="fatal_error", delay=3)
    failure = only_failure(await run_checks(make_settings(), timeout_s=1), "slack")
    assert failure.status is Status.FAIL and "no answer within 1 s" in failure.detail


async def test_socket_mode_app_token_checked_without_opening_a_socket(
    make_settings: Any, slack_emu_socket: SlackEmulator
) -> None:
    settings = make_settings(
        slack_api_url=slack_emu_socket.api_url, slack_signing_secret=None, slack_app_token=APP_TOKEN
    )
    results = by_name(await run_checks(settings))
    assert all(r.status is Status.OK for r in results.values()), format_results(
        list(results.values())
    )
    assert "Socket Mode" in results["settings"].detail
    assert "SLACK_APP_TOKEN accepted" in results["socket mode"].detail
    assert slack_emu_socket.socket.live_connections() == []


async def test_socket_mode_wrong_app_token_fails(
    make_settings: Any, slack_emu_socket: SlackEmulator
) -> None:
    settings = make_settings(
        slack_api_url=slack_emu_socket.api_url, slack_app_token="xapp-1-A0CLONE-1-wrong"
    )
    failure = only_failure(await run_checks(settings), "socket mode")
    assert failure.status is Status.FAIL and "invalid_auth" in failure.detail
    assert failure.fix is not None and "connections:write" in failure.fix
    assert "xapp-1-A0CLONE-1-wrong" not in format_results([failure])


def test_required_scopes_are_the_manifests_bot_scopes() -> None:
    for name in ("manifest.http.yaml", "manifest.socket.yaml"):
        manifest = load_yaml(DEPLOY / name)
        assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == sorted(REQUIRED_SCOPES), name


async def test_emulator_conversations_history(slack_emu: SlackEmulator) -> None:
    """The emulator method the channel check relies on: newest first, bounds, membership."""
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.async_client import AsyncWebClient

    client = AsyncWebClient(token=BOT_TOKEN, base_url=slack_emu.api_url)
    posted = [
        (await client.chat_postMessage(channel=APPROVALS, text=f"m{i}"))["ts"] for i in range(3)
    ]
    page = await client.conversations_history(channel=APPROVALS, limit=2)
    assert [m["ts"] for m in page["messages"]] == [posted[2], posted[1]]
    assert page["has_more"] is True
    rest = await client.conversations_history(
        channel=APPROVALS, cursor=page["response_metadata"]["next_cursor"]
    )
    assert [m["text"] for m in rest["messages"]] == ["m0"] and rest["has_more"] is False
    newer = await client.conversations_history(channel=APPROVALS, oldest=posted[1])
    assert [m["text"] for m in newer["messages"]] == ["m2"]
    with pytest.raises(SlackApiError) as not_in:
        await client.conversations_history(channel=GENERAL)
    assert not_in.value.response["error"] == "not_in_channel"


# --- ZStack ----------------------------------------------------------------------------------


async def test_zstack_refused(make_settings: Any) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    failure = only_failure(await run_checks(make_settings(zstack_url=url)), "zstack")
    assert failure.status is Status.FAIL
    assert failure.detail == f"ZStack at {url}: connection refused"
    assert failure.fix is not None and failure.fix.startswith(ZSTACK_FIX)


async def test_zstack_timeout(make_settings: Any, zstack_sim: SimServer) -> None:
    zstack_sim.state.set_latency(3, ["ValidateSession"])
    failure = only_failure(await run_checks(make_settings(), timeout_s=1), "zstack")
    assert failure.status is Status.FAIL
    assert "no answer within 1 s (plain HTTP, no TLS)" in failure.detail
    assert failure.fix is not None and failure.fix.startswith(ZSTACK_FIX)


async def test_zstack_url_that_is_not_zstack(make_settings: Any, slack_emu: SlackEmulator) -> None:
    failure = only_failure(await run_checks(make_settings(zstack_url=slack_emu.url)), "zstack")
    assert failure.status is Status.FAIL
    assert "answers but is not ZStack (HTTP 404" in failure.detail
    assert failure.fix is not None and "API endpoint" in failure.fix


async def test_zstack_tls_error(make_settings: Any, zstack_sim: SimServer) -> None:
    url = zstack_sim.url.replace("http://", "https://")
    failure = only_failure(await run_checks(make_settings(zstack_url=url)), "zstack")
    assert failure.status is Status.FAIL
    assert "TLS handshake failed" in failure.detail
    assert "TLS verified with the default CA bundle" in failure.detail
    assert failure.fix is not None and failure.fix.startswith(ZSTACK_FIX)


# bot.zstack.client passes the bundle's path to httpx as a str, which httpx deprecates (not ours).
async def test_zstack_unusable_ca_bundle(make_settings: Any, tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not a certificate\n")
    settings = make_settings(zstack_url="https://127.0.0.1:1", zstack_ca_bundle=bundle)
    failure = only_failure(await run_checks(settings), "zstack")
    assert "ZSTACK_CA_BUNDLE cannot be loaded" in failure.detail


def test_tls_settings_are_described(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    cases = {
        ("http://zstack:8080", True, None): ("plain HTTP, no TLS", False),
        ("https://zstack:8443", True, None): ("TLS verified with the default CA bundle", False),
        ("https://zstack:8443", True, bundle): (
            f"TLS verified with ZSTACK_CA_BUNDLE={bundle}",
            False,
        ),
        ("https://zstack:8443", False, None): (
            "TLS without certificate verification (ZSTACK_VERIFY_TLS=false)",
            True,
        ),
    }
    for (url, verify, ca), expected in cases.items():
        settings = Settings(zstack_url=url, zstack_verify_tls=verify, zstack_ca_bundle=ca)
        assert tls_description(settings) == expected


# --- Redis -----------------------------------------------------------------------------------


async def test_redis_down(make_settings: Any, restartable_redis: RedisServer) -> None:
    await restartable_redis.astop()
    failure = only_failure(
        await run_checks(make_settings(redis_url=restartable_redis.url)), "redis"
    )
    assert failure.status is Status.FAIL
    assert failure.detail == f"{restartable_redis.url} (redis): PING: Redis cannot be reached"
    assert failure.fix is not None and failure.fix.startswith("start Redis or fix REDIS_URL")


async def test_redis_password_is_not_printed(
    make_settings: Any, restartable_redis: RedisServer
) -> None:
    url = f"redis://:s3cret-pass@127.0.0.1:{restartable_redis.port}/0"
    result = by_name(await run_checks(make_settings(redis_url=url)))["redis"]
    assert "s3cret-pass" not in format_results([result])
    assert ":***@" in result.detail


async def test_embedded_redis_says_where_the_data_lives(make_settings: Any, tmp_path: Path) -> None:
    result = by_name(await run_checks(make_settings(redis_url=None)))["redis"]
    assert result.status is Status.OK, result
    data_dir = (tmp_path / "data").resolve()
    assert result.detail.startswith(f"embedded Redis, data in {data_dir} (one replica only)")


# --- the policy file --------------------------------------------------------------------------

POLICY = """
rules:
  - name: large
    when: {requestCpu: ">= 16"}
    approvers: [S0APPROVERS]
    approvals: 2
  - name: leads-only
    when: {requester: [S0NOSUCH]}
    break_glass: [U0LEAD]
"""


def policy_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


async def test_a_bad_policy_file_fails_one_line_per_problem(
    make_settings: Any, tmp_path: Path
) -> None:
    bad = "rules:\n  - name: big\n    when: {requestCpu: lots}\n    quorum: 2\n"
    results = await run_checks(make_settings(policy_file=policy_file(tmp_path, bad)))
    failing = [r for r in results if r.status is Status.FAIL]
    assert [r.name for r in failing] == ["policy", "policy"], format_results(results)
    assert "rules[0] (big).when[0].requestCpu: bad threshold 'lots'" in failing[0].detail
    assert failing[1].detail == "policy.yaml: rules[0] (big).quorum: unknown field"
    assert all(r.fix for r in failing)
    assert exit_code(results) == 1
    # The other checks still ran, all fine.
    assert all(r.status is Status.OK for r in results if r.name != "policy")
    assert "user groups" not in {r.name for r in results}


async def test_the_user_groups_a_policy_names_are_checked_in_slack(
    make_settings: Any, slack_emu: SlackEmulator, tmp_path: Path
) -> None:
    results = await run_checks(make_settings(policy_file=policy_file(tmp_path, POLICY)))
    names = [r.name for r in results]
    assert names[names.index("approvers") + 1 : names.index("slack")] == [
        "policy",
        "user groups",
        "user groups",
    ]
    policy, known, unknown = results[names.index("policy") : names.index("slack")]
    assert policy.status is Status.OK and "2 rule(s), tried in order: large, leads-only" in (
        policy.detail
    )
    assert known.status is Status.OK and known.detail == "known to Slack: S0APPROVERS (2 members)"
    assert unknown.status is Status.FAIL
    assert "S0NOSUCH" in unknown.detail and "no_such_subteam" in unknown.detail
    assert unknown.fix is not None and "group's ID" in unknown.fix
    asked = sorted(
        str(c.params.get("usergroup")) for c in slack_emu.state.calls("usergroups.users.list")
    )
    assert asked == ["S0APPROVERS", "S0NOSUCH"]


async def test_user_groups_are_not_checked_with_a_token_slack_rejects(
    make_settings: Any, tmp_path: Path
) -> None:
    settings = make_settings(
        policy_file=policy_file(tmp_path, POLICY), slack_bot_token="xoxb-not-the-right-one"
    )
    groups = [r for r in await run_checks(settings) if r.name == "user groups"]
    assert [r.status for r in groups] == [Status.WARN]
    assert "not checked" in groups[0].detail and "invalid_auth" in groups[0].detail


NUDGING = """
rules:
  - name: stepped
    when: {requestCpu: ">= 16"}
    steps:
      - approvers: [S0APPROVERS]
        skip_after: 1d
      - approvers: [U0OWNER]
    ttl: 1d
    escalate_after: 2h
    escalate_to: [S0ONCALL]
  - name: late
    approvers: [U0LEAD]
    ttl: 4h
    remind_after: 1h
    remind_every: 2h
    remind_max: 3
    escalate_after: 4h
    escalate_to: [U0ONCALL]
"""


async def test_groups_in_steps_and_escalate_to_are_checked_and_late_nudges_warn(
    make_settings: Any, slack_emu: SlackEmulator, tmp_path: Path
) -> None:
    results = await run_checks(make_settings(policy_file=policy_file(tmp_path, NUDGING)))
    names = [r.name for r in results]
    policy = [r for r in results if r.name == "policy"]
    assert policy[0].status is Status.OK and "2 rule(s), tried in order: stepped, late" in (
        policy[0].detail
    )
    # What the TTL ends first: a WARN each, with what to change.
    assert [(r.status, r.detail) for r in policy[1:]] == [
        (
            Status.WARN,
            "policy.yaml: rule stepped: step 1 is never skipped after 1d: the request "
            "expires after 1d",
        ),
        (
            Status.WARN,
            "policy.yaml: rule late: only 2 of the 3 reminders (after 1h, every 2h) "
            "fit: the request expires after 4h",
        ),
        (
            Status.WARN,
            "policy.yaml: rule late: escalation after 4h never happens: the request "
            "expires after 4h",
        ),
    ]
    assert all(r.fix and "ttl" in r.fix for r in policy[1:])
    groups = [r for r in results if r.name == "user groups"]
    assert [r.status for r in groups] == [Status.OK, Status.FAIL]
    assert groups[0].detail == "known to Slack: S0APPROVERS (2 members)"
    assert "S0ONCALL" in groups[1].detail
    asked = sorted(
        str(c.params.get("usergroup")) for c in slack_emu.state.calls("usergroups.users.list")
    )
    assert asked == ["S0APPROVERS", "S0ONCALL"]
    assert names.index("user groups") > names.index("policy")
    assert exit_code(results) == 1  # the unknown group; the timing alone only warns


def test_the_default_rules_reminders_and_escalation_are_described(tmp_path: Path) -> None:
    base: dict[str, Any] = {"data_dir": tmp_path, "approvers": ["S0APPROVERS"]}
    assert "reminders" not in by_name(check_settings(Settings(**base)))
    settings = Settings(
        **base,
        remind_after_s=3600,
        remind_every_s=7200,
        escalate_after_s=14400,
        escalate_to=["U0ONCALL", "S0ONCALL"],
    )
    result = by_name(check_settings(settings))["reminders"]
    assert result.status is Status.OK
    assert result.detail == (
        "default rule: reminders after 1h, then every 2h, at most 3; escalation to U0ONCALL, "
        "S0ONCALL after 4h (requests expire after 1d)"
    )
    one = by_name(check_settings(Settings(**base, remind_after_s=1800)))["reminders"]
    assert one.detail == "default rule: one reminder after 30m (requests expire after 1d)"


def test_a_default_escalation_after_the_ttl_warns(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        approval_ttl_s=7200,
        escalate_after_s=7200,
        escalate_to=["U0ONCALL"],
    )
    result = by_name(check_settings(settings))["reminders"]
    assert result.status is Status.WARN
    assert result.detail == (
        "default rule: escalation after 2h never happens: the request expires after 2h"
    )
    assert result.fix is not None and "CLONEBOT_ESCALATE_AFTER_S" in result.fix
    # Reminders with no approvers named: the fix is about the approvers, not the TTL.
    nobody = by_name(check_settings(Settings(data_dir=tmp_path, remind_after_s=3600)))
    assert nobody["reminders"].status is Status.WARN
    assert nobody["reminders"].detail.startswith("default rule: reminders are a thread note only")
    assert nobody["reminders"].fix is not None
    assert nobody["reminders"].fix.startswith("set CLONEBOT_APPROVERS")


# --- the command line ------------------------------------------------------------------------


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _env(monkeypatch: pytest.MonkeyPatch, values: dict[str, str]) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name, value)


async def test_cli_check_prints_one_line_per_check_and_exits_0(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    restore_logging: None,
    slack_emu: SlackEmulator,
    zstack_sim: SimServer,
    redis_url: str,
    tmp_path: Path,
) -> None:
    _env(
        monkeypatch,
        {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack_emu.api_url,
            "ZSTACK_URL": zstack_sim.url,
            "REDIS_URL": redis_url,
            "CLONEBOT_DATA_DIR": str(tmp_path / "data"),
            "CLONEBOT_APPROVAL_CHANNEL": APPROVALS,
        },
    )
    # The servers live on this loop: the command's own asyncio.run goes to a thread.
    code = await asyncio.to_thread(main, ["check", "--timeout", "3"])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert [line.split()[0] for line in out[:-1]] == [
        "OK",
        "WARN",
        "WARN",
        "WARN",
        "OK",
        "OK",
        "OK",
        "OK",
        "OK",
    ]
    assert out[-1] == "check: 6 OK, 3 WARN, 0 FAIL"
    assert all(" — fix: " in line for line in out if line.startswith("WARN"))


async def test_cli_check_exits_1_when_something_fails(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    restore_logging: None,
    slack_emu: SlackEmulator,
    redis_url: str,
) -> None:
    _env(
        monkeypatch,
        {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack_emu.api_url,
            "ZSTACK_URL": f"http://127.0.0.1:{free_port()}",
            "REDIS_URL": redis_url,
            "CLONEBOT_SESSION_KEY": SESSION_KEY,
        },
    )
    code = await asyncio.to_thread(main, ["check"])
    out = capsys.readouterr().out
    assert code == 1
    failing = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert len(failing) == 1 and "zstack" in failing[0] and "connection refused" in failing[0]


async def test_cli_check_prints_a_policy_files_problems_and_exits_1(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    restore_logging: None,
    slack_emu: SlackEmulator,
    zstack_sim: SimServer,
    redis_url: str,
    tmp_path: Path,
) -> None:
    bad = POLICY.replace("approvals: 2", "approvals: 0")
    _env(
        monkeypatch,
        {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack_emu.api_url,
            "ZSTACK_URL": zstack_sim.url,
            "REDIS_URL": redis_url,
            "CLONEBOT_SESSION_KEY": SESSION_KEY,
            "CLONEBOT_POLICY_FILE": str(policy_file(tmp_path, bad)),
        },
    )
    code = await asyncio.to_thread(main, ["check", "--timeout", "3"])
    failing = [line for line in capsys.readouterr().out.splitlines() if line.startswith("FAIL")]
    assert code == 1
    assert len(failing) == 1, failing
    assert "policy" in failing[0] and "rules[0] (large).approvals" in failing[0]
    assert " — fix: correct the policy file" in failing[0]


def test_cli_check_with_unusable_settings_exits_2_one_line_per_problem(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _env(
        monkeypatch,
        {"CLONEBOT_PORT": "x", "ZSTACK_URL": "nope-zstack", "CLONEBOT_APPROVALS_REQUIRED": "0"},
    )
    assert main(["check"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.strip().splitlines()
    assert len(err) == 3, err
    assert all(line.startswith("clone-bot: configuration: ") for line in err)
    assert any("ZSTACK_URL" in line for line in err) and any(
        "CLONEBOT_PORT" in line for line in err
    )
    assert "nope-zstack" not in captured.err  # values are never printed
