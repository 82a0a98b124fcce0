"""Short texts about requests for one person: where the card is, a request's state, a list."""

from __future__ import annotations

from bot.i18n import tr
from bot.requests import steps
from bot.requests.model import CloneRequest, State
from bot.ui.cards import failure_text, request_names, state_label
from bot.ui.text import (
    Mrkdwn,
    code,
    fmt,
    join,
    link,
    truncate,
)


def requester_notice(record: CloneRequest, permalink: str | None, lang: str = "en") -> Mrkdwn:
    t = tr(lang)
    # A link's label is plain: a channel mention inside it would show as raw markup.
    where = (
        link(permalink, t.plain("in the approval channel"))
        if permalink
        else t("in <#{channel}>", channel=record.channel)
    )
    return t(
        "Your clone request *{id}* ({names}) is waiting for approval {where}. "
        "Follow it there, or with `/clone-model status {id}`.",
        id=record.id,
        names=request_names(record),
        where=where,
    )


def status_text(record: CloneRequest, lang: str = "en") -> Mrkdwn:
    t = tr(lang)
    requested = t(
        "requested by <@{requester}> {when}",
        requester=record.requester,
        when=record.created_at,
    )
    lines = [
        fmt("*{id}*: {names}", id=record.id, names=request_names(record)),
        fmt("{state} · {requested}", state=state_label(record.state, lang), requested=requested),
    ]
    if record.card_link:
        lines.append(link(record.card_link, t.plain("Open the request's thread")))
    if record.supersedes:
        lines.append(t("Edited resubmission of {old}", old=record.supersedes))
    if record.superseded_by:
        lines.append(t("Replaced by {new}, its edited resubmission.", new=record.superseded_by))
    if record.state == State.PENDING:
        have, need = steps.progress(record)
        lines.append(
            t(
                "Approvals: {have}/{need} · expires {when}",
                have=have,
                need=need,
                when=record.expires_at,
            )
        )
    if record.job_uuid:
        lines.append(t("ZStack job: {job}", job=code(record.job_uuid)))
    if record.state == State.FAILED and (record.error_text or record.failure):
        lines.append(t("Error: {error}", error=truncate(failure_text(record, lang), 1000)))
    if record.state == State.SUCCEEDED and record.result:
        lines.append(t("Created {uuid}", uuid=code(record.result.uuid or "?")))
    return truncate(join("\n", lines), 3000)


def list_text(records: list[CloneRequest], lang: str = "en") -> Mrkdwn:
    t = tr(lang)
    if not records:
        return t("You have no clone requests yet. Start one with `/clone-model [source]`.")
    lines = [t("*Your recent clone requests*")]
    for record in records:
        line = fmt(
            "• *{id}* {names} — {state}",
            id=link(record.card_link, record.id) if record.card_link else record.id,
            names=request_names(record),
            state=state_label(record.state, lang),
        )
        lines.append(line)
    return truncate(join("\n", lines), 3000)
