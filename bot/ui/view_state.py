"""Reading ``view.state.values``: typed values per block and action, for every element we use.

Slack reports each input's state under ``values[block_id][action_id]`` (reference
slack-platform.md §3): text and number inputs as ``value`` (a string, numbers too), single selects
and radio buttons as ``selected_option``, multi selects and checkboxes as ``selected_options``.
A state of another shape reads as empty, never as an error: the submission's validation then
says what is missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# What a block reads as when the form takes its values by block (``by_block``).
BlockValue = str | list[str] | None


@dataclass(frozen=True)
class Chosen:
    """A selected option: its value and the text Slack showed for it."""

    value: str
    text: str


def _chosen(option: Any) -> Chosen | None:
    if not isinstance(option, Mapping) or not isinstance(option.get("value"), str):
        return None
    text = option.get("text")
    shown = text.get("text") if isinstance(text, Mapping) else None
    return Chosen(option["value"], shown if isinstance(shown, str) else "")


class ViewState:
    """One view's ``state.values``."""

    def __init__(self, values: Any) -> None:
        self._values: Mapping[str, Any] = values if isinstance(values, Mapping) else {}

    @classmethod
    def of(cls, view: Any) -> ViewState:
        """The state of a view payload (``None`` or a view without state reads as empty)."""
        state = view.get("state") if isinstance(view, Mapping) else None
        return cls(state.get("values") if isinstance(state, Mapping) else None)

    def _entry(self, block_id: str, action_id: str) -> Mapping[str, Any]:
        actions = self._values.get(block_id)
        entry = actions.get(action_id) if isinstance(actions, Mapping) else None
        return entry if isinstance(entry, Mapping) else {}

    def text(self, block_id: str, action_id: str) -> str | None:
        """A plain_text_input's value as typed (``None`` when empty)."""
        value = self._entry(block_id, action_id).get("value")
        return value if isinstance(value, str) and value else None

    def number(self, block_id: str, action_id: str) -> int | float | None:
        """A number_input's value (Slack sends the typed digits; ``None`` when not a number)."""
        text = self.text(block_id, action_id)
        if text is None:
            return None
        try:
            return int(text)
        except ValueError:
            pass
        try:
            return float(text)
        except ValueError:
            return None

    def choice(self, block_id: str, action_id: str) -> Chosen | None:
        """A static or external select's, or radio buttons', selected option."""
        return _chosen(self._entry(block_id, action_id).get("selected_option"))

    def choices(self, block_id: str, action_id: str) -> list[Chosen]:
        """A multi select's or checkboxes' selected options, in Slack's order."""
        options = self._entry(block_id, action_id).get("selected_options")
        if not isinstance(options, list):
            return []
        return [c for c in map(_chosen, options) if c is not None]

    def by_block(self) -> dict[str, BlockValue]:
        """Every block's value, for forms with one input per block: the text, the selected
        option's value, or the selected options' values."""
        found: dict[str, BlockValue] = {}
        for block, actions in self._values.items():
            if not isinstance(actions, Mapping):
                continue
            for action, entry in actions.items():
                if not isinstance(entry, Mapping):
                    continue
                block_id, action_id = str(block), str(action)
                if "selected_options" in entry:
                    found[block_id] = [c.value for c in self.choices(block_id, action_id)]
                elif "selected_option" in entry:
                    chosen = self.choice(block_id, action_id)
                    found[block_id] = chosen.value if chosen else None
                else:
                    found[block_id] = self.text(block_id, action_id)
        return found
