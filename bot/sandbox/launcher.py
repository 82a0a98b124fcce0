"""``clone-bot sandbox``: the whole product on loopback, no accounts needed.

Starts an embedded Redis (data in the data dir), the ZStack simulator, the Slack emulator with its
web page, and the bot wired to all three — HTTP mode by default, Socket Mode with
``--socket-mode`` — then prints one URL to open.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path

from cryptography.fernet import Fernet

from bot.config import Settings
from bot.runtime import Runtime
from bot.sandbox.slack_emulator import SlackEmulator, default_workspace
from bot.sandbox.zstack_sim import SimServer
from bot.sandbox.zstack_sim.seed import DEMO_ACCOUNTS, DEMO_USERS, DEMO_VIRTUAL_IDS

logger = logging.getLogger(__name__)

SIGNING_SECRET = "sandbox-signing-secret"
BOT_TOKEN = "xoxb-sandbox-bot-token"
APP_TOKEN = "xapp-1-sandbox-app-token"
APPROVAL_CHANNEL = "C0APPROVE"
HOST = "127.0.0.1"


def _session_key(data_dir: Path) -> str:
    """The sandbox's own Fernet key, kept beside its data so a restart can still decrypt."""
    path = data_dir / "sandbox-session.key"
    if path.exists():
        return path.read_text().strip()
    key = Fernet.generate_key().decode()
    path.write_text(key)
    path.chmod(0o600)
    return key


async def run_sandbox(
    *,
    port: int = 8000,
    reset: bool = False,
    socket_mode: bool = False,
    data_dir: Path | None = None,
) -> None:
    """Serve the sandbox until cancelled: the page on ``port``, ZStack on ``port + 1``."""
    data_dir = (data_dir or Settings.load().data_dir) / "sandbox"
    if reset and data_dir.exists():
        await asyncio.to_thread(shutil.rmtree, data_dir)
    await asyncio.to_thread(data_dir.mkdir, parents=True, exist_ok=True)
    key = await asyncio.to_thread(_session_key, data_dir)

    async with (
        SimServer(HOST, port + 1) as sim,
        SlackEmulator(
            HOST,
            port,
            signing_secret=SIGNING_SECRET,
            bot_token=BOT_TOKEN,
            app_token=APP_TOKEN,
            mode="socket" if socket_mode else "http",
            workspace=default_workspace(),
            zstack_control_url=f"{sim.url}/_sim",
            approval_channel=APPROVAL_CHANNEL,
        ) as emu,
    ):
        settings = Settings(
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=None if socket_mode else SIGNING_SECRET,
            slack_app_token=APP_TOKEN if socket_mode else None,
            slack_api_url=emu.api_url,
            zstack_url=sim.url,
            redis_url=None,
            data_dir=data_dir,
            session_key=key,
            approval_channel=APPROVAL_CHANNEL,
            poll_initial_s=0.5,
            poll_max_s=2.0,
        )
        runtime = await Runtime.start(settings)
        try:
            bot_port = await runtime.serve_http(HOST, port + 2)
            if socket_mode:
                await runtime.start_socket_mode()
            else:
                emu.app_url = f"http://{HOST}:{bot_port}/slack/events"
            _announce(emu.url, sim.url, socket_mode)
            await asyncio.Event().wait()
        finally:
            await runtime.aclose()


def _announce(page_url: str, zstack_url: str, socket_mode: bool) -> None:
    lines = [
        "",
        f"  ZStack Clone Bot sandbox: open {page_url}/",
        f"  ({'Socket Mode' if socket_mode else 'HTTP mode'}; ZStack simulator at {zstack_url})",
        "  People: riley (requester), avery and jordan (approvers), sam (outsider)",
        "  ZStack logins: "
        + ", ".join(f"account {a.name}/{a.password}" for a in DEMO_ACCOUNTS)
        + "; "
        + ", ".join(f"IAM user {u.account}/{u.name}/{u.password}" for u in DEMO_USERS)
        + "; "
        + ", ".join(f"IAM2 {v.name}/{v.password}" for v in DEMO_VIRTUAL_IDS),
        "  Try: /zstack login, then /clone-model example. Ctrl-C stops.",
        "",
    ]
    print("\n".join(lines), flush=True)
