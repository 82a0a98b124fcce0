"""Blocks rendered once with slack_sdk's models, per language and value, then filled in.

Building a form with slack_sdk's models and serialising it (``to_dict`` runs every validator of
every nested object) costs more than everything else the bot does for ``/clone-model``. The models
stay the definition of every block: each cached block is the JSON its model's ``to_dict()`` gives,
and ``tests/ui/test_prerendered.py`` holds the fast path to exactly that JSON for every form
variant. Per request only a text or number input's prefill changes (set into a copy of the block
rendered without one); a choice among fixed options is cached per chosen value. The cache holds
JSON text, so every request gets fresh dicts and no caller can change a cached block.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Hashable
from typing import Any

from slack_sdk.models.blocks import Block

from bot.i18n import tr
from bot.ui.clone_inputs import field_input, input_spec, number_initial, text_initial
from bot.zstack.clone_spec import Shown

# Distinct (language, block, chosen value) of the fixed-option inputs kept rendered.
CHOICES_CACHED = 4096


class Prerendered(Block):
    """A block already rendered to its JSON (a dict of its own: ``to_dict()`` returns it)."""

    def __init__(self, rendered: dict[str, Any]) -> None:
        super().__init__(type=rendered.get("type"), block_id=rendered.get("block_id"))
        self._rendered = rendered

    def to_dict(self, *args: Any) -> dict[str, Any]:
        return self._rendered


def as_json(blocks: list[Block]) -> str:
    """Blocks rendered by their models, as JSON text to cache."""
    return json.dumps([b.to_dict() for b in blocks], ensure_ascii=False)


def once(build: Callable[[], Block]) -> Callable[[], str]:
    """``build``'s block as JSON text, rendered by its model on the first call."""
    return functools.cache(lambda: as_json([build()]))


def blocks_of(rendered: str) -> list[Block]:
    """Fresh blocks from rendered JSON text."""
    return [Prerendered(b) for b in json.loads(rendered)]


@functools.cache
def _empty_input(lang: str, block_id: str) -> str:
    """An input block as its model renders it with nothing prefilled."""
    return json.dumps(field_input(block_id, {}, tr(lang)).to_dict(), ensure_ascii=False)


@functools.lru_cache(maxsize=CHOICES_CACHED)
def _chosen_input(lang: str, block_id: str, chosen: Hashable) -> str:
    raw = {block_id: list(chosen) if isinstance(chosen, tuple) else chosen}
    return json.dumps(field_input(block_id, raw, tr(lang)).to_dict(), ensure_ascii=False)


def _with_initial(rendered: str, initial: str | None) -> dict[str, Any]:
    block: dict[str, Any] = json.loads(rendered)
    if initial is not None:
        # The models' order: keys sorted, at every level.
        block["element"] = dict(sorted({**block["element"], "initial_value": initial}.items()))
    return block


def prerendered_input(block_id: str, raw: dict[str, Any], lang: str) -> Block:
    """What ``field_input(block_id, raw, tr(lang))`` renders, from the cache."""
    spec = input_spec(block_id)
    if spec is not None and spec.shown is Shown.NUMBER:
        return Prerendered(_with_initial(_empty_input(lang, block_id), number_initial(spec, raw)))
    if spec is None or spec.shown in (Shown.SELECT, Shown.MULTI_SELECT):
        value = raw.get(block_id)
        chosen = tuple(value) if isinstance(value, list) else value
        try:
            return Prerendered(json.loads(_chosen_input(lang, block_id, chosen)))
        except TypeError:  # a value that cannot be a cache key: render it as it is
            return field_input(block_id, raw, tr(lang))
    initial, too_long = text_initial(spec, raw)
    if too_long:  # says so in its hint: rare, rendered by the model
        return field_input(block_id, raw, tr(lang))
    return Prerendered(_with_initial(_empty_input(lang, block_id), initial))
