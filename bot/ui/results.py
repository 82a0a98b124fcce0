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
from bot.request_model import CloneRequest
from bot.ui.parts import labelled, md
from bot.ui.text import code, duration, escape, one_line, slack_date, truncate
from bot.zstack_models import ErrorCode, ModelServiceInventory

ACTION_RAW_ERROR = "request_raw_error"
MAX_CHAIN_SHOWN = 12


def _date(moment: Any, t: Translate) -> str | None:
    return moment.strftime("%Y-%m-%d %H:%M:%S") + " " + t("(ZStack time)") if moment else None


def success_blocks(
    record: CloneRequest,
    inventory: ModelServiceInventory,
    console_url: str | None,
    lang: str = "en",
) -> list[Block]:
    t = tr(lang)
    took = duration(record.elapsed_s() or 0)
    name = escape(truncate(one_line(inventory.name or record.new_name), 200))
    title = t("Cloned: {name}", name=one_line(inventory.name or record.new_name))
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
            text=md(truncate(f":white_check_mark: {ready}", 2900)),
            fields=[
                labelled(t("Type"), inventory.type),
                labelled(t("Framework"), inventory.framework),
                labelled(t("Source"), inventory.source),
                labelled(t("CPU / memory"), _cpu_memory(inventory, t)),
                labelled(t("GPU compute capability"), inventory.gpu_compute_capability),
                labelled(
                    t("Python / Conda"), _pair(inventory.python_version, inventory.conda_version)
                ),
                labelled(t("Start command"), inventory.start_command),
                labelled(t("Distributed"), _yes_no(inventory.support_distributed, t)),
                labelled(t("Created"), _date(inventory.create_date, t)),
                labelled(t("Architectures"), ", ".join(inventory.cpu_architectures) or None),
            ],
        ),
    ]
    images = [
        f"• `{escape(one_line(i.cpu_architecture or '?'))}` "
        + ", ".join(
            p
            for p in (
                t("container {image}", image=code(i.docker_image)) if i.docker_image else "",
                t("VM image {image}", image=code(i.vm_image_uuid)) if i.vm_image_uuid else "",
            )
            if p
        )
        for i in inventory.model_service_images[:20]
    ]
    if images:
        blocks.append(
            SectionBlock(text=md(truncate(t("*Images*") + "\n" + "\n".join(images), 2900)))
        )
    if console_url and inventory.uuid:
        blocks.append(
            ActionsBlock(
                elements=[
                    ButtonElement(
                        text=t("Open in ZStack"),
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
    took = duration(record.elapsed_s() or 0)
    failed = t(
        "<@{requester}>, ZStack could not clone *{source}* ({id}, after {took}).",
        requester=record.requester,
        source=escape(truncate(one_line(record.source_name or record.source_uuid), 200)),
        id=record.id,
        took=took,
    )
    blocks: list[Block] = [
        HeaderBlock(text=truncate(t("Clone failed: {name}", name=one_line(record.new_name)), 150)),
        SectionBlock(text=md(truncate(f":x: {failed}", 2900))),
    ]
    if error is None:
        blocks.append(SectionBlock(text=md(truncate(escape(text), 2900))))
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
            lines.append(
                f"{step}. `{escape(one_line(cause.code or '?'))}` "
                f"{escape(one_line(cause.details or cause.description or ''))}"
                + (" _(" + t("root cause") + ")_" if step == 1 else "")
                + ("" if depth == 1 else " · " + t("level {n}", n=depth))
            )
        if len(chain) > MAX_CHAIN_SHOWN:
            lines.append(t("… and {n} more", n=len(chain) - MAX_CHAIN_SHOWN))
        heading = t("*Cause chain, root first*")
        blocks.append(SectionBlock(text=md(truncate(heading + "\n" + "\n".join(lines), 2900))))
    blocks.append(
        ActionsBlock(
            block_id=f"raw:{record.id}",
            elements=[
                ButtonElement(text="Raw error JSON", action_id=ACTION_RAW_ERROR, value=record.id)
            ],
        )
    )
    return blocks


def raw_error_view(record: CloneRequest, lang: str = "en") -> View:
    """A modal with the error exactly as ZStack sent it, split into readable pieces."""
    raw = json.dumps(record.error or {"details": record.error_text}, indent=2, ensure_ascii=False)
    chunks = [raw[i : i + 2900] for i in range(0, min(len(raw), 2900 * 60), 2900)]
    blocks: list[Block] = [SectionBlock(text=md(f"```{escape(chunk)}```")) for chunk in chunks]
    if len(raw) > 2900 * 60:
        blocks.append(ContextBlock(elements=[md(tr(lang)("(cut: the error is very large)"))]))
    title = truncate(tr(lang)("Error of {id}", id=record.id), 24)
    return View(type="modal", title=title, close=tr(lang)("Close"), blocks=blocks)


def full_values_view(record: CloneRequest, lang: str = "en") -> View:
    """The request's long parameter values in full (as far as a modal can hold)."""
    params = record.body.to_wire()["params"]
    blocks: list[Block] = []
    for key, value in params.items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=1)
        if len(text) <= 120 and key not in ("readme", "yaml"):
            continue
        blocks.append(SectionBlock(text=md(f"*{key}*")))
        for i in range(0, len(text), 2900):
            if len(blocks) >= 95:
                break
            blocks.append(SectionBlock(text=md(f"```{escape(text[i : i + 2900])}```")))
    if not blocks:
        blocks.append(SectionBlock(text=md(tr(lang)("No long values in this request."))))
    title = truncate(tr(lang)("{id} values", id=record.id), 24)
    return View(type="modal", title=title, close=tr(lang)("Close"), blocks=blocks[:100])


def note(text: str) -> list[Block]:
    return [SectionBlock(text=md(truncate(text, 2900)))]


def _cpu_memory(inv: ModelServiceInventory, t: Translate) -> str | None:
    if inv.request_cpu is None and inv.request_memory is None:
        return None
    cpu = t("{n} vCPU", n=inv.request_cpu if inv.request_cpu is not None else "?")
    memory = f"{inv.request_memory:,} MiB" if inv.request_memory is not None else "?"
    return f"{cpu} / {memory}"


def _pair(a: str | None, b: str | None) -> str | None:
    return None if a is None and b is None else f"{a or '—'} / {b or '—'}"


def _yes_no(value: bool | None, t: Translate) -> str | None:
    return None if value is None else (t("yes") if value else t("no"))


def expiry_note(record: CloneRequest, lang: str = "en") -> str:
    when = slack_date(record.expires_at)
    return ":alarm_clock: " + tr(lang)(
        "{id} expired {when}: nobody decided in time.", id=record.id, when=when
    )
