"""Modal stacks: open, push, update and close views, as ``views.*`` and ``response_action`` do.

A user has at most one stack of up to three views. ``hash`` changes on every update, input state
survives an update for elements whose ``block_id``/``action_id``/type did not change.
"""

from __future__ import annotations

import copy
import secrets

from .elements import fill_ids
from .records import JSON, OpenView
from .state import EmulatorState, new_id

MAX_STACK = 3

_VIEW_FIELDS = (
    "type",
    "title",
    "submit",
    "close",
    "blocks",
    "private_metadata",
    "callback_id",
    "external_id",
    "clear_on_close",
    "notify_on_close",
    "submit_disabled",
)


def clean_definition(view: JSON) -> JSON:
    """The app-controlled part of a view, with Slack's generated block/action ids filled in."""
    definition = {k: copy.deepcopy(v) for k, v in view.items() if k in _VIEW_FIELDS}
    definition["blocks"] = fill_ids(list(definition.get("blocks") or []))
    return definition


class Modals:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def _hash(self) -> str:
        return f"{int(self.state.clock.time())}.{secrets.token_hex(4)}"

    def _new(self, user: str, definition: JSON, root: str | None, previous: str | None) -> OpenView:
        ws = self.state.workspace
        view_id = new_id("V")
        view = OpenView(
            id=view_id,
            user=user,
            definition=clean_definition(definition),
            hash=self._hash(),
            team_id=ws.team_id,
            app_id=ws.app_id,
            bot_id=ws.bot_id,
            root_view_id=root or view_id,
            previous_view_id=previous,
        )
        self.state.views[view_id] = view
        return view

    def external_id_taken(self, external_id: str, *, other_than: str | None = None) -> bool:
        if not external_id:
            return False
        return any(
            v.open and v.external_id == external_id and v.id != other_than
            for v in self.state.views.values()
        )

    def by_external_id(self, external_id: str) -> OpenView | None:
        for view in self.state.views.values():
            if view.open and view.external_id == external_id:
                return view
        return None

    def publish(self, user: str, definition: JSON) -> OpenView:
        """Set the user's App Home view (same id across publishes, a new hash each time)."""
        current = self.state.home(user)
        if current is None:
            current = self._new(user, definition, None, None)
            self.state.homes[user] = current.id
        else:
            current.definition = clean_definition(definition)
            current.hash = self._hash()
        self.state.notify()
        return current

    def open(self, user: str, definition: JSON) -> OpenView:
        """A new root view; a stack the user had open is replaced."""
        self.clear(user, reason="replaced")
        view = self._new(user, definition, None, None)
        self.state.stacks[user] = [view.id]
        self.state.notify()
        return view

    def push(self, user: str, definition: JSON) -> OpenView | None:
        """Push onto the user's stack; ``None`` when the stack is full."""
        stack = self.state.stacks.setdefault(user, [])
        if len(stack) >= MAX_STACK:
            return None
        top = stack[-1] if stack else None
        root = self.state.views[stack[0]].id if stack else None
        view = self._new(user, definition, root, top)
        stack.append(view.id)
        self.state.notify()
        return view

    def update(self, view: OpenView, definition: JSON) -> OpenView:
        """Replace a view's content in place: same id, new hash, errors cleared."""
        new_definition = clean_definition(definition)
        kept: dict[str, dict[str, JSON]] = {}
        for block in new_definition["blocks"]:
            block_id = str(block.get("block_id"))
            for action_id, value in view.values.get(block_id, {}).items():
                element = _element(block, action_id)
                if element is not None and element.get("type") == value.get("type"):
                    kept.setdefault(block_id, {})[action_id] = value
        view.definition = new_definition
        view.values = kept
        view.errors = {}
        view.hash = self._hash()
        self.state.notify()
        return view

    def close_top(self, user: str, *, reason: str) -> OpenView | None:
        stack = self.state.stacks.get(user, [])
        if not stack:
            return None
        view = self.state.views[stack.pop()]
        view.open = False
        view.closed_by = reason
        self.state.notify()
        return view

    def clear(self, user: str, *, reason: str) -> list[OpenView]:
        closed = []
        while self.state.stacks.get(user):
            view = self.close_top(user, reason=reason)
            if view is not None:
                closed.append(view)
        return closed

    def top(self, user: str) -> OpenView | None:
        stack = self.state.stacks.get(user, [])
        return self.state.views[stack[-1]] if stack else None


def _element(block: JSON, action_id: str) -> JSON | None:
    for key in ("element", "accessory"):
        element = block.get(key)
        if isinstance(element, dict) and element.get("action_id") == action_id:
            return element
    for element in block.get("elements") or []:
        if isinstance(element, dict) and element.get("action_id") == action_id:
            return element
    return None
