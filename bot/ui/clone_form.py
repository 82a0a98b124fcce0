"""The clone form's submission: the raw values of ``view.state.values``, validated with pydantic.

Each field of ``CloneForm`` is named after the block_id of its input, so a validation error maps
straight to a modal field error. Every parameter's field is checked by the rule its spec gives
(``bot.ui.clone_rules``), and ``to_request`` sends each under the spec's wire name. Nothing here
does I/O: validation must answer within Slack's 3-second window. The rules' public parts (YAML
check, line parsers) are re-exported here for importers of the form.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from bot.i18n import tr
from bot.ui.clone_rules import YAML_MAX_ALIASES as YAML_MAX_ALIASES
from bot.ui.clone_rules import YAML_MAX_DEPTH as YAML_MAX_DEPTH
from bot.ui.clone_rules import Problem, flags_rule, rule
from bot.ui.clone_rules import check_yaml as check_yaml
from bot.ui.clone_rules import normalise_arch as normalise_arch
from bot.ui.clone_rules import parse_image_lines as parse_image_lines
from bot.ui.clone_rules import parse_vendor_lines as parse_vendor_lines
from bot.zstack.clone_spec import (
    CPU_ARCHITECTURES,
    FLAGS,
    N_,
    PARAMETERS,
    TOP_LEVEL,
    UUID_RE,
    WRAPPED,
    ModelServiceSource,
    ModelServiceType,
    Param,
    Shown,
    param,
)
from bot.zstack.clone_spec import LONG_TEXT_MAX as LONG_TEXT_MAX
from bot.zstack.models import ArchitectureImage, CloneParams, CloneRequestBody

KNOWN_ARCHITECTURES = CPU_ARCHITECTURES
# The block of the flag parameters' checkboxes.
FLAGS_BLOCK = "flags"
# The bot's own field: the approver reads it; it is kept with the request and never sent.
REASON = Param(
    "reason",
    label=N_("Reason (for the approver)"),
    help=N_("Why this clone is needed."),
    shown=Shown.MULTILINE,
    max_length=1000,
    required=N_("Enter a reason."),
)


def _rule(key: str) -> BeforeValidator:
    return rule(REASON if key == REASON.key else param(key))


Text = str | None


class CloneForm(BaseModel):
    """The validated form. Field names are the block_ids of the modal's inputs."""

    model_config = ConfigDict(extra="ignore")

    source: str
    name: Annotated[str, _rule("name")]
    description: Annotated[Text, _rule("description")] = None
    type: Annotated[ModelServiceType | None, _rule("type")] = None
    model_source: Annotated[ModelServiceSource | None, _rule("model_source")] = None
    framework: Annotated[Text, _rule("framework")] = None
    request_cpu: Annotated[int | None, _rule("request_cpu")] = None
    request_memory: Annotated[int | None, _rule("request_memory")] = None
    gpu_compute_capability: Annotated[Text, _rule("gpu_compute_capability")] = None
    cpu_architectures: Annotated[list[str], _rule("cpu_architectures")] = Field(
        default_factory=list
    )
    architecture_images: Annotated[list[ArchitectureImage], _rule("architecture_images")] = Field(
        default_factory=list
    )
    flags: Annotated[list[str], flags_rule(FLAGS)] = Field(default_factory=list)
    reason: Annotated[str, _rule("reason")]
    readme: Annotated[Text, _rule("readme")] = None
    yaml: Annotated[Text, _rule("yaml")] = None
    size: Annotated[int | None, _rule("size")] = None
    install_path: Annotated[Text, _rule("install_path")] = None
    start_command: Annotated[Text, _rule("start_command")] = None
    python_version: Annotated[Text, _rule("python_version")] = None
    conda_version: Annotated[Text, _rule("conda_version")] = None
    container_command: Annotated[Text, _rule("container_command")] = None
    container_args: Annotated[Text, _rule("container_args")] = None
    resource_uuid: Annotated[Text, _rule("resource_uuid")] = None
    tag_uuids: Annotated[list[str], _rule("tag_uuids")] = Field(default_factory=list)
    vendor_to_spec_uuids_map: Annotated[dict[str, list[str]], _rule("vendor_to_spec_uuids_map")] = (
        Field(default_factory=dict)
    )
    system_tags: Annotated[list[str], _rule("system_tags")] = Field(default_factory=list)
    user_tags: Annotated[list[str], _rule("user_tags")] = Field(default_factory=list)

    @field_validator("source", mode="before")
    @classmethod
    def _source(cls, value: Any) -> Any:
        value = value.strip() if isinstance(value, str) else value
        if not isinstance(value, str) or not UUID_RE.match(value):
            raise Problem("Choose the model service to clone.")
        return value

    def value_of(self, spec: Param) -> Any:
        """What the form holds for ``spec`` as the wire model takes it (empty lists: not sent)."""
        if spec.shown is Shown.FLAG:
            return spec.key in self.flags
        value = getattr(self, spec.key)
        return None if value in ([], {}) else value

    def to_request(self) -> CloneRequestBody:
        values = {spec.field: self.value_of(spec) for spec in PARAMETERS}
        # Architectures not chosen are those the images are given for.
        if not self.cpu_architectures:
            archs = [i.cpu_architecture for i in self.architecture_images]
            values["cpu_architectures"] = archs or None
        params = CloneParams.model_validate({k: v for k, v in values.items() if k in WRAPPED})
        tags = {spec.field: values[spec.field] or [] for spec in TOP_LEVEL}
        return CloneRequestBody.model_validate({"params": params, **tags})


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
