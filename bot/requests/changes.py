"""What a clone changes against its source, for the approver: each parameter whose value in the
request differs from the source's, as people read it.

Both sides go through the same form rules (``bot.ui.clone_form.validate_form``) and the same wire
shape, so "changed" means "ZStack will get something else than the source has", not "typed
differently". A parameter the request leaves empty keeps the source's value and is unchanged.
"""

from __future__ import annotations

from typing import Any

from bot.requests.model import ParamChange
from bot.ui.clone_form import CloneForm, validate_form
from bot.zstack.clone_spec import PARAMETERS, Param

# A value longer than this is cut on the card (the thread's parameter reply has it all).
VALUE_MAX = 200


def changes(form: CloneForm, source_values: dict[str, Any] | None) -> list[ParamChange] | None:
    """The parameters ``form`` changes against the source's values (raw form values, as the
    form was prefilled); None when the source's values are not known."""
    if source_values is None:
        return None
    values = {**source_values, "reason": "-"}
    source, refused = validate_form(values)
    if source is None:  # a value the form refuses (YAML ZStack never parsed): compare the rest
        source, _ = validate_form({k: v for k, v in values.items() if k not in refused})
    before = _flat(source) if source is not None else {}
    after = _flat(form)
    found = []
    for spec in PARAMETERS:
        new = after.get(spec.wire)
        if new is None:
            continue  # left empty: the source's value stays
        old = before.get(spec.wire)
        if new != old:
            change = ParamChange(wire=spec.wire, before=_shown(spec, old), after=_shown(spec, new))
            found.append(change)
    return found


def _flat(form: CloneForm) -> dict[str, Any]:
    body = form.to_request().to_wire()
    return {**body.get("params", {}), **{k: v for k, v in body.items() if k != "params"}}


def _shown(spec: Param, value: Any) -> str | None:
    """A wire value as people read it: lists one item after another, images one line per
    architecture, ✓ / ✗ for flags (read the same in every language)."""
    if value is None:
        return None
    if isinstance(value, bool):
        text = "✓" if value else "✗"
    elif spec.wire == "architectureImages" and isinstance(value, list):
        text = "; ".join(_image(entry) for entry in value if isinstance(entry, dict))
    elif isinstance(value, dict):
        text = "; ".join(f"{k}: {_listed(v)}" for k, v in value.items())
    elif isinstance(value, list):
        text = _listed(value)
    else:
        text = str(value)
    return text if len(text) <= VALUE_MAX else text[: VALUE_MAX - 1] + "…"


def _image(entry: dict[str, Any]) -> str:
    parts = [entry.get("cpuArchitecture"), entry.get("dockerImage"), entry.get("vmImageUuid")]
    return " ".join(str(p) for p in parts if p)


def _listed(value: Any) -> str:
    return ", ".join(str(item) for item in value) if isinstance(value, list) else str(value)
