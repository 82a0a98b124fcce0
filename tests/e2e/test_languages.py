"""Each person reads the bot in their Slack language; channel posts use CLONEBOT_LOCALE."""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

import pytest

from bot.i18n import LOCALE_CACHE_S
from bot.requests.model import CloneRequest, State
from bot.runtime import Runtime
from bot.sandbox.slack_emulator import SlackEmulator
from bot.sandbox.zstack_sim import SimServer
from bot.sandbox.zstack_sim.seed import seed_services
from tests.e2e.helpers import APPROVALS, APPROVER2, EXAMPLE, GENERAL, blocks_text, login, top_view
from tests.fixtures.bot import BotFactory
from tests.support.approval import click, request_clone, wait_state
from tests.support.chinese import english_words, typography_problems, visible_texts

CJK = re.compile(r"[\u4e00-\u9fff]")
JORDAN = APPROVER2  # locale zh-CN in the emulator's workspace


async def test_a_chinese_locale_gets_chinese_answers(
    slack_emu: SlackEmulator, bot_factory: BotFactory
) -> None:
    await bot_factory(approval_channel=APPROVALS)
    await slack_emu.slash_command(JORDAN, GENERAL, "/zstack", "help")
    await slack_emu.slash_command("U0REQ", GENERAL, "/zstack", "help")
    jordan = await slack_emu.wait_for(lambda: slack_emu.state.ephemerals(JORDAN))
    riley = await slack_emu.wait_for(lambda: slack_emu.state.ephemerals("U0REQ"))
    assert "ZStack 会话命令" in jordan[-1].text
    assert not CJK.search(riley[-1].text)


async def test_the_source_is_looked_up_while_slack_tells_the_language(
    slack_emu: SlackEmulator,
    bot_factory: BotFactory,
    zstack_sim: SimServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A reader's language not known lately is asked of Slack (users.info); the source's lookup
    does not wait for the answer, and the form still comes in the language Slack told."""
    bot = await bot_factory(approval_channel=APPROVALS)
    await login(slack_emu, JORDAN)  # the bot learns jordan reads Chinese
    await slack_emu.wait_for(lambda: slack_emu.state.home(JORDAN))  # the login's last step
    slack_emu.state.workspace.users[JORDAN].locale = "en-US"  # ...who switches to English
    stale = time.monotonic() + LOCALE_CACHE_S + 1
    monkeypatch.setattr(bot.deps.locales, "clock", lambda: stale)
    queries = zstack_sim.state.counts.requests_by_operation
    before = queries["QueryModelService"]
    known = len(slack_emu.state.calls("users.info"))
    delay = 0.45  # inside the language's budget: the answer is waited for
    slack_emu.slow_down("users.info", delay)
    await slack_emu.slash_command(JORDAN, GENERAL, "/clone-model", EXAMPLE)
    await slack_emu.wait_for(lambda: queries["QueryModelService"] > before)
    looked_up = time.monotonic()
    asked = slack_emu.state.calls("users.info")[-1]
    assert len(slack_emu.state.calls("users.info")) == known + 1
    assert looked_up < asked.received_at + delay  # ZStack was asked before Slack answered
    form = await top_view(slack_emu, JORDAN, "clone_model")
    assert "example-clone" in blocks_text(form)
    assert not CJK.search(json.dumps(form.definition, ensure_ascii=False))


async def test_workspace_locale_for_cards_and_personal_language_for_refusals(
    slack_emu: SlackEmulator, bot_factory: BotFactory
) -> None:
    bot = await bot_factory(approval_channel=APPROVALS, locale="zh")
    record = await request_clone(slack_emu, bot)
    card = slack_emu.state.message(APPROVALS, record.card_ts or "")
    assert card is not None and "克隆申请" in blocks_text(card.blocks)
    await click(slack_emu, "U0REQ", record, "request_approve")  # self-approval: refused
    refusal = await slack_emu.wait_for(
        lambda: [m.text for m in slack_emu.state.ephemerals("U0REQ") if "request" in m.text]
    )
    assert "own request" in refusal[-1]  # riley reads English
    assert not CJK.search(refusal[-1])
    await click(slack_emu, JORDAN, record, "request_approve")
    done = await wait_state(bot, record.id, State.SUCCEEDED)
    # The notice is delivered right after the state change: wait for it.
    await slack_emu.wait_for(
        lambda: any(
            "克隆完成" in blocks_text(m.blocks)
            for m in slack_emu.state.thread(APPROVALS, done.card_ts or "")
        )
    )


async def _request_of(bot: Runtime, card_ts: str) -> CloneRequest:
    """The request of a card (its thread index is written right after the post)."""
    deadline = asyncio.get_running_loop().time() + 5
    while not (request_id := await bot.deps.requests.by_thread(APPROVALS, card_ts)):
        assert asyncio.get_running_loop().time() < deadline, "the card was never indexed"
        await asyncio.sleep(0.05)
    return await bot.deps.requests.require(request_id)


# Everything the bot sends to Slack that a person reads.
SHOWN_BY = frozenset(
    {
        "chat.postMessage",
        "chat.postEphemeral",
        "chat.update",
        "views.open",
        "views.update",
        "views.push",
        "views.publish",
        "response_url",
    }
)


def _payload_texts(params: dict[str, Any]) -> list[str]:
    texts = [params["text"]] if isinstance(params.get("text"), str) else []
    for key in ("blocks", "view", "attachments"):
        value = params.get(key)
        if isinstance(value, str) and value[:1] in "[{":
            value = json.loads(value)
        texts += visible_texts(value)
    return texts


async def test_a_chinese_requesters_whole_journey_reads_chinese(
    slack_emu: SlackEmulator, bot_factory: BotFactory
) -> None:
    """jordan (zh-CN) in a zh workspace: log in, open the form, show the advanced options, get a
    field error, request, approve (self-approval on), read the result, status, list, help, App
    Home and a DM to the bot. Nothing the bot sends reads English or breaks Chinese typography."""
    bot = await bot_factory(approval_channel=APPROVALS, locale="zh", allow_self_approval=True)
    await login(slack_emu, JORDAN)
    await slack_emu.slash_command(JORDAN, GENERAL, "/clone-model", EXAMPLE)
    view = await top_view(slack_emu, JORDAN, "clone_model")
    await slack_emu.view_action(JORDAN, view.id, "toggle_advanced", block_id="advanced_toggle")
    await slack_emu.wait_for(
        lambda: '"block_id": "yaml"' in blocks_text(slack_emu.state.view(view.id))
    )
    refused = await slack_emu.submit_view(
        JORDAN,
        view.id,
        {"reason": {"value": "评测"}, "gpu_compute_capability": {"value": "high"}},
    )
    assert refused is not None
    errors = refused.json()["errors"]
    assert errors.keys() == {"gpu_compute_capability"}
    before = len(slack_emu.state.messages(APPROVALS))
    await slack_emu.submit_view(
        JORDAN, view.id, {"reason": {"value": "评测"}, "gpu_compute_capability": {"value": ""}}
    )
    await slack_emu.wait_for(lambda: len(slack_emu.state.messages(APPROVALS)) > before)
    card = slack_emu.state.messages(APPROVALS)[-1]
    record = await _request_of(bot, card.ts)
    await click(slack_emu, JORDAN, record, "request_approve")
    done = await wait_state(bot, record.id, State.SUCCEEDED)
    await slack_emu.wait_for(
        lambda: any("克隆完成" in blocks_text(m.blocks) for m in slack_emu.state.dms(JORDAN))
    )
    for words in ("status " + done.id, "list", "help", "status CR-NOPE00"):
        await slack_emu.slash_command(JORDAN, GENERAL, "/clone-model", words)
    for words in ("whoami", "help", "nonsense"):
        await slack_emu.slash_command(JORDAN, GENERAL, "/zstack", words)
    await slack_emu.open_home(JORDAN)
    await slack_emu.post_message(JORDAN, JORDAN, "help")
    await slack_emu.wait_for(lambda: slack_emu.state.home(JORDAN))
    await slack_emu.wait_for(lambda: len(slack_emu.state.calls("response_url")) >= 7)

    sent = [call for call in slack_emu.state.calls() if call.method in SHOWN_BY]
    texts = [*errors.values(), *(t for call in sent for t in _payload_texts(call.params))]
    # The source's own texts (its description, start command...) are data, not the bot's words.
    example = next(s for s in seed_services() if s.uuid == EXAMPLE).to_inventory()
    data = {"example-clone", "alice", *english_words(json.dumps(example))}
    english = {text[:160]: words for text in texts if (words := english_words(text, data))}
    slips = [problem for text in texts for problem in typography_problems(text)]
    assert len(texts) > 100
    assert english == {}
    assert slips == []
