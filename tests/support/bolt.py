"""A real slack_bolt AsyncApp served over aiohttp against the Slack emulator, and the clone form
the emulator's Bolt tests open with it (one input of each element type, actions, suggestions)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox.slack_emulator import SlackEmulator
from tests.fixtures.slack import BOT_TOKEN, SIGNING_SECRET

Body = dict[str, Any]


@contextlib.asynccontextmanager
async def bolt_for(emu: SlackEmulator) -> AsyncIterator[AsyncApp]:
    """A Bolt app on a free port calling ``emu``'s Web API; ``emu.app_url`` points at it."""
    app = AsyncApp(
        signing_secret=SIGNING_SECRET,
        client=AsyncWebClient(token=BOT_TOKEN, base_url=emu.api_url),
    )
    runner = web.AppRunner(app.web_app(path="/slack/events"))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    emu.app_url = f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events"
    try:
        yield app
    finally:
        await runner.cleanup()


def plain(text: str) -> dict[str, Any]:
    """A ``plain_text`` object."""
    return {"type": "plain_text", "text": text}


def option(value: str) -> dict[str, Any]:
    """A select option: ``value``, labelled with its title case."""
    return {"text": plain(value.title()), "value": value}


def field(block_id: str, action_id: str, element: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """An input block labelled ``block_id`` around ``element``; ``extra`` goes on the block."""
    return {
        "type": "input",
        "block_id": block_id,
        "label": plain(block_id),
        "element": {"action_id": action_id, **element},
        **extra,
    }


# The modal /clone-model opens: one input of each element type, then two buttons.
FORM: dict[str, Any] = {
    "type": "modal",
    "callback_id": "clone_form",
    "title": plain("Clone model"),
    "submit": plain("Submit"),
    "private_metadata": "req-1",
    "blocks": [
        field("name", "name_input", {"type": "plain_text_input", "initial_value": "llama-clone"}),
        field("cpu", "cpu_input", {"type": "number_input", "is_decimal_allowed": False}),
        field(
            "kind",
            "kind_select",
            {"type": "static_select", "options": [option("endpoint"), option("finetune")]},
        ),
        field(
            "tags",
            "tags_select",
            {"type": "multi_static_select", "options": [option("a"), option("b")]},
            optional=True,
        ),
        field("approver", "approver_select", {"type": "users_select"}),
        field(
            "flags",
            "flags_check",
            {"type": "checkboxes", "options": [option("distributed")]},
            optional=True,
        ),
        field(
            "arch",
            "arch_radio",
            {
                "type": "radio_buttons",
                "options": [option("x86_64"), option("aarch64")],
                "initial_option": option("x86_64"),
            },
        ),
        field("source", "source_select", {"type": "external_select"}, optional=True),
        {
            "type": "actions",
            "block_id": "tools",
            "elements": [
                {
                    "type": "button",
                    "action_id": "advanced",
                    "text": plain("Advanced"),
                    "value": "1",
                },
                {"type": "button", "action_id": "more", "text": plain("More")},
            ],
        },
    ],
}

# The modal a submission named "update" is replaced with.
DONE: dict[str, Any] = {
    "type": "modal",
    "callback_id": "done",
    "title": plain("Done"),
    "blocks": [{"type": "section", "text": plain("Submitted")}],
}


def register_form(app: AsyncApp, seen: dict[str, Any]) -> None:
    """Listeners on ``app``: ``/clone-model`` opens ``FORM``; a submission named "taken",
    "update" or "bad-errors" gets that answer; ``source_select`` suggests two options. What
    they receive is recorded in ``seen``."""

    @app.command("/clone-model")
    async def open_form(ack: AsyncAck, body: Body, client: AsyncWebClient) -> None:
        await ack()
        seen["command"] = body
        seen["opened"] = await client.views_open(trigger_id=body["trigger_id"], view=FORM)

    @app.view("clone_form")
    async def submitted(ack: AsyncAck, body: Body, view: Body) -> None:
        seen.setdefault("submissions", []).append(body)
        name = view["state"]["values"]["name"]["name_input"]["value"]
        if name == "taken":
            await ack(response_action="errors", errors={"name": "That name is taken"})
        elif name == "update":
            await ack(response_action="update", view=DONE)
        elif name == "bad-errors":
            await ack(response_action="errors", errors={"tools": "not an input"})
        else:
            await ack()

    @app.options("source_select")
    async def sources(ack: AsyncAck, body: Body) -> None:
        seen["suggestion"] = body
        await ack(options=[option(f"{body['value']}-1"), option(f"{body['value']}-2")])


async def open_form(emu: SlackEmulator, seen: dict[str, Any]) -> str:
    """``/clone-model llama`` as U0REQ; the id of the modal ``register_form``'s app opened."""
    delivery = await emu.slash_command("U0REQ", "C0GENERAL", "/clone-model", "llama")
    assert delivery.ok, delivery
    views = await emu.wait_for(lambda: emu.state.open_views("U0REQ"))
    await emu.wait_for(lambda: "opened" in seen)
    return views[0].id
