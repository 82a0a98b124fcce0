"""The clone form's submission: read from ``view.state.values`` and validated with pydantic.

Each field of ``CloneForm`` is named after the block_id of its input, so a validation error maps
straight to a modal field error. Nothing here does I/O: validation must answer within Slack's
3-second window.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from bot.i18n import tr
from bot.zstack.models import (
    MODEL_SERVICE_SOURCES,
    MODEL_SERVICE_TYPES,
    UUID_RE,
    ArchitectureImage,
    CloneParams,
    CloneRequestBody,
    ModelServiceSource,
    ModelServiceType,
)

KNOWN_ARCHITECTURES = ("x86_64", "aarch64", "loongarch64", "mips64el")
_ARCH_ALIASES = {"amd64": "x86_64", "x86-64": "x86_64", "arm64": "aarch64"}
NAME_MAX = 255
TEXT_MAX = 255
LONG_TEXT_MAX = 3000  # Slack's plain_text_input ceiling
REASON_MAX = 1000
CPU_MAX = 1024
MEMORY_MAX_MIB = 16 * 1024 * 1024
DOCKER_IMAGE_RE = re.compile(r"^[a-z0-9][a-z0-9._\-/:@]*$", re.IGNORECASE)
GPU_CAPABILITY_RE = re.compile(r"^\d{1,2}(\.\d{1,2})?$")
_SPLIT = re.compile(r"[\s,]+")


class Problem(ValueError):
    """A field problem: an English template and its values, translated when shown."""

    def __init__(self, template: str, **values: Any) -> None:
        self.template = template
        self.values = values
        super().__init__(template.format(**values) if values else template)

    def text(self, lang: str) -> str:
        return tr(lang)(self.template, **self.values)


# YAML typed into the form is parsed to check it, never trusted: nesting, anchors and size are
# bounded before PyYAML's recursive composer or an alias bomb can take the process down.
YAML_MAX_DEPTH = 50
# Twenty aliases expand a document at most about 1,500-fold (3^6 * 2), never a billion-fold.
YAML_MAX_ALIASES = 20


class _YAMLTooComplex(yaml.YAMLError):
    """Nested deeper, or with more aliases, than the form accepts."""


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses documents nested deeper than ``YAML_MAX_DEPTH`` or with more than
    ``YAML_MAX_ALIASES`` aliases."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > YAML_MAX_ALIASES:
                raise _YAMLTooComplex("too many aliases")
        self._depth += 1
        try:
            if self._depth > YAML_MAX_DEPTH:
                raise _YAMLTooComplex("nested too deeply")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def check_yaml(text: str) -> None:
    """``Problem`` unless ``text`` is YAML of bounded depth and size (it is only checked)."""
    if len(text) > LONG_TEXT_MAX:
        raise Problem("At most {limit} characters.", limit=f"{LONG_TEXT_MAX:,}")
    loader = _BoundedLoader(text)
    try:
        loader.get_single_data()
    except _YAMLTooComplex:
        raise Problem(
            "This YAML is nested too deeply or repeats anchors too often (at most {depth} "
            "levels, {aliases} aliases).",
            depth=YAML_MAX_DEPTH,
            aliases=YAML_MAX_ALIASES,
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" ({mark.line + 1}:{mark.column + 1})" if mark else ""
        raise Problem("This is not valid YAML{where}.", where=where) from None
    finally:
        loader.dispose()


def normalise_arch(text: str) -> str:
    lowered = text.strip().lower()
    return _ARCH_ALIASES.get(lowered, lowered)


def _clean(value: Any) -> Any:
    """Strip text; empty text means "not given"."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _text_of(value: Any) -> str:
    """Text of a free-text field ("" when empty); anything else is not what Slack sends."""
    value = _clean(value)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Problem("Enter text.")
    return value


def _options_of(value: Any) -> list[str]:
    """Selected option values of a multi-select or checkboxes."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Problem("Choose from the list.")
    return value


def _printable(text: str, *, multiline: bool) -> str:
    allowed = "\n\t" if multiline else ""
    if any(not (c.isprintable() or c in allowed) for c in text):
        raise Problem("Remove the control characters from this field.")
    return text


def _bounded(limit: int, *, multiline: bool = False) -> BeforeValidator:
    def check(value: Any) -> Any:
        value = _clean(value)
        if value is None:
            return None
        if not isinstance(value, str):
            raise Problem("Enter text.")
        if len(value) > limit:
            raise Problem(
                "At most {limit} characters (this has {count}).",
                limit=f"{limit:,}",
                count=f"{len(value):,}",
            )
        return _printable(value, multiline=multiline)

    return BeforeValidator(check)


def _integer(low: int, high: int, unit: str = "") -> BeforeValidator:
    def check(value: Any) -> Any:
        value = _clean(value)
        if value is None:
            return None
        try:
            number = float(str(value))
        except ValueError:
            raise Problem("Enter a whole number.") from None
        if not number.is_integer():
            raise Problem("Enter a whole number.")
        if not low <= number <= high:
            raise Problem(
                "Enter a number from {low} to {high}{unit}.",
                low=f"{low:,}",
                high=f"{high:,}",
                unit=unit,
            )
        return int(number)

    return BeforeValidator(check)


Short = Annotated[str | None, _bounded(TEXT_MAX)]
Long = Annotated[str | None, _bounded(LONG_TEXT_MAX, multiline=True)]


class CloneForm(BaseModel):
    """The validated form. Field names are the block_ids of the modal's inputs."""

    model_config = ConfigDict(extra="ignore")

    source: str
    name: Annotated[str, _bounded(NAME_MAX)]
    description: Annotated[str | None, _bounded(2000, multiline=True)] = None
    type: ModelServiceType | None = None
    model_source: ModelServiceSource | None = None
    framework: Short = None
    request_cpu: Annotated[int | None, _integer(1, CPU_MAX, " cores")] = None
    request_memory: Annotated[int | None, _integer(1, MEMORY_MAX_MIB, " MiB")] = None
    gpu_compute_capability: Short = None
    cpu_architectures: list[str] = Field(default_factory=list)
    architecture_images: list[ArchitectureImage] = Field(default_factory=list)
    flags: list[str] = Field(default_factory=list)
    reason: Annotated[str, _bounded(REASON_MAX, multiline=True)]
    readme: Long = None
    yaml: Long = None
    size: Annotated[int | None, _integer(0, 2**62)] = None
    install_path: Short = None
    start_command: Annotated[str | None, _bounded(1000)] = None
    python_version: Short = None
    conda_version: Short = None
    container_command: Annotated[str | None, _bounded(1000)] = None
    container_args: Annotated[str | None, _bounded(1000)] = None
    resource_uuid: str | None = None
    tag_uuids: list[str] = Field(default_factory=list)
    vendor_to_spec_uuids_map: dict[str, list[str]] = Field(default_factory=dict)
    system_tags: list[str] = Field(default_factory=list)
    user_tags: list[str] = Field(default_factory=list)

    @field_validator("source", mode="before")
    @classmethod
    def _source(cls, value: Any) -> Any:
        value = _clean(value)
        if not isinstance(value, str) or not UUID_RE.match(value):
            raise Problem("Choose the model service to clone.")
        return value

    @field_validator("name", "reason", mode="before")
    @classmethod
    def _required(cls, value: Any, info: Any) -> Any:
        if _clean(value) is None:
            if info.field_name == "name":
                raise Problem("Enter a name for the new model service.")
            raise Problem("Enter a reason.")
        return value

    @field_validator("type", mode="before")
    @classmethod
    def _type(cls, value: Any) -> Any:
        value = _clean(value)
        if value is not None and value not in MODEL_SERVICE_TYPES:
            raise Problem("Choose one of {choices}.", choices=", ".join(MODEL_SERVICE_TYPES))
        return value

    @field_validator("model_source", mode="before")
    @classmethod
    def _model_source(cls, value: Any) -> Any:
        value = _clean(value)
        if value is not None and value not in MODEL_SERVICE_SOURCES:
            raise Problem("Choose one of {choices}.", choices=", ".join(MODEL_SERVICE_SOURCES))
        return value

    @field_validator("gpu_compute_capability")
    @classmethod
    def _gpu(cls, value: str | None) -> str | None:
        if value is not None and not GPU_CAPABILITY_RE.match(value):
            raise Problem("Use the major.minor form, e.g. 7.5 or 8.0.")
        return value

    @field_validator("cpu_architectures", mode="before")
    @classmethod
    def _archs(cls, value: Any) -> Any:
        archs = [normalise_arch(a) for a in _options_of(value) if a.strip()]
        unknown = [a for a in archs if a not in KNOWN_ARCHITECTURES]
        if unknown:
            raise Problem("Unknown architecture: {arch}.", arch=unknown[0][:40])
        return list(dict.fromkeys(archs))

    @field_validator("architecture_images", mode="before")
    @classmethod
    def _images(cls, value: Any) -> Any:
        return parse_image_lines(_text_of(value))

    @field_validator("yaml")
    @classmethod
    def _yaml(cls, value: str | None) -> str | None:
        if value is not None:
            check_yaml(value)
        return value

    @field_validator("resource_uuid", mode="before")
    @classmethod
    def _resource(cls, value: Any) -> Any:
        value = _clean(value)
        if value is not None and not (isinstance(value, str) and UUID_RE.match(value.lower())):
            raise Problem("A UUID is 32 hexadecimal characters without dashes.")
        return value.lower() if isinstance(value, str) else value

    @field_validator("tag_uuids", mode="before")
    @classmethod
    def _tags(cls, value: Any) -> Any:
        items = [t.lower() for t in _SPLIT.split(_text_of(value)) if t]
        bad = [t for t in items if not UUID_RE.match(t)]
        if bad:
            raise Problem("Not a UUID (32 hex characters): {value}", value=bad[0][:40])
        return list(dict.fromkeys(items))

    @field_validator("system_tags", "user_tags", mode="before")
    @classmethod
    def _tag_lines(cls, value: Any) -> Any:
        lines = [line.strip() for line in _text_of(value).splitlines() if line.strip()]
        if any(len(line) > TEXT_MAX for line in lines):
            raise Problem("Each tag is at most {max} characters.", max=TEXT_MAX)
        for line in lines:
            _printable(line, multiline=False)
        return lines

    @field_validator("vendor_to_spec_uuids_map", mode="before")
    @classmethod
    def _vendors(cls, value: Any) -> Any:
        return parse_vendor_lines(_text_of(value))

    @field_validator("flags", mode="before")
    @classmethod
    def _flags(cls, value: Any) -> Any:
        return [v for v in _options_of(value) if v in ("support_distributed", "system")]

    def to_request(self) -> CloneRequestBody:
        archs = self.cpu_architectures or [i.cpu_architecture for i in self.architecture_images]
        params = CloneParams(
            name=self.name,
            description=self.description,
            readme=self.readme,
            size=self.size,
            gpu_compute_capability=self.gpu_compute_capability,
            install_path=self.install_path,
            start_command=self.start_command,
            container_command=self.container_command,
            container_args=self.container_args,
            python_version=self.python_version,
            conda_version=self.conda_version,
            system="system" in self.flags,
            type=self.type,
            yaml=self.yaml,
            source=self.model_source,
            framework=self.framework,
            request_cpu=self.request_cpu,
            request_memory=self.request_memory,
            resource_uuid=self.resource_uuid,
            tag_uuids=self.tag_uuids or None,
            cpu_architectures=archs or None,
            architecture_images=self.architecture_images or None,
            support_distributed="support_distributed" in self.flags,
            vendor_to_spec_uuids_map=self.vendor_to_spec_uuids_map or None,
        )
        return CloneRequestBody(
            params=params, system_tags=self.system_tags, user_tags=self.user_tags
        )


def parse_image_lines(text: str) -> list[ArchitectureImage]:
    """``<arch> <docker-image or -> [<vm-image-uuid>]``, one architecture per line."""
    images: list[ArchitectureImage] = []
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) > 3:
            raise Problem("Line {n}: use `arch docker-image [vm-image-uuid]`.", n=number)
        arch = normalise_arch(parts[0])
        if arch not in KNOWN_ARCHITECTURES:
            raise Problem("Line {n}: unknown architecture {arch}.", n=number, arch=parts[0][:40])
        if arch in seen:
            raise Problem("Line {n}: {what} is listed twice.", n=number, what=arch)
        seen.add(arch)
        docker = parts[1] if len(parts) > 1 and parts[1] != "-" else None
        vm = parts[2].lower() if len(parts) > 2 and parts[2] != "-" else None
        if docker is not None and (len(docker) > TEXT_MAX or not DOCKER_IMAGE_RE.match(docker)):
            raise Problem(
                "Line {n}: {image} is not a container image reference.", n=number, image=docker[:60]
            )
        if vm is not None and not UUID_RE.match(vm):
            raise Problem("Line {n}: the VM image must be a 32-hex UUID.", n=number)
        if docker is None and vm is None:
            raise Problem("Line {n}: give a container image, a VM image UUID, or both.", n=number)
        images.append(
            ArchitectureImage(cpu_architecture=arch, docker_image=docker, vm_image_uuid=vm)
        )
    return images


def parse_vendor_lines(text: str) -> dict[str, list[str]]:
    """``VENDOR: spec-uuid, spec-uuid``, one GPU vendor per line."""
    result: dict[str, list[str]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        vendor, sep, rest = line.partition(":")
        vendor = vendor.strip()
        if not sep or not vendor or len(vendor) > 64 or not vendor.replace("-", "").isalnum():
            raise Problem("Line {n}: use `VENDOR: spec-uuid, spec-uuid`.", n=number)
        if vendor in result:
            raise Problem("Line {n}: {what} is listed twice.", n=number, what=vendor)
        specs = [s.lower() for s in _SPLIT.split(rest) if s]
        if not specs or any(not UUID_RE.match(s) for s in specs):
            raise Problem("Line {n}: GPU spec UUIDs are 32 hex characters.", n=number)
        result[vendor] = specs
    return result


def validate_form(raw: dict[str, Any], lang: str = "en") -> tuple[CloneForm | None, dict[str, str]]:
    """The validated form, or one error message per block_id (in ``lang``)."""
    t = tr(lang)
    try:
        return CloneForm.model_validate(raw), {}
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            block = str(error["loc"][0]) if error["loc"] else "name"
            cause = (error.get("ctx") or {}).get("error")
            if isinstance(cause, Problem):
                message = cause.text(lang)
            elif error.get("type") == "missing":
                message = t("This field is required.")
            else:
                message = t("Check this field.")
            errors.setdefault(block, message[:2000])
        return None, errors
