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
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.request_model import CloneRequest
from bot.ui.text import FIELD_TEXT_MAX, code, duration, escape, one_line, slack_date, truncate
from bot.zstack_models import ErrorCode, ModelServiceInventory

ACTION_RAW_ERROR = "request_raw_error"
MAX_CHAIN_SHOWN = 12


def _md(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=text)


def _field(label: str, value: Any) -> MarkdownTextObject:
    shown = "—" if value in (None, "", []) else escape(one_line(str(value)))
    return _md(truncate(f"*{label}*\n{shown}", FIELD_TEXT_MAX))


def _date(moment: Any) -> str | None:
    return moment.strftime("%Y-%m-%d %H:%M:%S") + " (ZStack time)" if moment else None


def success_blocks(
    record: CloneRequest, inventory: ModelServiceInventory, console_url: str | None
) -> list[Block]:
    took = duration(record.elapsed_s() or 0)
    name = escape(truncate(one_line(inventory.name or record.new_name), 200))
    blocks: list[Block] = [
        HeaderBlock(text=truncate(f"Cloned: {one_line(inventory.name or record.new_name)}", 150)),
        SectionBlock(
            text=_md(
                truncate(
                    f":white_check_mark: <@{record.requester}>, *{name}* "
                    f"{code(inventory.uuid or '?')} is ready ({record.id}, {took} after approval).",
                    2900,
                )
            ),
            fields=[
                _field("Type", inventory.type),
                _field("Framework", inventory.framework),
                _field("Source", inventory.source),
                _field("CPU / memory", _cpu_memory(inventory)),
                _field("GPU compute capability", inventory.gpu_compute_capability),
                _field("Python / Conda", _pair(inventory.python_version, inventory.conda_version)),
                _field("Start command", inventory.start_command),
                _field("Distributed", _yes_no(inventory.support_distributed)),
                _field("Created", _date(inventory.create_date)),
                _field("Architectures", ", ".join(inventory.cpu_architectures) or None),
            ],
        ),
    ]
    images = [
        f"• `{escape(one_line(i.cpu_architecture or '?'))}` "
        + ", ".join(
            p
            for p in (
                f"container {code(i.docker_image)}" if i.docker_image else "",
                f"VM image {code(i.vm_image_uuid)}" if i.vm_image_uuid else "",
            )
            if p
        )
        for i in inventory.model_service_images[:20]
    ]
    if images:
        blocks.append(SectionBlock(text=_md(truncate("*Images*\n" + "\n".join(images), 2900))))
    if console_url and inventory.uuid:
        blocks.append(
            ActionsBlock(
                elements=[
                    ButtonElement(
                        text="Open in ZStack",
                        url=truncate(f"{console_url}/#/ai/model-services/{inventory.uuid}", 3000),
                        action_id="open_console",
                    )
                ]
            )
        )
    return blocks


def failure_blocks(record: CloneRequest, error: ErrorCode | None, text: str) -> list[Block]:
    took = duration(record.elapsed_s() or 0)
    blocks: list[Block] = [
        HeaderBlock(text=truncate(f"Clone failed: {one_line(record.new_name)}", 150)),
        SectionBlock(
            text=_md(
                truncate(
                    f":x: <@{record.requester}>, ZStack could not clone "
                    f"*{escape(one_line(record.source_name or record.source_uuid))}* "
                    f"({record.id}, after {took}).",
                    2900,
                )
            )
        ),
    ]
    if error is None:
        blocks.append(SectionBlock(text=_md(truncate(escape(text), 2900))))
        return blocks
    blocks.append(
        SectionBlock(
            fields=[
                _field("Code", error.code),
                _field("Description", error.description),
                _field("Details", error.details),
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
                + (" _(root cause)_" if step == 1 else "")
                + ("" if depth == 1 else f" · level {depth}")
            )
        if len(chain) > MAX_CHAIN_SHOWN:
            lines.append(f"… and {len(chain) - MAX_CHAIN_SHOWN} more")
        blocks.append(
            SectionBlock(text=_md(truncate("*Cause chain, root first*\n" + "\n".join(lines), 2900)))
        )
    blocks.append(
        ActionsBlock(
            block_id=f"raw:{record.id}",
            elements=[
                ButtonElement(text="Raw error JSON", action_id=ACTION_RAW_ERROR, value=record.id)
            ],
        )
    )
    return blocks


def raw_error_view(record: CloneRequest) -> View:
    """A modal with the error exactly as ZStack sent it, split into readable pieces."""
    raw = json.dumps(record.error or {"details": record.error_text}, indent=2, ensure_ascii=False)
    chunks = [raw[i : i + 2900] for i in range(0, min(len(raw), 2900 * 60), 2900)]
    blocks: list[Block] = [SectionBlock(text=_md(f"```{escape(chunk)}```")) for chunk in chunks]
    if len(raw) > 2900 * 60:
        blocks.append(ContextBlock(elements=[_md("(cut: the error is very large)")]))
    return View(
        type="modal", title=truncate(f"Error of {record.id}", 24), close="Close", blocks=blocks
    )


def full_values_view(record: CloneRequest) -> View:
    """The request's long parameter values in full (as far as a modal can hold)."""
    params = record.body.to_wire()["params"]
    blocks: list[Block] = []
    for key, value in params.items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=1)
        if len(text) <= 120 and key not in ("readme", "yaml"):
            continue
        blocks.append(SectionBlock(text=_md(f"*{key}*")))
        for i in range(0, len(text), 2900):
            if len(blocks) >= 95:
                break
            blocks.append(SectionBlock(text=_md(f"```{escape(text[i : i + 2900])}```")))
    if not blocks:
        blocks.append(SectionBlock(text=_md("No long values in this request.")))
    return View(
        type="modal", title=truncate(f"{record.id} values", 24), close="Close", blocks=blocks[:100]
    )


def note(text: str) -> list[Block]:
    return [SectionBlock(text=_md(truncate(text, 2900)))]


def _cpu_memory(inv: ModelServiceInventory) -> str | None:
    if inv.request_cpu is None and inv.request_memory is None:
        return None
    return f"{inv.request_cpu if inv.request_cpu is not None else '?'} cores / " + (
        f"{inv.request_memory:,} MiB" if inv.request_memory is not None else "?"
    )


def _pair(a: str | None, b: str | None) -> str | None:
    return None if a is None and b is None else f"{a or '—'} / {b or '—'}"


def _yes_no(value: bool | None) -> str | None:
    return None if value is None else ("yes" if value else "no")


def expiry_note(record: CloneRequest) -> str:
    when = slack_date(record.expires_at)
    return f":alarm_clock: {record.id} expired {when}: nobody decided in time."
