"""Make the README's screenshots of the sandbox page: ``docs/sandbox-welcome.png`` (the page as a
first-time visitor opens it, with its welcome panel) and ``docs/sandbox.png`` (the approval thread
with the completion notice).

Runs the browser journey of ``tests/support/browser.py`` once (a sandbox on free ports
with a throw-away data dir, Debian's chromium driven by Playwright) and keeps those two steps'
screenshots::

    .venv/bin/python -m tests.e2e.make_screenshot            # writes both into docs/
    .venv/bin/python -m tests.e2e.make_screenshot --all DIR  # also keeps every step's shot in DIR
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

from bot.sandbox.launcher import Sandbox
from tests.support.browser import CHROMIUM, async_api, launch, run_journey

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = ROOT / "docs"
# The journey's step → the README's file.
WANTED = {"welcome": "sandbox-welcome.png", "approved-completion-in-thread": "sandbox.png"}
MAX_BYTES = 300 * 1024


async def make(out: Path, keep_all: Path | None, socket_mode: bool) -> list[Path]:
    written = []
    with tempfile.TemporaryDirectory(prefix="clonebot-screenshot-") as tmp:
        work = Path(tmp)
        async with (
            Sandbox(work / "data", port=0, socket_mode=socket_mode) as sandbox,
            async_api.async_playwright() as pw,
        ):
            if socket_mode:
                await sandbox.emulator.wait_socket_connections(1, timeout=10)
            browser = await launch(pw)
            try:
                journey = await run_journey(sandbox, work, browser)
            finally:
                await browser.close()
        out.mkdir(parents=True, exist_ok=True)
        for step, name in WANTED.items():
            shot = next(p for p in journey.shots if p.stem.endswith(f"-{step}"))
            size = shot.stat().st_size
            if size > MAX_BYTES:
                raise SystemExit(f"{shot.name} is {size // 1024} KB, over {MAX_BYTES // 1024} KB")
            shutil.copyfile(shot, out / name)
            written.append(out / name)
        if keep_all is not None:
            keep_all.mkdir(parents=True, exist_ok=True)
            for path in journey.shots:
                shutil.copyfile(path, keep_all / path.name)
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the PNGs")
    parser.add_argument("--all", type=Path, default=None, help="also keep every step's shot here")
    parser.add_argument("--socket-mode", action="store_true", help="run the bot in Socket Mode")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        print(f"make_screenshot: {CHROMIUM} is missing (apt-get install chromium)", file=sys.stderr)
        return 1
    for path in asyncio.run(make(args.out, args.all, args.socket_mode)):
        print(f"wrote {path} ({path.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
