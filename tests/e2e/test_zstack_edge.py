"""The ZStack edge: sessions slide like ZStack's, a session is checked right before a clone, every
form of "session invalid" parks, a 503 is final, and the loading modal never hangs or lies."""

from __future__ import annotations

import asyncio

import pytest

from bot.requests.model import State
from bot.runtime import Runtime
from bot.sandbox.slack_emulator import SlackEmulator
from bot.sandbox.zstack_sim import SimServer
from tests.e2e.helpers import (
    APPROVALS,
    APPROVER,
    EXAMPLE,
    GENERAL,
    REQUESTER,
    ephemeral_texts,
    login,
    top_view,
)
from tests.fixtures.bot import BotFactory
from tests.support import counter, settled, wait_until
from tests.support.approval import click, request_clone, wait_state

TEAM = "T0CLONE"


# -- 6. sessions slide ---------------------------------------------------------------------------


async def test_an_active_user_stays_logged_in_past_the_logins_lifetime(
    slack_emu: SlackEmulator, bot: Runtime, zstack_sim: SimServer
) -> None:
    """ZStack extends a session on every use; so does the bot (a 3-second session here, used
    for 5 seconds). Before, the stored session kept the login's TTL and vanished."""
    zstack_sim.state.identity.session_timeout_s = 3
    await login(slack_emu)
    at_login = await bot.deps.sessions.peek(TEAM, REQUESTER)
    assert at_login is not None
    await slack_emu.slash_command(REQUESTER, GENERAL, "/clone-model", "")
    view = await top_view(slack_emu, REQUESTER, "clone_model")
    loop = asyncio.get_running_loop()
    end = loop.time() + 5.0
    while loop.time() < end:  # type-ahead, as a user searching for a while
        options = await slack_emu.suggest(REQUESTER, view.id, "source", "example")
        assert options, "the session is still usable"
        await asyncio.sleep(0.4)
    now = await bot.deps.sessions.peek(TEAM, REQUESTER)
    assert now is not None
    assert (now.expires_at - at_login.expires_at).total_seconds() > 3
    await slack_emu.slash_command(REQUESTER, GENERAL, "/zstack", "whoami")
    await wait_until(
        lambda: any("You are logged in" in t for t in ephemeral_texts(slack_emu, REQUESTER))
    )


# -- 7. validated right before the clone -----------------------------------------------------


async def test_a_session_that_died_after_the_form_parks_without_sending_the_clone(
    slack_emu: SlackEmulator, bot_factory: BotFactory, zstack_sim: SimServer
) -> None:
    """The form validated the session (cached 30 s); it dies before approval. The clone is not
    sent with it: the request waits for the requester's login."""
    bot = await bot_factory(approval_channel=APPROVALS)
    record = await request_clone(slack_emu, bot)
    zstack_sim.state.expire_sessions(account="alice")
    await click(slack_emu, APPROVER, record, "request_approve")
    parked = await wait_state(bot, record.id, State.AWAITING_LOGIN, State.FAILED)
    assert parked.state == State.AWAITING_LOGIN
    assert zstack_sim.state.counters()["clone_calls"] == []


# -- 8. every form of "session invalid" ------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        {"code": "ID.1001", "details": "Session expired"},
        {"code": "ID.1001", "globalErrorCode": "ORG_ZSTACK_IDENTITY_10020", "details": "x"},
        {"code": "ORG_ZSTACK_IDENTITY_10020", "details": "Session expired"},
        {"code": "SYS.1006", "globalErrorCode": "ORG_ZSTACK_IDENTITY_10020", "details": "x"},
    ],
    ids=["classic", "global-beside", "global-code", "global-field-only"],
)
async def test_a_job_ending_with_any_session_invalid_code_parks(
    slack_emu: SlackEmulator,
    bot_factory: BotFactory,
    zstack_sim: SimServer,
    error: dict[str, str],
) -> None:
    bot = await bot_factory(approval_channel=APPROVALS)
    record = await request_clone(slack_emu, bot)
    zstack_sim.state.fail_next_clones(1, error)
    await click(slack_emu, APPROVER, record, "request_approve")
    parked = await wait_state(bot, record.id, State.AWAITING_LOGIN, State.FAILED)
    assert parked.state == State.AWAITING_LOGIN, parked.error_text


@pytest.mark.parametrize("style", ["classic", "global", "global-code"])
async def test_a_lookup_refused_for_the_session_in_any_form_asks_to_log_in(
    slack_emu: SlackEmulator, bot: Runtime, zstack_sim: SimServer, style: str
) -> None:
    """The session is still marked validated (30 s) when ZStack refuses it on the query."""
    zstack_sim.state.set_mode(session_error=style)
    await login(slack_emu)
    zstack_sim.state.expire_sessions(account="alice")
    await slack_emu.slash_command(REQUESTER, GENERAL, "/clone-model", EXAMPLE)
    await top_view(slack_emu, REQUESTER, "zstack_login")
    assert await bot.deps.sessions.peek(TEAM, REQUESTER) is None


# -- 9. a 503 is final -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "body", ['{"error": {"code": "SYS.10', "<html><body>Service Unavailable</body></html>", ""]
)
async def test_a_503_that_cannot_be_read_fails_the_request_at_once(
    slack_emu: SlackEmulator, bot_factory: BotFactory, zstack_sim: SimServer, body: str
) -> None:
    bot = await bot_factory(approval_channel=APPROVALS)
    record = await request_clone(slack_emu, bot)
    zstack_sim.state.inject_clone_reply(503, body, content_type="application/json")
    await click(slack_emu, APPROVER, record, "request_approve")
    failed = await wait_state(bot, record.id, State.FAILED, State.SUCCEEDED)
    assert failed.state == State.FAILED
    assert failed.error_text and "503" in failed.error_text
    if body.startswith("<html"):
        assert "Service Unavailable" in failed.error_text
    assert len(zstack_sim.state.counters()["clone_calls"]) == 1  # never resent


# -- 12. the loading modal -------------------------------------------------------------------


async def test_closing_the_loading_view_early_is_not_an_error(
    slack_emu: SlackEmulator, bot: Runtime, zstack_sim: SimServer
) -> None:
    await login(slack_emu)
    zstack_sim.state.set_latency(1.0, ["QueryModelService"])
    await slack_emu.slash_command(REQUESTER, GENERAL, "/clone-model", EXAMPLE)
    loading = await top_view(slack_emu, REQUESTER, "clone_model_loading")
    await slack_emu.close_view(REQUESTER, loading.id)
    told_before = len(ephemeral_texts(slack_emu, REQUESTER)) + len(slack_emu.state.dms(REQUESTER))
    await wait_until(
        lambda: any(c.error == "not_found" for c in slack_emu.state.calls("views.update"))
    )
    await settled(bot)
    told = len(ephemeral_texts(slack_emu, REQUESTER)) + len(slack_emu.state.dms(REQUESTER))
    assert told == told_before
    assert counter(bot, "clonebot_handler_errors", error="SlackApiError") == 0


async def test_zstack_timing_out_during_the_lookup_says_so_and_offers_to_try_again(
    slack_emu: SlackEmulator, bot_factory: BotFactory, zstack_sim: SimServer
) -> None:
    await bot_factory(zstack_timeout_s=1)
    await login(slack_emu)
    zstack_sim.state.set_latency(3.0, ["QueryModelService"])
    await slack_emu.slash_command(REQUESTER, GENERAL, "/clone-model", EXAMPLE)
    loading = await top_view(slack_emu, REQUESTER, "clone_model_loading")
    await wait_until(lambda: "not reachable" in str(slack_emu.state.view(loading.id).definition))
    assert "clone_retry_lookup" in str(slack_emu.state.view(loading.id).definition)
    zstack_sim.state.set_latency(0)
    await slack_emu.view_action(
        REQUESTER, loading.id, "clone_retry_lookup", block_id="retry_lookup"
    )
    form = await top_view(slack_emu, REQUESTER, "clone_model")
    assert EXAMPLE in str(form.definition)
