"""CloneModelService's parameters, written once (reference: zstack-api.md §8, the API page).

For each parameter: its wire name, an English label and help (templates, translated when shown),
how the clone modal takes it (which also fixes its wire type), its limits, and whether it sits
under "advanced options". The wire model (``bot.zstack.models.CloneParams``), the modal's inputs
(``bot.ui.clone_inputs``), their validation (``bot.ui.clone_form``), the source prefill and the
card labels are all read from ``PARAMETERS``. The ZStack simulator keeps its own model on purpose:
a mistake here must not be copied into what checks it.

This module imports nothing of ours, so every layer can read it.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, get_args

from pydantic.alias_generators import to_snake

# A handful of wire names, asked for on every form: pydantic's conversion runs regexes each time.
_snake = functools.cache(to_snake)


def N_(template: str) -> str:
    """Marks an English template for the catalog; the translator handles it when shown."""
    return template


UUID_RE = re.compile(r"^[0-9a-f]{32}$")
GPU_CAPABILITY_RE = re.compile(r"^\d{1,2}(\.\d{1,2})?$")

ModelServiceType = Literal["Endpoint", "FineTune", "App", "ModelEval"]
ModelServiceSource = Literal["Other", "Bentoml", "HuggingFace"]
MODEL_SERVICE_TYPES: tuple[str, ...] = get_args(ModelServiceType)
MODEL_SERVICE_SOURCES: tuple[str, ...] = get_args(ModelServiceSource)
CPU_ARCHITECTURES: tuple[str, ...] = ("x86_64", "aarch64", "loongarch64", "mips64el")

TEXT_MAX = 255
LONG_TEXT_MAX = 3000  # Slack's plain_text_input ceiling
# Slack clients handle number_input values as JavaScript numbers, exact only up to 2**53 - 1
# (Number.MAX_SAFE_INTEGER); ZStack's ``size`` is a Java long, so this is the tighter bound.
JSON_SAFE_MAX = 2**53 - 1


class Shown(StrEnum):
    """How the modal takes a parameter; the wire type follows from it (``Param.kind``)."""

    TEXT = "text"  # one-line plain_text_input
    MULTILINE = "multiline"  # multi-line plain_text_input
    YAML = "yaml"  # multi-line plain_text_input, checked as YAML
    NUMBER = "number"  # number_input, whole numbers
    SELECT = "select"  # static_select over ``options``
    MULTI_SELECT = "multi_select"  # multi_static_select over ``options``
    FLAG = "flag"  # one box of the form's "Options" checkboxes
    WORDS = "words"  # a list typed on one line, separated by commas or spaces
    LINES = "lines"  # a list typed one item per line
    MAP = "map"  # key → values, one ``key: value, value`` per line
    IMAGES = "images"  # architecture images, one ``arch image [vm-image]`` per line


class Kind(StrEnum):
    """The JSON type of a parameter on the wire."""

    TEXT = "text"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    TEXT_LIST = "text list"
    TEXT_LIST_MAP = "text list map"
    IMAGES = "architecture images"


_KINDS: dict[Shown, Kind] = {
    Shown.TEXT: Kind.TEXT,
    Shown.MULTILINE: Kind.TEXT,
    Shown.YAML: Kind.TEXT,
    Shown.SELECT: Kind.TEXT,
    Shown.NUMBER: Kind.INTEGER,
    Shown.FLAG: Kind.BOOLEAN,
    Shown.MULTI_SELECT: Kind.TEXT_LIST,
    Shown.WORDS: Kind.TEXT_LIST,
    Shown.LINES: Kind.TEXT_LIST,
    Shown.MAP: Kind.TEXT_LIST_MAP,
    Shown.IMAGES: Kind.IMAGES,
}


@dataclass(frozen=True)
class Param:
    """One field of the clone request, as the form shows it and ZStack receives it."""

    wire: str
    label: str
    shown: Shown
    help: str | None = None
    advanced: bool = False
    # The block_id (and form field) when it is not the wire name in snake_case.
    block: str | None = None
    # The card's shorter label, when there is one.
    short: str | None = None
    # The message for an empty value: the bot needs it even where ZStack does not.
    required: str | None = None
    min_value: int | None = None
    max_value: int | None = None
    unit: str = ""  # after the bounds in "Enter a number from 1 to 1,024 cores." (translated)
    max_length: int | None = None  # of the typed text
    item_max_length: int | None = None  # of each item of a list
    pattern: re.Pattern[str] | None = None  # of the value, or of each item of a list
    mismatch: str | None = None  # the message when ``pattern`` does not match
    lowercase: bool = False  # UUIDs: typed in any case, sent in lower case
    options: tuple[str, ...] = ()
    # Inside the ``params`` wrapper, or beside it at the top level (systemTags, userTags).
    top_level: bool = False

    @property
    def field(self) -> str:
        """The Python name of the wire field (``requestCpu`` → ``request_cpu``)."""
        return _snake(self.wire)

    @property
    def key(self) -> str:
        """The modal's block_id and the form's field name."""
        return self.block or self.field

    @property
    def kind(self) -> Kind:
        return _KINDS[self.shown]

    @property
    def bounds(self) -> tuple[int, int]:
        """A number's range: its own limits, never beyond what Slack's clients count exactly."""
        low = -JSON_SAFE_MAX if self.min_value is None else self.min_value
        high = JSON_SAFE_MAX if self.max_value is None else self.max_value
        return low, high

    @property
    def card_label(self) -> str:
        return self.short or self.label

    @property
    def is_document(self) -> bool:
        """Free text up to Slack's input ceiling (readme, YAML): previewed as a code block."""
        return self.kind is Kind.TEXT and self.max_length == LONG_TEXT_MAX


# In the modal's order: the basic ones first, then those under "advanced options".
PARAMETERS: tuple[Param, ...] = (
    Param(
        "name",
        label=N_("Name of the new model service"),
        shown=Shown.TEXT,
        max_length=255,
        required=N_("Enter a name for the new model service."),
    ),
    Param("description", label=N_("Description"), shown=Shown.MULTILINE, max_length=2000),
    Param("type", label=N_("Type"), shown=Shown.SELECT, options=MODEL_SERVICE_TYPES),
    Param(
        "source",
        label=N_("Model source"),
        shown=Shown.SELECT,
        options=MODEL_SERVICE_SOURCES,
        block="model_source",  # ``source`` is the service being cloned
        short=N_("Source"),
    ),
    Param(
        "framework",
        label=N_("Framework"),
        help=N_("Free text, e.g. vLLM, Transformers, BentoML."),
        shown=Shown.TEXT,
        max_length=TEXT_MAX,
    ),
    Param(
        "requestCpu",
        label=N_("CPU cores"),
        shown=Shown.NUMBER,
        min_value=1,
        max_value=1024,
        unit=N_("cores"),
    ),
    Param(
        "requestMemory",
        label=N_("Memory (MiB)"),
        shown=Shown.NUMBER,
        min_value=1,
        max_value=16 * 1024 * 1024,
        unit="MiB",
    ),
    Param(
        "gpuComputeCapability",
        label=N_("GPU compute capability"),
        help=N_("Minimum, e.g. 7.5."),
        shown=Shown.TEXT,
        max_length=16,
        pattern=GPU_CAPABILITY_RE,
        mismatch=N_("Use the major.minor form, e.g. 7.5 or 8.0."),
    ),
    Param(
        "cpuArchitectures",
        label=N_("CPU architectures"),
        shown=Shown.MULTI_SELECT,
        options=CPU_ARCHITECTURES,
        short=N_("Architectures"),
    ),
    Param(
        "architectureImages",
        label=N_("Images per architecture"),
        help=N_(
            "One line per architecture: arch container-image [vm-image-uuid]; a dash for none."
        ),
        shown=Shown.IMAGES,
        max_length=LONG_TEXT_MAX,
    ),
    Param(
        "supportDistributed",
        label=N_("Supports distributed deployment"),
        shown=Shown.FLAG,
        short=N_("Distributed"),
    ),
    Param("system", label=N_("System model service"), shown=Shown.FLAG),
    Param(
        "readme",
        label=N_("Readme"),
        help=N_("Empty keeps the source's readme."),
        shown=Shown.MULTILINE,
        max_length=LONG_TEXT_MAX,
        advanced=True,
    ),
    Param(
        "yaml",
        label=N_("Service YAML"),
        help=N_("Must be valid YAML. Empty keeps the source's."),
        shown=Shown.YAML,
        max_length=LONG_TEXT_MAX,
        advanced=True,
    ),
    Param(
        "size",
        label=N_("Size (bytes)"),
        shown=Shown.NUMBER,
        min_value=0,
        max_value=JSON_SAFE_MAX,
        advanced=True,
    ),
    Param(
        "installPath",
        label=N_("Install path"),
        shown=Shown.TEXT,
        max_length=TEXT_MAX,
        advanced=True,
    ),
    Param(
        "startCommand",
        label=N_("Start command"),
        shown=Shown.TEXT,
        max_length=1000,
        advanced=True,
    ),
    Param(
        "pythonVersion",
        label=N_("Python version"),
        shown=Shown.TEXT,
        max_length=TEXT_MAX,
        advanced=True,
    ),
    Param(
        "condaVersion",
        label=N_("Conda version"),
        shown=Shown.TEXT,
        max_length=TEXT_MAX,
        advanced=True,
    ),
    Param(
        "containerCommand",
        label=N_("Container command"),
        shown=Shown.TEXT,
        max_length=1000,
        advanced=True,
    ),
    Param(
        "containerArgs",
        label=N_("Container arguments"),
        shown=Shown.TEXT,
        max_length=1000,
        advanced=True,
    ),
    Param(
        "resourceUuid",
        label=N_("Resource UUID"),
        help=N_("32 hex characters, optional."),
        shown=Shown.TEXT,
        max_length=64,
        pattern=UUID_RE,
        mismatch=N_("A UUID is 32 hexadecimal characters without dashes."),
        lowercase=True,
        advanced=True,
    ),
    Param(
        "tagUuids",
        label=N_("Tag UUIDs"),
        help=N_("Separated by commas or spaces."),
        shown=Shown.WORDS,
        max_length=LONG_TEXT_MAX,
        pattern=UUID_RE,
        mismatch=N_("Not a UUID (32 hex characters): {value}"),
        lowercase=True,
        advanced=True,
    ),
    Param(
        "vendorToSpecUuidsMap",
        label=N_("GPU specs by vendor"),
        help=N_("One line per vendor, e.g. NVIDIA: spec-uuid, spec-uuid."),
        shown=Shown.MAP,
        max_length=LONG_TEXT_MAX,
        advanced=True,
    ),
    Param(
        "systemTags",
        label=N_("System tags"),
        help=N_("One per line."),
        shown=Shown.LINES,
        max_length=LONG_TEXT_MAX,
        item_max_length=TEXT_MAX,
        advanced=True,
        top_level=True,
    ),
    Param(
        "userTags",
        label=N_("User tags"),
        help=N_("One per line."),
        shown=Shown.LINES,
        max_length=LONG_TEXT_MAX,
        item_max_length=TEXT_MAX,
        advanced=True,
        top_level=True,
    ),
)

BY_KEY: dict[str, Param] = {p.key: p for p in PARAMETERS}
BY_WIRE: dict[str, Param] = {p.wire: p for p in PARAMETERS}
# The fields inside ``params`` (Python name → wire name) and those beside it.
WRAPPED: dict[str, str] = {p.field: p.wire for p in PARAMETERS if not p.top_level}
TOP_LEVEL: tuple[Param, ...] = tuple(p for p in PARAMETERS if p.top_level)
FLAGS: tuple[Param, ...] = tuple(p for p in PARAMETERS if p.shown is Shown.FLAG)


def param(key: str) -> Param:
    """The parameter shown in block ``key`` (``KeyError`` for a block that is not one)."""
    return BY_KEY[key]
