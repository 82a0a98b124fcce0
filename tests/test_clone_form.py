"""Validation of the clone form: one field error per problem, never an exception."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.ui.clone import ADVANCED, BASIC, CloneViewMeta, clone_form_view, defaults_from_source
from bot.ui.clone_form import CloneForm, parse_image_lines, validate_form
from bot.ui.clone_inputs import values_of_request
from bot.zstack.models import ModelServiceInventory

SOURCE = "90d425a802ff44eeb530f21587633700"
VALID: dict[str, Any] = {"source": SOURCE, "name": "copy", "reason": "load test"}


def errors_for(**changes: Any) -> dict[str, str]:
    form, errors = validate_form({**VALID, **changes})
    assert (form is None) == bool(errors)
    return errors


def test_minimal_valid_form() -> None:
    form, errors = validate_form(VALID)
    assert errors == {}
    assert isinstance(form, CloneForm)
    body = form.to_request().to_wire()
    assert body["params"]["name"] == "copy"


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("source", None, "Choose the model service"),
        ("source", "not-a-uuid", "Choose the model service"),
        ("name", "  ", "Enter a name"),
        ("name", "x" * 256, "At most 255"),
        ("name", "bad\x00name", "control characters"),
        ("reason", "", "Enter a reason"),
        ("description", "d" * 2001, "At most 2,000"),
        ("type", "Foo", "Endpoint"),
        ("model_source", "PyPI", "HuggingFace"),
        ("request_cpu", "0", "from 1 to 1,024"),
        ("request_cpu", "2.5", "whole number"),
        ("request_cpu", "many", "whole number"),
        ("request_memory", "99999999999", "MiB"),
        ("gpu_compute_capability", "sm_80", "major.minor"),
        ("cpu_architectures", ["sparc"], "Unknown architecture"),
        ("architecture_images", "x86_64 a/b:1\nx86_64 c/d:2", "listed twice"),
        ("architecture_images", "riscv a/b:1", "unknown architecture"),
        ("architecture_images", "x86_64 a/b:1 nothex", "32-hex"),
        ("architecture_images", "x86_64 -", "container image, a VM image"),
        ("architecture_images", "x86_64 a/b:1 " + "c" * 32 + " extra", "arch docker-image"),
        ("architecture_images", "x86_64 <script>", "not a container image"),
        ("yaml", "key: [unclosed", "not valid YAML"),
        ("resource_uuid", "1234", "32 hexadecimal"),
        ("tag_uuids", "abc, def", "Not a UUID"),
        ("vendor_to_spec_uuids_map", "NVIDIA 123", "VENDOR: spec-uuid"),
        ("vendor_to_spec_uuids_map", "NVIDIA: nothex", "32 hex"),
        ("size", "-1", "from 0"),
        ("user_tags", "t" * 300, "at most 255"),
    ],
)
def test_each_rule_yields_an_error_on_its_own_block(field: str, value: Any, fragment: str) -> None:
    errors = errors_for(**{field: value})
    assert list(errors) == [field]
    assert fragment.lower() in errors[field].lower()


def test_several_problems_come_back_together() -> None:
    errors = errors_for(name="", request_cpu="0", yaml="a: [")
    assert set(errors) == {"name", "request_cpu", "yaml"}


def test_images_and_architectures_normalise() -> None:
    images = parse_image_lines("AMD64 reg.example/x:1\narm64 - " + "a" * 32)
    assert [(i.cpu_architecture, i.docker_image, i.vm_image_uuid) for i in images] == [
        ("x86_64", "reg.example/x:1", None),
        ("aarch64", None, "a" * 32),
    ]
    form, _ = validate_form({**VALID, "architecture_images": "x86_64 r/i:1"})
    assert form is not None
    assert form.to_request().params.cpu_architectures == ["x86_64"]


def test_form_built_from_a_source_validates_unchanged() -> None:
    inventory = ModelServiceInventory.model_validate(
        {
            "uuid": SOURCE,
            "name": "example",
            "type": "Endpoint",
            "requestCpu": 2,
            "requestMemory": 2048,
            "cpuArchitectures": ["x86_64", "aarch64"],
            "modelServiceImages": [
                {"cpuArchitecture": "x86_64", "dockerImage": "r/x:1", "vmImageUuid": "b" * 32},
                {"cpuArchitecture": "aarch64", "dockerImage": "r/a:1"},
            ],
            "vendorToSpecUuidsMap": {"NVIDIA": ["c" * 32]},
            "yaml": "a: 1\n",
        }
    )
    raw = {**defaults_from_source(inventory), "reason": "copy it"}
    form, errors = validate_form(raw)
    assert errors == {} and form is not None
    params = form.to_request().params
    assert params.name == "example-clone"
    assert params.request_memory == 2048
    assert params.vendor_to_spec_uuids_map == {"NVIDIA": ["c" * 32]}
    assert [i.cpu_architecture for i in params.architecture_images or []] == ["x86_64", "aarch64"]


def test_a_requests_values_give_the_same_request_again() -> None:
    """Edit and resubmit fills the form from a request's body: submitting it unchanged must
    send exactly that body (every kind of field: numbers, lists, maps, images, flags, tags)."""
    raw = {
        **VALID,
        "description": "two\nlines",
        "type": "Endpoint",
        "request_cpu": "4",
        "request_memory": "8192",
        "cpu_architectures": ["x86_64", "aarch64"],
        "architecture_images": f"x86_64 r/x:1 {'b' * 32}\naarch64 r/a:1",
        "vendor_to_spec_uuids_map": f"NVIDIA: {'c' * 32}, {'d' * 32}",
        "flags": ["support_distributed"],
        "tag_uuids": f"{'e' * 32} {'f' * 32}",
        "system_tags": "a::b\nc::d",
        "user_tags": "mine",
        "yaml": "a: 1\n",
    }
    form, errors = validate_form(raw)
    assert errors == {} and form is not None
    body = form.to_request()
    assert body.params.support_distributed is True and body.params.tag_uuids == ["e" * 32, "f" * 32]
    assert body.system_tags == ["a::b", "c::d"] and body.params.request_memory == 8192
    again, errors = validate_form({**values_of_request(body), "source": SOURCE, "reason": "x"})
    assert errors == {} and again is not None
    assert again.to_request() == body
    assert again.to_request().to_wire() == body.to_wire()


def test_every_form_block_id_is_a_form_field() -> None:
    fields = set(CloneForm.model_fields)
    assert set(BASIC) | set(ADVANCED) | {"source", "reason"} <= fields
    view = clone_form_view(VALID, CloneViewMeta(advanced=True)).to_dict()
    input_ids = {b["block_id"] for b in view["blocks"] if b["type"] == "input"}
    assert input_ids == set(BASIC) | set(ADVANCED) | {"source", "reason"}


hostile_text = st.text(
    alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Z", "Cc", "Cf")),
    max_size=4000,
)
raw_value = st.none() | hostile_text | st.lists(hostile_text, max_size=5) | st.integers()


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(CloneForm.model_fields)), raw_value, max_size=30))
def test_arbitrary_values_give_errors_or_a_form_never_an_exception(raw: dict[str, Any]) -> None:
    form, errors = validate_form(raw)
    if form is None:
        assert errors and all(isinstance(m, str) and 0 < len(m) <= 2000 for m in errors.values())
        assert set(errors) <= set(CloneForm.model_fields)
    else:
        assert errors == {}
        form.to_request().to_wire()
