"""Completion messages: the new inventory on success, the error with its cause chain on failure,
and the short thread notes that say who did what."""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.i18n import Translate, tr
from bot.requests.model import CloneRequest
from bot.ui.cards import ACTION_RETRY, resubmit_button
from bot.ui.parts import is_long_value, labelled, md, param_label
from bot.ui.text import (
    Mrkdwn,
    code,
    escape,
    fmt,
    join,
    link,
    one_line,
    truncate,
)
from bot.zstack.clone_spec import param
from bot.zstack.models import ErrorCode, ModelServiceInventory

ACTION_RAW_ERROR = "request_raw_error"
MAX_CHAIN_SHOWN = 12


def _date(moment: Any, t: Translate) -> str | None:
    if not moment:
        return None
    return t.plain("{time} (ZStack time)", time=moment.strftime("%Y-%m-%d %H:%M:%S"))


def success_blocks(
    record: CloneRequest,
    inventory: ModelServiceInventory,
    console_url: str | None,
    lang: str = "en",
) -> list[Block]:
    t = tr(lang)
    took = t.duration(record.elapsed_s() or 0)
    name = truncate(one_line(inventory.name or record.new_name), 200)
    title = t.plain("Cloned: {name}", name=one_line(inventory.name or record.new_name))
    ready = t(
        "<@{requester}>, *{name}* {uuid} is ready ({id}, {took} after approval).",
        requester=record.requester,
        name=name,
        uuid=code(inventory.uuid or "?"),
        id=record.id,
        took=took,
    )
    blocks: list[Block] = [
        HeaderBlock(text=truncate(title, 150)),
        SectionBlock(
            text=md(truncate(fmt(":white_check_mark: {ready}", ready=ready), 2900)),
            fields=[
                labelled(param_label("type", t), inventory.type),
                labelled(param_label("framework", t), inventory.framework),
                labelled(t(param("model_source").label), inventory.source),
                labelled(t("CPU / memory"), _cpu_memory(inventory, t)),
                labelled(
                    param_label("gpu_compute_capability", t), inventory.gpu_compute_capability
                ),
                labelled(
                    t("Python / Conda"), _pair(inventory.python_version, inventory.conda_version)
                ),
                labelled(param_label("start_command", t), inventory.start_command),
                labelled(
                    param_label("support_distributed", t),
                    _yes_no(inventory.support_distributed, t),
                ),
                labelled(t("Created"), _date(inventory.create_date, t)),
                labelled(
                    param_label("cpu_architectures", t),
                    ", ".join(inventory.cpu_architectures) or None,
                ),
            ],
        ),
    ]
    origin = t(
        "Cloned from *{source}* {uuid}",
        source=truncate(one_line(record.source_name or ""), 200),
        uuid=code(record.source_uuid),
    )
    blocks.append(ContextBlock(elements=[md(origin)]))
    images = [_image_line(i, t) for i in inventory.model_service_images[:20]]
    if images:
        listed = fmt("{head}\n{lines}", head=t("*Images*"), lines=join("\n", images))
        blocks.append(SectionBlock(text=md(truncate(listed, 2900))))
    if console_url and inventory.uuid:
        blocks.append(
            ActionsBlock(
                elements=[
                    ButtonElement(
                        text=t.plain("Open in ZStack"),
                        url=truncate(f"{console_url}/#/ai/model-services/{inventory.uuid}", 3000),
                        action_id="open_console",
                    )
                ]
            )
        )
    return blocks


def failure_blocks(
    record: CloneRequest, error: ErrorCode | None, text: str, lang: str = "en"
) -> list[Block]:
    t = tr(lang)
    took = t.duration(record.elapsed_s() or 0)
    failed = t(
        "<@{requester}>, ZStack could not clone *{source}* ({id}, after {took}).",
        requester=record.requester,
        source=truncate(one_line(record.source_name or record.source_uuid), 200),
        id=record.id,
        took=took,
    )
    title = t.plain("Clone failed: {name}", name=one_line(record.new_name))
    blocks: list[Block] = [
        HeaderBlock(text=truncate(title, 150)),
        SectionBlock(text=md(truncate(fmt(":x: {failed}", failed=failed), 2900))),
    ]
    if error is None:
        blocks.append(SectionBlock(text=md(truncate(escape(text), 2900))))
        retry = ButtonElement(text=t.plain("Retry"), action_id=ACTION_RETRY, value=record.id)
        actions = [retry, resubmit_button(record, lang)]
        blocks.append(ActionsBlock(block_id=f"raw:{record.id}", elements=actions))
        return blocks
    blocks.append(
        SectionBlock(
            fields=[
                labelled(t("Code"), error.code),
                labelled(t("Description"), error.description),
                labelled(t("Details"), error.details),
            ]
        )
    )
    chain = [(d, e) for d, e in error.chain_root_first() if d > 0]
    if chain:
        lines = []
        for step, (depth, cause) in enumerate(chain[:MAX_CHAIN_SHOWN], start=1):
            root = fmt(" {root}", root=t("_(root cause)_")) if step == 1 else ""
            level = "" if depth == 1 else fmt(" · {level}", level=t("level {n}", n=depth))
            line = fmt(
                "{step}. {code} {text}{root}{level}",
                step=step,
                code=code(cause.code or "?"),
                text=one_line(cause.details or cause.description or ""),
                root=Mrkdwn(root),
                level=Mrkdwn(level),
            )
            lines.append(line)
        if len(chain) > MAX_CHAIN_SHOWN:
            lines.append(t("… and {n} more", n=len(chain) - MAX_CHAIN_SHOWN))
        listed = fmt(
            "{head}\n{lines}", head=t("*Cause chain, root first*"), lines=join("\n", lines)
        )
        blocks.append(SectionBlock(text=md(truncate(listed, 2900))))
    blocks.append(
        ActionsBlock(
            block_id=f"raw:{record.id}",
            elements=[
                ButtonElement(text=t.plain("Retry"), action_id=ACTION_RETRY, value=record.id),
                resubmit_button(record, lang),
                ButtonElement(
                    text=t.plain("Raw error JSON"), action_id=ACTION_RAW_ERROR, value=record.id
                ),
            ],
        )
    )
    return blocks


def thread_link(record: CloneRequest, lang: str = "en") -> list[Block]:
    """Where the request was decided: a link to the card's thread, for notices in DMs."""
    if not record.card_link:
        return []
    t = tr(lang)
    thread = link(record.card_link, t.plain("Open the request's thread"))
    return [ContextBlock(elements=[md(thread)])]


def raw_error_view(record: CloneRequest, lang: str = "en") -> View:
    """A modal with the error exactly as ZStack sent it, split into readable pieces."""
    error = (
        record.error.model_dump(mode="json", exclude_none=True)
        if record.error
        else {"details": record.error_text}
    )
    raw = json.dumps(error, indent=2, ensure_ascii=False)
    t = tr(lang)
    chunks = [raw[i : i + 2900] for i in range(0, min(len(raw), 2900 * 60), 2900)]
    blocks: list[Block] = [SectionBlock(text=md(_preformatted(chunk))) for chunk in chunks]
    if len(raw) > 2900 * 60:
        blocks.append(ContextBlock(elements=[md(t("(cut: the error is very large)"))]))
    title = truncate(t.plain("Error of {id}", id=record.id), 24)
    return View(type="modal", title=title, close=t.plain("Close"), blocks=blocks)


def full_values_view(record: CloneRequest, lang: str = "en") -> View:
    """The request's long parameter values in full (as far as a modal can hold)."""
    params = record.body.to_wire()["params"]
    t = tr(lang)
    blocks: list[Block] = []
    for key, value in params.items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=1)
        if not is_long_value(key, text):
            continue
        blocks.append(SectionBlock(text=md(fmt("*{key}*", key=key))))
        for i in range(0, len(text), 2900):
            if len(blocks) >= 95:
                break
            blocks.append(SectionBlock(text=md(_preformatted(text[i : i + 2900]))))
    if not blocks:
        blocks.append(SectionBlock(text=md(t("No long values in this request."))))
    title = truncate(t.plain("{id} values", id=record.id), 24)
    return View(type="modal", title=title, close=t.plain("Close"), blocks=blocks[:100])


def note(text: Mrkdwn) -> list[Block]:
    return [SectionBlock(text=md(truncate(text, 2900)))]


def _preformatted(text: str) -> Mrkdwn:
    """A code block; a ``` inside cannot end it early."""
    return fmt("```{text}```", text=text.replace("```", "ˋˋˋ"))


def _image_line(image: Any, t: Translate) -> Mrkdwn:
    kinds = [
        t("container {image}", image=code(image.docker_image)) if image.docker_image else None,
        t("VM image {image}", image=code(image.vm_image_uuid)) if image.vm_image_uuid else None,
    ]
    return fmt(
        "• {arch} {kinds}",
        arch=code(image.cpu_architecture or "?"),
        kinds=join(", ", [k for k in kinds if k]),
    )


def _cpu_memory(inv: ModelServiceInventory, t: Translate) -> str | None:
    if inv.request_cpu is None and inv.request_memory is None:
        return None
    cpu = t.plain("{n} vCPU", n=inv.request_cpu if inv.request_cpu is not None else "?")
    memory = f"{inv.request_memory:,} MiB" if inv.request_memory is not None else "?"
    return f"{cpu} / {memory}"


def _pair(a: str | None, b: str | None) -> str | None:
    return None if a is None and b is None else f"{a or '—'} / {b or '—'}"


def _yes_no(value: bool | None, t: Translate) -> str | None:
    return None if value is None else (t.plain("yes") if value else t.plain("no"))


def expiry_note(record: CloneRequest, lang: str = "en") -> Mrkdwn:
    when = record.expires_at
    t = tr(lang)
    expired = t("{id} expired {when}: nobody decided in time.", id=record.id, when=when)
    return fmt(":alarm_clock: {expired}", expired=expired)
