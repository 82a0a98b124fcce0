"""Edit and resubmit: after a rejection, a failed pre-flight check or a failure, the requester
opens the form filled with that request's values; the new request links to the old one, whose
card says it was replaced."""

from __future__ import annotations

from typing import Any

from bot.requests.model import CloneRequest, State
from bot.runtime import Runtime
from bot.sandbox.slack_emulator import SlackEmulator
from bot.sandbox.zstack_sim import SimServer
from tests.e2e.helpers import (
    ALICE_LOGIN,
    APPROVALS,
    APPROVER,
    GENERAL,
    REQUESTER,
    blocks_text,
    ephemeral_texts,
    top_view,
)
from tests.fixtures.bot import BotFactory
from tests.support import wait_until
from tests.support.approval import click, request_clone, wait_card, wait_state

RESUBMIT = "request_resubmit"


def initial(view: Any, block_id: str) -> Any:
    block = next(b for b in view.definition["blocks"] if b.get("block_id") == block_id)
    return block["element"].get("initial_value")


def card_text(emu: SlackEmulator, record: CloneRequest) -> str:
    card = emu.state.message(APPROVALS, record.card_ts or "")
    return blocks_text(card.blocks) if card else ""


async def resubmitted(bot: Runtime, old_id: str) -> CloneRequest:
    """The request that replaced ``old_id``, once its card is posted."""

    async def replaced() -> bool:
        return bool((await bot.deps.requests.require(old_id)).superseded_by)

    await wait_until(replaced)
    new_id = (await bot.deps.requests.require(old_id)).superseded_by
    assert new_id
    return await wait_card(bot, new_id)


async def checked(bot: Runtime, request_id: str) -> CloneRequest:
    async def done() -> bool:
        return bool((await bot.deps.requests.require(request_id)).checks)

    await wait_until(done)
    return await bot.deps.requests.require(request_id)


def dm_with(emu: SlackEmulator, user: str, marker: str) -> Any:
    return next(
        (m for m in reversed(emu.state.dms(user)) if marker in m.text + blocks_text(m.blocks)),
        None,
    )


async def test_a_name_clash_blocks_approve_and_edit_and_resubmit_clears_it(
    slack_emu: SlackEmulator, bot_factory: BotFactory, zstack_sim: SimServer
) -> None:
    bot = await bot_factory(approval_channel=APPROVALS)
    old = await request_clone(slack_emu, bot, name="example")  # the source's own name
    old = await checked(bot, old.id)
    await slack_emu.wait_for(lambda: RESUBMIT in card_text(slack_emu, old))
    # The requester is told how to fix it, with the button, in a DM.
    told = await slack_emu.wait_for(lambda: dm_with(slack_emu, REQUESTER, "can't be approved"))
    assert RESUBMIT in blocks_text(told.blocks)
    # The form opens with the request's values and a free name instead of the taken one.
    await slack_emu.click(REQUESTER, channel=told.channel, ts=told.ts, action_id=RESUBMIT)
    view = await top_view(slack_emu, REQUESTER, "clone_model")
    assert view.definition["title"]["text"] == "Edit and resubmit"
    assert initial(view, "name") == "example-2"
    assert initial(view, "reason") == "eval run"
    assert "already exists" in blocks_text(view) and old.id in blocks_text(view)
    await slack_emu.submit_view(REQUESTER, view.id, {})
    new = await resubmitted(bot, old.id)
    assert new.supersedes == old.id and new.new_name == "example-2"
    assert new.body.params.request_cpu == old.body.params.request_cpu
    # The old request is withdrawn, its card says by what; the new card links back.
    replaced = await bot.deps.requests.require(old.id)
    assert replaced.state == State.CANCELLED and replaced.superseded_by == new.id
    await slack_emu.wait_for(lambda: f"Replaced by *{new.id}*" in card_text(slack_emu, old))
    assert "request_approve" not in card_text(slack_emu, old)
    linked = card_text(slack_emu, new)
    assert "Edited resubmission of" in linked and f"{old.card_link}|{old.id}>" in linked
    # The new request passes its checks and is cloned under the new name.
    new = await checked(bot, new.id)
    assert all(check.ok for check in new.checks)
    await click(slack_emu, APPROVER, new, "request_approve")
    await wait_state(bot, new.id, State.SUCCEEDED)
    names = [s["inventory"]["name"] for s in zstack_sim.state.snapshot()["model_services"]]
    assert names.count("example-2") == 1 and names.count("example") == 1
    # "approve" typed in the replaced request's thread is answered in words.
    await slack_emu.post_message(APPROVER, APPROVALS, "approve", thread_ts=old.card_ts)
    await slack_emu.wait_for(
        lambda: any(f"replaced by {new.id}" in t for t in ephemeral_texts(slack_emu, APPROVER))
    )
    assert not slack_emu.validation_failures


async def test_after_a_rejection_the_form_keeps_every_value_of_the_request(
    slack_emu: SlackEmulator, bot_factory: BotFactory
) -> None:
    bot = await bot_factory(approval_channel=APPROVALS)
    old = await request_clone(slack_emu, bot, name="bigger-clone")
    await click(slack_emu, APPROVER, old, "request_reject")
    reject = await top_view(slack_emu, APPROVER, "reject_request")
    await slack_emu.submit_view(APPROVER, reject.id, {"reject_reason": {"value": "use 8 vCPU"}})
    await wait_state(bot, old.id, State.REJECTED)
    told = await slack_emu.wait_for(lambda: dm_with(slack_emu, REQUESTER, "use 8 vCPU"))
    assert RESUBMIT in blocks_text(told.blocks)
    await slack_emu.wait_for(lambda: RESUBMIT in card_text(slack_emu, old))
    # From the card this time.
    await click(slack_emu, REQUESTER, old, RESUBMIT)
    view = await top_view(slack_emu, REQUESTER, "clone_model")
    assert initial(view, "name") == "bigger-clone"
    assert initial(view, "request_cpu") == str(old.body.params.request_cpu)
    await slack_emu.submit_view(REQUESTER, view.id, {"request_cpu": {"value": "8"}})
    new = await resubmitted(bot, old.id)
    assert new.body.params.request_cpu == 8
    assert new.body.params.name == "bigger-clone"
    assert new.reason == old.reason
    assert new.changes is not None and any(c.wire == "requestCpu" for c in new.changes)
    # Rejected stays rejected, and says it was replaced; a second resubmission is refused.
    replaced = await bot.deps.requests.require(old.id)
    assert replaced.state == State.REJECTED and replaced.superseded_by == new.id
    await slack_emu.wait_for(lambda: f"Replaced by *{new.id}*" in card_text(slack_emu, old))
    await slack_emu.click(REQUESTER, channel=told.channel, ts=told.ts, action_id=RESUBMIT)
    await slack_emu.wait_for(
        lambda: (
            any(
                f"already resubmitted as {new.id}" in t
                for t in ephemeral_texts(slack_emu, REQUESTER)
            )
            or dm_with(slack_emu, REQUESTER, f"already resubmitted as {new.id}")
        )
    )


async def test_only_the_requester_can_resubmit(
    slack_emu: SlackEmulator, bot_factory: BotFactory
) -> None:
    bot = await bot_factory(approval_channel=APPROVALS)
    old = await request_clone(slack_emu, bot)
    await click(slack_emu, REQUESTER, old, "request_cancel")
    await wait_state(bot, old.id, State.CANCELLED)
    await slack_emu.wait_for(lambda: RESUBMIT in card_text(slack_emu, old))
    opened = len(slack_emu.state.open_views(APPROVER))
    await click(slack_emu, APPROVER, old, RESUBMIT)
    await slack_emu.wait_for(
        lambda: any("can edit and resubmit" in t for t in ephemeral_texts(slack_emu, APPROVER))
    )
    assert len(slack_emu.state.open_views(APPROVER)) == opened  # no form for them
    assert (await bot.deps.requests.require(old.id)).superseded_by is None


async def test_a_failure_offers_retry_and_edit_and_resubmit_with_a_link_to_the_thread(
    slack_emu: SlackEmulator, bot_factory: BotFactory, zstack_sim: SimServer
) -> None:
    bot = await bot_factory(approval_channel=APPROVALS)
    zstack_sim.state.fail_next_clones(1)
    old = await request_clone(slack_emu, bot)
    await click(slack_emu, APPROVER, old, "request_approve")
    failed = await wait_state(bot, old.id, State.FAILED)
    told = await slack_emu.wait_for(lambda: dm_with(slack_emu, REQUESTER, "Clone failed"))
    dm = blocks_text(told.blocks)
    assert "request_retry" in dm and RESUBMIT in dm
    assert failed.card_link and failed.card_link in dm
    await slack_emu.click(REQUESTER, channel=told.channel, ts=told.ts, action_id=RESUBMIT)
    view = await top_view(slack_emu, REQUESTER, "clone_model")
    await slack_emu.submit_view(REQUESTER, view.id, {"name": {"value": "example-clone-b"}})
    new = await resubmitted(bot, old.id)
    replaced = await bot.deps.requests.require(old.id)
    assert replaced.state == State.FAILED and replaced.superseded_by == new.id
    # The replaced failure is not retried: the retry goes to its resubmission.
    await slack_emu.wait_for(lambda: "request_retry" not in card_text(slack_emu, replaced))
    await slack_emu.click(REQUESTER, channel=told.channel, ts=told.ts, action_id="request_retry")
    await slack_emu.wait_for(
        lambda: (
            dm_with(slack_emu, REQUESTER, "retry that one instead")
            or any("retry that one instead" in t for t in ephemeral_texts(slack_emu, REQUESTER))
        )
    )
    assert (await bot.deps.requests.require(old.id)).state == State.FAILED


async def test_a_requester_without_a_session_logs_in_first_then_gets_the_form(
    slack_emu: SlackEmulator, bot_factory: BotFactory
) -> None:
    bot = await bot_factory(approval_channel=APPROVALS)
    old = await request_clone(slack_emu, bot, name="after-login")
    await click(slack_emu, REQUESTER, old, "request_cancel")
    await wait_state(bot, old.id, State.CANCELLED)
    await slack_emu.slash_command(REQUESTER, GENERAL, "/zstack", "logout")
    await wait_until(lambda: _logged_out(bot))
    await slack_emu.wait_for(lambda: RESUBMIT in card_text(slack_emu, old))
    await click(slack_emu, REQUESTER, old, RESUBMIT)
    login_view = await top_view(slack_emu, REQUESTER, "zstack_login")
    await slack_emu.submit_view(REQUESTER, login_view.id, ALICE_LOGIN)
    view = await top_view(slack_emu, REQUESTER, "clone_model")
    assert view.definition["title"]["text"] == "Edit and resubmit"
    assert initial(view, "name") == "after-login"
    await slack_emu.submit_view(REQUESTER, view.id, {})
    new = await resubmitted(bot, old.id)
    assert new.supersedes == old.id


async def _logged_out(bot: Runtime) -> bool:
    return not await bot.deps.sessions.peek("T0CLONE", REQUESTER)
