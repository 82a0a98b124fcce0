"""The sandbox journey in a real browser: Debian's chromium driven by Playwright, on the page people
use, by clicking and typing — in HTTP mode and in Socket Mode.

The page opens with its welcome panel (the people with their roles and time zones, the ZStack
logins, the first steps). riley logs in to ZStack and asks for a clone; avery approves in the
card's thread; the completion notice with the new inventory appears there live, and in riley's DM.
Times follow the reader's time zone, and as jordan (zh-CN) the page's own words are Chinese. Then
"fail the next clone" in the ZStack panel makes the next approved request fail, and the thread
shows the cause chain, root cause first, its long tokens inside the pane. Nothing may go wrong in
the browser's console on the way (no error, no 4xx). Screenshots of each step are saved under the
test's ``tmp_path``.

Skipped only when Playwright's Python package is missing or ``/usr/bin/chromium`` is not there
(``.ci/run`` installs it). The steps are in ``tests/support/browser.py``;
``tests/e2e/make_screenshot.py`` runs the same journey for the README.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.sandbox.launcher import Sandbox
from tests.support.browser import CHROMIUM, async_api, launch, run_journey

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing"),
    pytest.mark.timeout(120),
]


@pytest.mark.parametrize("socket_mode", [False, True], ids=["http", "socket-mode"])
async def test_the_whole_journey_on_the_page(tmp_path: Path, socket_mode: bool) -> None:
    async with (
        Sandbox(tmp_path / "data", port=0, socket_mode=socket_mode) as sandbox,
        async_api.async_playwright() as pw,
    ):
        if socket_mode:
            await sandbox.emulator.wait_socket_connections(1, timeout=10)
        browser = await launch(pw)
        try:
            journey = await run_journey(sandbox, tmp_path, browser)
        finally:
            await browser.close()
        emu = sandbox.emulator
        assert emu.validation_failures == []
        vias = {d.via for d in emu.state.deliveries}
        assert vias == {"socket" if socket_mode else "http"}
        assert all(d.ok for d in emu.state.deliveries if d.type != "event_callback"), [
            d.to_dict() for d in emu.state.deliveries if not d.ok
        ]
    assert len(journey.shots) >= 10
    for shot in journey.shots:
        assert shot.exists() and shot.stat().st_size > 0, shot
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
