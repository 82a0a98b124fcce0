"""The ZStack models read whatever ZStack (or something pretending to be it) sends."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.zstack.models import (
    MAX_ERROR_DEPTH,
    ArchitectureImage,
    CloneParams,
    CloneRequestBody,
    ErrorCode,
    ModelServiceInventory,
    SessionInventory,
    format_zstack_date,
    parse_zstack_date,
)

SEED_EXAMPLE = {
    "uuid": "90d425a802ff44eeb530f21587633700",
    "name": "example",
    "requestCpu": 1,
    "requestMemory": 1024,
    "type": "Endpoint",
    "system": True,
    "supportDistributed": True,
    "modelServiceImages": [
        {
            "uuid": "c13336388d574fec824752525ae05a21",
            "cpuArchitecture": "x86_64",
            "dockerImage": "registry.example.com/x86_64/myimage:latest",
            "createDate": "Nov 25, 2025 11:51:50 AM",
        }
    ],
    "createDate": "Nov 25, 2025 11:51:50 AM",
    "lastOpDate": "Nov 25, 2025 1:05:09 PM",
}


def test_seed_example_inventory_parses() -> None:
    inv = ModelServiceInventory.model_validate(SEED_EXAMPLE)
    assert inv.request_memory == 1024
    assert inv.model_service_images[0].cpu_architecture == "x86_64"
    assert inv.create_date == datetime(2025, 11, 25, 11, 51, 50)
    assert inv.last_op_date == datetime(2025, 11, 25, 13, 5, 9)


def test_unknown_and_wrongly_typed_fields_do_not_break_an_inventory() -> None:
    data = dict(SEED_EXAMPLE, requestCpu="lots", hasNewVersion=True, brandNew={"x": 1})
    data["modelServiceImages"] = [*SEED_EXAMPLE["modelServiceImages"], "junk", None]
    inv = ModelServiceInventory.model_validate(data)
    assert inv.request_cpu is None
    assert inv.has_new_version is True
    assert len(inv.model_service_images) == 1


def test_dates_with_narrow_no_break_space_and_round_trip() -> None:
    assert parse_zstack_date("Oct 28, 2025 2:09:26\u202fPM") == datetime(2025, 10, 28, 14, 9, 26)
    moment = datetime(2026, 1, 5, 0, 7, 3)
    text = format_zstack_date(moment)
    assert text == "Jan 5, 2026 12:07:03 AM"
    assert parse_zstack_date(text) == moment


def test_session_uuid_is_not_printed() -> None:
    inv = SessionInventory.model_validate(
        {"uuid": "f" * 32, "accountUuid": "a" * 32, "expiredDate": "Nov 25, 2025 1:51:50 PM"}
    )
    assert "f" * 32 not in repr(inv)
    assert "f" * 32 not in str(inv.model_dump())
    assert inv.uuid.get_secret_value() == "f" * 32


def test_clone_body_puts_every_field_inside_params_and_tags_on_top() -> None:
    params = CloneParams(
        name="copy",
        request_cpu=4,
        request_memory=8192,
        container_command="python",
        vendor_to_spec_uuids_map={"NVIDIA": ["s1"]},
        architecture_images=[ArchitectureImage(cpu_architecture="x86_64", docker_image="r/i:1")],
    )
    wire = CloneRequestBody(params=params, system_tags=["a::b"], user_tags=["team"]).to_wire()
    assert set(wire) == {"params", "systemTags", "userTags"}
    assert wire["params"]["requestCpu"] == 4
    assert wire["params"]["containerCommand"] == "python"
    assert wire["params"]["vendorToSpecUuidsMap"] == {"NVIDIA": ["s1"]}
    assert wire["params"]["architectureImages"] == [
        {"cpuArchitecture": "x86_64", "dockerImage": "r/i:1"}
    ]
    assert "description" not in wire["params"]  # null fields omitted, as Gson does


def test_error_chain_root_first_covers_cause_and_causes() -> None:
    error = ErrorCode.from_wire(
        {
            "code": "SYS.1006",
            "details": "clone failed",
            "cause": {
                "code": "SYS.1006",
                "details": "copy images",
                "causes": [{"code": "SYS.1015", "details": "refused"}, {"code": "X.1"}],
            },
        }
    )
    chain = [node.code for _depth, node in error.chain_root_first()]
    assert chain[0] in {"SYS.1015", "X.1"}
    assert chain[-1] == "SYS.1006"
    assert len(chain) == 4


def test_absurdly_deep_error_is_cut() -> None:
    data: dict[str, Any] = {"code": "LEAF"}
    for level in range(5000):
        data = {"code": f"L{level}", "cause": data}
    error = ErrorCode.from_wire(data)
    assert max(depth for depth, _ in error.walk()) == MAX_ERROR_DEPTH


json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=25,
)
error_keys = st.sampled_from(
    ["code", "description", "details", "elaboration", "opaque", "cause", "causes", "location"]
)
error_trees = st.recursive(
    st.dictionaries(error_keys, json_scalars, max_size=5),
    lambda inner: st.fixed_dictionaries(
        {"code": st.text(max_size=10)},
        optional={"cause": inner, "causes": st.lists(inner, max_size=3), "details": json_values},
    ),
    max_leaves=40,
)
inventory_keys = st.sampled_from(
    list(ModelServiceInventory.model_fields)
    + [f.alias or k for k, f in ModelServiceInventory.model_fields.items()]
    + ["modelServiceImages", "createDate", "vendorToSpecUuidsMap", "cpuArchitectures"]
)


@settings(max_examples=300, deadline=None)
@given(error_trees | json_values)
def test_any_error_tree_is_read_without_crashing(data: Any) -> None:
    error = ErrorCode.from_wire(data)
    assert isinstance(error.summary(), str)
    chain = error.chain_root_first()
    assert chain[-1][1] is error
    json.dumps(error.model_dump(mode="json"))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(inventory_keys, json_values, max_size=12))
def test_any_inventory_is_read_without_crashing(data: dict[str, Any]) -> None:
    inv = ModelServiceInventory.model_validate(data)
    assert isinstance(inv.model_service_images, list)
    assert all(isinstance(v, list) for v in inv.vendor_to_spec_uuids_map.values())
    json.dumps(inv.model_dump(mode="json"))
