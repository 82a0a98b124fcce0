"""``clone-bot audit``: every stored request's audit trail, for compliance reviews.

One record per request: who asked, who approved or rejected (the Slack user, and the ZStack
identity when the rule made approvers log in), each approval with its step and comment, the
rule's steps and how each went, the reminders sent and the fallback approvers added because
nobody decided, the rule it met and why, a break-glass override, the parameters as sent to
ZStack, the job, the outcome (the new service, or ZStack's error and its root cause), timestamps
and durations, and the request's audit entries. JSON Lines (one object a line) or CSV (flat
columns, ``CSV_COLUMNS``; the parameters, the entries, the steps and the votes as JSON cells).

Requests are found with a SCAN over their records (read-only; nothing to index) and read in
batches, one pipelined round trip each, and written as they come: in no particular order, in
constant memory. Every text is scrubbed as log lines are; sessions are never read.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import re
import sys
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time
from typing import Any, Literal, TextIO

from bot.config import Settings
from bot.errors import StoreUnavailable
from bot.logs import scrub, secrets
from bot.requests.model import CloneRequest, State
from bot.requests.rules import AppliedRule, AppliedStep
from bot.store.connection import connect_redis
from bot.store.requests import RequestStore
from bot.ui.cards import rule_conditions
from bot.ui.text import plain_text
from bot.zstack.models import ErrorCode

Format = Literal["jsonl", "csv"]
# Requests read per round trip.
BATCH = 200
# A spreadsheet runs a cell that starts like a formula: such text cells get a leading quote.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

# The audit notes of what the nudge schedule did (``bot.requests.nudges``); steps count from 1.
_REMINDED = re.compile(r"^reminder (\d+) \(step (\d+)\)$")
_ESCALATED = re.compile(r"^escalated to (.+?)(?: \(step (\d+)\))?$")
_SKIPPED = re.compile(r"^step (\d+) skipped$")

CSV_COLUMNS: tuple[str, ...] = (
    "id",
    "team",
    "state",
    "requester",
    "channel",
    "source_uuid",
    "source_name",
    "new_name",
    "reason",
    "rule",
    "rule_why",
    "approvals_required",
    "approved_by",
    "decision",
    "decided_by",
    "decided_by_zstack",
    "decision_reason",
    "override_by",
    "override_reason",
    "override_at",
    "job_uuid",
    "result_uuid",
    "result_name",
    "error_code",
    "root_cause_code",
    "root_cause",
    "error_text",
    "created_at",
    "approved_at",
    "submitted_at",
    "finished_at",
    "waiting_s",
    "cloning_s",
    "supersedes",
    "superseded_by",
    "params",
    "events",
    "steps",
    "step",
    "skipped",
    "reminders",
    "escalated_to",
    "votes",
)


def parse_since(text: str) -> datetime:
    """``2024-05-01`` (midnight UTC) or an ISO date-time (UTC when it names no offset)."""
    text = text.strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = datetime.combine(date.fromisoformat(text), time())
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def audit_entry(record: CloneRequest, history: list[dict[str, str]]) -> dict[str, Any]:
    """One request's audit record (JSON-ready)."""
    rule = record.rule
    override = record.override
    return {
        "id": record.id,
        "team": record.team_id,
        "state": record.state.value,
        "requester": record.requester,
        "channel": record.origin_channel,
        "card_channel": record.channel,
        "source": {"uuid": record.source_uuid, "name": record.source_name},
        "new_name": record.new_name,
        "reason": record.reason,
        "rule": None
        if rule is None
        else {
            "name": rule.name,
            "why": [plain_text(text) for text in rule_conditions(rule)],
            "approver_login": rule.approver_login,
            "auto_approve": rule.auto_approve,
            "approval_comment": rule.approval_comment,
        },
        "approvals_required": record.approvals_required,
        "approved_by": [_identity(record, user) for user in record.approvals],
        "votes": _votes(record),
        **_steps(record, history),
        "decision": _decision(record),
        "decided_by": _identity(record, record.decided_by) if record.decided_by else None,
        "decision_reason": record.decision_reason,
        "override": None
        if override is None
        else {
            **_identity(record, override.by),
            "reason": override.reason,
            "at": override.at.isoformat(),
        },
        "params": record.body.to_wire(),
        "job_uuid": record.job_uuid,
        "result": None
        if record.result is None
        else {"uuid": record.result.uuid, "name": record.result.name},
        "error": None if record.error is None else _error(record.error),
        "error_text": record.error_text,
        "created_at": record.created_at.isoformat(),
        "approved_at": _iso(record.approved_at),
        "submitted_at": _iso(record.submitted_at),
        "finished_at": _iso(record.finished_at),
        "waiting_s": _waiting_s(record, history),
        "cloning_s": _cloning_s(record),
        "attempts": record.attempts,
        "supersedes": record.supersedes,
        "superseded_by": record.superseded_by,
        "events": [_event(record, entry) for entry in history],
    }


def _identity(record: CloneRequest, user: str) -> dict[str, str | None]:
    """A Slack user and, when they logged in to approve, their ZStack ``account/user``."""
    return {"slack": user, "zstack": record.approver_accounts.get(user)}


def _votes(record: CloneRequest) -> list[dict[str, Any]]:
    """Each approval counted: who (and their ZStack identity), in which step (from 1), when,
    and what they wrote with it. A request stored before votes has its approvals, in step 1,
    at a time not known."""
    if not record.votes:
        return [
            {**_identity(record, user), "step": 1, "at": None, "comment": None}
            for user in record.approvals
            if record.override is None or user != record.override.by
        ]
    return [
        {
            **_identity(record, vote.user),
            "step": vote.step + 1,
            "at": vote.at.isoformat(),
            "comment": vote.comment,
        }
        for vote in record.votes
    ]


def _steps(record: CloneRequest, history: list[dict[str, str]]) -> dict[str, Any]:
    """The rule's steps and how each went (its approvers, what it needed, the approvals given
    in it, the reminders sent and the fallback approvers added there, whether it was
    skipped), the step the request stands at (or ended in), and the totals. The audit notes
    count what happened in earlier steps; the record, the current one (its notes may have
    aged out of the capped audit list)."""
    rule = record.rule or AppliedRule()
    # A request made before rules kept none (the settings of the time applied): no steps.
    counted = record.rule is not None and not (rule.deny or rule.auto_approve)
    stages: list[AppliedStep] = rule.stages() if counted else []
    reminders: dict[int, int] = {}
    escalated: dict[int, list[str]] = {}
    skipped = {index + 1 for index in record.skipped}
    for entry in history:
        note = entry.get("note", "")
        if found := _REMINDED.match(note):
            count, step = int(found.group(1)), int(found.group(2))
            reminders[step] = max(reminders.get(step, 0), count)
        elif found := _ESCALATED.match(note):
            # A long list is cut short in the note (and its step with it): the rule names
            # them all, and the step is taken to be the current one.
            listed = [p.strip() for p in found.group(1).split(",") if p.strip()]
            step = int(found.group(2)) if found.group(2) else record.step + 1
            whole = found.group(2) is not None and not note.endswith("…")
            escalated[step] = listed if whole else list(rule.escalate_to) or listed
        elif found := _SKIPPED.match(note):
            skipped.add(int(found.group(1)))
    now = record.step + 1
    if record.reminders:
        reminders[now] = max(reminders.get(now, 0), record.reminders)
    if record.escalated:
        escalated[now] = list(record.escalated)
    votes = _votes(record)
    steps = [
        {
            "step": number,
            "name": step.name,
            "approvers": step.approvers,
            "need": "all" if step.needs_all else step.need,
            "skip_after_s": step.skip_after_s,
            "outcome": _outcome(record, number, skipped),
            "approved_by": [vote["slack"] for vote in votes if vote["step"] == number],
            "reminders": reminders.get(number, 0),
            "escalated_to": escalated.get(number, []),
        }
        for number, step in enumerate(stages, 1)
    ]
    added = [who for number in sorted(escalated) for who in escalated[number]]
    return {
        "steps": steps,
        "step": now if stages else None,
        "skipped": sorted(skipped),
        "reminders": sum(reminders.values()),
        "escalated_to": list(dict.fromkeys(added)),
    }


def _outcome(record: CloneRequest, number: int, skipped: set[int]) -> str:
    """How step ``number`` went: ``approved``, ``skipped``, ``waiting`` (the request waits in
    it), ``undecided`` (the request ended in it otherwise: rejected, expired, cancelled, or a
    break-glass override) or ``not_reached``."""
    if number in skipped:
        return "skipped"
    now = record.step + 1
    if number < now:
        return "approved"
    if number > now:
        return "not_reached"
    if record.state == State.PENDING:
        return "waiting"
    if _decision(record) == "approved":
        return "approved"
    return "undecided"


def _decision(record: CloneRequest) -> str | None:
    """What became of the request's approval: approved (by people, a rule, or an override),
    rejected, cancelled, superseded, expired; None while it waits."""
    if record.state == State.PENDING:
        return None
    if record.state == State.REJECTED:
        return "rejected"
    if record.state == State.EXPIRED:
        return "expired"
    if record.state == State.CANCELLED:
        return "superseded" if record.superseded_by else "cancelled"
    if record.override is not None:
        return "override"
    if record.decided_by == "bot" and record.rule is not None and record.rule.auto_approve:
        return "auto_approved"
    return "approved"


def _error(error: ErrorCode) -> dict[str, str | None]:
    """ZStack's error: its code and description, and the root of its cause chain."""
    causes = [cause for depth, cause in error.chain_root_first() if depth > 0]
    root = causes[0] if causes else error
    return {
        "code": error.code,
        "description": error.description,
        "details": error.details,
        "root_cause_code": root.code,
        "root_cause": root.details or root.description,
    }


def _event(record: CloneRequest, entry: dict[str, str]) -> dict[str, str | None]:
    by = entry.get("by", "")
    return {
        "at": entry.get("at", ""),
        "from": entry.get("from") or None,
        "to": entry.get("to", ""),
        "by": by,
        "by_zstack": record.approver_accounts.get(by),
        "note": entry.get("note", ""),
        "job": entry.get("job") or None,
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _waiting_s(record: CloneRequest, history: list[dict[str, str]]) -> float | None:
    """Seconds from the request to its decision (the first step out of ``pending``)."""
    decided = next(
        (e["at"] for e in history if e.get("from") == "pending" and e.get("to") != "pending"),
        None,
    )
    if decided is not None:
        try:
            return _seconds(record.created_at, datetime.fromisoformat(decided))
        except ValueError:
            pass
    if record.state == State.PENDING:
        return None
    end = record.approved_at or record.finished_at
    return _seconds(record.created_at, end) if end else None


def _cloning_s(record: CloneRequest) -> float | None:
    """Seconds from the (last) approval to the clone's end, as the card and the metric count."""
    if record.state not in (State.SUCCEEDED, State.FAILED) or record.approved_at is None:
        return None
    elapsed = record.elapsed_s()
    return None if elapsed is None else round(elapsed, 3)


def _seconds(start: datetime, end: datetime) -> float:
    return round((end - start).total_seconds(), 3)


# --- output --------------------------------------------------------------------------------


def _scrubbed(value: Any) -> Any:
    """``value`` with every text passed through the log scrubber (before it is serialised)."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {key: _scrubbed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrubbed(item) for item in value]
    return value


def csv_row(entry: dict[str, Any]) -> list[str]:
    """The flat CSV columns (``CSV_COLUMNS``) of an audit record."""
    rule = entry["rule"] or {}
    override = entry["override"] or {}
    error = entry["error"] or {}
    result = entry["result"] or {}
    decided = entry["decided_by"] or {}
    approved = [
        f"{who['slack']} ({who['zstack']})" if who["zstack"] else who["slack"]
        for who in entry["approved_by"]
    ]
    values: dict[str, Any] = {
        **entry,
        "source_uuid": entry["source"]["uuid"],
        "source_name": entry["source"]["name"],
        "rule": rule.get("name"),
        "rule_why": ", ".join(rule.get("why", [])),
        "approved_by": "; ".join(approved),
        "decided_by": decided.get("slack"),
        "decided_by_zstack": decided.get("zstack"),
        "override_by": override.get("slack"),
        "override_reason": override.get("reason"),
        "override_at": override.get("at"),
        "result_uuid": result.get("uuid"),
        "result_name": result.get("name"),
        "error_code": error.get("code"),
        "root_cause_code": error.get("root_cause_code"),
        "root_cause": error.get("root_cause"),
        "params": json.dumps(entry["params"], ensure_ascii=False, sort_keys=True),
        "events": json.dumps(entry["events"], ensure_ascii=False),
        "steps": json.dumps(entry["steps"], ensure_ascii=False) if entry["steps"] else None,
        "skipped": "; ".join(str(number) for number in entry["skipped"]),
        "escalated_to": "; ".join(entry["escalated_to"]),
        "votes": json.dumps(entry["votes"], ensure_ascii=False) if entry["votes"] else None,
    }
    return [_cell(values.get(column)) for column in CSV_COLUMNS]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = str(value)
    if isinstance(value, str) and text.startswith(_FORMULA_START):
        return "'" + text
    return text


async def audit_entries(
    store: RequestStore, *, since: datetime | None = None, batch: int = BATCH
) -> AsyncIterator[dict[str, Any]]:
    """Every stored request's audit record (scrubbed), created at or after ``since``."""
    pending: list[str] = []

    async def flush() -> list[dict[str, Any]]:
        found = await store.with_history(pending)
        pending.clear()
        return [
            _scrubbed(audit_entry(record, history))
            for record, history in found
            if since is None or record.created_at >= since
        ]

    async for request_id in store.all_ids(batch):
        pending.append(request_id)
        if len(pending) >= batch:
            for entry in await flush():
                yield entry
    if pending:
        for entry in await flush():
            yield entry


async def export(
    store: RequestStore, out: TextIO, *, fmt: Format = "jsonl", since: datetime | None = None
) -> int:
    """Write the audit records to ``out`` as they are read; how many."""
    writer = csv.writer(out, lineterminator="\n")
    if fmt == "csv":
        writer.writerow(CSV_COLUMNS)
    count = 0
    async for entry in audit_entries(store, since=since):
        if fmt == "csv":
            writer.writerow(csv_row(entry))
        else:
            out.write(json.dumps(entry, ensure_ascii=False) + "\n")
        count += 1
        if count % BATCH == 0:
            out.flush()
    out.flush()
    return count


def run_audit_command(
    settings: Settings, *, since: datetime | None = None, fmt: Format = "jsonl"
) -> int:
    """``clone-bot audit``: the export on stdout; 1 when Redis fails (one line on stderr)."""
    for secret in (settings.slack_bot_token, settings.slack_signing_secret, settings.session_key):
        if secret is not None:
            secrets.add(secret.get_secret_value())
    try:
        count = asyncio.run(_export(settings, sys.stdout, fmt=fmt, since=since))
    except StoreUnavailable as exc:
        print(f"clone-bot: audit: {scrub(str(exc))}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader stopped early (``| head``): not an error. Point stdout at /dev/null so the
        # interpreter's last flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    print(f"clone-bot: audit: {count} request(s) exported", file=sys.stderr)
    return 0


async def _export(settings: Settings, out: TextIO, *, fmt: Format, since: datetime | None) -> int:
    async with await connect_redis(settings) as handle:
        return await export(RequestStore(handle), out, fmt=fmt, since=since)
