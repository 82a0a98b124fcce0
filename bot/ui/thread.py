"""The request card's thread: the parameter reply (with the buttons again) and the reject
dialog."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.i18n import N_, Translate, tr
from bot.requests.model import CloneRequest, State
from bot.ui.cards import ACTION_SHOW_FULL, PREVIEW_CHARS, decision_buttons, request_names
from bot.ui.parts import is_long_value, labelled, md
from bot.ui.text import (
    Mrkdwn,
    beside,
    code,
    escape,
    fmt,
    join,
    truncate,
)
from bot.zstack.clone_spec import PARAMETERS, TOP_LEVEL


def parameter_reply(record: CloneRequest, lang: str = "en") -> list[Block]:
    """The first thread reply: every parameter; long values cut, the full text one click away."""
    t = tr(lang)
    wire = record.body.to_wire()
    params: dict[str, Any] = wire["params"]
    shown: list[MarkdownTextObject] = []
    long_values: list[tuple[str, str]] = []
    images: list[Mrkdwn] = []
    for key, value in params.items():
        if key == "architectureImages" and isinstance(value, list):
            images = [_image_line(entry, t) for entry in value if isinstance(entry, dict)]
            continue
        text = _readable(value, t)
        if is_long_value(key, text):
            long_values.append((key, text))
        else:
            shown.append(labelled(_named(key, t), text))
    for spec in TOP_LEVEL:  # systemTags, userTags
        if wire.get(spec.wire):
            shown.append(labelled(_named(spec.wire, t), ", ".join(wire[spec.wire])))
    blocks: list[Block] = [
        SectionBlock(
            text=md(
                t("*Parameters of {id}* (sent inside `params` to CloneModelService)", id=record.id)
            )
        )
    ]
    for start in range(0, len(shown), 10):
        blocks.append(SectionBlock(fields=shown[start : start + 10]))
    if images:  # one line per architecture, not a JSON list
        listed = fmt(
            "*{name}*\n{lines}", name=_named("architectureImages", t), lines=join("\n", images[:20])
        )
        blocks.append(SectionBlock(text=md(truncate(listed, 2900))))
    for key, text in long_values[:10]:
        preview = truncate(text, PREVIEW_CHARS).replace("```", "ˋˋˋ")
        head = t("*{name}* ({count} characters)", name=_named(key, t), count=f"{len(text):,}")
        block = fmt("{head}\n```{preview}```", head=head, preview=preview)
        blocks.append(SectionBlock(text=md(block)))
    if any(len(text) > PREVIEW_CHARS for _key, text in long_values):
        blocks.append(
            ActionsBlock(
                block_id=f"full:{record.id}",
                elements=[
                    ButtonElement(
                        text=t.plain("Show full values"),
                        action_id=ACTION_SHOW_FULL,
                        value=record.id,
                    )
                ],
            )
        )
    if record.state == State.PENDING:
        blocks.append(decision_buttons(record, with_cancel=False, lang=lang))
    return blocks[:50]


def _readable(value: Any, t: Translate) -> str:
    """A wire value as people read it: yes / no for flags (not JSON's true / false), lists one
    item after another, maps one ``key: values`` per line; anything else as JSON."""
    if isinstance(value, bool):
        return t.plain("yes") if value else t.plain("no")
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict) and all(isinstance(v, list) for v in value.values()):
        return "\n".join(f"{k}: {', '.join(str(i) for i in v)}" for k, v in value.items())
    return json.dumps(value, ensure_ascii=False)


def _image_line(entry: dict[str, Any], t: Translate) -> Mrkdwn:
    """``• x86_64: container registry/x:1, VM image b31b…``."""
    kinds = [
        t("container {image}", image=code(str(entry["dockerImage"])))
        if entry.get("dockerImage")
        else None,
        t("VM image {image}", image=code(str(entry["vmImageUuid"])))
        if entry.get("vmImageUuid")
        else None,
    ]
    return fmt(
        "• {arch} {kinds}",
        arch=code(str(entry.get("cpuArchitecture") or "?")),
        kinds=join(", ", [k for k in kinds if k]),
    )


REJECT_CALLBACK = "reject_request"
BLOCK_REJECT_REASON, ACTION_REJECT_REASON = "reject_reason", "value"


class RejectMeta(BaseModel):
    request_id: str
    channel_id: str | None = None
    from_home: bool = False


def _named(wire: str, t: Translate) -> Mrkdwn:
    """A parameter as the card names it, with the name ZStack receives (``CPU cores``
    ``requestCpu``)."""
    spec = _BY_WIRE.get(wire)
    if spec is None:
        return escape(wire)
    return beside(t(spec.card_label), code(wire))


_BY_WIRE = {spec.wire: spec for spec in PARAMETERS}


@dataclass(frozen=True)
class _Dialog:
    """What differs between the decision dialogs that ask for a text (reject, approve with a
    comment, break-glass)."""

    callback: str
    title: str
    submit: str
    block: str
    label: str
    min_length: int | None = None


def _decision_dialog(
    dialog: _Dialog,
    question: Mrkdwn,
    record: CloneRequest,
    channel_id: str | None,
    from_home: bool,
    lang: str,
) -> View:
    t = tr(lang)
    return View(
        type="modal",
        callback_id=dialog.callback,
        title=t.plain(dialog.title),
        submit=t.plain(dialog.submit),
        close=t.plain("Back"),
        private_metadata=RejectMeta(
            request_id=record.id, channel_id=channel_id, from_home=from_home
        ).model_dump_json(),
        blocks=[
            SectionBlock(text=md(truncate(question, 2900))),
            InputBlock(
                block_id=dialog.block,
                label=t.plain(dialog.label),
                element=PlainTextInputElement(
                    action_id=ACTION_REJECT_REASON,
                    multiline=True,
                    min_length=dialog.min_length,
                    max_length=1000,
                ),
            ),
        ],
    )


_REJECT = _Dialog(
    REJECT_CALLBACK,
    N_("Reject request"),
    N_("Reject"),
    BLOCK_REJECT_REASON,
    N_("Reason (the requester sees it)"),
)


def reject_modal(
    record: CloneRequest, channel_id: str | None, *, from_home: bool = False, lang: str = "en"
) -> View:
    t = tr(lang)
    question = t("Reject *{id}* ({names})?", id=record.id, names=request_names(record))
    return _decision_dialog(_REJECT, question, record, channel_id, from_home, lang)


APPROVE_CALLBACK = "approve_request"
BLOCK_APPROVE_COMMENT = "approve_comment"
_APPROVE = _Dialog(
    APPROVE_CALLBACK,
    N_("Approve request"),
    N_("Approve"),
    BLOCK_APPROVE_COMMENT,
    N_("Comment (shown on the card and kept in the audit)"),
)


def approve_modal(
    record: CloneRequest, channel_id: str | None, *, from_home: bool = False, lang: str = "en"
) -> View:
    """The Approve confirmation when the request's rule wants a comment with each approval."""
    t = tr(lang)
    question = t(
        "Approve *{id}*? The bot will clone {names} as <@{requester}>.",
        id=record.id,
        names=request_names(record),
        requester=record.requester,
    )
    return _decision_dialog(_APPROVE, question, record, channel_id, from_home, lang)


BREAK_GLASS_CALLBACK = "break_glass_request"
BLOCK_BREAK_GLASS_REASON = "break_glass_reason"
_BREAK_GLASS = _Dialog(
    BREAK_GLASS_CALLBACK,
    N_("Break glass"),
    N_("Override and approve"),
    BLOCK_BREAK_GLASS_REASON,
    N_("Why it cannot wait for the approvers"),
    min_length=10,
)


def break_glass_modal(
    record: CloneRequest, channel_id: str | None, *, from_home: bool = False, lang: str = "en"
) -> View:
    """Override the rule's approvals (break-glass): only with a written reason, shown to all."""
    t = tr(lang)
    warning = t(
        ":rotating_light: Approve *{id}* ({names}) alone, overriding rule *{rule}*? The override "
        "and your reason are shown on the card and kept in the audit.",
        id=record.id,
        names=request_names(record),
        rule=record.rule.name if record.rule else t("default"),
    )
    return _decision_dialog(_BREAK_GLASS, warning, record, channel_id, from_home, lang)
