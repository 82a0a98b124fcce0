"""Blocks rendered once with slack_sdk's models, per language and value, then filled in.

Building a form with slack_sdk's models and serialising it (``to_dict`` runs every validator of
every nested object) costs more than everything else the bot does for ``/clone-model``. The models
stay the definition of every block: each cached block is the JSON its model's ``to_dict()`` gives,
and ``tests/ui/test_prerendered.py`` holds the fast path to exactly that JSON for every form
variant. Per request only a text or number input's prefill changes (set into a copy of the block
rendered without one); a choice among fixed options is cached per chosen value. The cache holds
JSON text, parsed once: requests share the parsed blocks, which nothing changes (a prefill goes
into a copy of the block and of its element).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Hashable
from typing import Any

from slack_sdk.models.blocks import Block, DividerBlock, PlainTextObject
from slack_sdk.models.views import View

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


@functools.lru_cache(maxsize=CHOICES_CACHED)
def _parsed(rendered: str) -> Any:
    """Rendered JSON text as the dicts it holds, shared by every caller: never change them."""
    return json.loads(rendered)


def blocks_of(rendered: str) -> list[Block]:
    """The blocks of rendered JSON text."""
    return [Prerendered(b) for b in _parsed(rendered)]


@functools.cache
def _empty_input(lang: str, block_id: str) -> str:
    """An input block as its model renders it with nothing prefilled."""
    return json.dumps(field_input(block_id, {}, tr(lang)).to_dict(), ensure_ascii=False)


@functools.lru_cache(maxsize=CHOICES_CACHED)
def _chosen_input(lang: str, block_id: str, chosen: Hashable) -> str:
    raw = {block_id: list(chosen) if isinstance(chosen, tuple) else chosen}
    return json.dumps(field_input(block_id, raw, tr(lang)).to_dict(), ensure_ascii=False)


def _with_initial(rendered: str, initial: str | None) -> dict[str, Any]:
    block: dict[str, Any] = _parsed(rendered)
    if initial is None:
        return block
    # The models' order: keys sorted, at every level.
    element = dict(sorted({**block["element"], "initial_value": initial}.items()))
    return {**block, "element": element}


def prerendered_input(block_id: str, raw: dict[str, Any], lang: str) -> Block:
    """What ``field_input(block_id, raw, tr(lang))`` renders, from the cache."""
    spec = input_spec(block_id)
    if spec is not None and spec.shown is Shown.NUMBER:
        return Prerendered(_with_initial(_empty_input(lang, block_id), number_initial(spec, raw)))
    if spec is None or spec.shown in (Shown.SELECT, Shown.MULTI_SELECT):
        value = raw.get(block_id)
        chosen = tuple(value) if isinstance(value, list) else value
        try:
            return Prerendered(_parsed(_chosen_input(lang, block_id, chosen)))
        except TypeError:  # a value that cannot be a cache key: render it as it is
            return field_input(block_id, raw, tr(lang))
    initial, too_long = text_initial(spec, raw)
    if too_long:  # says so in its hint: rare, rendered by the model
        return field_input(block_id, raw, tr(lang))
    return Prerendered(_with_initial(_empty_input(lang, block_id), initial))


# The fields a rendered view neither takes from its shell (type, callback id, title, submit,
# close) nor fills in (blocks, private metadata): a view with any of them set is rendered by
# its model.
_UNCOVERED_FIELDS = frozenset(View.attributes) - {
    "type",
    "callback_id",
    "title",
    "submit",
    "close",
    "private_metadata",
    "blocks",
}


class RenderedView(View):
    """A view whose fixed fields (type, callback id, title, submit, close) are rendered once by
    ``View``'s model; ``to_dict`` puts this view's blocks and private metadata into a copy of
    that rendering. What the model would refuse, or a field the shell does not cover, is
    rendered by the model itself (and refused as it refuses it)."""

    def to_dict(self, *args: Any) -> dict[str, Any]:
        blocks, metadata = self.blocks or [], self.private_metadata
        fits = 0 < len(blocks) <= self.blocks_max_length and (
            metadata is None or len(metadata) <= self.private_metadata_max_length
        )
        uncovered = (getattr(self, name) is not None for name in _UNCOVERED_FIELDS)
        if not fits or self.type is None or any(uncovered):
            return super().to_dict(*args)
        texts = tuple(_text_key(getattr(self, name)) for name in ("title", "submit", "close"))
        rendered = dict(_shell(self.type, self.callback_id, texts, metadata is not None))
        if metadata is not None:
            rendered["private_metadata"] = metadata
        rendered["blocks"] = [b.to_dict() for b in blocks]
        return rendered


def _text_key(text: PlainTextObject | None) -> tuple[str, bool | None] | None:
    return None if text is None else (text.text, text.emoji)


@functools.lru_cache(maxsize=CHOICES_CACHED)
def _shell(
    view_type: str,
    callback_id: str | None,
    texts: tuple[tuple[str, bool | None] | None, ...],
    with_metadata: bool,
) -> dict[str, Any]:
    """A view's fixed fields as ``View`` renders them, with placeholders for the rest (so the
    keys come in the model's order). Shared: callers copy it."""
    title, submit, close = (
        None if t is None else PlainTextObject(text=t[0], emoji=t[1]) for t in texts
    )
    shell: dict[str, Any] = View(
        type=view_type,
        callback_id=callback_id,
        title=title,
        submit=submit,
        close=close,
        private_metadata="-" if with_metadata else None,
        blocks=[DividerBlock()],
    ).to_dict()
    return shell
