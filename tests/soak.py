"""``make soak``: the replica harness for a configurable time, then its invariant counters.

    python -m tests.soak [--minutes 5] [--replicas 3] [--mode both|http|socket] [--seed N]

Each mode runs for the given minutes (``both``: the minutes are split between HTTP and Socket
Mode), with replicas SIGKILLed and restarted, failed clones, lost ZStack answers, Slack 5xx/429
and Redis restarts injected throughout. Prints the counters of each run and a total; the exit
status is 1 when anything was lost or doubled (or another invariant broke).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

from tests.reliability.harness import HarnessConfig, Mode, Report, run_harness

TOTALS = (
    "requests",
    "submissions",
    "orphaned",
    "approved",
    "succeeded",
    "failed",
    "kills",
    "restarts",
    "redis_restarts",
    "clone_calls",
    "user_retries",
    "lost",
    "doubled",
)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=5.0, help="total run time (default 5)")
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--mode", choices=("both", "http", "socket"), default="both")
    parser.add_argument("--requesters", type=int, default=8, help="concurrent Slack users")
    parser.add_argument("--kills-per-min", type=float, default=6.0)
    parser.add_argument("--redis-restarts", type=int, default=1, help="per mode run")
    parser.add_argument("--seed", type=int, default=None, help="replay a run")
    parser.add_argument("--workdir", type=Path, default=None, help="keep logs here")
    return parser.parse_args(argv)


async def soak(args: argparse.Namespace, workdir: Path) -> list[Report]:
    modes: list[Mode] = ["http", "socket"] if args.mode == "both" else [args.mode]
    minutes = args.minutes / len(modes)
    reports = []
    for i, mode in enumerate(modes):
        config = HarnessConfig(
            replicas=args.replicas,
            mode=mode,
            requests=0,
            duration_s=minutes * 60,
            requesters=args.requesters,
            kills_per_min=args.kills_per_min,
            seed=None if args.seed is None else args.seed + i,
            failed_clones=3,  # per minute
            lost_answers=2,  # per minute
            slack_faults=4,  # per minute
            redis_restarts=args.redis_restarts,
            settle_timeout_s=180.0,
        )
        print(f"soak: {mode} mode, {minutes:g} min, {args.replicas} replicas", flush=True)
        report = await run_harness(config, workdir / mode)
        print(report.summary(), flush=True)
        reports.append(report)
    return reports


def totals(reports: list[Report]) -> dict[str, object]:
    total: Counter[str] = Counter()
    faults: Counter[str] = Counter()
    for report in reports:
        for name in TOTALS:
            total[name] += int(getattr(report, name))
        faults.update(report.faults_injected)
    out: dict[str, object] = {name: total[name] for name in TOTALS}
    out["faults_injected"] = sum(faults.values())
    out["faults_by_kind"] = dict(sorted(faults.items()))
    out["seeds"] = [r.seed for r in reports]
    out["elapsed_s"] = round(sum(r.elapsed_s for r in reports), 1)
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        reports = asyncio.run(soak(args, args.workdir))
    else:
        with tempfile.TemporaryDirectory(prefix="clonebot-soak-") as tmp:
            reports = asyncio.run(soak(args, Path(tmp)))
    summary = totals(reports)
    print("soak totals:", json.dumps(summary, indent=2), flush=True)
    broken = [p for r in reports for p in r.problems]
    if broken or summary["lost"] or summary["doubled"]:
        print(f"soak FAILED: {len(broken)} problems", file=sys.stderr)
        return 1
    print("soak passed: lost = 0, doubled = 0")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
