"""Pydantic models for what ZStack sends and what we send it (reference: zstack-api.md §2, §4, §6).

What CloneModelService takes is written once, in ``bot.zstack.clone_spec``: ``CloneParams`` gets
its wire names from there, and the vocabulary (``UUID_RE``, the type and source names) is
re-exported here for importers.

ZStack serialises with Gson without ``serializeNulls``: absent keys are normal, and newer builds add
fields. Every model therefore tolerates missing and extra keys, and an optional scalar of the wrong
type becomes ``None`` instead of failing the whole inventory.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
)
from pydantic.alias_generators import to_camel

from bot.zstack.clone_spec import MODEL_SERVICE_SOURCES as MODEL_SERVICE_SOURCES
from bot.zstack.clone_spec import MODEL_SERVICE_TYPES as MODEL_SERVICE_TYPES
from bot.zstack.clone_spec import TOP_LEVEL, WRAPPED
from bot.zstack.clone_spec import UUID_RE as UUID_RE
from bot.zstack.clone_spec import ModelServiceSource as ModelServiceSource
from bot.zstack.clone_spec import ModelServiceType as ModelServiceType

# Gson's default US medium format, e.g. "Nov 25, 2025 1:51:50 PM" (no zone, unpadded day and hour).
_ZSTACK_DATE_FORMATS = ("%b %d, %Y %I:%M:%S %p", "%b %d, %Y %H:%M:%S")
# Newer JDKs (CLDR) put a narrow no-break space before AM/PM.
_SPACES = re.compile(r"[\u202f\u00a0\s]+")

# Error cause chains deeper than this are cut: enough for any real chain, bounded for hostile input.
MAX_ERROR_DEPTH = 32
MAX_ERROR_CAUSES = 50

T = TypeVar("T")


def parse_zstack_date(value: str) -> datetime:
    """Parse ZStack's date format (and ISO 8601, which newer SDKs also accept)."""
    text = _SPACES.sub(" ", value).strip()
    for fmt in _ZSTACK_DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt)  # ZStack sends node-local time, no zone
        except ValueError:
            continue
    return datetime.fromisoformat(text)


def format_zstack_date(moment: datetime) -> str:
    """Write a date the way ZStack does: ``Nov 5, 2025 1:51:50 PM``."""
    hour = moment.hour % 12 or 12
    suffix = "AM" if moment.hour < 12 else "PM"
    return f"{moment:%b} {moment.day}, {moment.year} {hour}:{moment:%M:%S} {suffix}"


def _none_on_error(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    try:
        return handler(value)
    except ValidationError:
        return None


def _lenient_date(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        return None
    try:
        return parse_zstack_date(value)
    except ValueError:
        return None


def _list_or_empty(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    if value is None:
        return []
    try:
        return handler(value)
    except ValidationError:
        return []


Lenient = Annotated[T | None, WrapValidator(_none_on_error)]
ZDate = Annotated[datetime | None, WrapValidator(lambda v, _h: _lenient_date(v))]
StrList = Annotated[list[str], WrapValidator(_list_or_empty)]


class ZModel(BaseModel):
    """Base for ZStack JSON: camelCase on the wire, snake_case in Python, unknown keys kept."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="allow",
    )


class ErrorCode(ZModel):
    """ZStack's ErrorCode (and ErrorCodeList, which adds ``causes``)."""

    code: Lenient[str] = None
    description: Lenient[str] = None
    details: Lenient[str] = None
    elaboration: Lenient[str] = None
    location: Lenient[str] = None
    cost: Lenient[str] = None
    global_error_code: Lenient[str] = None
    opaque: Lenient[dict[str, Any]] = None
    cause: ErrorCode | None = None
    causes: list[ErrorCode] = Field(default_factory=list)

    @field_validator("code", "description", "details", "elaboration", "cost", mode="before")
    @classmethod
    def _scalar_to_text(cls, value: Any) -> Any:
        if isinstance(value, int | float | bool):
            return str(value)
        return value

    @classmethod
    def from_wire(cls, data: Any) -> ErrorCode:
        """Build from untrusted JSON, cutting absurd depth and breadth first."""
        if not isinstance(data, dict):
            return cls(details=str(data)[:2000])
        return cls.model_validate(_prune_error(data, MAX_ERROR_DEPTH))

    def summary(self) -> str:
        """``CODE description: details`` in one line, for logs and short messages."""
        head = " ".join(p for p in (self.code, self.description) if p)
        if self.details:
            return f"{head}: {self.details}" if head else self.details
        return head or "unknown error"

    def walk(self) -> Iterator[tuple[int, ErrorCode]]:
        """Every error in the tree, outermost first, with its depth (``cause`` and ``causes``)."""
        stack: list[tuple[int, ErrorCode]] = [(0, self)]
        while stack:
            depth, node = stack.pop()
            yield depth, node
            children = ([node.cause] if node.cause else []) + list(node.causes)
            stack.extend((depth + 1, child) for child in reversed(children))

    def chain_root_first(self) -> list[tuple[int, ErrorCode]]:
        """The cause chain from the root cause up to this error (depth 0 = this error)."""
        return sorted(self.walk(), key=lambda item: -item[0])


def _prune_error(data: dict[str, Any], depth: int) -> dict[str, Any]:
    """A copy of an error dict with nesting cut at ``depth`` (iterative: no recursion limit)."""
    root: dict[str, Any] = {}
    stack: list[tuple[dict[str, Any], dict[str, Any], int]] = [(data, root, depth)]
    while stack:
        src, dst, left = stack.pop()
        for key, value in src.items():
            if key == "cause":
                if isinstance(value, dict) and left > 0:
                    child: dict[str, Any] = {}
                    dst["cause"] = child
                    stack.append((value, child, left - 1))
            elif key == "causes":
                items = value if isinstance(value, list) and left > 0 else []
                kept = [v for v in items if isinstance(v, dict)][:MAX_ERROR_CAUSES]
                dst["causes"] = [{} for _ in kept]
                stack.extend((v, d, left - 1) for v, d in zip(kept, dst["causes"], strict=True))
            elif not isinstance(value, dict | list) or key == "opaque":
                dst[key] = value
    return root


class SessionInventory(ZModel):
    """A ZStack login session. ``uuid`` is a bearer token: kept as a secret, never printed."""

    uuid: SecretStr
    account_uuid: Lenient[str] = None
    user_uuid: Lenient[str] = None
    user_type: Lenient[str] = None
    expired_date: ZDate = None
    create_date: ZDate = None
    no_session_evaluation: Lenient[bool] = None


class ModelServiceImage(ZModel):
    """ModelServiceTemplateInventory: one image of a model service for one CPU architecture."""

    uuid: Lenient[str] = None
    model_service_uuid: Lenient[str] = None
    cpu_architecture: Lenient[str] = None
    vm_image_uuid: Lenient[str] = None
    docker_image: Lenient[str] = None
    gpu_vendor: Lenient[str] = None
    create_date: ZDate = None
    last_op_date: ZDate = None


def _images(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    if not isinstance(value, list):
        return []
    return handler([item for item in value if isinstance(item, dict)])


def _spec_map(value: Any) -> dict[str, list[str]]:
    if not isinstance(value, dict):
        return {}
    result: dict[str, list[str]] = {}
    for vendor, specs in value.items():
        if isinstance(specs, list):
            result[str(vendor)] = [str(s) for s in specs if isinstance(s, str | int)]
        elif isinstance(specs, str):
            result[str(vendor)] = [specs]
    return result


class ModelServiceInventory(ZModel):
    """ModelServiceInventory as QueryModelService and CloneModelService return it."""

    uuid: Lenient[str] = None
    name: Lenient[str] = None
    description: Lenient[str] = None
    readme: Lenient[str] = None
    yaml: Lenient[str] = None
    request_cpu: Lenient[int] = None
    request_memory: Lenient[int] = None
    model_center_uuid: Lenient[str] = None
    type: Lenient[str] = None
    framework: Lenient[str] = None
    source: Lenient[str] = None
    size: Lenient[int] = None
    system: Lenient[bool] = None
    gpu_compute_capability: Lenient[str] = None
    install_path: Lenient[str] = None
    python_version: Lenient[str] = None
    conda_version: Lenient[str] = None
    start_command: Lenient[str] = None
    container_command: Lenient[str] = None
    container_args: Lenient[str] = None
    support_distributed: Lenient[bool] = None
    has_new_version: Lenient[bool] = None
    cpu_architectures: StrList = Field(default_factory=list)
    vendor_to_spec_uuids_map: Annotated[
        dict[str, list[str]], WrapValidator(lambda v, _h: _spec_map(v))
    ] = Field(default_factory=dict)
    model_service_refs: Annotated[list[Any], WrapValidator(_list_or_empty)] = Field(
        default_factory=list
    )
    model_service_images: Annotated[list[ModelServiceImage], WrapValidator(_images)] = Field(
        default_factory=list
    )
    create_date: ZDate = None
    last_op_date: ZDate = None


class ArchitectureImage(ZModel):
    """One ``architectureImages`` item of CloneModelService."""

    model_config = ConfigDict(extra="forbid")

    cpu_architecture: str
    vm_image_uuid: str | None = None
    docker_image: str | None = None


def _wire_name(field: str) -> str:
    """The spec's wire name of a ``params`` field; a field the spec lacks fails at import."""
    return WRAPPED[field]


class CloneParams(ZModel):
    """Everything CloneModelService takes inside its ``params`` wrapper (reference §6.1, §8).

    The fields are the spec's (a test checks both ways); only their Python types are written here.
    """

    model_config = ConfigDict(extra="forbid", alias_generator=_wire_name)

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
    type: ModelServiceType | None = None
    yaml: str | None = None
    source: ModelServiceSource | None = None
    framework: str | None = None
    request_cpu: int | None = None
    request_memory: int | None = None
    resource_uuid: str | None = None
    tag_uuids: list[str] | None = None
    cpu_architectures: list[str] | None = None
    architecture_images: list[ArchitectureImage] | None = None
    support_distributed: bool | None = None
    vendor_to_spec_uuids_map: dict[str, list[str]] | None = None


class CloneRequestBody(BaseModel):
    """The wire body: ``{"params": {...}, "systemTags": [...], "userTags": [...]}``."""

    params: CloneParams
    system_tags: list[str] = Field(default_factory=list)
    user_tags: list[str] = Field(default_factory=list)

    def to_wire(self) -> dict[str, Any]:
        body: dict[str, Any] = {"params": self.params.model_dump(exclude_none=True)}
        for spec in TOP_LEVEL:  # systemTags, userTags
            if tags := getattr(self, spec.field):
                body[spec.wire] = list(tags)
        return body


class QueryResult(BaseModel):
    """A page of QueryModelService: the inventories and, when asked for, the total count."""

    inventories: list[ModelServiceInventory]
    total: int | None = None
