"""The approval flow as end-to-end tests drive it: ask for a clone, click on the card, wait for a
state, read the completion notices in the thread and the requester's DMs."""

from __future__ import annotations

import asyncio

from bot.requests.model import CloneRequest, State
from bot.runtime import Runtime
from bot.sandbox.slack_emulator import SlackEmulator
from tests.e2e.helpers import APPROVALS, EXAMPLE, GENERAL, REQUESTER, blocks_text, login, top_view


async def request_clone(
    emu: SlackEmulator, bot: Runtime, *, name: str = "example-clone"
) -> CloneRequest:
    """The requester logs in, fills the form and submits; returns the stored pending request."""
    if not await bot.deps.sessions.peek("T0CLONE", REQUESTER):
        await login(emu)
    await emu.slash_command(REQUESTER, GENERAL, "/clone-model", EXAMPLE)
    view = await top_view(emu, REQUESTER, "clone_model")
    before = len(emu.state.messages(APPROVALS))
    await emu.submit_view(
        REQUESTER, view.id, {"reason": {"value": "eval run"}, "name": {"value": name}}
    )
    card = (
        await emu.wait_for(
            lambda: len(emu.state.messages(APPROVALS)) > before and emu.state.messages(APPROVALS)
        )
    )[-1]
    for _ in range(100):  # the thread index is written right after the card is posted
        request_id = await bot.deps.requests.by_thread(APPROVALS, card.ts)
        if request_id:
            return await bot.deps.requests.require(request_id)
        await asyncio.sleep(0.05)
    found = [k async for k in bot.deps.redis.client.scan_iter("*thread*")]
    raise AssertionError(f"never indexed: {card.ts} {card.channel} {found}")


async def wait_state(
    bot: Runtime, request_id: str, *states: State, timeout: float = 10.0
) -> CloneRequest:
    """The stored request once it is in one of ``states``; fails after ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        record = await bot.deps.requests.require(request_id)
        if record.state in states:
            return record
        assert asyncio.get_running_loop().time() < deadline, f"{request_id} is {record.state}"
        await asyncio.sleep(0.05)


async def wait_card(bot: Runtime, request_id: str, timeout: float = 10.0) -> CloneRequest:
    """The stored request once its card is posted and recorded."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not (record := await bot.deps.requests.require(request_id)).card_ts:
        assert asyncio.get_running_loop().time() < deadline, f"{request_id} has no card"
        await asyncio.sleep(0.05)
    return record


async def click(emu: SlackEmulator, user: str, record: CloneRequest, action: str) -> None:
    """``user`` clicks the button ``action`` on the request's card; the bot acks with 200."""
    delivery = await emu.click(user, channel=APPROVALS, ts=record.card_ts or "", action_id=action)
    assert delivery.status == 200


def thread_texts(emu: SlackEmulator, record: CloneRequest) -> list[str]:
    """Each reply in the card's thread as its text followed by its blocks' JSON."""
    return [
        m.text + blocks_text(m.blocks) for m in emu.state.thread(APPROVALS, record.card_ts or "")
    ]


async def wait_completion(emu: SlackEmulator, record: CloneRequest, marker: str) -> None:
    """The completion notice reached the thread, the card and the requester's DMs."""
    await emu.wait_for(lambda: any(marker in t for t in thread_texts(emu, record)), timeout=10)
    await emu.wait_for(
        lambda: any(marker in m.text + blocks_text(m.blocks) for m in emu.state.dms(REQUESTER)),
        timeout=10,
    )


def completion_count(emu: SlackEmulator, record: CloneRequest, marker: str) -> tuple[int, int]:
    """How many notices with ``marker`` are in the thread and in the requester's DMs."""
    in_thread = sum(marker in t for t in thread_texts(emu, record))
    in_dm = sum(marker in m.text + blocks_text(m.blocks) for m in emu.state.dms(REQUESTER))
    return in_thread, in_dm
