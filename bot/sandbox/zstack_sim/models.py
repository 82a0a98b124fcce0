"""Model services as the simulator stores them, and their inventory (wire) form.

The inventory is what QueryModelService and CloneModelService return (reference §6.2): camelCase
keys, ZStack dates, null fields omitted. ``FieldKind`` tables tell the query evaluator how each
inventory field compares.
"""

from __future__ import annotations

import uuid as uuid_mod
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import Enum
from typing import Any

from bot.zstack.models import format_zstack_date

# Class names reported in query ``schema`` maps and error texts (AI module is closed source).
INVENTORY_CLASS = "org.zstack.ai.entity.ModelServiceInventory"
IMAGE_CLASS = "org.zstack.ai.entity.ModelServiceTemplateInventory"
VO_TYPE = "ModelServiceVO"


def new_uuid() -> str:
    """ZStack's ``Platform.getUuid()``: a random UUID4 without dashes."""
    return uuid_mod.uuid4().hex


class FieldKind(Enum):
    """How a queryable field compares; ``NESTED`` fields are queried as ``field.sub``."""

    STR = "str"
    INT = "int"
    BOOL = "bool"
    DATE = "date"
    STR_LIST = "str_list"
    MAP = "map"
    NESTED = "nested"


PRIMITIVE_KINDS = frozenset({FieldKind.STR, FieldKind.INT, FieldKind.BOOL, FieldKind.DATE})

IMAGE_FIELDS: dict[str, FieldKind] = {
    "uuid": FieldKind.STR,
    "modelServiceUuid": FieldKind.STR,
    "cpuArchitecture": FieldKind.STR,
    "vmImageUuid": FieldKind.STR,
    "dockerImage": FieldKind.STR,
    "gpuVendor": FieldKind.STR,
    "createDate": FieldKind.DATE,
    "lastOpDate": FieldKind.DATE,
}

INVENTORY_FIELDS: dict[str, FieldKind] = {
    "uuid": FieldKind.STR,
    "name": FieldKind.STR,
    "description": FieldKind.STR,
    "readme": FieldKind.STR,
    "yaml": FieldKind.STR,
    "requestCpu": FieldKind.INT,
    "requestMemory": FieldKind.INT,
    "modelCenterUuid": FieldKind.STR,
    "type": FieldKind.STR,
    "framework": FieldKind.STR,
    "source": FieldKind.STR,
    "size": FieldKind.INT,
    "system": FieldKind.BOOL,
    "gpuComputeCapability": FieldKind.STR,
    "installPath": FieldKind.STR,
    "pythonVersion": FieldKind.STR,
    "condaVersion": FieldKind.STR,
    "startCommand": FieldKind.STR,
    "containerCommand": FieldKind.STR,
    "containerArgs": FieldKind.STR,
    "supportDistributed": FieldKind.BOOL,
    "cpuArchitectures": FieldKind.STR_LIST,
    "vendorToSpecUuidsMap": FieldKind.MAP,
    "modelServiceImages": FieldKind.NESTED,
    "createDate": FieldKind.DATE,
    "lastOpDate": FieldKind.DATE,
}

NESTED_FIELDS: dict[str, dict[str, FieldKind]] = {"modelServiceImages": IMAGE_FIELDS}


def _drop_none(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


def _date(value: datetime | None, typed: bool) -> datetime | str | None:
    if value is None or typed:
        return value
    return format_zstack_date(value)


@dataclass
class ServiceImage:
    """ModelServiceTemplateInventory: the image of a model service for one CPU architecture."""

    uuid: str
    model_service_uuid: str
    cpu_architecture: str
    vm_image_uuid: str | None = None
    docker_image: str | None = None
    gpu_vendor: str | None = None
    create_date: datetime | None = None
    last_op_date: datetime | None = None

    def to_inventory(self, *, typed: bool = False) -> dict[str, Any]:
        """Wire form; with ``typed`` dates stay datetimes (for the query evaluator)."""
        return _drop_none(
            {
                "uuid": self.uuid,
                "modelServiceUuid": self.model_service_uuid,
                "cpuArchitecture": self.cpu_architecture,
                "vmImageUuid": self.vm_image_uuid,
                "dockerImage": self.docker_image,
                "gpuVendor": self.gpu_vendor,
                "createDate": _date(self.create_date, typed),
                "lastOpDate": _date(self.last_op_date, typed),
            }
        )


@dataclass
class ModelService:
    """A model service and the account that owns it (ownership is not part of the inventory)."""

    uuid: str
    name: str
    owner_account_uuid: str
    description: str | None = None
    readme: str | None = None
    yaml: str | None = None
    request_cpu: int | None = None
    request_memory: int | None = None
    model_center_uuid: str | None = None
    type: str | None = None
    framework: str | None = None
    source: str | None = None
    size: int | None = None
    system: bool | None = None
    gpu_compute_capability: str | None = None
    install_path: str | None = None
    python_version: str | None = None
    conda_version: str | None = None
    start_command: str | None = None
    container_command: str | None = None
    container_args: str | None = None
    support_distributed: bool | None = None
    cpu_architectures: list[str] | None = None
    vendor_to_spec_uuids_map: dict[str, list[str]] | None = None
    images: list[ServiceImage] = field(default_factory=list)
    create_date: datetime | None = None
    last_op_date: datetime | None = None
    # Kept for the control panel; ZStack stores tags apart from the inventory.
    system_tags: list[str] = field(default_factory=list)
    user_tags: list[str] = field(default_factory=list)
    tag_uuids: list[str] = field(default_factory=list)

    def copy(self) -> ModelService:
        """A deep-enough copy: lists and images are not shared with the original."""
        return replace(
            self,
            cpu_architectures=list(self.cpu_architectures)
            if self.cpu_architectures is not None
            else None,
            vendor_to_spec_uuids_map={k: list(v) for k, v in self.vendor_to_spec_uuids_map.items()}
            if self.vendor_to_spec_uuids_map is not None
            else None,
            images=[replace(img) for img in self.images],
            system_tags=list(self.system_tags),
            user_tags=list(self.user_tags),
            tag_uuids=list(self.tag_uuids),
        )

    def to_inventory(self, *, typed: bool = False) -> dict[str, Any]:
        """ModelServiceInventory as ZStack sends it (``typed``: dates kept as datetimes)."""
        return _drop_none(
            {
                "uuid": self.uuid,
                "name": self.name,
                "description": self.description,
                "readme": self.readme,
                "yaml": self.yaml,
                "requestCpu": self.request_cpu,
                "requestMemory": self.request_memory,
                "modelCenterUuid": self.model_center_uuid,
                "type": self.type,
                "framework": self.framework,
                "source": self.source,
                "size": self.size,
                "system": self.system,
                "gpuComputeCapability": self.gpu_compute_capability,
                "installPath": self.install_path,
                "pythonVersion": self.python_version,
                "condaVersion": self.conda_version,
                "startCommand": self.start_command,
                "containerCommand": self.container_command,
                "containerArgs": self.container_args,
                "supportDistributed": self.support_distributed,
                "cpuArchitectures": self.cpu_architectures,
                "vendorToSpecUuidsMap": self.vendor_to_spec_uuids_map,
                "modelServiceImages": [img.to_inventory(typed=typed) for img in self.images],
                "createDate": _date(self.create_date, typed),
                "lastOpDate": _date(self.last_op_date, typed),
            }
        )
