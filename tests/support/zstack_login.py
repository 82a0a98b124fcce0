"""``/zstack login`` as end-to-end tests drive it: run a ``/zstack`` command, open and submit the
login modal, read the ephemeral reply; ``LOGINS`` holds a valid form for each login kind."""

from __future__ import annotations

import json
from typing import Any

from bot.sandbox.slack_emulator import SlackEmulator

USER = "U0REQ"
CHANNEL = "C0GENERAL"

# The values of the login modal per kind, accepted by the ZStack simulator's seeded identities.
LOGINS = {
    "account": {
        "login_kind": {"kind": "account"},
        "account_name": {"value": "alice"},
        "password": {"value": "alice-pass"},
    },
    "user": {
        "login_kind": {"kind": "user"},
        "account_name": {"value": "alice"},
        "user_name": {"value": "bob"},
        "password": {"value": "bob-pass"},
    },
    "iam2": {
        "login_kind": {"kind": "iam2"},
        "user_name": {"value": "carol"},
        "password": {"value": "carol-pass"},
    },
}


def last_ephemeral_text(emu: SlackEmulator, user: str = USER) -> str:
    """The text of the latest ephemeral message ``user`` got; fails when there is none."""
    messages = emu.state.ephemerals(user)
    assert messages, "no ephemeral message"
    return str(messages[-1].text)


async def run(emu: SlackEmulator, text: str, user: str = USER) -> None:
    """``/zstack <text>`` acked in time; except for ``login``, waits for the ephemeral reply."""
    before = len(emu.state.ephemerals(user))
    delivery = await emu.slash_command(user, CHANNEL, "/zstack", text)
    assert delivery.status == 200 and not delivery.timed_out
    if text.split()[0] != "login":
        await emu.wait_for(lambda: len(emu.state.ephemerals(user)) > before)


def view_text(view: Any) -> str:
    """A view's blocks as JSON, to search for text; empty when there is no view."""
    return json.dumps(view.definition["blocks"]) if view is not None else ""


async def open_login(emu: SlackEmulator, user: str = USER) -> str:
    """``/zstack login``; the id of the modal it opens."""
    before = {v.id for v in emu.state.open_views(user)}
    await run(emu, "login", user)
    views = await emu.wait_for(
        lambda: [v for v in emu.state.open_views(user) if v.id not in before]
    )
    return str(views[-1].id)


async def submit_login(
    emu: SlackEmulator, view_id: str, values: dict[str, dict[str, Any]], user: str = USER
) -> str:
    """Submit the login modal; its blocks' JSON once it no longer says "Logging in"."""
    await emu.submit_view(user, view_id, values)

    def settled() -> str | None:
        view = emu.state.view(view_id)
        text = view_text(view)
        return None if view is None or "Logging in" in text else text

    return await emu.wait_for(settled)
