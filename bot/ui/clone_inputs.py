"""The clone modal's inputs, one per parameter of the spec, and the values that prefill them.

Each input's block_id, label, help, element and limits come from ``bot.zstack.clone_spec``; the
flag parameters share one checkboxes block. ``defaults_from_source`` gives the raw form values
that reproduce a source service: the same shape ``form_values`` reads back from the modal, so a
re-rendered form shows what was typed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    CheckboxesElement,
    InputBlock,
    NumberInputElement,
    Option,
    PlainTextInputElement,
    StaticMultiSelectElement,
    StaticSelectElement,
)

from bot.i18n import Translate
from bot.ui.clone_form import FLAGS_BLOCK, REASON, normalise_arch
from bot.ui.text import one_line, truncate
from bot.zstack.clone_spec import FLAGS, PARAMETERS, Param, Shown, param
from bot.zstack.models import (
    ArchitectureImage,
    CloneRequestBody,
    ModelServiceImage,
    ModelServiceInventory,
)

VALUE = "value"
_MULTILINE = frozenset({Shown.MULTILINE, Shown.YAML, Shown.LINES, Shown.MAP, Shown.IMAGES})


def _layout(advanced: bool) -> tuple[str, ...]:
    blocks: list[str] = []
    for spec in PARAMETERS:
        block = FLAGS_BLOCK if spec.shown is Shown.FLAG else spec.key
        if spec.advanced is advanced and block not in blocks:
            blocks.append(block)
    return tuple(blocks)


# The block_ids shown always, and those under "advanced options", in the spec's order.
BASIC = _layout(advanced=False)
ADVANCED = _layout(advanced=True)


def _initial_text(value: Any, limit: int) -> str | None:
    """A prefill that Slack accepts: text within the field's max_length, else nothing."""
    if value is None:
        return None
    text = str(value)
    if not text or len(text) > limit:
        return None
    return text if "\n" in text or limit > 255 else one_line(text)


def text_initial(spec: Param, raw: dict[str, Any]) -> tuple[str | None, bool]:
    """A text input's prefill from ``raw``, and whether a value was there but is too long."""
    value = raw.get(spec.key)
    initial = _initial_text(value, spec.max_length or 0)
    return initial, bool(value) and initial is None


def text_input(spec: Param, raw: dict[str, Any], t: Translate) -> InputBlock:
    limit = spec.max_length or 0
    value = raw.get(spec.key)
    initial, too_long = text_initial(spec, raw)
    shown_hint = t(spec.help) if spec.help else None
    if too_long:
        shown_hint = t(
            "The current value is too long to edit here ({count} characters). "
            "Leave empty to keep it.",
            count=f"{len(str(value)):,}",
        )
    return InputBlock(
        block_id=spec.key,
        label=t(spec.label),
        hint=shown_hint,
        optional=spec.required is None,
        element=PlainTextInputElement(
            action_id=VALUE,
            multiline=(spec.shown in _MULTILINE) or None,
            max_length=limit,
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


def number_initial(spec: Param, raw: dict[str, Any]) -> str | None:
    """A number input's prefill from ``raw``: a whole number within the spec's bounds."""
    low, high = spec.bounds
    number = _whole_number(raw.get(spec.key))
    return str(number) if number is not None and low <= number <= high else None


def _number_input(spec: Param, raw: dict[str, Any], t: Translate) -> InputBlock:
    low, high = spec.bounds
    initial = number_initial(spec, raw)
    return InputBlock(
        block_id=spec.key,
        label=t(spec.label),
        optional=True,
        element=NumberInputElement(
            action_id=VALUE,
            is_decimal_allowed=False,
            min_value=low,
            max_value=high,
            initial_value=initial,
        ),
    )


def _select(spec: Param, raw: dict[str, Any], t: Translate) -> InputBlock:
    options = [Option(value=c, text=c) for c in spec.options]
    initial = next((o for o in options if o.value == raw.get(spec.key)), None)
    return InputBlock(
        block_id=spec.key,
        label=t(spec.label),
        optional=True,
        element=StaticSelectElement(action_id=VALUE, options=options, initial_option=initial),
    )


def _multi_select(spec: Param, raw: dict[str, Any], t: Translate) -> InputBlock:
    options = [Option(value=c, text=c) for c in spec.options]
    chosen = [o for o in options if o.value in (raw.get(spec.key) or [])]
    return InputBlock(
        block_id=spec.key,
        label=t(spec.label),
        optional=True,
        element=StaticMultiSelectElement(
            action_id=VALUE, options=options, initial_options=chosen or None
        ),
    )


def _flags(raw: dict[str, Any], t: Translate) -> InputBlock:
    options = [Option(value=f.key, text=t(f.label)) for f in FLAGS]
    chosen = [o for o in options if o.value in (raw.get(FLAGS_BLOCK) or [])]
    return InputBlock(
        block_id=FLAGS_BLOCK,
        label=t("Options"),
        optional=True,
        element=CheckboxesElement(action_id=VALUE, options=options, initial_options=chosen or None),
    )


def input_spec(block_id: str) -> Param | None:
    """The parameter an input block shows (None: the flags' checkboxes)."""
    if block_id == FLAGS_BLOCK:
        return None
    return REASON if block_id == REASON.key else param(block_id)


def field_input(block_id: str, raw: dict[str, Any], t: Translate) -> Block:
    """The input of one block of ``BASIC``, ``ADVANCED`` or the reason."""
    if block_id == FLAGS_BLOCK:
        return _flags(raw, t)
    spec = REASON if block_id == REASON.key else param(block_id)
    if spec.shown is Shown.NUMBER:
        return _number_input(spec, raw, t)
    if spec.shown is Shown.SELECT:
        return _select(spec, raw, t)
    if spec.shown is Shown.MULTI_SELECT:
        return _multi_select(spec, raw, t)
    return text_input(spec, raw, t)


def _prefill(spec: Param, value: Any) -> Any:
    """A source value as the form's raw value for ``spec``."""
    if spec.shown is Shown.SELECT:
        return value if value in spec.options else None
    if spec.shown is Shown.MAP:
        return "\n".join(f"{k}: {', '.join(v)}" for k, v in value.items())
    return value


def _architectures(inv: ModelServiceInventory) -> list[str]:
    """The source's architectures, or those its images are for, as the form's options."""
    archs = [normalise_arch(a) for a in inv.cpu_architectures] or [
        normalise_arch(i.cpu_architecture) for i in inv.model_service_images if i.cpu_architecture
    ]
    return [a for a in dict.fromkeys(archs) if a in param("cpu_architectures").options]


def _image_lines(images: Sequence[ArchitectureImage | ModelServiceImage]) -> str:
    """One ``arch image [vm-image]`` line per architecture, as the form takes them."""
    return "\n".join(
        " ".join(
            [
                normalise_arch(img.cpu_architecture or ""),
                img.docker_image or "-",
                img.vm_image_uuid or "",
            ]
        ).strip()
        for img in images
        if img.cpu_architecture
    )


def clone_name(source_name: str | None) -> str:
    """The name a clone of ``source_name`` is offered first: ``<source>-clone``."""
    base = one_line(source_name or "model-service")
    return truncate(f"{base}-clone", param("name").max_length or 0)


def defaults_from_source(inv: ModelServiceInventory) -> dict[str, Any]:
    """Raw form values that reproduce the source, with ``<source>-clone`` as the name.

    A parameter is prefilled when the inventory has a field of the same name."""
    raw: dict[str, Any] = {"source": inv.uuid}
    for spec in PARAMETERS:
        if spec.shown is not Shown.FLAG and spec.field in ModelServiceInventory.model_fields:
            raw[spec.key] = _prefill(spec, getattr(inv, spec.field))
    raw["name"] = clone_name(inv.name)
    raw["cpu_architectures"] = _architectures(inv)
    raw["architecture_images"] = _image_lines(
        inv.model_service_images
    )  # the inventory calls them modelServiceImages
    raw[FLAGS_BLOCK] = [f.key for f in FLAGS if getattr(inv, f.field) is True]
    return raw


def _request_value(spec: Param, value: Any) -> Any:
    """A request's wire value of ``spec`` as the form's raw value (what typing it would give)."""
    if value is None:
        return None
    if spec.shown is Shown.WORDS:
        return ", ".join(value)
    if spec.shown is Shown.LINES:
        return "\n".join(value)
    if spec.shown is Shown.IMAGES:
        return _image_lines(value)
    return _prefill(spec, value)


def values_of_request(body: CloneRequestBody) -> dict[str, Any]:
    """Raw form values that give ``body`` again (the inverse of ``CloneForm.to_request``):
    edit and resubmit opens the form with them. Values the request left to the source are
    absent, so the form shows the source's there."""
    raw: dict[str, Any] = {}
    for spec in PARAMETERS:
        if spec.shown is not Shown.FLAG:
            value = _request_value(
                spec, getattr(body if spec.top_level else body.params, spec.field)
            )
            if value not in (None, "", [], {}):
                raw[spec.key] = value
    raw[FLAGS_BLOCK] = [f.key for f in FLAGS if getattr(body.params, f.field) is True]
    return raw
