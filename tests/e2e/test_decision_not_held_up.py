"""A decision is acted on at once, whatever else holds the request (here: its card's poster,
stuck on a slow Slack call), and the notes still land in the card's thread."""

from __future__ import annotations

import time

from bot.requests.model import State
from bot.runtime import Runtime
from bot.sandbox.slack_emulator import SlackEmulator
from tests.e2e.helpers import APPROVALS, APPROVER
from tests.fixtures.bot import BotFactory
from tests.support import settled
from tests.support.approval import click, request_clone, thread_texts, wait_state


async def test_an_approval_during_the_cards_posting_is_submitted_within_a_second(
    slack_emu: SlackEmulator, bot_factory: BotFactory
) -> None:
    bot: Runtime = await bot_factory(approval_channel=APPROVALS)
    # The card's poster hangs on its last call (the card's permalink) for 4 s, holding the
    # request's outbox while it waits.
    slack_emu.inject_fault("chat.getPermalink", error="internal_error", delay=4.0, count=1)
    record = await request_clone(slack_emu, bot)
    clicked = time.monotonic()
    await click(slack_emu, APPROVER, record, "request_approve")
    await wait_state(bot, record.id, State.SUBMITTING, State.RUNNING, State.SUCCEEDED)
    acted_s = time.monotonic() - clicked
    assert acted_s < 1.0, f"the approval waited {acted_s:.1f} s"
    assert slack_emu.state.calls("chat.getPermalink")[-1].params  # the poster was still busy

    done = await wait_state(bot, record.id, State.SUCCEEDED, timeout=20)
    await settled(bot)
    texts = thread_texts(slack_emu, done)
    assert any("approved" in t for t in texts)  # the note is in the thread, not the channel
    assert any("Cloned:" in t for t in texts)
    assert len(slack_emu.state.messages(APPROVALS)) == 1
