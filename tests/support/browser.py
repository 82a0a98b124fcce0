"""The sandbox journey in a real browser: Debian's chromium driven by Playwright, on the page
people use, by clicking and typing. ``tests/e2e/test_sandbox_browser.py`` runs it in HTTP mode and
in Socket Mode; ``tests/e2e/make_screenshot.py`` runs it for the README's screenshot.

Importing this module skips the importing test module when Playwright's Python package is missing.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox.launcher import Sandbox

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
STEP_TIMEOUT_MS = 15_000
VIEWPORT = {"width": 1440, "height": 900}

async_api = pytest.importorskip("playwright.async_api", reason="playwright is not installed")

RILEY, AVERY = "U0REQ", "U0APP1"
GENERAL, APPROVALS, RILEY_DM = "C0GENERAL", "C0APPROVE", "D0REQ"


class Journey:
    """The steps, on one page; ``shots`` are the screenshots taken so far."""

    def __init__(self, page: Any, sandbox: Sandbox, shots_dir: Path) -> None:
        self.page = page
        self.sandbox = sandbox
        self.shots_dir = shots_dir
        self.shots: list[Path] = []
        self.expect = async_api.expect

    async def shot(self, name: str) -> Path:
        path = self.shots_dir / f"{len(self.shots) + 1:02d}-{name}.png"
        await self.page.screenshot(path=str(path))
        self.shots.append(path)
        return path

    def by(self, testid: str) -> Any:
        return self.page.get_by_test_id(testid)

    async def open(self) -> None:
        await self.page.goto(self.sandbox.url + "/")
        await self.expect(self.by("live-indicator")).to_have_attribute("data-live", "true")
        # Set once; a reload would lose it, so it proves later updates arrived live.
        await self.page.evaluate("window.__sameDocument = true")

    async def be(self, person: str) -> None:
        await self.by("person-switcher").select_option(person)
        await self.expect(self.by("person-switcher")).to_have_value(person)

    async def go(self, channel: str) -> None:
        await self.by(f"channel-{channel}").click()
        await self.expect(self.by("channel-title")).to_have_attribute("data-channel", channel)

    async def command(self, text: str) -> None:
        box = self.by("message-box")
        await box.click()
        await box.press_sequentially(text)
        await box.press("Enter")

    async def modal(self, callback_id: str) -> Any:
        modal = self.page.locator(f'[data-testid="modal"][data-callback-id="{callback_id}"]')
        await self.expect(modal).to_be_visible()
        return modal

    async def login(self) -> None:
        await self.be(RILEY)
        await self.go(GENERAL)
        await self.command("/zstack login")
        modal = await self.modal("zstack_login")
        await modal.get_by_test_id("modal-input-account_name").fill("alice")
        await modal.get_by_test_id("modal-input-password").press_sequentially("alice-pass")
        await self.shot("login-form")
        await modal.get_by_test_id("modal-submit").click()
        done = await self.modal("zstack_login_info")
        await self.expect(done).to_contain_text("alice")
        await done.get_by_test_id("modal-close").click()
        await self.expect(self.by("modal")).to_have_count(0)

    async def request(self, reason: str, name: str | None = None) -> str:
        """As riley, ``/clone-model example``, fill the form, submit; the clone's name."""
        await self.be(RILEY)
        await self.go(GENERAL)
        await self.command("/clone-model example")
        modal = await self.modal("clone_model")
        name_box = modal.get_by_test_id("modal-input-name")
        await self.expect(name_box).to_have_value(re.compile(r"\S"))  # prefilled from example
        if name is not None:
            await name_box.fill(name)
        name = await name_box.input_value()
        await modal.get_by_test_id("modal-input-reason").press_sequentially(reason)
        await self.shot(f"form-{name}")
        await modal.get_by_test_id("modal-submit").click()
        await self.expect(self.by("modal")).to_have_count(0)
        return name

    async def approve(self, name: str) -> Any:
        """As avery, open the card's thread in #model-approvals and approve there."""
        await self.be(AVERY)
        await self.go(APPROVALS)
        card = (
            self.by("message")
            .filter(has_text=name)
            .filter(has=self.page.locator('[data-action-id="request_approve"]'))
        )
        await self.expect(card).to_have_count(1)
        ts = await card.get_attribute("data-ts")
        await self.by(f"thread-link-{ts}").click()
        pane = self.by("thread-pane")
        await self.expect(pane).to_be_visible()
        await self.expect(self.by("thread-messages")).to_have_attribute("data-thread-ts", ts or "")
        await pane.get_by_test_id("action-request_approve").first.click()
        confirm = self.by("confirm")
        if await confirm.count():
            await confirm.get_by_test_id("confirm-ok").click()
        return pane

    async def run(self) -> None:
        e = self.expect
        await self.open()
        await self.shot("opened")
        await self.login()

        name = await self.request("evaluation run for the Q3 benchmark")
        pane = await self.approve(name)
        service = await self.sandbox.emulator.wait_for(
            lambda: next(
                (
                    s["inventory"]
                    for s in self.sandbox.simulator.state.snapshot()["model_services"]
                    if s["inventory"]["name"] == name
                ),
                None,
            ),
            timeout=STEP_TIMEOUT_MS / 1000,
        )
        done = pane.get_by_test_id("message").filter(has_text=f"Cloned: {name}")
        await e(done).to_have_count(1)
        await e(done).to_contain_text(service["uuid"])  # the new inventory, with its uuid
        await self.shot("approved-completion-in-thread")

        await self.be(RILEY)
        await self.go(RILEY_DM)
        dm = self.by("messages").get_by_test_id("message").filter(has_text=f"Cloned: {name}")
        await e(dm).to_have_count(1)
        await e(dm).to_contain_text(service["uuid"])
        await self.shot("requester-dm")

        await self.by("zstack-toggle").click()
        await e(self.by("zstack-status")).to_have_attribute("data-connected", "true")
        await self.by("zstack-fail-next").click()
        await e(self.by("zstack-pending-failures")).to_have_text("pending: 1")
        await self.shot("zstack-panel-fail-next")
        await self.by("zstack-toggle").click()

        failing = await self.request("second try, expected to fail", name=f"{name}-2")
        pane = await self.approve(failing)
        failed = pane.get_by_test_id("message").filter(has_text="Cause chain")
        await e(failed).to_have_count(1)
        text = await failed.inner_text()
        assert "SYS.1015" in text and "SYS.1006" in text, text
        assert text.index("SYS.1015") < text.index("SYS.1006", text.index("Cause chain")), text
        await self.shot("failure-cause-chain")
        assert await self.page.evaluate("window.__sameDocument === true")


async def run_journey(sandbox: Sandbox, shots_dir: Path, browser: Any) -> Journey:
    """The whole journey in a fresh browser context; fails on any error the page raised."""
    context = await browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
    context.set_default_timeout(STEP_TIMEOUT_MS)
    async_api.expect.set_options(timeout=STEP_TIMEOUT_MS)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    journey = Journey(page, sandbox, shots_dir)
    try:
        await journey.run()
    finally:
        await context.close()
    assert errors == [], errors
    return journey


async def launch(pw: Any) -> Any:
    """Debian's chromium, headless, through a started Playwright."""
    return await pw.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
    )
