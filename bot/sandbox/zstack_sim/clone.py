"""CloneModelService: reading its ``params`` (reference §6.1), validating them, building the copy.

Two layers fail differently, as on a real node: a field of the wrong JSON type is refused by the
REST layer's TypeVerifier (400 plain text, before any job exists); values of the right type but
out of bounds are API argument errors (SYS.1007) that fail the job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from bot.sandbox.zstack_sim.errors import CLONE_MSG_CLASS, RestError, argument_invalid
from bot.sandbox.zstack_sim.models import ModelService, ServiceImage, new_uuid

# The simulator's own reading of the reference (APICloneModelServiceMsg's @APIParam validValues),
# not the bot's parameter spec: a mistake there must not be copied into what checks it.
MODEL_SERVICE_TYPES = ("Endpoint", "FineTune", "App", "ModelEval")
MODEL_SERVICE_SOURCES = ("Other", "Bentoml", "HuggingFace")
UUID_RE = re.compile(r"^[0-9a-f]{32}$")
_INT_MAX = 2**31 - 1
_LONG_MAX = 2**63 - 1
_MAX_LENGTH = {"name": 255, "description": 2048}


@dataclass(frozen=True)
class ArchImage:
    """One ``architectureImages`` entry."""

    cpu_architecture: str | None
    vm_image_uuid: str | None
    docker_image: str | None


@dataclass(frozen=True)
class CloneParams:
    """The fields of APICloneModelServiceMsg; None means "not sent" (inherit from the source)."""

    name: str | None = None
    description: str | None = None
    readme: str | None = None
    size: int | None = None
    gpu_compute_capability: str | None = None
    install_path: str | None = None
    start_command: str | None = None
    container_command: str | None = None
    container_args: str | None = None
    python_version: str | None = None
    conda_version: str | None = None
    system: bool | None = None
    type: str | None = None
    yaml: str | None = None
    source: str | None = None
    framework: str | None = None
    request_cpu: int | None = None
    request_memory: int | None = None
    resource_uuid: str | None = None
    tag_uuids: list[str] | None = None
    cpu_architectures: list[str] | None = None
    architecture_images: list[ArchImage] | None = None
    support_distributed: bool | None = None
    vendor_to_spec_uuids_map: dict[str, list[str]] | None = None
    system_tags: list[str] = field(default_factory=list)
    user_tags: list[str] = field(default_factory=list)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


# Wire name → attribute, for every field that lives inside ``params``.
_WIRE_NAMES = {
    _camel(f.name): f.name
    for f in fields(CloneParams)
    if f.name not in ("system_tags", "user_tags")
}
_BOOLS = {"system", "support_distributed"}
_INTS = {"size", "request_cpu", "request_memory"}
_STR_LISTS = {"tag_uuids", "cpu_architectures"}


def _type_error(wire: str, expected: str, value: Any) -> RestError:
    return RestError(
        400,
        f"Invalid value for field[{wire}] of message[{CLONE_MSG_CLASS}]: {expected} expected,"
        f" but {value!r} found",
    )


def _as_str(wire: str, value: Any) -> str:
    # Gson reads JSON numbers and booleans into a String field as their text.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise _type_error(wire, "a string", value)


def _as_int(wire: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _type_error(wire, "a number", value)
    if isinstance(value, float) and not value.is_integer():
        raise _type_error(wire, "an integer", value)
    return int(value)


def _as_str_list(wire: str, value: Any) -> list[str]:
    if not isinstance(value, list):
        raise _type_error(wire, "a list", value)
    return [_as_str(wire, v) for v in value]


def _as_arch_images(wire: str, value: Any) -> list[ArchImage]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise _type_error(wire, "a list of objects", value)
    images = []
    for item in value:
        parts = {k: item.get(k) for k in ("cpuArchitecture", "vmImageUuid", "dockerImage")}
        text = {k: None if v is None else _as_str(f"{wire}.{k}", v) for k, v in parts.items()}
        images.append(ArchImage(text["cpuArchitecture"], text["vmImageUuid"], text["dockerImage"]))
    return images


def _as_spec_map(wire: str, value: Any) -> dict[str, list[str]]:
    if not isinstance(value, dict):
        raise _type_error(wire, "a map", value)
    return {str(k): _as_str_list(wire, v) for k, v in value.items()}


def _convert(attr: str, wire: str, value: Any) -> Any:
    if attr in _BOOLS:
        if not isinstance(value, bool):
            raise _type_error(wire, "true or false", value)
        return value
    if attr in _INTS:
        return _as_int(wire, value)
    if attr in _STR_LISTS:
        return _as_str_list(wire, value)
    if attr == "architecture_images":
        return _as_arch_images(wire, value)
    if attr == "vendor_to_spec_uuids_map":
        return _as_spec_map(wire, value)
    return _as_str(wire, value)


def parse_clone_body(body: Any, *, lenient: bool = False) -> CloneParams:
    """Read a CloneModelService body. Only ``params`` counts, unless ``lenient`` (explorer shape).

    The real server reads ``body["params"]`` and ignores other top-level keys, so a flat body
    leaves every field unset. ``lenient`` also takes known fields from the top level, as the API
    explorer's curl example sends them.
    """
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise RestError(400, "the body must be a JSON object")
    raw = body.get("params")
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise _type_error("params", "an object", raw)
    if lenient:
        raw = {**{k: v for k, v in body.items() if k in _WIRE_NAMES}, **raw}
    values: dict[str, Any] = {}
    for wire, value in raw.items():
        attr = _WIRE_NAMES.get(wire)
        if attr is None or value is None:
            continue  # Gson ignores unknown keys; null is "not sent"
        values[attr] = _convert(attr, wire, value)
    for tags in ("systemTags", "userTags"):
        if body.get(tags) is not None:
            values["system_tags" if tags == "systemTags" else "user_tags"] = _as_str_list(
                tags, body[tags]
            )
    return CloneParams(**values)


def _check_length(name: str, value: str | None) -> None:
    limit = _MAX_LENGTH.get(name)
    if value is not None and limit is not None and len(value) > limit:
        raise argument_invalid(
            f"field[{name}] of message[{CLONE_MSG_CLASS}] exceeds max length of string."
            f" expected was <= {limit}, actual was {len(value)}"
        )


def _check_range(name: str, value: int | None, high: int) -> None:
    if value is not None and not 1 <= value <= high:
        raise argument_invalid(f"field[{name}] must be in range of [1, {high}]")


def _check_valid_values(name: str, value: str | None, valid: tuple[str, ...]) -> None:
    if value is not None and value not in valid:
        raise argument_invalid(
            f"valid value for field[{name}] of message[{CLONE_MSG_CLASS}] are"
            f" [{', '.join(valid)}], but {value} found"
        )


def validate(params: CloneParams, *, taken_uuids: set[str]) -> None:
    """The API argument checks (SYS.1007); raises ``ApiFailure``."""
    _check_valid_values("type", params.type, MODEL_SERVICE_TYPES)
    _check_valid_values("source", params.source, MODEL_SERVICE_SOURCES)
    _check_range("requestCpu", params.request_cpu, _INT_MAX)
    _check_range("requestMemory", params.request_memory, _LONG_MAX)
    if params.size is not None and params.size < 0:
        raise argument_invalid("field[size] must be in range of [0, 9223372036854775807]")
    _check_length("name", params.name)
    _check_length("description", params.description)
    if params.resource_uuid is not None:
        if not UUID_RE.match(params.resource_uuid):
            raise argument_invalid(
                f"resourceUuid[{params.resource_uuid}] is not a valid uuid. A valid uuid is a"
                " UUID(v4 recommended) with '-' stripped"
            )
        if params.resource_uuid in taken_uuids:
            raise argument_invalid(f"resourceUuid[{params.resource_uuid}] has been occupied")
    for image in params.architecture_images or []:
        if image.cpu_architecture is None:
            raise argument_invalid(
                "field[cpuArchitecture] of architectureImages is mandatory, can not be null"
            )


def build_clone(
    source: ModelService, params: CloneParams, *, owner_account_uuid: str, now: datetime
) -> ModelService:
    """The new model service: the source's fields, overridden by every param that was sent."""
    clone = source.copy()
    clone.uuid = params.resource_uuid or new_uuid()
    clone.owner_account_uuid = owner_account_uuid
    clone.create_date = now
    clone.last_op_date = now
    for attr in (
        "name", "description", "readme", "size", "gpu_compute_capability", "install_path",
        "start_command", "container_command", "container_args", "python_version",
        "conda_version", "system", "type", "yaml", "source", "framework", "request_cpu",
        "request_memory", "support_distributed",
    ):  # fmt: skip
        value = getattr(params, attr)
        if value is not None:
            setattr(clone, attr, value)
    if params.cpu_architectures is not None:
        clone.cpu_architectures = list(params.cpu_architectures)
    if params.vendor_to_spec_uuids_map is not None:
        clone.vendor_to_spec_uuids_map = {
            k: list(v) for k, v in params.vendor_to_spec_uuids_map.items()
        }
    if params.architecture_images is not None:
        clone.images = [
            ServiceImage(
                uuid=new_uuid(),
                model_service_uuid=clone.uuid,
                cpu_architecture=img.cpu_architecture or "",
                vm_image_uuid=img.vm_image_uuid,
                docker_image=img.docker_image,
                create_date=now,
                last_op_date=now,
            )
            for img in params.architecture_images
        ]
    else:
        for img in clone.images:
            img.uuid = new_uuid()
            img.model_service_uuid = clone.uuid
            img.create_date = now
            img.last_op_date = now
    clone.tag_uuids = list(params.tag_uuids or [])
    clone.system_tags = list(params.system_tags)
    clone.user_tags = list(params.user_tags)
    return clone
