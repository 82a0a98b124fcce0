"""``python -m tests.bench`` (``make bench``): every benchmark, one Markdown table on stdout.

Options: ``--quick`` (a short smoke run), ``--only ack,burst,footprint,lifecycle,pipeline``
(a subset; ``pipeline-open`` and ``pipeline-limits`` are the pipeline's two halves), ``--out
FILE`` (also write the table there, updated after each benchmark, so a long run's figures so far
are there too). Progress goes to stderr. Everything runs on loopback against a real Redis, the
ZStack simulator and the Slack emulator; each benchmark stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from tests.bench import ack, burst, footprint, lifecycle, pipeline
from tests.bench.common import PROFILE, Row, clean_environment, log, machine, markdown_table
from tests.fixtures.redis_server import RedisServer

Bench = Callable[[RedisServer, Path, bool], Awaitable[list[Row]]]

# The pipeline last: with Slack's limits it runs for most of an hour.
BENCHMARKS: dict[str, Bench] = {
    "ack": lambda r, w, q: ack.run(r, w, quick=q),
    "burst": lambda r, w, q: burst.run(r, w, quick=q),
    "footprint": lambda r, w, q: footprint.run(r, w, quick=q),
    "lifecycle": lambda r, w, q: lifecycle.run(r, w, quick=q),
    "pipeline": lambda r, w, q: pipeline.run(r, w, quick=q),
    # The pipeline's halves on their own: without Slack's limits, and with them.
    "pipeline-open": lambda r, w, q: pipeline.run_unlimited(r, w, quick=q),
    "pipeline-limits": lambda r, w, q: pipeline.run_limited(r, w, quick=q),
}
# ``make bench`` with no --only: the whole pipeline once, not its halves again.
DEFAULT = ("ack", "burst", "footprint", "lifecycle", "pipeline")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument(
        "--only",
        default=",".join(DEFAULT),
        help=f"comma-separated subset of {', '.join(BENCHMARKS)}",
    )
    parser.add_argument(
        "--out", type=Path, help="also write the table to this file (after each benchmark)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    parser.add_argument(
        "--profile",
        type=Path,
        help="record the bot with py-spy during measured phases, into this directory",
    )
    args = parser.parse_args(argv)
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in args.only if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    return args


async def run_all(args: argparse.Namespace, workdir: Path) -> list[Row]:
    server = RedisServer(workdir / "redis")
    server.start()
    rows: list[Row] = []
    try:
        for name in args.only:
            started = time.monotonic()
            log(f"{name}: starting")
            rows += await BENCHMARKS[name](server, workdir, args.quick)
            log(f"{name}: done in {time.monotonic() - started:.0f} s")
            if args.out and name != args.only[-1]:
                args.out.write_text(
                    table(
                        rows,
                        args.quick,
                        f"so far: {', '.join(args.only[: args.only.index(name) + 1])}",
                    )
                )
    finally:
        server.stop()
    return rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    clean_environment()
    if args.profile:
        PROFILE["dir"] = args.profile.resolve()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    workdir = Path(tempfile.mkdtemp(prefix="clonebot-bench-"))
    try:
        rows = asyncio.run(run_all(args, workdir))
    finally:
        if args.keep:
            log(f"work directory (logs) kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    text = table(rows, args.quick)
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


def table(rows: list[Row], quick: bool, partial: str = "") -> str:
    notes = [note for note in ("quick run" if quick else "", partial) if note]
    mode = f" ({'; '.join(notes)})" if notes else ""
    return f"_Machine: {machine()}{mode}_\n\n{markdown_table(rows)}\n"


if __name__ == "__main__":
    sys.exit(main())
