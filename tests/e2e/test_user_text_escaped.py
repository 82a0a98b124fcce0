"""User text never pings or links: every mrkdwn string a full flow sends to Slack is scanned for
raw ``<!channel>``, ``<!here>``, ``<@U…>`` and ``<http…|…>`` that came from user input (form
fields, reasons, thread replies, command text) or from ZStack (service names, error details)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

from bot.requests.model import State
from bot.runtime import Runtime
from bot.sandbox.slack_emulator import SlackEmulator
from bot.sandbox.zstack_sim import SimServer
from tests.e2e.helpers import APPROVALS, APPROVER, EXAMPLE, GENERAL, REQUESTER, login, top_view
from tests.fixtures.bot import BotFactory
from tests.support import settled, wait_until
from tests.support.approval import click, wait_state

HOSTILE = "x-<!channel> <!here> <@U0EVIL> <http://evil.example|click here> & <!subteam^S0EVIL>"
RAW_MARKUP = ("<!channel>", "<!here>", "<@U0EVIL>", "<http://evil", "<!subteam^S0EVIL>")


def mrkdwn_strings(value: Any, *, top: bool = True) -> Iterator[str]:
    """Every string Slack parses as mrkdwn in a recorded call: a message's ``text`` and every
    ``mrkdwn`` text object (blocks, fields, confirm dialogs, views), however nested."""
    if isinstance(value, str):
        if value[:1] in "[{":
            with contextlib.suppress(ValueError):
                yield from mrkdwn_strings(json.loads(value), top=False)
        return
    if isinstance(value, list):
        for item in value:
            yield from mrkdwn_strings(item, top=False)
        return
    if not isinstance(value, dict):
        return
    if value.get("type") == "mrkdwn" and isinstance(value.get("text"), str):
        yield value["text"]
    if top and isinstance(value.get("text"), str):
        yield value["text"]
    for key, item in value.items():
        if key != "text" or not isinstance(item, str):
            yield from mrkdwn_strings(item, top=False)


def leaks(emu: SlackEmulator) -> list[tuple[str, str]]:
    found = []
    for call in emu.state.calls():
        for text in mrkdwn_strings(dict(call.params)):
            for raw in RAW_MARKUP:
                if raw in text:
                    found.append((call.method, text[:300]))
    return found


def test_the_scan_finds_raw_markup() -> None:
    """The scanner itself: it sees a message's text, nested blocks and confirm dialogs."""
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": "a <!here>"}},
        {"type": "actions", "elements": [{"confirm": {"text": {"type": "mrkdwn", "text": "b"}}}]},
    ]
    found = list(mrkdwn_strings({"text": "<!channel>", "blocks": json.dumps(blocks)}))
    assert found == ["<!channel>", "a <!here>", "b"]
    plain = {"blocks": [{"type": "header", "text": {"type": "plain_text", "text": "<!here>"}}]}
    assert list(mrkdwn_strings(plain)) == []


async def submit_request(emu: SlackEmulator, bot: Runtime, name: str) -> str:
    await emu.slash_command(REQUESTER, GENERAL, "/clone-model", EXAMPLE)
    view = await top_view(emu, REQUESTER, "clone_model")
    before = len(emu.state.messages(APPROVALS))
    await emu.submit_view(
        REQUESTER,
        view.id,
        {
            "name": {"value": name},
            "description": {"value": HOSTILE},
            "reason": {"value": f"because {HOSTILE}"},
        },
    )
    await wait_until(lambda: len(emu.state.messages(APPROVALS)) > before)
    card = emu.state.messages(APPROVALS)[-1]
    found: list[str] = []

    async def indexed() -> bool:
        request_id = await bot.deps.requests.by_thread(APPROVALS, card.ts)
        if request_id:
            found.append(request_id)
        return bool(request_id)

    await wait_until(indexed)
    return found[0]


async def test_a_whole_flow_with_hostile_text_sends_no_raw_markup(
    slack_emu: SlackEmulator, bot_factory: BotFactory, zstack_sim: SimServer
) -> None:
    bot = await bot_factory(approval_channel=APPROVALS)
    zstack_sim.state.services[EXAMPLE].name = f"src {HOSTILE}"
    await login(slack_emu)

    # Command text echoed back ("no model service matches …").
    await slack_emu.slash_command(REQUESTER, GENERAL, "/clone-model", HOSTILE)
    await top_view(slack_emu, REQUESTER, "clone_model")
    slack_emu.modals.clear(REQUESTER, reason="close")

    # 1. Approved and cloned: the new inventory carries the hostile name.
    first = await submit_request(slack_emu, bot, f"a {HOSTILE}"[:200])
    record = await bot.deps.requests.require(first)
    await click(slack_emu, APPROVER, record, "request_approve")
    await wait_state(bot, first, State.SUCCEEDED)

    # 2. Rejected by a thread reply with a hostile reason.
    second = await submit_request(slack_emu, bot, "b-clone")
    record = await bot.deps.requests.require(second)
    await slack_emu.post_message(APPROVER, APPROVALS, f"reject {HOSTILE}", record.card_ts)
    await wait_state(bot, second, State.REJECTED)

    # 3. Failed in ZStack with hostile error details and causes.
    zstack_sim.state.fail_next_clones(
        1,
        {
            "code": "SYS.1006",
            "description": f"op {HOSTILE}",
            "details": HOSTILE,
            "cause": {"code": f"X {HOSTILE}", "details": HOSTILE},
        },
    )
    third = await submit_request(slack_emu, bot, "c-clone")
    record = await bot.deps.requests.require(third)
    await click(slack_emu, APPROVER, record, "request_approve")
    await wait_state(bot, third, State.FAILED)

    # Status, list, App Home for both people.
    await slack_emu.slash_command(REQUESTER, GENERAL, "/clone-model", f"status {first}")
    await slack_emu.slash_command(REQUESTER, GENERAL, "/clone-model", "list")
    await slack_emu.open_home(REQUESTER)
    await slack_emu.open_home(APPROVER)
    await settled(bot)
    await wait_until(lambda: len(slack_emu.state.calls("views.publish")) >= 2)

    scanned = [t for c in slack_emu.state.calls() for t in mrkdwn_strings(dict(c.params))]
    assert any("&lt;!channel&gt;" in t for t in scanned), "the hostile text was shown, escaped"
    assert leaks(slack_emu) == []
