"""Shared paths and helpers of the deploy/ tests (no network, no Docker, no cluster)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import AliasChoices

from bot.config import Settings

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
HERE = Path(__file__).resolve().parent


def load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def load_json(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


def settings_env_names() -> frozenset[str]:
    """Every environment variable the bot reads: the upper-case ``validation_alias`` choices."""
    names: set[str] = set()
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(c for c in alias.choices if isinstance(c, str) and c.isupper())
        elif isinstance(alias, str) and alias.isupper():
            names.add(alias)
    return frozenset(names)
