"""The request card in the approval channel: its state, decision buttons and fallback text.

Every builder takes ``lang``: cards in channels use the workspace language, notices to one person
use theirs (see ``bot.i18n``).
"""

from __future__ import annotations

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    SectionBlock,
)

from bot.i18n import N_, Translate, tr
from bot.requests import steps
from bot.requests.model import CloneRequest, State
from bot.requests.rules import DEFAULT_RULE, AppliedRule, AppliedStep, Because
from bot.ui.parts import labelled, md, param_label
from bot.ui.text import (
    Mrkdwn,
    code,
    escape,
    fmt,
    join,
    link,
    mention,
    mention_entry,
    one_line,
    truncate,
)
from bot.zstack.clone_spec import PARAMETERS
from bot.zstack.models import ErrorCode

ACTION_APPROVE = "request_approve"
ACTION_REJECT = "request_reject"
ACTION_CANCEL = "request_cancel"
ACTION_RETRY = "request_retry"
ACTION_SHOW_FULL = "request_show_full"
ACTION_RESUBMIT = "request_resubmit"
ACTION_BREAK_GLASS = "request_break_glass"
# Long values shown in messages are cut here; the full text is one click away.
PREVIEW_CHARS = 600
MAX_CHANGES_SHOWN = 15
_BY_WIRE = {spec.wire: spec for spec in PARAMETERS}

STATE_EMOJI: dict[State, str] = {
    State.PENDING: ":hourglass_flowing_sand:",
    State.APPROVED: ":white_check_mark:",
    State.SUBMITTING: ":rocket:",
    State.RUNNING: ":gear:",
    State.SUCCEEDED: ":white_check_mark:",
    State.FAILED: ":x:",
    State.REJECTED: ":no_entry:",
    State.CANCELLED: ":heavy_multiplication_x:",
    State.EXPIRED: ":alarm_clock:",
    State.AWAITING_LOGIN: ":key:",
}
STATE_NAMES: dict[State, str] = {
    State.PENDING: N_("Waiting for approval"),
    State.APPROVED: N_("Approved, starting"),
    State.SUBMITTING: N_("Sending to ZStack"),
    State.RUNNING: N_("Cloning in ZStack"),
    State.SUCCEEDED: N_("Done"),
    State.FAILED: N_("Failed"),
    State.REJECTED: N_("Rejected"),
    State.CANCELLED: N_("Cancelled"),
    State.EXPIRED: N_("Expired"),
    State.AWAITING_LOGIN: N_("Waiting for the requester to log in to ZStack"),
}


def state_name(state: State, lang: str = "en") -> Mrkdwn:
    return tr(lang)(STATE_NAMES[state])


def state_label(state: State, lang: str = "en") -> Mrkdwn:
    """Emoji and name, e.g. ``:gear: Cloning in ZStack``."""
    return fmt("{emoji} {name}", emoji=Mrkdwn(STATE_EMOJI[state]), name=state_name(state, lang))


def approvers_text(approvers: list[str], required: int, lang: str = "en") -> Mrkdwn:
    t = tr(lang)
    if approvers:
        who = join(", ", [mention_entry(a) for a in approvers[:20]])
    else:
        who = t("anyone in this channel except the requester")
    need = t.n("one approval needed", "{count} approvals needed", required)
    return t("Approvers: {who} · {need}", who=who, need=need)


# Between phrases of a sentence: a full-width comma in Chinese.
_COMMA = N_(", ")
_OP_SIGNS = {">=": "≥", "<=": "≤", ">": ">", "<": "<", "==": "="}


def _because(reason: Because, t: Translate) -> Mrkdwn:
    """One condition a request met, as people read it (``64 vCPU ≥ 16``)."""
    sign = _OP_SIGNS.get(reason.op or "==", "=")
    value, bound = reason.value, reason.bound
    if reason.kind == "cpu":
        return t("{value} vCPU {op} {bound}", value=value, op=sign, bound=bound)
    if reason.kind == "memory":
        return t("{value} MiB {op} {bound}", value=value, op=sign, bound=bound)
    if reason.kind == "size":
        return t("size {value} {op} {bound}", value=value, op=sign, bound=bound)
    if reason.kind == "gpu":
        return t("a GPU spec") if value else t("no GPU")
    if reason.kind == "type":
        return t("type {value}", value=value)
    if reason.kind == "model_source":
        return t("model source {value}", value=value)
    if reason.kind == "source_name":
        return t("source name matches {pattern}", pattern=value)
    if reason.kind == "channel":
        return t("from <#{channel}>", channel=value)
    if isinstance(value, str) and value.startswith("S"):
        return t("requester in {group}", group=mention_entry(value))
    return t("requested by <@{user}>", user=value)


def rule_conditions(rule: AppliedRule, lang: str = "en") -> list[Mrkdwn]:
    """Each condition the request met, as the card words it (``clone-bot policy explain`` and
    the audit export print them as plain text)."""
    t = tr(lang)
    return [_because(reason, t) for reason in rule.because]


def rule_text(rule: AppliedRule, lang: str = "en", *, approvers: bool = False) -> Mrkdwn:
    """Which rule applied and why: ``Rule *large* (64 vCPU ≥ 16): 2 approvals, ZStack login``
    (with ``approvers``, who they are too)."""
    t = tr(lang)
    why = join(t.plain(_COMMA), [_because(b, t) for b in rule.because])
    name = fmt("*{name}*", name=rule.name) if rule.name != DEFAULT_RULE else t("default")
    head = (
        t("Rule {name} ({why})", name=name, why=why)
        if rule.because
        else t("Rule {name}", name=name)
    )
    terms = [t.n("one approval", "{count} approvals", rule.approvals)]
    if rule.deny:
        terms = [t("refused: {why}", why=one_line(rule.deny))]
    elif rule.auto_approve:
        terms = [t("approved automatically")]
    elif approvers and rule.approvers:
        terms.insert(0, join(", ", [mention_entry(a) for a in rule.approvers[:10]]))
    if rule.steps and not (rule.deny or rule.auto_approve):
        terms = [t.n("one step", "{count} steps", len(rule.steps))]
    if rule.approval_comment:
        terms.append(t("a comment with each approval"))
    if rule.approver_login:
        terms.append(t("approvers log in to ZStack"))
    if rule.self_approval:
        terms.append(t("self-approval allowed"))
    return t("{rule}: {terms}", rule=head, terms=join(t.plain(_COMMA), terms))


def decision_buttons(record: CloneRequest, *, with_cancel: bool, lang: str = "en") -> ActionsBlock:
    t = tr(lang)
    # A rule that wants a comment asks for it in a dialog, which is the confirmation then.
    commented = record.rule is not None and record.rule.approval_comment
    elements = [
        ButtonElement(
            text=t("Approve"),
            action_id=ACTION_APPROVE,
            value=record.id,
            style="primary",
            confirm=None
            if commented
            else ConfirmObject(
                title=t("Approve this clone?"),
                text=truncate(
                    t(
                        "The bot will clone {source} into {target} as the requester.",
                        source=one_line(record.source_name or record.source_uuid)[:100],
                        target=one_line(record.new_name)[:100],
                    ),
                    300,
                ),
                confirm=t("Approve"),
                deny=t("Back"),
            ),
        ),
        ButtonElement(text=t("Reject"), action_id=ACTION_REJECT, value=record.id, style="danger"),
    ]
    if with_cancel:
        elements.append(cancel_button(record, lang))
    if _blocked(record):  # the requester's way out of a failed pre-flight check
        elements.append(resubmit_button(record, lang))
    elif record.rule and record.rule.break_glass:  # for the people the rule names
        elements.append(
            ButtonElement(
                text=t.plain("Break glass"), action_id=ACTION_BREAK_GLASS, value=record.id
            )
        )
    return ActionsBlock(block_id=f"decide:{record.id}", elements=elements)


def _blocked(record: CloneRequest) -> bool:
    return any(check.blocking and not check.ok for check in record.checks)


def cancel_button(record: CloneRequest, lang: str = "en") -> ButtonElement:
    """The requester's Cancel, with a confirmation like Approve's."""
    t = tr(lang)
    return ButtonElement(
        text=t.plain("Cancel request"),
        action_id=ACTION_CANCEL,
        value=record.id,
        confirm=ConfirmObject(
            title=t.plain("Cancel this request?"),
            text=t("{id} is withdrawn and can no longer be approved.", id=record.id),
            confirm=t.plain("Cancel request"),
            deny=t.plain("Keep it"),
        ),
    )


def resubmit_button(record: CloneRequest, lang: str = "en") -> ButtonElement:
    """The requester's "Edit and resubmit": the form filled with this request's values."""
    return ButtonElement(
        text=tr(lang).plain("Edit and resubmit"), action_id=ACTION_RESUBMIT, value=record.id
    )


def request_card(record: CloneRequest, approvers: list[str], lang: str = "en") -> list[Block]:
    """The card in the approval channel, rendered from the stored record."""
    t = tr(lang)
    params = record.body.params
    source = escape(truncate(one_line(record.source_name or ""), 200)) or t("a model service")
    asks = t(
        "<@{requester}> asks to clone *{source}* {uuid} into *{target}*.",
        requester=record.requester,
        source=source,
        uuid=code(record.source_uuid),
        target=truncate(one_line(record.new_name), 200),
    )
    blocks: list[Block] = [
        HeaderBlock(text=truncate(t.plain("Clone request {id}", id=record.id), 150)),
        SectionBlock(
            text=md(truncate(asks, 2900)),
            fields=[
                labelled(t("State"), state_name(record.state, lang)),
                labelled(param_label("type", t), params.type),
                labelled(param_label("framework", t), params.framework),
                labelled(
                    t("CPU / memory"), _cpu_memory(params.request_cpu, params.request_memory, t)
                ),
                labelled(
                    param_label("cpu_architectures", t), ", ".join(params.cpu_architectures or [])
                ),
                labelled(param_label("gpu_compute_capability", t), params.gpu_compute_capability),
            ],
        ),
        *_lineage_blocks(record, t),
        *_change_blocks(record, t),
        *_check_blocks(record, t),
        SectionBlock(
            text=md(
                truncate(
                    fmt("{head}\n{quote}", head=t("*Reason*"), quote=_quote(record.reason)), 2900
                )
            )
        ),
        ContextBlock(elements=[md(truncate(_who_decides(record, approvers, lang), 2000))]),
    ]
    blocks += _status_blocks(record, t, lang)
    return blocks


def _who_decides(record: CloneRequest, approvers: list[str], lang: str) -> Mrkdwn:
    """The approvers and the quorum (or the steps), and the rule that set them (when a policy
    file applies)."""
    if record.rule is None:
        return approvers_text(approvers, record.approvals_required, lang)
    rule = record.rule
    who = (
        steps_text(rule, record, lang)
        if rule.steps
        else approvers_text(rule.approvers, record.approvals_required, lang)
    )
    if rule.name == DEFAULT_RULE and not rule.because and not rule.steps:
        return who
    return fmt("{rule}\n{who}", rule=rule_text(rule, lang), who=who)


def steps_text(rule: AppliedRule, record: CloneRequest | None = None, lang: str = "en") -> Mrkdwn:
    """The rule's approval steps, one a line, with where the request stands in them."""
    t = tr(lang)
    lines = []
    for index, step in enumerate(rule.stages()):
        who = join(", ", [mention_entry(a) for a in step.approvers[:10]])
        need = (
            t("all of {who}", who=who)
            if step.needs_all
            else t.n("one of {who}", "{count} of {who}", step.need, who=who)
        )
        name = fmt("*{name}*: ", name=step.name) if step.name else Mrkdwn("")
        mark, where = _step_mark(rule, record, index, step, t)
        line = t("{mark} Step {n}: {name}{need}", mark=mark, n=index + 1, name=name, need=need)
        if step.skip_after_s:
            line = fmt(
                "{line} · {skip}",
                line=line,
                skip=t("skipped after {after}", after=t.duration(step.skip_after_s)),
            )
        lines.append(fmt("{line}{where}", line=line, where=where))
    return join("\n", lines)


def _step_mark(
    rule: AppliedRule, record: CloneRequest | None, index: int, step: AppliedStep, t: Translate
) -> tuple[Mrkdwn, Mrkdwn]:
    """The mark of one step (done, current, skipped, to come) and who approved in it."""
    if record is None:
        return Mrkdwn("•"), Mrkdwn("")
    votes = [v for v in record.votes if v.step == index]
    voters = join(", ", [mention(v.user) for v in votes])
    count = f"{len(votes)}/{step.required()}"
    tally = (
        fmt(" · {count}: {voters}", count=count, voters=voters)
        if votes
        else fmt(" · {count}", count=count)
    )
    if index in record.skipped:
        return Mrkdwn(":fast_forward:"), fmt(" · {skipped}", skipped=t("skipped"))
    if index < record.step:
        return Mrkdwn(":white_check_mark:"), fmt(" · {voters}", voters=voters)
    if index == record.step and record.state == State.PENDING:
        return Mrkdwn(":hourglass_flowing_sand:"), tally
    if index == record.step and votes:
        # Decided in this step: done only if its votes satisfied it (not when it was rejected,
        # expired or overridden half-way).
        if steps.satisfied(rule, record):
            return Mrkdwn(":white_check_mark:"), fmt(" · {voters}", voters=voters)
        return Mrkdwn("◦"), tally
    return Mrkdwn("◦"), Mrkdwn("")


def _cpu_memory(cpu: int | None, memory: int | None, t: Translate) -> str | None:
    if cpu is None and memory is None:
        return None
    parts = [t.plain("{n} vCPU", n=cpu) if cpu is not None else t.plain("source's CPU")]
    parts.append(f"{memory:,} MiB" if memory is not None else t.plain("source's memory"))
    return " / ".join(parts)


def _lineage_blocks(record: CloneRequest, t: Translate) -> list[Block]:
    """The request this one replaces (edit and resubmit), linked to its card."""
    if not record.supersedes:
        return []
    old = (
        link(record.supersedes_link, record.supersedes)
        if record.supersedes_link
        else Mrkdwn(record.supersedes)
    )
    return [ContextBlock(elements=[md(t(":pencil2: Edited resubmission of {old}", old=old))])]


def _nudged(record: CloneRequest, t: Translate) -> list[Mrkdwn]:
    """What was done because nobody decided: ``reminded 2×``, ``escalated to @x``."""
    said = []
    if record.reminders:
        said.append(t.n("reminded once", "reminded {count}×", record.reminders))
    if record.escalated:
        who = join(", ", [mention_entry(e) for e in record.escalated[:10]])
        said.append(t("escalated to {who}", who=who))
    return said


def _comment_blocks(record: CloneRequest, t: Translate) -> list[Block]:
    """The comments approvers wrote with their approvals."""
    lines = [
        t(":speech_balloon: <@{user}>: “{comment}”", user=v.user, comment=one_line(v.comment))
        for v in record.votes
        if v.comment
    ]
    if not lines:
        return []
    return [ContextBlock(elements=[md(truncate(join("\n", lines[-10:]), 2000))])]


def _status_blocks(record: CloneRequest, t: Translate, lang: str) -> list[Block]:
    blocks = [*_comment_blocks(record, t), *_state_blocks(record, t, lang)]
    if record.override is not None:
        overridden = t(
            ":rotating_light: Break-glass override by <@{user}> {when}: {reason}",
            user=record.override.by,
            when=record.override.at,
            reason=one_line(record.override.reason),
        )
        blocks.append(ContextBlock(elements=[md(truncate(overridden, 2000))]))
    if record.superseded_by:
        replaced = t(
            ":pencil2: Replaced by *{new}*, its edited resubmission.", new=record.superseded_by
        )
        blocks.append(ContextBlock(elements=[md(replaced)]))
    elif record.state in (State.REJECTED, State.EXPIRED, State.CANCELLED):
        actions = [resubmit_button(record, lang)]
        blocks.append(ActionsBlock(block_id=f"resubmit:{record.id}", elements=actions))
    return blocks


def _pending_blocks(record: CloneRequest, label: Mrkdwn, t: Translate, lang: str) -> list[Block]:
    """Where a waiting request stands (its step, its votes, reminders), and the buttons."""
    rule = record.rule
    if rule is not None and len(rule.stages()) > 1:
        label = t(
            "{state}: step {step} of {steps}",
            state=label,
            step=record.step + 1,
            steps=len(rule.stages()),
        )
    elif record.approvals:
        label = t(
            "{state} ({count}: {votes})",
            state=label,
            count=f"{len(record.approvals)}/{record.approvals_required}",
            votes=_voters(record),
        )
    expires = t("expires {when}", when=record.expires_at)
    text = join(" · ", [label, *_nudged(record, t), expires])
    return [
        ContextBlock(elements=[md(truncate(text, 2000))]),
        decision_buttons(record, with_cancel=True, lang=lang),
    ]


def _state_blocks(record: CloneRequest, t: Translate, lang: str) -> list[Block]:
    label = state_label(record.state, lang)
    blocks: list[Block] = [DividerBlock()]
    if record.state == State.PENDING:
        blocks += _pending_blocks(record, label, t, lang)
    elif record.state == State.AWAITING_LOGIN:
        waiting = t("<@{requester}> runs `/zstack login`.", requester=record.requester)
        blocks += [
            ContextBlock(elements=[md(t("{state}: {text}", state=label, text=waiting))]),
            ActionsBlock(block_id=f"parked:{record.id}", elements=[cancel_button(record, lang)]),
        ]
    elif record.state in (State.APPROVED, State.SUBMITTING, State.RUNNING):
        job = (
            fmt(" · {job} {uuid}", job=t("job"), uuid=code(record.job_uuid))
            if record.job_uuid
            else ""
        )
        by = _approved_by(record, t)
        line = fmt("{label}{job} · {by}", label=label, job=Mrkdwn(job), by=by)
        blocks.append(ContextBlock(elements=[md(line)]))
    elif record.state == State.SUCCEEDED:
        inventory = record.result
        created = t(
            "created *{name}* {uuid} in {took}.",
            name=truncate(one_line((inventory and inventory.name) or record.new_name), 200),
            uuid=code((inventory and inventory.uuid) or "?"),
            took=t.duration(record.elapsed_s() or 0),
        )
        line = t("{state}: {text}", state=label, text=created)
        blocks.append(SectionBlock(text=md(truncate(line, 2900))))
        blocks.append(ContextBlock(elements=[md(_approved_by(record, t))]))
    elif record.state == State.FAILED:
        error = failure_text(record, t.lang)
        if (root := _root_cause(record)) is not None:
            error = fmt("{error}\n{root}", error=error, root=t("Root cause: {root}", root=root))
        blocks.append(
            SectionBlock(text=md(truncate(t("{state}: {text}", state=label, text=error), 2900)))
        )
        if not record.superseded_by:
            retry = ButtonElement(text=t.plain("Retry"), action_id=ACTION_RETRY, value=record.id)
            actions = [retry, resubmit_button(record, lang)]
            blocks.append(ActionsBlock(block_id=f"retry:{record.id}", elements=actions))
    elif record.state == State.REJECTED:
        line = (
            t(
                "{state} by <@{who}>: {why}",
                state=label,
                who=record.decided_by,
                why=one_line(record.decision_reason),
            )
            if record.decision_reason
            else t("{state} by <@{who}>", state=label, who=record.decided_by)
        )
        blocks.append(ContextBlock(elements=[md(truncate(line, 2000))]))
    elif record.state == State.CANCELLED and record.superseded_by:
        blocks.append(ContextBlock(elements=[md(label)]))
    elif record.state == State.CANCELLED:
        line = t("{state} by <@{who}>", state=label, who=record.decided_by)
        blocks.append(ContextBlock(elements=[md(line)]))
    else:
        late = t("{state}: {text}", state=label, text=t("nobody decided in time"))
        blocks.append(ContextBlock(elements=[md(late)]))
    return blocks


def _change_blocks(record: CloneRequest, t: Translate) -> list[Block]:
    """What the clone sets differently from its source, with people's labels; the unchanged
    parameters are one click away in the thread."""
    if record.changes is None:
        return []
    lines = []
    for change in record.changes[:MAX_CHANGES_SHOWN]:
        spec = _BY_WIRE.get(change.wire)
        label = t(spec.card_label) if spec else escape(change.wire)
        lines.append(
            fmt(
                "• *{label}*: {before} → {after}",
                label=label,
                before=one_line(change.before) if change.before else "—",
                after=one_line(change.after or ""),
            )
        )
    if len(record.changes) > MAX_CHANGES_SHOWN:
        lines.append(t("… and {n} more", n=len(record.changes) - MAX_CHANGES_SHOWN))
    head = t("*What changes against the source*")
    text = fmt("{head}\n{lines}", head=head, lines=join("\n", lines)) if lines else head
    same = t("Everything else is as in the source; every parameter is in the thread.")
    return [
        SectionBlock(text=md(truncate(text, 2900))),
        ContextBlock(elements=[md(same)]),
    ]


def _check_blocks(record: CloneRequest, t: Translate) -> list[Block]:
    """The pre-flight checks, while the request waits for a decision."""
    if record.state != State.PENDING or not record.checks:
        return []
    name = truncate(one_line(record.new_name), 200)
    lines = []
    for check in record.checks:
        if check.kind == "name":
            lines.append(
                t(":white_check_mark: No model service is named *{name}* yet.", name=name)
                if check.ok
                else t(
                    ":warning: A model service named *{name}* already exists: this clone would "
                    "fail. Edit the request with another name.",
                    name=name,
                )
            )
        elif check.kind == "source":
            lines.append(
                t(":white_check_mark: The source still exists.")
                if check.ok
                else t(":warning: The source no longer exists, or the requester cannot see it.")
            )
        elif check.ok and check.until is not None:
            lines.append(
                t(
                    ":white_check_mark: <@{requester}>'s ZStack session is valid until {when}.",
                    requester=record.requester,
                    when=check.until,
                )
            )
        else:
            lines.append(
                t(
                    ":warning: <@{requester}> is not logged in to ZStack: the clone waits for "
                    "their login.",
                    requester=record.requester,
                )
            )
    text = fmt("{head}\n{lines}", head=t("*Pre-flight checks*"), lines=join("\n", lines))
    return [SectionBlock(text=md(truncate(text, 2900)))]


def _approved_by(record: CloneRequest, t: Translate) -> Mrkdwn:
    """Who approved and when, for a finished request."""
    if _auto_approved(record) and record.rule and record.approved_at:
        return t(
            "approved automatically by rule *{rule}* {when}",
            rule=record.rule.name,
            when=record.approved_at,
        )
    if record.approved_at is None:
        return t("approved by {who}", who=_voters(record))
    return t("approved by {who} {when}", who=_voters(record), when=record.approved_at)


def _auto_approved(record: CloneRequest) -> bool:
    return record.decided_by == "bot" and bool(record.rule and record.rule.auto_approve)


def _root_cause(record: CloneRequest) -> Mrkdwn | None:
    """The first line of the cause chain: what to fix, not only the top-level error."""
    if record.error is None:
        return None
    chain = [cause for depth, cause in record.error.chain_root_first() if depth > 0]
    if not chain:
        return None
    root = chain[0]
    text = one_line(root.details or root.description or "")
    return fmt("{code} {text}", code=code(root.code or "?"), text=truncate(text, 300))


def failure_text(record: CloneRequest, lang: str = "en") -> Mrkdwn:
    """Why the request failed, in ``lang``: what the bot found is translated, ZStack's own error
    stays as ZStack wrote it."""
    if record.failure is not None:
        return record.failure.msg().render(lang)
    if record.error is not None:
        return zstack_error(record.error, lang)
    t = tr(lang)
    return escape(record.error_text) if record.error_text else t("unknown error")


def zstack_error(error: ErrorCode, lang: str = "en") -> Mrkdwn:
    """ZStack's error in one line (``CODE description: details``), its words as ZStack wrote
    them, laid out in ``lang``."""
    t = tr(lang)
    head = " ".join(part for part in (error.code, error.description) if part)
    if head and error.details:
        return t("{error}: {details}", error=one_line(head), details=one_line(error.details))
    return escape(one_line(head or error.details or "")) or t("unknown error")


def request_names(record: CloneRequest) -> Mrkdwn:
    """``source → new-name``, escaped for mrkdwn."""
    return fmt(
        "{source} → {target}",
        source=truncate(one_line(record.source_name or record.source_uuid), 200),
        target=truncate(one_line(record.new_name), 200),
    )


def _quote(text: str) -> Mrkdwn:
    return Mrkdwn("\n".join(f">{line}" for line in escape(text).splitlines() or [""]))


def _voters(record: CloneRequest) -> Mrkdwn:
    """Who approved, each with the ZStack identity they proved (when the rule wanted it)."""
    if not record.approvals:
        return Mrkdwn("—")
    voters = []
    for user in record.approvals:
        account = record.approver_accounts.get(user)
        voters.append(
            fmt("{who} (ZStack {account})", who=mention(user), account=truncate(account, 80))
            if account
            else mention(user)
        )
    return join(", ", voters)


def card_fallback_text(record: CloneRequest, lang: str = "en") -> Mrkdwn:
    """Notification text (and what screen readers read) for the card."""
    t = tr(lang)
    return truncate(
        t(
            "Clone request {id} from <@{requester}>: {source} → {target} ({state})",
            id=record.id,
            requester=record.requester,
            source=one_line(record.source_name or record.source_uuid),
            target=one_line(record.new_name),
            state=state_name(record.state, lang),
        ),
        3000,
    )
