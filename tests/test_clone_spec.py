"""The parameter spec and everything derived from it agree: the modal's inputs, the form's limits,
the wire model, the labels and the source prefill. And the spec agrees with ZStack's reference."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import NoneType, UnionType
from typing import Any, Literal, Union, get_args, get_origin

import pytest

from bot.i18n.catalog import read_catalog
from bot.requests.model import CloneRequest, State
from bot.ui import cards, thread
from bot.ui.clone import CloneViewMeta, clone_form_view
from bot.ui.clone_form import FLAGS_BLOCK, REASON, CloneForm, validate_form
from bot.ui.clone_inputs import ADVANCED, BASIC, defaults_from_source
from bot.zstack.clone_spec import (
    FLAGS,
    JSON_SAFE_MAX,
    LONG_TEXT_MAX,
    PARAMETERS,
    Kind,
    Param,
    Shown,
    param,
)
from bot.zstack.models import (
    ArchitectureImage,
    CloneParams,
    CloneRequestBody,
    ModelServiceInventory,
)

SOURCE = "90d425a802ff44eeb530f21587633700"
VALID: dict[str, Any] = {"source": SOURCE, "name": "copy", "reason": "load test"}
JAVA_LONG_MAX = 2**63 - 1
# The request example of CloneModelService's API page (reference: clone-model-service-api-page
# .txt), every key moved inside ``params`` as zstack-api.md §8 says the server reads them.
REFERENCE_PARAMS = {
    "name", "description", "readme", "size", "gpuComputeCapability", "installPath",
    "startCommand", "pythonVersion", "condaVersion", "system", "type", "yaml", "source",
    "framework", "requestCpu", "requestMemory", "resourceUuid", "tagUuids", "cpuArchitectures",
    "architectureImages", "supportDistributed", "containerCommand", "containerArgs",
    "vendorToSpecUuidsMap",
}  # fmt: skip
REFERENCE_TOP_LEVEL = {"systemTags", "userTags"}
TEXT_INPUTS = {Shown.TEXT, Shown.MULTILINE, Shown.YAML, Shown.WORDS, Shown.LINES, Shown.MAP}
TEXT_INPUTS |= {Shown.IMAGES}
NOT_FLAGS = [p for p in PARAMETERS if p.shown is not Shown.FLAG]


def make_record(body: CloneRequestBody) -> CloneRequest:
    now = datetime.now(UTC)
    return CloneRequest(
        id="CR-7F3K2Q",
        state=State.PENDING,
        team_id="T1",
        requester="U1",
        channel="C1",
        source_uuid=SOURCE,
        body=body,
        reason="test",
        created_at=now,
        updated_at=now,
        expires_at=now + timedelta(hours=1),
    )


def _inputs() -> dict[str, dict[str, Any]]:
    view = clone_form_view(VALID, CloneViewMeta(advanced=True)).to_dict()
    return {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}


def test_the_spec_matches_the_reference_request() -> None:
    assert {p.wire for p in PARAMETERS if not p.top_level} == REFERENCE_PARAMS
    assert {p.wire for p in PARAMETERS if p.top_level} == REFERENCE_TOP_LEVEL
    assert len({p.key for p in PARAMETERS}) == len(PARAMETERS)


def test_every_limit_fits_slack_and_zstack() -> None:
    for spec in PARAMETERS:
        if spec.shown is Shown.NUMBER:
            assert spec.min_value is not None and spec.max_value is not None, spec.wire
            low, high = spec.bounds
            assert -JSON_SAFE_MAX <= low <= high <= JSON_SAFE_MAX <= JAVA_LONG_MAX, spec.wire
        if spec.shown in TEXT_INPUTS:
            assert spec.max_length is not None and spec.max_length <= LONG_TEXT_MAX, spec.wire
        assert (spec.pattern is None) == (spec.mismatch is None), spec.wire
        assert bool(spec.options) == (spec.shown in (Shown.SELECT, Shown.MULTI_SELECT))


def test_size_has_one_bound_that_slack_number_inputs_can_hold() -> None:
    size = param("size")
    assert size.bounds == (0, 2**53 - 1)
    element = _inputs()["size"]["element"]
    assert (element["min_value"], element["max_value"]) == ("0", str(2**53 - 1))
    form, errors = validate_form({**VALID, "size": str(2**53 - 1)})
    assert errors == {} and form is not None
    assert form.to_request().to_wire()["params"]["size"] == 2**53 - 1  # exact, not rounded
    _form, errors = validate_form({**VALID, "size": str(2**53)})
    assert "9,007,199,254,740,991" in errors["size"]


def test_the_modal_has_one_input_per_parameter_as_the_spec_describes() -> None:
    inputs = _inputs()
    expected = {p.key for p in NOT_FLAGS} | {FLAGS_BLOCK, "source", REASON.key}
    assert set(inputs) == expected
    assert set(BASIC) | set(ADVANCED) == expected - {"source", REASON.key}
    for spec in [*NOT_FLAGS, REASON]:
        block = inputs[spec.key]
        element = block["element"]
        assert block["label"]["text"] == spec.label, spec.key
        assert block.get("hint", {}).get("text") == spec.help, spec.key
        assert block.get("optional", False) == (spec.required is None), spec.key
        assert (spec.key in ADVANCED) == spec.advanced, spec.key
        if spec.shown in TEXT_INPUTS:
            assert element["type"] == "plain_text_input", spec.key
            assert element["max_length"] == spec.max_length, spec.key
            assert element.get("multiline", False) == (spec.shown not in (Shown.TEXT, Shown.WORDS))
        elif spec.shown is Shown.NUMBER:
            assert element["type"] == "number_input"
            assert (int(element["min_value"]), int(element["max_value"])) == spec.bounds
        else:
            kinds = {Shown.SELECT: "static_select", Shown.MULTI_SELECT: "multi_static_select"}
            assert element["type"] == kinds[spec.shown]
            assert [o["value"] for o in element["options"]] == list(spec.options)
    flags = inputs[FLAGS_BLOCK]["element"]
    assert flags["type"] == "checkboxes"
    assert [(o["value"], o["text"]["text"]) for o in flags["options"]] == [
        (f.key, f.label) for f in FLAGS
    ]


def test_the_form_has_a_field_per_parameter() -> None:
    expected = {p.key for p in NOT_FLAGS} | {FLAGS_BLOCK, "source", REASON.key}
    assert set(CloneForm.model_fields) == expected


def _too_long(spec: Param) -> str:
    assert spec.max_length is not None
    return "7" * (spec.max_length + 1)


@pytest.mark.parametrize("spec", [p for p in [*PARAMETERS, REASON] if p.max_length], ids=str)
def test_the_form_refuses_text_beyond_the_spec_length(spec: Param) -> None:
    _form, errors = validate_form({**VALID, spec.key: _too_long(spec)})
    assert list(errors) == [spec.key]
    assert f"At most {spec.max_length:,} characters" in errors[spec.key]


@pytest.mark.parametrize("spec", [p for p in PARAMETERS if p.shown is Shown.NUMBER], ids=str)
def test_the_form_takes_numbers_exactly_within_the_spec_bounds(spec: Param) -> None:
    low, high = spec.bounds
    for inside in (low, high):
        form, errors = validate_form({**VALID, spec.key: str(inside)})
        assert errors == {} and form is not None
        assert getattr(form.to_request().params, spec.field) == inside
    for outside in (low - 1, high + 1):
        _form, errors = validate_form({**VALID, spec.key: str(outside)})
        unit = f" {spec.unit}" if spec.unit else ""
        assert f"from {low:,} to {high:,}{unit}." in errors[spec.key]


@pytest.mark.parametrize("spec", [p for p in PARAMETERS if p.shown is Shown.SELECT], ids=str)
def test_the_form_takes_exactly_the_spec_options(spec: Param) -> None:
    for option in spec.options:
        form, errors = validate_form({**VALID, spec.key: option})
        assert errors == {} and form is not None
        assert getattr(form.to_request().params, spec.field) == option
    _form, errors = validate_form({**VALID, spec.key: "Nope"})
    assert list(errors) == [spec.key]


_WIRE_TYPES: dict[Kind, Any] = {
    Kind.TEXT: str,
    Kind.INTEGER: int,
    Kind.BOOLEAN: bool,
    Kind.TEXT_LIST: list[str],
    Kind.TEXT_LIST_MAP: dict[str, list[str]],
    Kind.IMAGES: list[ArchitectureImage],
}


def _without_none(annotation: Any) -> Any:
    assert get_origin(annotation) in (Union, UnionType), annotation  # every field is optional
    (inner,) = [a for a in get_args(annotation) if a is not NoneType]
    return inner


def test_the_wire_model_has_the_spec_fields_names_and_types() -> None:
    inside = [p for p in PARAMETERS if not p.top_level]
    fields = CloneParams.model_fields
    assert set(fields) == {p.field for p in inside}
    for spec in inside:
        assert fields[spec.field].alias == spec.wire
        annotation = _without_none(fields[spec.field].annotation)
        if spec.shown is Shown.SELECT:
            assert get_origin(annotation) is Literal
            assert get_args(annotation) == spec.options
        else:
            assert annotation == _WIRE_TYPES[spec.kind], spec.wire


def test_a_full_form_sends_every_parameter_under_its_wire_name() -> None:
    full = {
        **VALID,
        "description": "d",
        "type": "App",
        "model_source": "Other",
        "framework": "vLLM",
        "request_cpu": "2",
        "request_memory": "2048",
        "gpu_compute_capability": "8.0",
        "cpu_architectures": ["x86_64"],
        "architecture_images": "x86_64 r/x:1",
        FLAGS_BLOCK: [f.key for f in FLAGS],
        "readme": "r",
        "yaml": "a: 1",
        "size": "0",
        "install_path": "/opt",
        "start_command": "run",
        "python_version": "3.11",
        "conda_version": "23",
        "container_command": "c",
        "container_args": "a",
        "resource_uuid": "A" * 32,
        "tag_uuids": "b" * 32,
        "vendor_to_spec_uuids_map": "NVIDIA: " + "c" * 32,
        "system_tags": "s",
        "user_tags": "u",
    }
    form, errors = validate_form(full)
    assert errors == {} and form is not None
    wire = form.to_request().to_wire()
    assert set(wire["params"]) == REFERENCE_PARAMS
    assert set(wire) - {"params"} == REFERENCE_TOP_LEVEL
    assert wire["params"]["resourceUuid"] == "a" * 32
    assert wire["params"]["system"] is True and wire["params"]["supportDistributed"] is True

    reply = str([b.to_dict() for b in thread.parameter_reply(make_record(form.to_request()))])
    for spec in PARAMETERS:
        # The thread names each as the card does, with the name ZStack receives.
        assert f"{spec.card_label} `{spec.wire}`*" in reply, spec.wire


def test_every_label_and_message_is_translated() -> None:
    catalog = read_catalog("zh_CN")
    for spec in [*PARAMETERS, REASON]:
        texts = [spec.label, spec.help, spec.short, spec.required, spec.mismatch]
        for text in filter(None, texts):
            entry = catalog.get(text)
            assert entry is not None and entry.string and not entry.fuzzy, (spec.wire, text)


def test_the_card_labels_are_the_specs() -> None:
    params = CloneParams(type="App", framework="vLLM", cpu_architectures=["x86_64"])
    record = make_record(CloneRequestBody(params=params))
    card = str([b.to_dict() for b in cards.request_card(record, [])])
    for key in ("type", "framework", "cpu_architectures", "gpu_compute_capability"):
        assert f"*{param(key).card_label}*" in card, key


def test_the_source_prefills_every_parameter_its_inventory_carries() -> None:
    carried = [p for p in PARAMETERS if p.field in ModelServiceInventory.model_fields]
    assert {p.wire for p in carried} >= {"name", "requestCpu", "yaml", "supportDistributed"}
    inventory = ModelServiceInventory.model_validate(
        {
            "uuid": SOURCE,
            "name": "example",
            "description": "d",
            "readme": "r",
            "yaml": "a: 1",  # the form strips what it reads
            "requestCpu": 3,
            "requestMemory": 3072,
            "type": "FineTune",
            "framework": "f",
            "source": "Bentoml",
            "size": 77,
            "system": True,
            "supportDistributed": False,
            "gpuComputeCapability": "7.5",
            "installPath": "/i",
            "pythonVersion": "3.10",
            "condaVersion": "22",
            "startCommand": "s",
            "containerCommand": "cc",
            "containerArgs": "ca",
            "cpuArchitectures": ["aarch64"],
            "vendorToSpecUuidsMap": {"NVIDIA": ["c" * 32]},
            "modelServiceImages": [{"cpuArchitecture": "aarch64", "dockerImage": "r/a:1"}],
        }
    )
    form, errors = validate_form({**defaults_from_source(inventory), "reason": "copy"})
    assert errors == {} and form is not None
    params = form.to_request().params
    for spec in carried:
        sent, source = getattr(params, spec.field), getattr(inventory, spec.field)
        if spec.wire == "name":
            assert sent == "example-clone"
        else:
            assert sent == source, spec.wire
    assert params.architecture_images == [
        ArchitectureImage(cpu_architecture="aarch64", docker_image="r/a:1")
    ]
