"""Browser tests of the emulator's page: Debian's chromium driven by Playwright. A person runs a
command, fills a modal and approves; long tokens wrap in the thread pane; the page speaks the
language of the person it acts as and shows times in their time zone; nothing goes wrong in the
console.

Skipped only when Playwright's Python package is missing or ``/usr/bin/chromium`` is not there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox.slack_emulator import SlackEmulator
from tests.fixtures.slack import BOT_TOKEN
from tests.support.bolt import bolt_for, option, plain
from tests.support.browser import PageProblems, clock, outside_of, untranslated_labels

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

async_api = pytest.importorskip("playwright.async_api", reason="playwright is not installed")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing"),
]

Body = dict[str, Any]

FORM: Body = {
    "type": "modal",
    "callback_id": "clone_form",
    "title": plain("Clone model"),
    "submit": plain("Request"),
    "blocks": [
        {"type": "header", "text": plain("New clone")},
        {
            "type": "input",
            "block_id": "name",
            "label": plain("Name"),
            "element": {"type": "plain_text_input", "action_id": "name_input"},
        },
        {
            "type": "input",
            "block_id": "kind",
            "label": plain("Kind"),
            "element": {
                "type": "static_select",
                "action_id": "kind_select",
                "options": [option("endpoint"), option("finetune")],
            },
        },
    ],
}


def register(app: AsyncApp) -> None:
    @app.command("/clone-model")
    async def open_form(ack: AsyncAck, body: Body, client: AsyncWebClient) -> None:
        await ack()
        await client.views_open(trigger_id=body["trigger_id"], view=FORM)

    @app.view("clone_form")
    async def submitted(ack: AsyncAck, body: Body, view: Body, client: AsyncWebClient) -> None:
        values = view["state"]["values"]
        name = values["name"]["name_input"]["value"]
        if name == "taken":
            await ack(response_action="errors", errors={"name": "That name is taken"})
            return
        await ack()
        kind = values["kind"]["kind_select"]["selected_option"]["value"]
        blocks = [
            {
                "type": "section",
                "block_id": "summary",
                "text": {
                    "type": "mrkdwn",
                    "text": f"*Clone* `{name}` ({kind}) requested by <@{body['user']['id']}>",
                },
            },
            {
                "type": "actions",
                "block_id": "decide",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "approve",
                        "style": "primary",
                        "text": plain("Approve"),
                        "value": name,
                    }
                ],
            },
        ]
        await client.chat_postMessage(channel="C0APPROVE", text=f"clone {name}", blocks=blocks)

    @app.action("approve")
    async def approve(ack: AsyncAck, body: Body, client: AsyncWebClient) -> None:
        await ack()
        await client.chat_postMessage(
            channel="C0APPROVE",
            thread_ts=body["message"]["ts"],
            text=f"Approved by <@{body['user']['id']}> <script>alert(1)</script>",
        )


async def test_a_person_runs_the_command_fills_the_modal_and_approves(
    slack_emu: SlackEmulator, tmp_path: Path
) -> None:
    async with (
        bolt_for(slack_emu) as app,
        async_api.async_playwright() as pw,
    ):
        register(app)
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            problems = PageProblems(page)
            dialogs: list[str] = []
            page.on("dialog", lambda d: dialogs.append(d.message))
            expect = async_api.expect
            await page.goto(slack_emu.url)
            await expect(page.get_by_test_id("live-indicator")).to_have_attribute(
                "data-live", "true"
            )

            # As riley, in the approval channel, run the command.
            await page.get_by_test_id("person-switcher").select_option("U0REQ")
            await page.get_by_test_id("channel-C0APPROVE").click()
            await expect(page.get_by_test_id("approval-badge")).to_be_visible()
            await page.get_by_test_id("message-box").fill("/clone-model example")
            await page.get_by_test_id("message-box").press("Enter")
            modal = page.get_by_test_id("modal")
            await expect(modal.get_by_test_id("modal-title")).to_have_text("Clone model")

            # A modal is one person's: switching to sam hides riley's, switching back shows it.
            await page.get_by_test_id("person-switcher").select_option("U0OUT")
            await expect(modal).to_have_count(0)
            await page.get_by_test_id("person-switcher").select_option("U0REQ")
            await expect(modal.get_by_test_id("modal-title")).to_have_text("Clone model")

            # A name the app rejects: the error shows under the input, the modal stays.
            await page.get_by_test_id("modal-input-name").fill("taken")
            await page.get_by_test_id("modal-input-kind").select_option("finetune")
            await page.get_by_test_id("modal-submit").click()
            await expect(page.get_by_test_id("error-name")).to_have_text("That name is taken")
            await expect(page.get_by_test_id("modal-input-kind")).to_have_value("finetune")

            await page.get_by_test_id("modal-input-name").fill("llama-clone")
            await page.get_by_test_id("modal-submit").click()
            await expect(modal).to_have_count(0)

            # The bot's message arrives without a reload.
            card = page.get_by_test_id("message").filter(has_text="llama-clone")
            await expect(card).to_contain_text("Clone llama-clone (finetune) requested by @Riley")
            await expect(card.locator("code")).to_have_text("llama-clone")

            # As avery, approve: the reply shows in the thread, as text (no markup injected).
            await page.get_by_test_id("person-switcher").select_option("U0APP1")
            await card.get_by_test_id("action-approve").click()
            ts = await card.get_attribute("data-ts")
            await page.get_by_test_id(f"thread-link-{ts}").click()
            pane = page.get_by_test_id("thread-pane")
            await expect(pane).to_contain_text(
                "Approved by @Avery Brooks <script>alert(1)</script>"
            )
            await page.get_by_test_id("reply-box").fill("thanks!")
            await page.get_by_test_id("reply-box").press("Enter")
            await expect(pane.get_by_test_id("message").last).to_contain_text("thanks!")
            await page.screenshot(path=str(tmp_path / "emulator-page.png"), full_page=True)
            problems.recording = False
        finally:
            await browser.close()
    assert dialogs == [] and problems.found == []
    submissions = [d for d in slack_emu.state.deliveries if d.type == "view_submission"]
    assert [d.ok for d in submissions] == [True, True]
    clicks = [d for d in slack_emu.state.deliveries if d.type == "block_actions"]
    assert clicks[-1].payload["user"]["id"] == "U0APP1"
    replies = slack_emu.state.thread("C0APPROVE", clicks[-1].payload["message"]["ts"])
    assert [r.text for r in replies][-1] == "thanks!" and replies[-1].user == "U0APP1"
    assert slack_emu.validation_failures == []


LONG_TOKEN = "x" * 40 + "90d425a802ff44eeb530f21587633700" * 4  # no place to break


async def test_long_tokens_wrap_and_the_page_speaks_its_readers_language(
    slack_emu: SlackEmulator, tmp_path: Path
) -> None:
    client = AsyncWebClient(token=BOT_TOKEN, base_url=slack_emu.api_url)
    parent = await client.chat_postMessage(channel="C0APPROVE", text="A request")
    blob = json.dumps([{"cpuArchitecture": arch, "dockerImage": LONG_TOKEN} for arch in "ab"])
    blocks = [
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": "*Code*\nSYS.1006"},
                {"type": "mrkdwn", "text": f"*Description*\n{LONG_TOKEN}"},
            ],
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": f"`{LONG_TOKEN}` {LONG_TOKEN}"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"```{blob}```"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": LONG_TOKEN}]},
    ]
    await client.chat_postMessage(
        channel="C0APPROVE", thread_ts=parent["ts"], text="Failed", blocks=blocks
    )
    optional = {
        "type": "modal",
        "callback_id": "form",
        "title": plain("Clone"),
        "submit": plain("Request"),
        "blocks": [
            {
                "type": "input",
                "block_id": "note",
                "optional": True,
                "label": plain("Note"),
                "element": {"type": "plain_text_input", "action_id": "note"},
            }
        ],
    }
    async with async_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 800})
            problems = PageProblems(page)
            expect = async_api.expect
            by = page.get_by_test_id
            await page.goto(slack_emu.url)
            await expect(by("live-indicator")).to_have_attribute("data-live", "true")
            # No welcome panel: nobody told this emulator who its people are.
            await expect(by("welcome")).to_be_hidden()
            await expect(by("welcome-toggle")).to_be_hidden()

            await by("person-switcher").select_option("U0APP1")
            await by("channel-C0APPROVE").click()
            await by(f"thread-link-{parent['ts']}").click()
            pane = by("thread-messages")
            reply = pane.get_by_test_id("message").filter(has_text="Description")
            await expect(reply).to_have_count(1)
            assert await outside_of(reply, pane) == []
            await expect(reply.get_by_text("Description", exact=True)).to_be_in_viewport()
            await page.screenshot(path=str(tmp_path / "long-tokens.png"))

            # jordan reads zh-CN: the page's own words are Chinese, times in Asia/Shanghai.
            await by("person-switcher").select_option("U0APP2")
            await expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
            await expect(by(f"thread-link-{parent['ts']}")).to_have_text("1 条回复")
            await expect(by("thread-pane").locator("h2")).to_have_text("消息串")
            await expect(by("person-zone")).to_contain_text("Asia/Shanghai")
            time = by("messages").locator(f'[data-testid="msg-time"][data-ts="{parent["ts"]}"]')
            await expect(time).to_have_text(clock(parent["ts"], "Asia/Shanghai", "zh"))
            assert await untranslated_labels(page) == []
            slack_emu.modals.open("U0APP2", optional)
            slack_emu.state.notify()
            modal = by("modal")
            await expect(modal.locator(".optional")).to_have_text("（可选）")
            await expect(by("modal-close")).to_have_text("取消")
            await page.screenshot(path=str(tmp_path / "zh.png"))

            await by("person-switcher").select_option("U0APP1")
            await expect(page.locator("html")).to_have_attribute("lang", "en")
            await expect(by("thread-pane").locator("h2")).to_have_text("Thread")
            time_en = clock(parent["ts"], "America/Los_Angeles", "en")
            await expect(time).to_have_text(time_en)
            problems.recording = False
        finally:
            await browser.close()
    assert problems.found == []
