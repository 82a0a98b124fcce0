"""Three replicas on one Redis, SIGKILLed at random moments under a load of requests.

Invariant: every approved request ends ``succeeded`` or ``failed`` exactly once, with exactly one
clone call per job UUID, one service per success, and exactly one completion notice in the thread
and in the requester's DMs. The seed is printed (and in the failure message) to replay a run:
``RELIABILITY_SEED=<seed> pytest tests/reliability/test_replicas.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.reliability.harness import HarnessConfig, Mode, run_harness


def _seed() -> int | None:
    value = os.environ.get("RELIABILITY_SEED")
    return int(value) if value else None


@pytest.mark.timeout(240)
@pytest.mark.parametrize(
    ("mode", "requests"),
    [("http", 90), ("socket", 60)],
)
async def test_replicas_survive_kills(tmp_path: Path, mode: Mode, requests: int) -> None:
    config = HarnessConfig(mode=mode, requests=requests, kills=5, seed=_seed())
    report = await run_harness(config, tmp_path / "run")
    print(report.summary())
    assert report.ok, report.summary()
    assert report.kills >= 3
    assert report.approved >= requests * 0.8, report.summary()
    assert report.succeeded > 0 and report.failed > 0
