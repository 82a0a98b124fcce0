"""``clone-bot``: run the bot, the sandbox, the ZStack simulator, or a configuration check."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path

from bot.config import Settings
from bot.errors import ConfigError, StoreUnavailable
from bot.logs import configure_logging
from bot.requests.rules import load_policy

NO_SLACK = (
    "clone-bot: no Slack credentials (set SLACK_BOT_TOKEN with SLACK_SIGNING_SECRET for HTTP "
    "mode, or with SLACK_APP_TOKEN for Socket Mode); to try the bot locally without a Slack "
    "app, run `clone-bot sandbox` (or `make run`)."
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="clone-bot",
        description="Run the bot, the sandbox, the ZStack simulator, or a configuration check.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="run the bot (HTTP listener; Socket Mode with SLACK_APP_TOKEN)")
    sim = commands.add_parser("zstack-sim", help="run the ZStack simulator alone")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=8080)
    sim.add_argument("--sync", action="store_true", help="answer clones with 200 at once")
    sim.add_argument("--advertised-url", default=None, help="base URL put in job locations")
    sandbox = commands.add_parser("sandbox", help="the whole product locally, no accounts needed")
    sandbox.add_argument(
        "--port",
        type=_port,
        default=8000,
        help="port of the sandbox web page; ZStack and the bot take the next two (default 8000)",
    )
    sandbox.add_argument(
        "--reset", action="store_true", help="wipe the sandbox's data dir and start clean"
    )
    sandbox.add_argument("--socket-mode", action="store_true", help="bot uses Socket Mode")
    check = commands.add_parser("check", help="check the configuration and connectivity")
    check.add_argument("--timeout", type=float, default=5.0, help="seconds allowed per check")
    policy = commands.add_parser("policy", help="the approval rules (CLONEBOT_POLICY_FILE)")
    policy_commands = policy.add_subparsers(dest="policy_command", required=True)
    explain = policy_commands.add_parser(
        "explain", help="which rule a request would meet, and who may approve it"
    )
    explain.add_argument(
        "request",
        type=Path,
        metavar="REQUEST.json",
        help='the CloneModelService body ({"params": {...}}) with requester, channel, sourceName',
    )
    explain.add_argument(
        "--policy-file", type=Path, default=None, help="this file instead of CLONEBOT_POLICY_FILE"
    )
    audit = commands.add_parser("audit", help="export every request's audit trail")
    audit.add_argument(
        "--since",
        type=_since,
        default=None,
        metavar="DATE",
        help="only requests created since this ISO date or date-time (UTC unless it says)",
    )
    audit.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    args = parser.parse_args(argv)

    try:
        if args.command == "run":
            return _run_bot()
        if args.command == "zstack-sim":
            configure_logging()
            from bot.sandbox.zstack_sim import run_simulator

            return _serve(
                lambda: run_simulator(
                    args.host, args.port, sync=args.sync, advertised_base_url=args.advertised_url
                )
            )
        if args.command == "sandbox":
            from bot.sandbox import launcher

            configure_logging()
            return launcher.main(port=args.port, reset=args.reset, socket_mode=args.socket_mode)
        if args.command == "check":
            from bot.check import run_check_command

            settings = Settings.load()
            configure_logging("ERROR", settings.log_format)
            return run_check_command(settings, timeout_s=args.timeout)
        if args.command == "policy":
            from bot.requests.explain import run_explain_command

            settings = Settings.load()
            configure_logging("ERROR", settings.log_format)
            return run_explain_command(settings, args.request, policy_file=args.policy_file)
        if args.command == "audit":
            from bot.requests.audit import run_audit_command

            settings = Settings.load()
            configure_logging("ERROR", settings.log_format)
            return run_audit_command(settings, since=args.since, fmt=args.format)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"clone-bot: configuration: {problem}", file=sys.stderr)
        return 2
    except StoreUnavailable as exc:  # e.g. the embedded Redis cannot start, Redis refuses us
        print(f"clone-bot: {exc}", file=sys.stderr)
        return 1
    parser.error(f"unknown command {args.command}")
    return 2


def _port(text: str) -> int:
    port = int(text)
    if not 1 <= port <= 65533:
        raise argparse.ArgumentTypeError(f"{port} is not a port for the sandbox (1-65533)")
    return port


def _since(text: str) -> datetime:
    from bot.requests.audit import parse_since

    try:
        return parse_since(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text[:40]!r} is not an ISO date or date-time (2024-05-01, 2024-05-01T09:30+02:00)"
        ) from None


def _run_bot() -> int:
    settings = Settings.load()
    if not settings.has_slack_credentials:
        missing = settings.missing_slack_credentials()
        print(f"clone-bot: {missing}" if missing else NO_SLACK, file=sys.stderr)
        return 2
    # A bad policy file stops the bot here, one line per problem.
    if groups := load_policy(settings.policy_file).groups() if settings.policy_file else set():
        _check_groups(settings, groups)
    configure_logging(settings.log_level, settings.log_format)

    async def run() -> None:
        from bot.runtime import Runtime

        runtime = await Runtime.start(settings)
        try:
            await runtime.serve_http(settings.host, settings.port)
            if settings.socket_mode:
                await runtime.start_socket_mode()
            # What start-up built lives as long as the process: out of the collector's scans,
            # a full collection under load walks only what requests allocate.
            gc.freeze()
            await asyncio.Event().wait()
        finally:
            await runtime.aclose()

    return _serve(run)


def _check_groups(settings: Settings, groups: set[str]) -> None:
    """``ConfigError`` when the policy file names a user group Slack does not know."""
    from bot.slack.client import build_web_client
    from bot.slack.directory import missing_groups

    async def ask() -> list[str]:
        return await missing_groups(build_web_client(settings), groups)

    name = settings.policy_file.name if settings.policy_file else "policy"
    if missing := asyncio.run(ask()):
        raise ConfigError([f"{name}: no user group {g} in this Slack workspace" for g in missing])


def _serve(factory: Callable[[], Awaitable[None]]) -> int:
    """Run until SIGINT/SIGTERM, then shut down cleanly."""

    async def guarded() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(factory())
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(guarded())
    return 0
