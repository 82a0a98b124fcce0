"""Small steps shared by end-to-end tests: act as Slack users and read what the bot did."""

from __future__ import annotations

import json
from typing import Any

from bot.sandbox.slack_emulator import SlackEmulator
from bot.sandbox.slack_emulator.records import OpenView

REQUESTER = "U0REQ"
APPROVER = "U0APP1"
APPROVER2 = "U0APP2"
OUTSIDER = "U0OUT"
GENERAL = "C0GENERAL"
APPROVALS = "C0APPROVE"
EXAMPLE = "90d425a802ff44eeb530f21587633700"

ALICE_LOGIN = {
    "login_kind": {"kind": "account"},
    "account_name": {"value": "alice"},
    "password": {"value": "alice-pass"},
}


def blocks_text(view_or_blocks: Any) -> str:
    blocks = (
        view_or_blocks.definition["blocks"]
        if isinstance(view_or_blocks, OpenView)
        else view_or_blocks
    )
    return json.dumps(blocks, ensure_ascii=False)


async def top_view(
    emu: SlackEmulator, user: str, callback_id: str, timeout: float = 5.0
) -> OpenView:
    """Wait until the user's top modal has ``callback_id``."""

    def found() -> OpenView | None:
        views = emu.state.open_views(user)
        return views[-1] if views and views[-1].callback_id == callback_id else None

    return await emu.wait_for(found, timeout=timeout)


async def login(
    emu: SlackEmulator, user: str = REQUESTER, values: dict[str, Any] | None = None
) -> None:
    """``/zstack login`` and submit the form; waits for the success view."""
    await emu.slash_command(user, GENERAL, "/zstack", "login")
    view = await top_view(emu, user, "zstack_login")
    await emu.submit_view(user, view.id, values or ALICE_LOGIN)
    await top_view(emu, user, "zstack_login_info")


def ephemeral_texts(emu: SlackEmulator, user: str) -> list[str]:
    return [m.text for m in emu.state.ephemerals(user)]
