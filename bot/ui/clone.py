"""The clone modal: every CloneModelService parameter, prefilled from the source service.

Block ids equal the field names of ``bot.ui.clone_form.CloneForm``; ``form_values`` reads a view's
state back into the raw values that ``validate_form`` takes, and the same raw values prefill the
form, so toggling "Advanced options" or re-rendering never loses what was typed.
"""

from __future__ import annotations

import json
from typing import Any, Self

from pydantic import BaseModel, field_validator
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    CheckboxesElement,
    ContextBlock,
    DividerBlock,
    ExternalDataSelectElement,
    HeaderBlock,
    InputBlock,
    NumberInputElement,
    Option,
    PlainTextInputElement,
    SectionBlock,
    StaticMultiSelectElement,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.i18n import N_, Translate, tr
from bot.ui.clone_form import KNOWN_ARCHITECTURES, LONG_TEXT_MAX, normalise_arch
from bot.ui.parts import md
from bot.ui.text import OPTION_TEXT_MAX, Mrkdwn, fmt, one_line, truncate
from bot.zstack.models import MODEL_SERVICE_SOURCES, MODEL_SERVICE_TYPES, ModelServiceInventory

CLONE_CALLBACK = "clone_model"
LOADING_CALLBACK = "clone_model_loading"
ACTION_RETRY_LOOKUP = "clone_retry_lookup"
# What ``/clone-model <text>`` keeps for "Try again" (private_metadata holds 3,000 characters).
LOOKUP_TEXT_MAX = 1000
ACTION_SOURCE = "source"
ACTION_TOGGLE_ADVANCED = "toggle_advanced"
VALUE = "value"

FLAG_OPTIONS = {
    "support_distributed": N_("Supports distributed deployment"),
    "system": N_("System model service"),
}
_TEXT_FIELDS = {
    # block_id: (label, hint, multiline, max_length)
    "name": (N_("Name of the new model service"), None, False, 255),
    "description": (N_("Description"), None, True, 2000),
    "framework": (N_("Framework"), N_("Free text, e.g. vLLM, Transformers, BentoML."), False, 255),
    "gpu_compute_capability": (N_("GPU compute capability"), N_("Minimum, e.g. 7.5."), False, 16),
    "architecture_images": (
        N_("Images per architecture"),
        N_("One line per architecture: `arch container-image [vm-image-uuid]`; `-` for none."),
        True,
        LONG_TEXT_MAX,
    ),
    "reason": (N_("Reason (for the approver)"), N_("Why this clone is needed."), True, 1000),
    "readme": (N_("Readme"), N_("Empty keeps the source's readme."), True, LONG_TEXT_MAX),
    "yaml": (
        N_("Service YAML"),
        N_("Must be valid YAML. Empty keeps the source's."),
        True,
        LONG_TEXT_MAX,
    ),
    "install_path": (N_("Install path"), None, False, 255),
    "start_command": (N_("Start command"), None, False, 1000),
    "python_version": (N_("Python version"), None, False, 255),
    "conda_version": (N_("Conda version"), None, False, 255),
    "container_command": (N_("Container command"), None, False, 1000),
    "container_args": (N_("Container arguments"), None, False, 1000),
    "resource_uuid": (N_("Resource UUID"), N_("32 hex characters, optional."), False, 64),
    "tag_uuids": (N_("Tag UUIDs"), N_("Separated by commas or spaces."), False, 3000),
    "vendor_to_spec_uuids_map": (
        N_("GPU specs by vendor"),
        N_("One line per vendor: `NVIDIA: spec-uuid, spec-uuid`."),
        True,
        3000,
    ),
    "system_tags": (N_("System tags"), N_("One per line."), True, 3000),
    "user_tags": (N_("User tags"), N_("One per line."), True, 3000),
}
BASIC = (
    "name", "description", "type", "model_source", "framework", "request_cpu", "request_memory",
    "gpu_compute_capability", "cpu_architectures", "architecture_images", "flags",
)  # fmt: skip
ADVANCED = (
    "readme", "yaml", "size", "install_path", "start_command", "python_version", "conda_version",
    "container_command", "container_args", "resource_uuid", "tag_uuids",
    "vendor_to_spec_uuids_map", "system_tags", "user_tags",
)  # fmt: skip


class ViewMetadata(BaseModel):
    """A modal's ``private_metadata``: written by the bot, read back leniently (a value that
    does not parse gives the defaults, never an error)."""

    def dump(self) -> str:
        return self.model_dump_json(exclude_none=True)

    @classmethod
    def load(cls, raw: str | None) -> Self:
        try:
            return cls.model_validate(json.loads(raw or "{}"))
        except ValueError:
            return cls()


class CloneViewMeta(ViewMetadata):
    """``private_metadata`` of the clone modal (kept well under Slack's 3,000 characters)."""

    channel_id: str | None = None
    advanced: bool = False
    source_name: str | None = None

    @field_validator("source_name")
    @classmethod
    def _short(cls, value: str | None) -> str | None:
        return truncate(one_line(value), 200) if value else value


def source_label(name: str, uuid: str) -> str:
    """``name · 90d425a8``: readable and still unambiguous, within Slack's 75 characters."""
    tail = f" · {uuid[:8]}"
    return truncate(one_line(name or "(unnamed)"), OPTION_TEXT_MAX - len(tail)) + tail


def source_option(inv: ModelServiceInventory) -> Option:
    return Option(value=inv.uuid or "", text=source_label(inv.name or "", inv.uuid or ""))


def defaults_from_source(inv: ModelServiceInventory) -> dict[str, Any]:
    """Raw form values that reproduce the source, with ``<source>-clone`` as the name."""
    images = "\n".join(
        " ".join(
            [
                normalise_arch(img.cpu_architecture or ""),
                img.docker_image or "-",
                img.vm_image_uuid or "",
            ]
        ).strip()
        for img in inv.model_service_images
        if img.cpu_architecture
    )
    archs = [normalise_arch(a) for a in inv.cpu_architectures] or [
        normalise_arch(i.cpu_architecture) for i in inv.model_service_images if i.cpu_architecture
    ]
    vendors = "\n".join(f"{k}: {', '.join(v)}" for k, v in inv.vendor_to_spec_uuids_map.items())
    flags = [k for k in FLAG_OPTIONS if getattr(inv, k) is True]
    base = one_line(inv.name or "model-service")
    return {
        "source": inv.uuid,
        "name": truncate(f"{base}-clone", 255),
        "description": inv.description,
        "type": inv.type if inv.type in MODEL_SERVICE_TYPES else None,
        "model_source": inv.source if inv.source in MODEL_SERVICE_SOURCES else None,
        "framework": inv.framework,
        "request_cpu": inv.request_cpu,
        "request_memory": inv.request_memory,
        "gpu_compute_capability": inv.gpu_compute_capability,
        "cpu_architectures": [a for a in dict.fromkeys(archs) if a in KNOWN_ARCHITECTURES],
        "architecture_images": images,
        "flags": flags,
        "readme": inv.readme,
        "yaml": inv.yaml,
        "size": inv.size,
        "install_path": inv.install_path,
        "start_command": inv.start_command,
        "python_version": inv.python_version,
        "conda_version": inv.conda_version,
        "container_command": inv.container_command,
        "container_args": inv.container_args,
        "vendor_to_spec_uuids_map": vendors,
    }


def _initial_text(value: Any, limit: int) -> str | None:
    """A prefill that Slack accepts: text within the field's max_length, else nothing."""
    if value is None:
        return None
    text = str(value)
    if not text or len(text) > limit:
        return None
    return text if "\n" in text or limit > 255 else one_line(text)


def _text_input(block_id: str, raw: dict[str, Any], t: Translate) -> InputBlock:
    label, hint, multiline, limit = _TEXT_FIELDS[block_id]
    value = raw.get(block_id)
    initial = _initial_text(value, limit)
    shown_hint = t(hint) if hint else None
    if value and initial is None:
        shown_hint = t(
            "The current value is too long to edit here ({count} characters). "
            "Leave empty to keep it.",
            count=f"{len(str(value)):,}",
        )
    return InputBlock(
        block_id=block_id,
        label=t(label),
        hint=shown_hint,
        optional=block_id not in ("name", "reason"),
        element=PlainTextInputElement(
            action_id=VALUE, multiline=multiline or None, max_length=limit, initial_value=initial
        ),
    )


def _number_input(
    block_id: str, label: str, raw: dict[str, Any], low: int, high: int
) -> InputBlock:
    number = _whole_number(raw.get(block_id))
    initial = str(number) if number is not None and low <= number <= high else None
    return InputBlock(
        block_id=block_id,
        label=label,
        optional=True,
        element=NumberInputElement(
            action_id=VALUE,
            is_decimal_allowed=False,
            min_value=low,
            max_value=high,
            initial_value=initial,
        ),
    )


def _whole_number(value: Any) -> int | None:
    """A prefill from the source (an int) or from the form itself: Slack hands number inputs
    back as text, and a re-rendered form must keep them."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value.strip())
    return None


def _select(block_id: str, label: str, choices: tuple[str, ...], raw: dict[str, Any]) -> InputBlock:
    options = [Option(value=c, text=c) for c in choices]
    initial = next((o for o in options if o.value == raw.get(block_id)), None)
    return InputBlock(
        block_id=block_id,
        label=label,
        optional=True,
        element=StaticSelectElement(action_id=VALUE, options=options, initial_option=initial),
    )


def _source_input(
    raw: dict[str, Any], source: Option | None, choices: list[Option], t: Translate
) -> InputBlock:
    element: StaticSelectElement | ExternalDataSelectElement
    if choices:
        initial = next((o for o in choices if o.value == raw.get("source")), None)
        element = StaticSelectElement(
            action_id=ACTION_SOURCE,
            options=choices[:100],
            initial_option=initial,
            placeholder=t("Several services match; choose one"),
        )
    else:
        element = ExternalDataSelectElement(
            action_id=ACTION_SOURCE,
            initial_option=source,
            min_query_length=1,
            placeholder=t("Type to search model services"),
        )
    return InputBlock(
        block_id="source",
        label=t("Model service to clone"),
        hint=t("Only the services your ZStack login can see are listed."),
        dispatch_action=True,
        element=element,
    )


def _field(block_id: str, raw: dict[str, Any], t: Translate) -> Block:
    if block_id in _TEXT_FIELDS:
        return _text_input(block_id, raw, t)
    if block_id == "type":
        return _select("type", t("Type"), MODEL_SERVICE_TYPES, raw)
    if block_id == "model_source":
        return _select("model_source", t("Model source"), MODEL_SERVICE_SOURCES, raw)
    if block_id == "request_cpu":
        return _number_input("request_cpu", t("CPU cores"), raw, 1, 1024)
    if block_id == "request_memory":
        return _number_input("request_memory", t("Memory (MiB)"), raw, 1, 16 * 1024 * 1024)
    if block_id == "size":
        return _number_input("size", t("Size (bytes)"), raw, 0, 2**53)
    if block_id == "cpu_architectures":
        options = [Option(value=a, text=a) for a in KNOWN_ARCHITECTURES]
        chosen = [o for o in options if o.value in (raw.get(block_id) or [])]
        return InputBlock(
            block_id=block_id,
            label=t("CPU architectures"),
            optional=True,
            element=StaticMultiSelectElement(
                action_id=VALUE, options=options, initial_options=chosen or None
            ),
        )
    assert block_id == "flags"
    options = [Option(value=k, text=t(v)) for k, v in FLAG_OPTIONS.items()]
    chosen = [o for o in options if o.value in (raw.get(block_id) or [])]
    return InputBlock(
        block_id=block_id,
        label=t("Options"),
        optional=True,
        element=CheckboxesElement(action_id=VALUE, options=options, initial_options=chosen or None),
    )


def clone_form_view(
    raw: dict[str, Any],
    meta: CloneViewMeta,
    *,
    source: Option | None = None,
    choices: list[Option] | None = None,
    notice: Mrkdwn | None = None,
    lang: str = "en",
) -> View:
    """The whole form; ``raw`` holds the values to show (from the source or from typing)."""
    t = tr(lang)
    blocks: list[Block] = []
    if notice:
        blocks.append(SectionBlock(text=md(truncate(notice, 2900))))
    blocks.append(_source_input(raw, source, choices or [], t))
    blocks += [_field(b, raw, t) for b in BASIC]
    toggle = t("Hide advanced options") if meta.advanced else t("Show advanced options")
    blocks.append(
        ActionsBlock(
            block_id="advanced_toggle",
            elements=[ButtonElement(text=toggle, action_id=ACTION_TOGGLE_ADVANCED, value="1")],
        )
    )
    if meta.advanced:
        blocks.append(HeaderBlock(text=t("Advanced options")))
        blocks += [_field(b, raw, t) for b in ADVANCED]
    else:
        blocks.append(
            ContextBlock(
                elements=[
                    md(
                        t(
                            "Readme, YAML, commands, versions, tags and GPU specs keep the "
                            "source's values unless you change them under advanced options."
                        )
                    )
                ]
            )
        )
    blocks += [DividerBlock(), _text_input("reason", raw, t)]
    return View(
        type="modal",
        callback_id=CLONE_CALLBACK,
        title=t("Clone model service"),
        submit=t("Request clone"),
        close=t("Cancel"),
        private_metadata=meta.dump(),
        blocks=blocks,
    )


def loading_view(lang: str = "en", meta: LookupMeta | None = None) -> View:
    t = tr(lang)
    return View(
        type="modal",
        callback_id=LOADING_CALLBACK,
        private_metadata=meta.dump() if meta else None,
        title=t("Clone model service"),
        close=t("Cancel"),
        blocks=[
            SectionBlock(
                text=md(
                    fmt(":hourglass_flowing_sand: {text}", text=t("Looking up the model service…"))
                )
            )
        ],
    )


def form_values(state_values: dict[str, Any]) -> dict[str, Any]:
    """Raw values from ``view.state.values`` (any element type), keyed by block_id."""
    raw: dict[str, Any] = {}
    for block_id, actions in state_values.items():
        if not isinstance(actions, dict):
            continue
        for entry in actions.values():
            if isinstance(entry, dict):
                raw[str(block_id)] = _element_value(entry)
    return raw


def _element_value(entry: dict[str, Any]) -> Any:
    if "selected_options" in entry:
        options = entry.get("selected_options") or []
        return [o.get("value") for o in options if isinstance(o, dict)]
    if "selected_option" in entry:
        option = entry.get("selected_option")
        return option.get("value") if isinstance(option, dict) else None
    return entry.get("value")


class LookupMeta(ViewMetadata):
    """``private_metadata`` of the loading view: what to look up again on "Try again"."""

    channel_id: str | None = None
    text: str = ""

    @classmethod
    def of(cls, channel_id: str | None, text: str) -> LookupMeta:
        return cls(channel_id=channel_id, text=text[:LOOKUP_TEXT_MAX])


def lookup_problem_view(problem: Mrkdwn, meta: LookupMeta, lang: str = "en") -> View:
    """The loading view when the lookup could not finish: why, and a way to try again."""
    t = tr(lang)
    return View(
        type="modal",
        callback_id=LOADING_CALLBACK,
        title=t.plain("Clone model service"),
        close=t.plain("Cancel"),
        private_metadata=meta.dump(),
        blocks=[
            SectionBlock(text=md(fmt(":warning: {problem}", problem=truncate(problem, 2900)))),
            ActionsBlock(
                block_id="retry_lookup",
                elements=[
                    ButtonElement(
                        text=t.plain("Try again"),
                        action_id=ACTION_RETRY_LOOKUP,
                        value="retry",
                        style="primary",
                    )
                ],
            ),
        ],
    )
