"""What a clone changes against its source, as the card lists it."""

from __future__ import annotations

from typing import Any

from bot.requests.changes import changes
from bot.ui.clone_form import validate_form

SOURCE = "90d425a802ff44eeb530f21587633700"
BASE: dict[str, Any] = {
    "source": SOURCE,
    "name": "example",
    "request_cpu": "4",
    "cpu_architectures": ["x86_64"],
    "architecture_images": "x86_64 registry.example.com/a:1",
    "yaml": "not: [valid",  # ZStack keeps YAML it never parsed
}


def form_of(values: dict[str, Any]) -> Any:
    form, errors = validate_form({**values, "reason": "r"})
    assert form is not None, errors
    return form


def test_only_what_differs_is_listed_and_empty_means_unchanged() -> None:
    form = form_of({"source": SOURCE, "name": "copy", "request_cpu": "8"})
    found = changes(form, BASE)
    assert found is not None
    by_wire = {c.wire: (c.before, c.after) for c in found}
    assert by_wire == {"name": ("example", "copy"), "requestCpu": ("4", "8")}


def test_lists_and_images_read_as_people_read_them() -> None:
    form = form_of(
        {
            "source": SOURCE,
            "name": "example",
            "cpu_architectures": ["x86_64", "aarch64"],
            "architecture_images": (
                "x86_64 registry.example.com/a:2\naarch64 registry.example.com/b:2"
            ),
        }
    )
    by_wire = {c.wire: (c.before, c.after) for c in changes(form, BASE) or []}
    assert by_wire["cpuArchitectures"] == ("x86_64", "x86_64, aarch64")
    assert by_wire["architectureImages"] == (
        "x86_64 registry.example.com/a:1",
        "x86_64 registry.example.com/a:2; aarch64 registry.example.com/b:2",
    )


def test_unknown_source_values_say_nothing() -> None:
    assert changes(form_of({"source": SOURCE, "name": "x"}), None) is None
