"""``clone-bot audit``: the export of every request's trail, on requests made and moved through
real transitions in a real Redis (and a real three-master cluster)."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.cli import main
from bot.config import Settings
from bot.requests.audit import CSV_COLUMNS, audit_entries, parse_since
from bot.requests.lifecycle import Event
from bot.requests.model import CloneRequest, Override, State, Vote
from bot.requests.rules import AppliedRule, AppliedStep, Because
from bot.store.connection import connect_redis
from bot.store.handle import RedisHandle
from bot.store.requests import RequestStore
from bot.zstack.models import CloneParams, CloneRequestBody, ErrorCode, ModelServiceInventory
from tests.fixtures.redis_server import ClusterInfo, free_port
from tests.support.records import record_in

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
JOB = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
NEW_SERVICE = "aa11bb22cc33dd44ee55ff6677889900"
SESSION_UUID = "5e55105e55105e55105e55105e55105e"
BOT_TOKEN = "xoxb-1111-2222-audit-secret"
LARGE = AppliedRule(
    name="large",
    because=[Because(kind="cpu", value=16, op=">=", bound=8), Because(kind="gpu", value=True)],
    approvers=["S0LEADS"],
    approvals=2,
    approver_login=True,
)


class Clock:
    """The store's clock: audit entries are stamped with it; tests move it."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def at(self, minutes: float) -> datetime:
        self.now = T0 + timedelta(minutes=minutes)
        return self.now


async def create(
    store: RequestStore, created: datetime, *, reason: str = "eval", **fields: Any
) -> CloneRequest:
    def build(request_id: str) -> CloneRequest:
        body = CloneRequestBody(
            params=CloneParams(name="llama-copy", request_cpu=16, gpu_compute_capability="8.0"),
            system_tags=["tag::x"],
        )
        return record_in(
            State.PENDING,
            request_id,
            requester="U0REQ",
            origin_channel="C0GENERAL",
            source_name="llama",
            body=body,
            reason=reason,
            created_at=created,
            updated_at=created,
            **fields,
        )

    return await store.create(build)


async def move(
    store: RequestStore,
    record: CloneRequest,
    event: Event,
    actor: str,
    note: str | None = None,
    **update: Any,
) -> CloneRequest:
    """One real transition along the lifecycle, with ``update`` applied to the record (and the
    audit note the bot writes for it; the event's name by default)."""

    def change(current: CloneRequest) -> CloneRequest:
        return current.model_copy(update=update)

    outcome = await store.transition(
        record.id, event, change, actor=actor, note=event.value if note is None else note
    )
    assert outcome.changed, (record.id, event)
    return outcome.record


async def succeeded(store: RequestStore, clock: Clock) -> CloneRequest:
    """Two approvers with their ZStack identities, then the job and the new service."""
    record = await create(store, clock.at(0), rule=LARGE, approvals_required=2)
    accounts = {"U0ADA": "alice/ada"}
    clock.at(5)
    record = await move(
        store, record, Event.VOTE, "U0ADA", approvals=["U0ADA"], approver_accounts=accounts
    )
    accounts = {**accounts, "U0BOB": "alice"}
    record = await move(
        store,
        record,
        Event.APPROVE,
        "U0BOB",
        state=State.APPROVED,
        approvals=["U0ADA", "U0BOB"],
        approver_accounts=accounts,
        decided_by="U0BOB",
        approved_at=clock.at(12),
    )
    record = await move(
        store,
        record,
        Event.SUBMIT,
        "bot",
        state=State.SUBMITTING,
        job_uuid=JOB,
        submitted_at=clock.at(12.5),
    )
    record = await move(store, record, Event.ACCEPT, "bot", state=State.RUNNING)
    inventory = ModelServiceInventory(uuid=NEW_SERVICE, name="llama-copy")
    return await move(
        store,
        record,
        Event.SUCCEED,
        "bot",
        state=State.SUCCEEDED,
        result=inventory,
        finished_at=clock.at(15),
    )


async def failed(store: RequestStore, clock: Clock) -> CloneRequest:
    """Approved by break-glass, then ZStack's error with a cause chain."""
    record = await create(store, clock.at(60))
    record = await move(
        store,
        record,
        Event.APPROVE,
        "U0ONCALL",
        state=State.APPROVED,
        approvals=["U0ONCALL"],
        decided_by="U0ONCALL",
        approved_at=clock.at(61),
        override=Override(by="U0ONCALL", reason="outage, service down", at=clock.now),
    )
    record = await move(store, record, Event.SUBMIT, "bot", state=State.SUBMITTING, job_uuid=JOB)
    error = ErrorCode(
        code="SYS.1006",
        description="An operation failed",
        details=f"see sessions/{SESSION_UUID}",
        cause=ErrorCode(code="AI.1003", details="no GPU host with compute capability 8.0"),
    )
    return await move(
        store,
        record,
        Event.FAIL,
        "bot",
        state=State.FAILED,
        error=error,
        error_text="SYS.1006 An operation failed",
        finished_at=clock.at(63),
    )


async def rejected(store: RequestStore, clock: Clock, created: datetime) -> CloneRequest:
    record = await create(store, created, reason='=HYPERLINK("http://x")')
    clock.now = created + timedelta(minutes=30)
    return await move(
        store,
        record,
        Event.REJECT,
        "U0ADA",
        state=State.REJECTED,
        decided_by="U0ADA",
        decision_reason="use the small flavour",
        finished_at=clock.now,
    )


@pytest.fixture
async def trail(redis_handle: RedisHandle) -> dict[str, CloneRequest]:
    """Four requests: succeeded, failed, rejected (a week later) and one still pending."""
    clock = Clock()
    store = RequestStore(redis_handle, clock=clock)
    made = {
        "succeeded": await succeeded(store, clock),
        "failed": await failed(store, clock),
        "rejected": await rejected(store, clock, T0 + timedelta(days=7)),
        "pending": await create(store, T0 + timedelta(days=8), reason=f"token {BOT_TOKEN}"),
    }
    # A session key beside them: the export never reads it.
    await redis_handle.client.set(f"{redis_handle.prefix}{{sess:T1:U0REQ}}:session", SESSION_UUID)
    return made


async def audit(
    monkeypatch: pytest.MonkeyPatch, redis_url: str, *args: str
) -> tuple[int, str, str]:
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    capture = _Capture()
    code = await asyncio.to_thread(capture.run, ["audit", *args])
    return code, capture.out, capture.err


class _Capture:
    """stdout / stderr of ``main`` run in a thread (capsys is bound to the test's thread)."""

    out = ""
    err = ""

    def run(self, argv: list[str]) -> int:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
        self.out, self.err = out.getvalue(), err.getvalue()
        return code


def by_id(lines: str) -> dict[str, dict[str, Any]]:
    records = [json.loads(line) for line in lines.splitlines()]
    return {r["id"]: r for r in records}


async def test_jsonl_is_one_record_per_request_with_its_trail(
    trail: dict[str, CloneRequest], monkeypatch: pytest.MonkeyPatch, redis_url: str
) -> None:
    code, out, err = await audit(monkeypatch, redis_url)
    assert code == 0 and err == "clone-bot: audit: 4 request(s) exported\n"
    records = by_id(out)
    assert set(records) == {r.id for r in trail.values()}

    done = records[trail["succeeded"].id]
    assert done["state"] == "succeeded" and done["decision"] == "approved"
    assert (done["requester"], done["channel"]) == ("U0REQ", "C0GENERAL")
    assert done["rule"] == {
        "name": "large",
        "why": ["16 vCPU ≥ 8", "a GPU spec"],
        "approver_login": True,
        "auto_approve": False,
        "approval_comment": False,
    }
    # A rule without steps is one step: its approvers and quorum.
    assert [(s["approvers"], s["need"], s["outcome"]) for s in done["steps"]] == [
        (["S0LEADS"], 2, "approved")
    ]
    assert (done["step"], done["reminders"], done["escalated_to"]) == (1, 0, [])
    assert done["approved_by"] == [
        {"slack": "U0ADA", "zstack": "alice/ada"},
        {"slack": "U0BOB", "zstack": "alice"},
    ]
    assert done["decided_by"] == {"slack": "U0BOB", "zstack": "alice"}
    assert done["params"] == {
        "params": {"name": "llama-copy", "requestCpu": 16, "gpuComputeCapability": "8.0"},
        "systemTags": ["tag::x"],
    }
    assert done["job_uuid"] == JOB
    assert done["result"] == {"uuid": NEW_SERVICE, "name": "llama-copy"}
    assert done["error"] is None and done["override"] is None
    assert done["created_at"] == T0.isoformat()
    assert (done["waiting_s"], done["cloning_s"]) == (720.0, 180.0)  # 12 min, then 3 min
    events = [(e["from"], e["to"], e["by"], e["by_zstack"], e["note"]) for e in done["events"]]
    assert events == [
        (None, "pending", "U0REQ", None, "created"),
        ("pending", "pending", "U0ADA", "alice/ada", "vote"),
        ("pending", "approved", "U0BOB", "alice", "approve"),
        ("approved", "submitting", "bot", None, "submit"),
        ("submitting", "running", "bot", None, "accept"),
        ("running", "succeeded", "bot", None, "succeed"),
    ]
    assert done["events"][2]["at"] == (T0 + timedelta(minutes=12)).isoformat()
    assert done["events"][3]["job"] == JOB

    broke = records[trail["failed"].id]
    assert broke["decision"] == "override"
    assert broke["override"] == {
        "slack": "U0ONCALL",
        "zstack": None,
        "reason": "outage, service down",
        "at": (T0 + timedelta(minutes=61)).isoformat(),
    }
    assert broke["error"]["code"] == "SYS.1006"
    assert broke["error"]["root_cause_code"] == "AI.1003"
    assert broke["error"]["root_cause"] == "no GPU host with compute capability 8.0"
    assert broke["cloning_s"] == 120.0

    no = records[trail["rejected"].id]
    assert no["decision"] == "rejected" and no["decided_by"] == {"slack": "U0ADA", "zstack": None}
    assert no["decision_reason"] == "use the small flavour"
    assert (no["waiting_s"], no["cloning_s"], no["job_uuid"]) == (1800.0, None, None)

    waiting = records[trail["pending"].id]
    assert waiting["decision"] is None and waiting["waiting_s"] is None


async def test_no_session_uuid_or_secret_is_printed(
    trail: dict[str, CloneRequest], monkeypatch: pytest.MonkeyPatch, redis_url: str
) -> None:
    for fmt in ("jsonl", "csv"):
        code, out, _ = await audit(monkeypatch, redis_url, "--format", fmt)
        assert code == 0
        assert SESSION_UUID not in out and BOT_TOKEN not in out
        # The reason and ZStack's text are kept, the token and the session in them are not.
        assert "token [redacted]" in out
        assert fmt == "csv" or "see sessions/[redacted]" in out


async def test_csv_has_flat_columns_and_the_events_as_json(
    trail: dict[str, CloneRequest], monkeypatch: pytest.MonkeyPatch, redis_url: str
) -> None:
    code, out, _ = await audit(monkeypatch, redis_url, "--format", "csv")
    assert code == 0
    reader = csv.DictReader(io.StringIO(out))
    assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
    rows = {row["id"]: row for row in reader}
    assert len(rows) == 4
    done = rows[trail["succeeded"].id]
    assert done["approved_by"] == "U0ADA (alice/ada); U0BOB (alice)"
    assert (done["decided_by"], done["decided_by_zstack"]) == ("U0BOB", "alice")
    assert (done["rule"], done["rule_why"]) == ("large", "16 vCPU ≥ 8, a GPU spec")
    assert (done["job_uuid"], done["result_uuid"], done["result_name"]) == (
        JOB,
        NEW_SERVICE,
        "llama-copy",
    )
    assert (done["waiting_s"], done["cloning_s"]) == ("720.0", "180.0")
    assert json.loads(done["params"])["params"]["requestCpu"] == 16
    assert [e["to"] for e in json.loads(done["events"])][-1] == "succeeded"
    broke = rows[trail["failed"].id]
    assert (broke["override_by"], broke["override_reason"]) == ("U0ONCALL", "outage, service down")
    assert (broke["error_code"], broke["root_cause_code"]) == ("SYS.1006", "AI.1003")
    no = rows[trail["rejected"].id]
    # A reason that a spreadsheet would run as a formula is kept as text.
    assert no["reason"] == '\'=HYPERLINK("http://x")'
    assert (no["decided_by"], no["decision_reason"]) == ("U0ADA", "use the small flavour")
    assert rows[trail["pending"].id]["decision"] == ""


async def test_since_keeps_the_requests_created_from_then(
    trail: dict[str, CloneRequest], monkeypatch: pytest.MonkeyPatch, redis_url: str
) -> None:
    code, out, _ = await audit(monkeypatch, redis_url, "--since", "2024-03-08")
    assert code == 0
    assert set(by_id(out)) == {trail["rejected"].id, trail["pending"].id}
    # A date-time with an offset: 2024-03-01 09:30 UTC, after the first request only.
    code, out, _ = await audit(monkeypatch, redis_url, "--since", "2024-03-01T10:30:00+01:00")
    assert set(by_id(out)) == {trail["failed"].id, trail["rejected"].id, trail["pending"].id}
    code, out, _ = await audit(monkeypatch, redis_url, "--since", "2024-04-01", "--format", "csv")
    assert out.splitlines() == [",".join(CSV_COLUMNS)]


async def test_a_date_that_is_not_iso_is_refused(
    monkeypatch: pytest.MonkeyPatch, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["audit", "--since", "last tuesday"])
    assert exited.value.code == 2
    assert "'last tuesday' is not an ISO date or date-time" in capsys.readouterr().err


def test_since_dates() -> None:
    assert parse_since("2024-05-01") == datetime(2024, 5, 1, tzinfo=UTC)
    assert parse_since("2024-05-01T09:30") == datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
    moment = parse_since("2024-05-01T09:30:00+02:00")
    assert moment == datetime(2024, 5, 1, 7, 30, tzinfo=UTC)


async def test_many_requests_are_read_in_batches(redis_handle: RedisHandle) -> None:
    store = RequestStore(redis_handle)
    made = {(await create(store, T0 + timedelta(seconds=n))).id for n in range(450)}
    seen = [entry["id"] async for entry in audit_entries(store, batch=100)]
    assert sorted(seen) == sorted(made)
    since = T0 + timedelta(seconds=400)
    later = [entry["id"] async for entry in audit_entries(store, since=since, batch=100)]
    assert len(later) == 50


async def test_every_node_of_a_cluster_is_read(redis_cluster3: ClusterInfo) -> None:
    handle = await connect_redis(Settings(redis_url=redis_cluster3.url))
    try:
        store = RequestStore(handle)
        made = {(await create(store, T0)).id for _ in range(40)}
        seen = [entry["id"] async for entry in audit_entries(store, batch=7)]
    finally:
        await handle.aclose()
    assert sorted(seen) == sorted(made)


async def test_redis_down_is_one_line_and_exit_1(monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = await audit(monkeypatch, f"redis://127.0.0.1:{free_port()}/0")
    assert (code, out) == (1, "")
    assert len(err.splitlines()) == 1 and err.startswith("clone-bot: audit: ")
    assert "cannot be reached" in err


async def test_only_the_configured_prefix_is_read(
    redis_url: str, redis_handle: RedisHandle
) -> None:
    # Requests under another prefix (one with glob characters too) are not this export's.
    other = await connect_redis(Settings(redis_url=redis_url, key_prefix="teamX:"))
    odd = await connect_redis(Settings(redis_url=redis_url, key_prefix="team?*:"))
    try:
        ours = {(await create(RequestStore(redis_handle), T0)).id}
        theirs = {(await create(RequestStore(other), T0)).id}
        strange = {(await create(RequestStore(odd), T0)).id}
        found = {
            name: {entry["id"] async for entry in audit_entries(RequestStore(handle))}
            for name, handle in (("ours", redis_handle), ("theirs", other), ("odd", odd))
        }
    finally:
        await other.aclose()
        await odd.aclose()
    assert found == {"ours": ours, "theirs": theirs, "odd": strange}


STEPPED = AppliedRule(
    name="stepped",
    steps=[
        AppliedStep(name="leads", approvers=["S0LEADS"], need=1, skip_after_s=7200),
        AppliedStep(name="owners", approvers=["U0OWN1", "U0OWN2"], need=0),
    ],
    remind_after_s=1800,
    remind_every_s=1800,
    remind_max=3,
    escalate_after_s=3600,
    escalate_to=["S0ONCALL"],
    approval_comment=True,
)


async def nudged(store: RequestStore, clock: Clock) -> CloneRequest:
    """A two-step request, as the nudge schedule and the votes move it (with the audit notes
    they write): reminded and escalated in step 1, which is skipped; reminded twice in step 2,
    approved there by both owners, each with a comment."""
    record = await create(store, clock.at(0), rule=STEPPED)
    record = await move(
        store,
        record,
        Event.REMIND,
        "bot",
        "reminder 1 (step 1)",
        reminders=1,
        updated_at=clock.at(30),
    )
    record = await move(
        store,
        record,
        Event.ESCALATE,
        "bot",
        "escalated to S0ONCALL (step 1)",
        escalated=["S0ONCALL"],
    )
    clock.at(120)
    record = await move(
        store,
        record,
        Event.SKIP,
        "bot",
        "step 1 skipped",
        step=1,
        step_started_at=clock.now,
        skipped=[0],
        reminders=0,
        escalated=[],
    )
    for count in (1, 2):
        clock.at(120 + 30 * count)
        record = await move(
            store, record, Event.REMIND, "bot", f"reminder {count} (step 2)", reminders=count
        )
    first = Vote(user="U0OWN1", step=1, at=clock.at(190), comment="quota checked")
    record = await move(
        store,
        record,
        Event.VOTE,
        "U0OWN1",
        "approve: quota checked",
        approvals=["U0OWN1"],
        votes=[first],
    )
    second = Vote(user="U0OWN2", step=1, at=clock.at(200), comment='=CMD("x")')
    return await move(
        store,
        record,
        Event.APPROVE,
        "U0OWN2",
        'approve: =CMD("x")',
        state=State.APPROVED,
        approvals=["U0OWN1", "U0OWN2"],
        votes=[first, second],
        decided_by="U0OWN2",
        decision_reason='=CMD("x")',
        approved_at=clock.now,
    )


async def test_steps_votes_reminders_and_escalations_are_in_the_export(
    redis_handle: RedisHandle, monkeypatch: pytest.MonkeyPatch, redis_url: str
) -> None:
    clock = Clock()
    store = RequestStore(redis_handle, clock=clock)
    done = await nudged(store, clock)
    # Waiting in step 1, escalated there; the notes of its reminders are not in the trail (the
    # capped audit list dropped them): the record still counts them.
    waiting = await create(store, clock.at(300), rule=STEPPED)
    waiting = await move(
        store,
        waiting,
        Event.ESCALATE,
        "bot",
        "escalated to " + ", ".join(f"U0X{n:03}" for n in range(40))[:285] + "…",
        escalated=["S0ONCALL"],
        reminders=2,
    )
    # Stored before rules and votes: its approval counts in step 1, at a time not known.
    legacy = await create(store, clock.at(400))
    legacy = await move(
        store,
        legacy,
        Event.APPROVE,
        "U0ADA",
        state=State.APPROVED,
        approvals=["U0ADA"],
        decided_by="U0ADA",
        approved_at=clock.at(401),
    )

    code, out, _ = await audit(monkeypatch, redis_url)
    assert code == 0
    records = by_id(out)
    two = records[done.id]
    assert two["rule"]["approval_comment"] is True
    assert two["votes"] == [
        {
            "slack": "U0OWN1",
            "zstack": None,
            "step": 2,
            "at": (T0 + timedelta(minutes=190)).isoformat(),
            "comment": "quota checked",
        },
        {
            "slack": "U0OWN2",
            "zstack": None,
            "step": 2,
            "at": (T0 + timedelta(minutes=200)).isoformat(),
            "comment": '=CMD("x")',
        },
    ]
    assert two["steps"] == [
        {
            "step": 1,
            "name": "leads",
            "approvers": ["S0LEADS"],
            "need": 1,
            "skip_after_s": 7200,
            "outcome": "skipped",
            "approved_by": [],
            "reminders": 1,
            "escalated_to": ["S0ONCALL"],
        },
        {
            "step": 2,
            "name": "owners",
            "approvers": ["U0OWN1", "U0OWN2"],
            "need": "all",
            "skip_after_s": None,
            "outcome": "approved",
            "approved_by": ["U0OWN1", "U0OWN2"],
            "reminders": 2,
            "escalated_to": [],
        },
    ]
    assert (two["step"], two["skipped"], two["reminders"], two["escalated_to"]) == (
        2,
        [1],
        3,
        ["S0ONCALL"],
    )
    assert two["decision"] == "approved" and two["decision_reason"] == '=CMD("x")'
    notes = [e["note"] for e in two["events"] if e["by"] == "bot"]
    assert notes == [
        "reminder 1 (step 1)",
        "escalated to S0ONCALL (step 1)",
        "step 1 skipped",
        "reminder 1 (step 2)",
        "reminder 2 (step 2)",
    ]

    still = records[waiting.id]
    assert [s["outcome"] for s in still["steps"]] == ["waiting", "not_reached"]
    # The note was cut short: the rule's list stands in for it, in the step the request is at.
    assert still["steps"][0]["escalated_to"] == ["S0ONCALL"]
    assert (still["step"], still["reminders"], still["escalated_to"]) == (1, 2, ["S0ONCALL"])

    old = records[legacy.id]
    assert old["votes"] == [
        {"slack": "U0ADA", "zstack": None, "step": 1, "at": None, "comment": None}
    ]
    assert (old["steps"], old["step"], old["skipped"], old["reminders"]) == ([], None, [], 0)

    code, out, _ = await audit(monkeypatch, redis_url, "--format", "csv")
    rows = {row["id"]: row for row in csv.DictReader(io.StringIO(out))}
    row = rows[done.id]
    assert (row["step"], row["skipped"], row["reminders"], row["escalated_to"]) == (
        "2",
        "1",
        "3",
        "S0ONCALL",
    )
    assert [s["outcome"] for s in json.loads(row["steps"])] == ["skipped", "approved"]
    votes = json.loads(row["votes"])
    assert [(v["slack"], v["step"], v["comment"]) for v in votes] == [
        ("U0OWN1", 2, "quota checked"),
        ("U0OWN2", 2, '=CMD("x")'),
    ]
    # A comment that looks like a formula stays text where it is a cell of its own.
    assert row["decision_reason"] == '\'=CMD("x")'
    legacy_row = rows[legacy.id]
    assert (legacy_row["steps"], legacy_row["step"], legacy_row["reminders"]) == ("", "", "0")
    assert json.loads(legacy_row["votes"])[0]["at"] is None
    assert rows[waiting.id]["escalated_to"] == "S0ONCALL"
