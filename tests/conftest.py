from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

# Each fixture family lives in its own module; they start real servers on real ports.
pytest_plugins = [
    "tests.fixtures.redis_server",
    "tests.fixtures.zstack",
    "tests.fixtures.slack",
    "tests.fixtures.bot",
]

_OUR_PREFIXES = ("SLACK_", "ZSTACK_", "REDIS_", "CLONEBOT_")


@pytest.fixture(autouse=True)
def clean_environ(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """No developer token or setting leaks into a test; no ``.env`` from the work tree is read."""
    for name in list(os.environ):
        if name.startswith(_OUR_PREFIXES):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
    yield
