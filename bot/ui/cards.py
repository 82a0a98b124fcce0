"""The request card, its parameter reply, and the short notices around a request."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.request_model import CloneRequest, State
from bot.ui.text import FIELD_TEXT_MAX, code, duration, escape, one_line, slack_date, truncate

ACTION_APPROVE = "request_approve"
ACTION_REJECT = "request_reject"
ACTION_CANCEL = "request_cancel"
ACTION_RETRY = "request_retry"
ACTION_SHOW_FULL = "request_show_full"
# Long values shown in messages are cut here; the full text is one click away.
PREVIEW_CHARS = 600

STATE_LABELS: dict[State, str] = {
    State.PENDING: ":hourglass_flowing_sand: Waiting for approval",
    State.APPROVED: ":white_check_mark: Approved, starting",
    State.SUBMITTING: ":rocket: Sending to ZStack",
    State.RUNNING: ":gear: Cloning in ZStack",
    State.SUCCEEDED: ":white_check_mark: Done",
    State.FAILED: ":x: Failed",
    State.REJECTED: ":no_entry: Rejected",
    State.CANCELLED: ":heavy_multiplication_x: Cancelled",
    State.EXPIRED: ":alarm_clock: Expired",
    State.AWAITING_LOGIN: ":key: Waiting for the requester to log in to ZStack",
}


def _md(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=text)


def _field(label: str, value: Any) -> MarkdownTextObject:
    shown = "—" if value in (None, "", []) else escape(one_line(str(value)))
    return _md(truncate(f"*{label}*\n{shown}", FIELD_TEXT_MAX))


def approvers_text(approvers: list[str], required: int) -> str:
    if approvers:
        who = ", ".join(
            f"<!subteam^{a}>" if a.startswith("S") else f"<@{a}>" for a in approvers[:20]
        )
    else:
        who = "anyone in this channel except the requester"
    need = f"{required} approvals needed" if required > 1 else "one approval needed"
    return f"Approvers: {who} · {need}"


def decision_buttons(record: CloneRequest, *, with_cancel: bool) -> ActionsBlock:
    elements = [
        ButtonElement(
            text="Approve",
            action_id=ACTION_APPROVE,
            value=record.id,
            style="primary",
            confirm=ConfirmObject(
                title="Approve this clone?",
                text=truncate(
                    f"The bot will clone {one_line(record.source_name or record.source_uuid)} "
                    f"into {one_line(record.new_name)} as the requester.",
                    300,
                ),
                confirm="Approve",
                deny="Back",
            ),
        ),
        ButtonElement(text="Reject", action_id=ACTION_REJECT, value=record.id, style="danger"),
    ]
    if with_cancel:
        elements.append(
            ButtonElement(text="Cancel request", action_id=ACTION_CANCEL, value=record.id)
        )
    return ActionsBlock(block_id=f"decide:{record.id}", elements=elements)


def request_card(record: CloneRequest, approvers: list[str]) -> list[Block]:
    """The card in the approval channel, rendered from the stored record."""
    params = record.body.params
    source = one_line(record.source_name or "")
    blocks: list[Block] = [
        HeaderBlock(text=truncate(f"Clone request {record.id}", 150)),
        SectionBlock(
            text=_md(
                truncate(
                    f"<@{record.requester}> asks to clone *{escape(source) or 'a model service'}* "
                    f"{code(record.source_uuid)} into *{escape(one_line(record.new_name))}*.",
                    2900,
                )
            ),
            fields=[
                _field("State", STATE_LABELS[record.state].split(" ", 1)[1]),
                _field("Type", params.type),
                _field("Framework", params.framework),
                _field("CPU / memory", _cpu_memory(params.request_cpu, params.request_memory)),
                _field("Architectures", ", ".join(params.cpu_architectures or [])),
                _field("GPU compute capability", params.gpu_compute_capability),
            ],
        ),
        SectionBlock(text=_md(truncate("*Reason*\n" + _quote(record.reason), 2900))),
        ContextBlock(
            elements=[_md(truncate(approvers_text(approvers, record.approvals_required), 2000))]
        ),
    ]
    blocks += _status_blocks(record)
    return blocks


def _cpu_memory(cpu: int | None, memory: int | None) -> str | None:
    if cpu is None and memory is None:
        return None
    parts = [f"{cpu} cores" if cpu is not None else "source's CPU"]
    parts.append(f"{memory:,} MiB" if memory is not None else "source's memory")
    return " / ".join(parts)


def _status_blocks(record: CloneRequest) -> list[Block]:
    label = STATE_LABELS[record.state]
    blocks: list[Block] = [DividerBlock()]
    if record.state == State.PENDING:
        votes = ", ".join(f"<@{u}>" for u in record.approvals)
        extra = f" ({len(record.approvals)}/{record.approvals_required}: {votes})" if votes else ""
        text = f"{label}{extra} · expires {slack_date(record.expires_at)}"
        blocks += [ContextBlock(elements=[_md(text)]), decision_buttons(record, with_cancel=True)]
    elif record.state == State.AWAITING_LOGIN:
        blocks += [
            ContextBlock(elements=[_md(f"{label}: <@{record.requester}> runs `/zstack login`.")]),
            ActionsBlock(
                block_id=f"parked:{record.id}",
                elements=[
                    ButtonElement(text="Cancel request", action_id=ACTION_CANCEL, value=record.id)
                ],
            ),
        ]
    elif record.state in (State.APPROVED, State.SUBMITTING, State.RUNNING):
        job = f" · job {code(record.job_uuid)}" if record.job_uuid else ""
        blocks.append(ContextBlock(elements=[_md(f"{label}{job} · approved by {_voters(record)}")]))
    elif record.state == State.SUCCEEDED:
        inventory = record.result or {}
        took = duration(record.elapsed_s() or 0)
        name = escape(one_line(str(inventory.get("name", record.new_name))))
        created = f"{label}: created *{name}* {code(str(inventory.get('uuid', '?')))} in {took}."
        blocks.append(SectionBlock(text=_md(truncate(created, 2900))))
    elif record.state == State.FAILED:
        blocks += [
            SectionBlock(
                text=_md(truncate(f"{label}: {escape(record.error_text or 'unknown error')}", 2900))
            ),
            ActionsBlock(
                block_id=f"retry:{record.id}",
                elements=[ButtonElement(text="Retry", action_id=ACTION_RETRY, value=record.id)],
            ),
        ]
    elif record.state == State.REJECTED:
        why = f": {escape(one_line(record.decision_reason))}" if record.decision_reason else ""
        blocks.append(
            ContextBlock(elements=[_md(truncate(f"{label} by <@{record.decided_by}>{why}", 2000))])
        )
    elif record.state == State.CANCELLED:
        blocks.append(ContextBlock(elements=[_md(f"{label} by <@{record.decided_by}>")]))
    else:
        blocks.append(ContextBlock(elements=[_md(f"{label}: nobody decided in time")]))
    return blocks


def _names(record: CloneRequest) -> str:
    """``source → new-name``, escaped for mrkdwn."""
    source = escape(truncate(one_line(record.source_name or record.source_uuid), 200))
    return f"{source} → {escape(truncate(one_line(record.new_name), 200))}"


def _quote(text: str) -> str:
    return "\n".join(f">{line}" for line in escape(text).splitlines() or [""])


def _voters(record: CloneRequest) -> str:
    return ", ".join(f"<@{u}>" for u in record.approvals) or "—"


def card_fallback_text(record: CloneRequest) -> str:
    """Notification text (and what screen readers read) for the card."""
    return truncate(
        f"Clone request {record.id} from <@{record.requester}>: "
        f"{one_line(record.source_name or record.source_uuid)} → {one_line(record.new_name)} "
        f"({STATE_LABELS[record.state].split(' ', 1)[1].lower()})",
        3000,
    )


LONG_FIELDS = (
    "readme",
    "yaml",
    "description",
    "start_command",
    "container_command",
    "container_args",
)


def parameter_reply(record: CloneRequest) -> list[Block]:
    """The first thread reply: every parameter; long values cut, the full text one click away."""
    wire = record.body.to_wire()
    params: dict[str, Any] = wire["params"]
    shown: list[MarkdownTextObject] = []
    long_values: list[tuple[str, str]] = []
    for key, value in params.items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        if key in ("readme", "yaml") or len(text) > 120:
            long_values.append((key, text))
        else:
            shown.append(_field(key, text))
    for key in ("systemTags", "userTags"):
        if wire.get(key):
            shown.append(_field(key, ", ".join(wire[key])))
    blocks: list[Block] = [
        SectionBlock(
            text=_md(f"*Parameters of {record.id}* (sent inside `params` to CloneModelService)")
        )
    ]
    for start in range(0, len(shown), 10):
        blocks.append(SectionBlock(fields=shown[start : start + 10]))
    for key, text in long_values[:10]:
        preview = truncate(text, PREVIEW_CHARS).replace("```", "ˋˋˋ")
        blocks.append(
            SectionBlock(text=_md(f"*{key}* ({len(text):,} characters)\n```{escape(preview)}```"))
        )
    if any(len(text) > PREVIEW_CHARS for _key, text in long_values):
        blocks.append(
            ActionsBlock(
                block_id=f"full:{record.id}",
                elements=[
                    ButtonElement(
                        text="Show full values", action_id=ACTION_SHOW_FULL, value=record.id
                    )
                ],
            )
        )
    if record.state == State.PENDING:
        blocks.append(decision_buttons(record, with_cancel=False))
    return blocks[:50]


REJECT_CALLBACK = "reject_request"
BLOCK_REJECT_REASON = "reject_reason"


class RejectMeta(BaseModel):
    request_id: str
    channel_id: str | None = None
    from_home: bool = False


def reject_modal(record: CloneRequest, channel_id: str | None, *, from_home: bool = False) -> View:
    return View(
        type="modal",
        callback_id=REJECT_CALLBACK,
        title="Reject request",
        submit="Reject",
        close="Back",
        private_metadata=RejectMeta(
            request_id=record.id, channel_id=channel_id, from_home=from_home
        ).model_dump_json(),
        blocks=[
            SectionBlock(text=_md(truncate(f"Reject *{record.id}* ({_names(record)})?", 2900))),
            InputBlock(
                block_id=BLOCK_REJECT_REASON,
                label="Reason (the requester sees it)",
                element=PlainTextInputElement(action_id="value", multiline=True, max_length=1000),
            ),
        ],
    )


def requester_notice(record: CloneRequest, permalink: str | None) -> str:
    where = f"<{permalink}|in <#{record.channel}>>" if permalink else f"in <#{record.channel}>"
    return (
        f"Your clone request *{record.id}* ({_names(record)}) is waiting for approval {where}. "
        f"Follow it there, or with `/clone-model status {record.id}`."
    )


def status_text(record: CloneRequest) -> str:
    lines = [
        f"*{record.id}*: {_names(record)}",
        f"{STATE_LABELS[record.state]} · requested by <@{record.requester}> "
        f"{slack_date(record.created_at)}",
    ]
    if record.state == State.PENDING:
        lines.append(
            f"Approvals: {len(record.approvals)}/{record.approvals_required} · "
            f"expires {slack_date(record.expires_at)}"
        )
    if record.job_uuid:
        lines.append(f"ZStack job: {code(record.job_uuid)}")
    if record.state == State.FAILED and record.error_text:
        lines.append(f"Error: {escape(truncate(record.error_text, 1000))}")
    if record.state == State.SUCCEEDED and record.result:
        lines.append(f"Created {code(str(record.result.get('uuid', '?')))}")
    return truncate("\n".join(lines), 3000)


def list_text(records: list[CloneRequest]) -> str:
    if not records:
        return "You have no clone requests yet. Start one with `/clone-model [source]`."
    lines = ["*Your recent clone requests*"]
    for record in records:
        lines.append(f"• *{record.id}* {_names(record)} — {STATE_LABELS[record.state]}")
    return truncate("\n".join(lines), 3000)
