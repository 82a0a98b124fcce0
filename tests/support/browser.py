"""The sandbox journey in a real browser: Debian's chromium driven by Playwright, on the page
people use, by clicking and typing. ``tests/e2e/test_sandbox_browser.py`` runs it in HTTP mode and
in Socket Mode; ``tests/e2e/make_screenshot.py`` runs it for the README's screenshots.

:class:`PageProblems` collects what a person would see go wrong (console errors and warnings,
uncaught errors, failed requests); :func:`run_journey` fails when there is any. The page checks
shared with ``tests/sandbox/test_emulator_page_browser.py`` are :func:`outside_of` (does a message
stay inside its pane) and :func:`untranslated_labels`.

Importing this module skips the importing test module when Playwright's Python package is missing.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.i18n import tr
from bot.sandbox.launcher import SUGGESTED_ACCOUNT, Sandbox
from bot.sandbox.zstack_sim.seed import DEMO_ACCOUNTS, DEMO_USERS, DEMO_VIRTUAL_IDS

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

RILEY, AVERY, JORDAN, SAM = "U0REQ", "U0APP1", "U0APP2", "U0OUT"
GENERAL, APPROVALS, RILEY_DM = "C0GENERAL", "C0APPROVE", "D0REQ"
ROLES = {RILEY: "requester", AVERY: "approver", JORDAN: "approver", SAM: "outsider"}
ZH = tr("zh").plain

# Every element of a message, and the pane itself, measured against the pane: what sticks out.
_OUTSIDE_JS = """(message, pane) => {
  const box = pane.getBoundingClientRect();
  const px = (n) => Math.round(n);
  const out = [];
  if (pane.scrollWidth > pane.clientWidth) {
    out.push(`the pane scrolls: ${pane.scrollWidth} > ${pane.clientWidth}`);
  }
  for (const node of [message, ...message.querySelectorAll("*")]) {
    const r = node.getBoundingClientRect();
    if (r.width && (r.right > box.right + 1 || r.left < box.left - 1)) {
      const what = `${node.tagName.toLowerCase()}.${node.className}`;
      const where = `${px(r.left)}..${px(r.right)} outside ${px(box.left)}..${px(box.right)}`;
      out.push(`${what} ${where}: ${node.textContent.slice(0, 60)}`);
    }
  }
  return out;
}"""

# Static words the page marks (data-label*) that still read as their English key.
_UNTRANSLATED_JS = """() => {
  const out = [];
  for (const el of document.querySelectorAll("[data-label]")) {
    if (!el.hidden && el.textContent === el.dataset.label) out.push(el.dataset.label);
  }
  for (const el of document.querySelectorAll("[data-label-placeholder]")) {
    if (el.placeholder === el.dataset.labelPlaceholder) out.push(el.dataset.labelPlaceholder);
  }
  return out;
}"""


async def outside_of(message: Any, pane: Any) -> list[str]:
    """The parts of ``message`` (a locator) that stick out of ``pane`` sideways, and whether the
    pane scrolls sideways: empty when long tokens wrap."""
    handle = await pane.element_handle()
    result: list[str] = await message.evaluate(_OUTSIDE_JS, handle)
    return result


async def untranslated_labels(page: Any) -> list[str]:
    """The page's marked words (``data-label``, ``data-label-placeholder``) still in English."""
    result: list[str] = await page.evaluate(_UNTRANSLATED_JS)
    return result


def clock(ts: str, zone: str, lang: str) -> str:
    """A message's time as the page shows it to a reader in ``zone`` reading ``lang``."""
    when = datetime.fromtimestamp(float(ts), ZoneInfo(zone))
    if lang == "zh":
        return f"{when:%H:%M}"
    return f"{when.hour % 12 or 12}:{when:%M} {'AM' if when.hour < 12 else 'PM'}"


class PageProblems:
    """What the page shows going wrong while people use it: console errors and warnings (a 4xx
    or 5xx answer is one), uncaught errors, failed responses and requests. A request aborted by
    a navigation (the event stream on reload) is not a problem."""

    def __init__(self, page: Any) -> None:
        self.found: list[str] = []
        self.recording = True
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self._add(f"uncaught: {exc}"))
        page.on("response", self._response)
        page.on("requestfailed", self._request_failed)

    def _add(self, what: str) -> None:
        if self.recording:
            self.found.append(what)

    def _console(self, message: Any) -> None:
        if message.type in ("error", "warning"):
            self._add(f"console {message.type}: {message.text} ({message.location.get('url')})")

    def _response(self, response: Any) -> None:
        if response.status >= 400:
            request = response.request
            self._add(f"{response.status} {request.method} {response.url} {request.post_data}")

    def _request_failed(self, request: Any) -> None:
        if request.failure != "net::ERR_ABORTED":
            self._add(f"failed {request.method} {request.url}: {request.failure}")


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

    async def welcome(self) -> None:
        """The welcome panel: the people with their roles and time zones, the ZStack logins, the
        first steps; a command goes into the message box as the requester; Hide keeps it hidden
        across a reload, Guide brings it back."""
        e = self.expect
        panel = self.by("welcome")
        await e(panel).to_be_visible()
        await e(self.by("welcome-title")).to_have_text("Welcome to the Clone Bot sandbox")
        await e(panel.get_by_test_id("welcome-person")).to_have_count(len(ROLES))
        users = self.sandbox.emulator.state.workspace.users
        for user, role in ROLES.items():
            row = panel.locator(f'[data-testid="welcome-person"][data-user="{user}"]')
            await e(row).to_contain_text(users[user].name)
            await e(row).to_contain_text(role)
            await e(row.get_by_test_id("welcome-zone")).to_contain_text(users[user].tz)
            if role == "approver":
                await e(row).to_contain_text("member of @model-approvers")
        jordan = panel.locator(f'[data-testid="welcome-person"][data-user="{JORDAN}"]')
        await e(jordan).to_contain_text("Asia/Shanghai")
        await e(jordan).to_contain_text("Chinese")
        logins = panel.get_by_test_id("welcome-login")
        rows = [
            *(("Account", a.name, "—", a.password) for a in DEMO_ACCOUNTS),
            *(("IAM user of an account", u.account, u.name, u.password) for u in DEMO_USERS),
            *(("Project user (IAM2)", "—", v.name, v.password) for v in DEMO_VIRTUAL_IDS),
        ]
        await e(logins).to_have_count(len(rows))
        for i, row in enumerate(rows):
            await e(logins.nth(i).locator("td")).to_have_text(list(row))
        steps = panel.get_by_test_id("welcome-steps")
        commands = steps.get_by_test_id("welcome-command")
        await e(commands).to_have_text(["/zstack login", "/clone-model example"])
        suggested = next(a for a in DEMO_ACCOUNTS if a.name == SUGGESTED_ACCOUNT)
        await e(steps.locator("li").first).to_contain_text(
            f"log in, e.g. as the account {suggested.name} with the password {suggested.password}"
        )
        await e(steps).to_contain_text("#model-approvals")
        await self.shot("welcome")

        await self.be(SAM)
        await commands.first.click()  # the step is riley's: the page acts as riley again
        await e(self.by("person-switcher")).to_have_value(RILEY)
        await e(self.by("message-box")).to_have_value("/zstack login")
        await self.by("message-box").fill("")

        await self.by("welcome-hide").click()
        await e(panel).to_be_hidden()
        await self.page.reload()
        await e(self.by("live-indicator")).to_have_attribute("data-live", "true")
        await e(self.by("channel-title")).to_have_attribute("data-channel", GENERAL)
        await e(panel).to_be_hidden()
        await self.by("welcome-toggle").click()
        await e(panel).to_be_visible()
        await self.by("welcome-hide").click()
        await e(panel).to_be_hidden()

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
        # Sent without a password, the form is refused as Slack's client refuses it (no error
        # in the console), and the field says why.
        await modal.get_by_test_id("modal-submit").click()
        await self.expect(modal.get_by_test_id("error-password")).to_be_visible()
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
        # The sandbox's policy: a 1-vCPU copy meets the "small" rule, said before submitting.
        await self.expect(modal).to_contain_text("Rule small (1 vCPU ≤ 1)")
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
        await self.expect(card).to_contain_text("Rule small (1 vCPU ≤ 1): one approval")
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

    async def times_and_chinese(self, card_ts: str) -> None:
        """Times are shown in the reader's time zone; as jordan (zh-CN) the page's own words
        are Chinese, from the bot's catalog, and English again as avery."""
        e = self.expect
        page = self.page
        time = self.by("messages").locator(f'[data-testid="msg-time"][data-ts="{card_ts}"]')
        await e(self.by("person-zone")).to_contain_text("America/Los_Angeles")
        await e(time).to_have_text(clock(card_ts, "America/Los_Angeles", "en"))

        await self.be(JORDAN)
        await e(page.locator("html")).to_have_attribute("lang", "zh-CN")
        await e(self.by("person-zone")).to_contain_text("Asia/Shanghai")
        await e(time).to_have_text(clock(card_ts, "Asia/Shanghai", "zh"))
        await e(self.by("sidebar")).to_contain_text(ZH("Channels"))
        assert ZH("Channels") == "频道" and ZH("Send") == "发送"
        await e(self.by("message-send")).to_have_text(ZH("Send"))
        await e(self.by("person-switcher").locator(f'option[value="{JORDAN}"]')).to_have_text(
            f"jordan — {ZH('approver')}"
        )
        await e(self.by(f"thread-link-{card_ts}")).to_have_text("3 条回复")
        await self.by(f"thread-link-{card_ts}").click()
        await e(self.by("reply-send")).to_have_text(ZH("Reply"))
        await self.by("welcome-toggle").click()
        await e(self.by("welcome-title")).to_have_text(ZH("Welcome to the Clone Bot sandbox"))
        await e(self.by("welcome")).to_contain_text(ZH("First steps"))
        await e(self.by("welcome-login").first.locator("td").first).to_have_text(ZH("Account"))
        assert await untranslated_labels(page) == []
        await self.shot("zh-labels")
        await self.by("welcome-hide").click()

        await self.be(AVERY)
        await e(page.locator("html")).to_have_attribute("lang", "en")
        await e(self.by("message-send")).to_have_text("Send")

    async def run(self) -> None:
        e = self.expect
        await self.open()
        await e(self.by("sidebar")).not_to_contain_text(re.compile("validation failures|sockets"))
        await self.welcome()
        # Set once; a reload would lose it, so it proves later updates arrived live.
        await self.page.evaluate("window.__sameDocument = true")
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
        card_ts = await self.by("thread-messages").get_attribute("data-thread-ts") or ""
        card = self.by("messages").locator(f'[data-testid="message"][data-ts="{card_ts}"]')
        await e(card).to_contain_text(f"Done: created {name}")  # the card is updated too
        await self.shot("approved-completion-in-thread")
        await self.times_and_chinese(card_ts)

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
        # Its long tokens wrap: nothing is pushed out of the thread pane.
        assert max(map(len, text.split())) >= 40, text
        assert await outside_of(failed, self.by("thread-messages")) == []
        await e(failed.get_by_text("Description", exact=True)).to_be_in_viewport()
        await self.shot("failure-cause-chain")
        await self.retry_after_failure(pane, failed, failing)
        await self.edit_and_resubmit()
        assert await self.page.evaluate("window.__sameDocument === true")

    async def retry_after_failure(self, pane: Any, failed: Any, name: str) -> None:
        """Retry on the failure reply sends the request again; this time it is cloned."""
        await failed.get_by_test_id("action-request_retry").click()
        done = pane.get_by_test_id("message").filter(has_text=f"Cloned: {name}")
        await self.expect(done).to_have_count(1)
        await self.shot("retry-succeeded")

    async def edit_and_resubmit(self) -> None:
        """A name already taken blocks Approve; the requester edits and resubmits from the
        card, with a free name suggested, and the new request links to the old one."""
        e = self.expect
        taken = await self.request("a name that is taken", name="example")
        await self.go(APPROVALS)
        card = (
            self.by("message")
            .filter(has_text="already exists")
            .filter(has=self.page.locator('[data-action-id="request_resubmit"]'))
        )
        await e(card).to_have_count(1)
        await e(card).to_contain_text(f"into {taken}")
        await self.shot("name-clash-card")
        ts = await card.get_attribute("data-ts")
        await card.get_by_test_id("action-request_resubmit").click()
        card = self.by("messages").locator(f'[data-testid="message"][data-ts="{ts}"]')
        modal = await self.modal("clone_model")
        await e(modal).to_contain_text("Editing")
        await e(modal.get_by_test_id("modal-input-name")).to_have_value("example-2")
        await e(modal.get_by_test_id("modal-input-reason")).to_have_value("a name that is taken")
        await self.shot("edit-and-resubmit-form")
        await modal.get_by_test_id("modal-submit").click()
        await e(self.by("modal")).to_have_count(0)
        await e(card).to_contain_text("Replaced by")
        fresh = self.by("message").filter(has_text="Edited resubmission of")
        await e(fresh).to_have_count(1)
        await e(fresh).to_contain_text("No model service is named example-2 yet")
        await self.shot("resubmitted-card")


async def run_journey(sandbox: Sandbox, shots_dir: Path, browser: Any) -> Journey:
    """The whole journey in a fresh browser context; fails on any error the page raised."""
    context = await browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
    context.set_default_timeout(STEP_TIMEOUT_MS)
    async_api.expect.set_options(timeout=STEP_TIMEOUT_MS)
    page = await context.new_page()
    problems = PageProblems(page)
    journey = Journey(page, sandbox, shots_dir)
    try:
        await journey.run()
        problems.recording = False
    finally:
        await context.close()
    assert problems.found == [], problems.found
    return journey


async def launch(pw: Any) -> Any:
    """Debian's chromium, headless, through a started Playwright."""
    return await pw.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
    )
