"""App Home: the ZStack login with log in/out, recent requests, and approvals waiting."""

from __future__ import annotations

import pytest

from bot.requests.model import State
from bot.runtime import Runtime
from bot.sandbox.slack_emulator import SlackEmulator
from tests.e2e.helpers import ALICE_LOGIN, APPROVALS, APPROVER, REQUESTER, blocks_text, top_view
from tests.fixtures.bot import BotFactory
from tests.support.approval import request_clone, wait_state


@pytest.fixture
async def bot(bot_factory: BotFactory) -> Runtime:
    return await bot_factory(approval_channel=APPROVALS)


async def home_text(emu: SlackEmulator, user: str, contains: str) -> str:
    def ready() -> str | None:
        home = emu.state.home(user)
        text = blocks_text(home) if home else ""
        return text if contains in text else None

    return await emu.wait_for(ready)


async def test_login_from_home_then_logout(slack_emu: SlackEmulator, bot: Runtime) -> None:
    await slack_emu.open_home(REQUESTER)
    await home_text(slack_emu, REQUESTER, "not logged in")
    home = slack_emu.state.home(REQUESTER)
    assert home is not None
    await slack_emu.view_action(REQUESTER, home.id, "home_login")
    login = await top_view(slack_emu, REQUESTER, "zstack_login")
    await slack_emu.submit_view(REQUESTER, login.id, ALICE_LOGIN)
    text = await home_text(slack_emu, REQUESTER, "Logged in to ZStack")
    assert "alice" in text and "expires" in text
    await slack_emu.view_action(REQUESTER, home.id, "home_logout")
    await home_text(slack_emu, REQUESTER, "not logged in")
    assert await bot.deps.sessions.peek("T0CLONE", REQUESTER) is None
    assert not slack_emu.validation_failures


async def test_recent_requests_and_approving_from_home(
    slack_emu: SlackEmulator, bot: Runtime
) -> None:
    record = await request_clone(slack_emu, bot)
    await slack_emu.open_home(REQUESTER)
    mine = await home_text(slack_emu, REQUESTER, record.id)
    assert "Waiting for approval" in mine
    assert "Nothing is waiting for you" in mine  # requesters do not approve themselves

    await slack_emu.open_home(APPROVER)
    waiting = await home_text(slack_emu, APPROVER, record.id)
    assert "request_approve" in waiting
    home = slack_emu.state.home(APPROVER)
    assert home is not None
    await slack_emu.view_action(
        APPROVER, home.id, "request_approve", block_id=f"decide:{record.id}"
    )
    await wait_state(bot, record.id, State.SUCCEEDED)
    await home_text(slack_emu, APPROVER, "Nothing is waiting for you")

    await slack_emu.open_home(REQUESTER)
    await home_text(slack_emu, REQUESTER, "Done")


async def test_new_clone_from_home_opens_the_clone_form(
    slack_emu: SlackEmulator, bot: Runtime
) -> None:
    await slack_emu.open_home(REQUESTER)
    await home_text(slack_emu, REQUESTER, "New clone")
    home = slack_emu.state.home(REQUESTER)
    assert home is not None
    await slack_emu.view_action(REQUESTER, home.id, "home_new_clone")
    # Not logged in yet: the login modal first, then on to the clone form.
    login = await top_view(slack_emu, REQUESTER, "zstack_login")
    await slack_emu.submit_view(REQUESTER, login.id, ALICE_LOGIN)
    await top_view(slack_emu, REQUESTER, "clone_model")
    assert not slack_emu.validation_failures
