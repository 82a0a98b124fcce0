"""Ordered approval steps, reminders, escalation and skipped steps as pure functions of the rule,
the record and the time (``bot.requests.steps``), and how the policy file and the settings
describe them (``bot.requests.rules``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.errors import ConfigError
from bot.requests import steps
from bot.requests.model import CloneRequest, State, Vote
from bot.requests.rules import AppliedRule, AppliedStep, Facts, Rules, default_rule, load_policy
from tests.support.records import record_in

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
LEADS = "S0LEADS"
OWNER_A, OWNER_B, FALLBACK = "U0OWNA", "U0OWNB", "U0FALL"


def waiting(**fields: Any) -> CloneRequest:
    """A pending request made at ``T0``, expiring a day later; ``fields`` override."""
    values: dict[str, Any] = {
        "created_at": T0,
        "updated_at": T0,
        "expires_at": T0 + timedelta(days=1),
    }
    state = fields.pop("state", State.PENDING)
    return record_in(state, "CR-0000A1", **{**values, **fields})


def vote(user: str, step: int = 0, comment: str | None = None) -> Vote:
    return Vote(user=user, step=step, at=T0, comment=comment)


def two_steps(**rule: Any) -> AppliedRule:
    """``any`` of the team leads, then ``all`` of the two platform owners."""
    return AppliedRule(
        name="two-step",
        steps=[
            AppliedStep(name="lead", approvers=[LEADS], need=1),
            AppliedStep(name="platform", approvers=[OWNER_A, OWNER_B], need=0),
        ],
        **rule,
    )


# --- satisfied ---------------------------------------------------------------------------


def test_an_any_step_is_satisfied_by_one_approval() -> None:
    rule = two_steps()
    assert not steps.satisfied(rule, waiting())
    assert steps.still_needed(rule, waiting()) == 1
    one = waiting(votes=[vote("U0LEAD1")], approvals=["U0LEAD1"])
    assert steps.satisfied(rule, one)
    assert steps.still_needed(rule, one) == 0


def test_a_counted_step_needs_that_many_approvals() -> None:
    rule = AppliedRule(steps=[AppliedStep(approvers=["U0A", "U0B", "U0C"], need=2)])
    one = waiting(votes=[vote("U0A")], approvals=["U0A"])
    assert not steps.satisfied(rule, one) and steps.still_needed(rule, one) == 1
    two = waiting(votes=[vote("U0A"), vote("U0C")], approvals=["U0A", "U0C"])
    assert steps.satisfied(rule, two) and steps.still_needed(rule, two) == 0


def test_an_all_step_needs_each_listed_approver_in_that_step() -> None:
    rule = two_steps()
    # Step 2 (index 1): the lead's vote in step 1 does not count there.
    at_two = {"step": 1, "step_started_at": T0 + HOUR}
    lead = vote("U0LEAD1", step=0)
    one = waiting(votes=[lead, vote(OWNER_A, step=1)], approvals=["U0LEAD1", OWNER_A], **at_two)
    assert not steps.satisfied(rule, one)
    assert steps.still_needed(rule, one) == 1
    both = waiting(
        votes=[lead, vote(OWNER_A, step=1), vote(OWNER_B, step=1)],
        approvals=["U0LEAD1", OWNER_A, OWNER_B],
        **at_two,
    )
    assert steps.satisfied(rule, both)
    assert [v.user for v in steps.step_votes(both)] == [OWNER_A, OWNER_B]
    assert [v.user for v in steps.step_votes(both, 0)] == ["U0LEAD1"]


def test_in_an_all_step_a_fallback_approver_stands_in_for_one_who_did_not_decide() -> None:
    rule = two_steps(escalate_after_s=3600, escalate_to=[FALLBACK])
    at_two: dict[str, Any] = {"step": 1, "step_started_at": T0, "escalated": [FALLBACK]}
    assert steps.deciders(rule, waiting(**at_two)) == [OWNER_A, OWNER_B, FALLBACK]
    alone = waiting(votes=[vote(FALLBACK, step=1)], approvals=[FALLBACK], **at_two)
    assert not steps.satisfied(rule, alone)  # one stand-in for two listed who did not decide
    with_one = waiting(
        votes=[vote(OWNER_A, step=1), vote(FALLBACK, step=1)],
        approvals=[OWNER_A, FALLBACK],
        **at_two,
    )
    assert steps.satisfied(rule, with_one)


def test_requests_stored_before_votes_count_their_approvals_in_the_first_step() -> None:
    rule = AppliedRule(approvers=["U0A", "U0B"], approvals=2)
    old = waiting(approvals=["U0A", "U0B"])
    assert [v.user for v in steps.step_votes(old)] == ["U0A", "U0B"]
    assert steps.satisfied(rule, old)
    assert steps.step_votes(old, 1) == []


def test_deciders_are_anyone_when_the_step_names_nobody() -> None:
    assert steps.deciders(AppliedRule(), waiting(escalated=["U0X"])) == []


def test_moving_on_starts_the_next_step_afresh() -> None:
    record = waiting(reminders=2, escalated=[FALLBACK])
    later = T0 + 3 * HOUR
    assert steps.moved_on(record, later) == {
        "step": 1,
        "step_started_at": later,
        "reminders": 0,
        "reminded_at": None,
        "escalated": [],
    }
    assert steps.moved_on(record, later, skipped=True)["skipped"] == [0]


# --- next_due ----------------------------------------------------------------------------


def test_reminders_come_at_remind_after_then_every_remind_every_at_most_remind_max() -> None:
    rule = AppliedRule(approvers=["U0A"], remind_after_s=3600, remind_every_s=1800, remind_max=3)
    record = waiting()
    sent: list[timedelta] = []
    while (due := steps.next_due(rule, record)) is not None:
        assert due.kind == "remind" and due.count == len(sent) and due.step == 0
        sent.append(due.at - T0)
        record = record.model_copy(update={"reminders": record.reminders + 1})
    assert sent == [HOUR, 1.5 * HOUR, 2 * HOUR]


def test_after_downtime_missed_reminders_come_one_interval_apart_not_at_once() -> None:
    rule = AppliedRule(approvers=["U0A"], remind_after_s=3600, remind_every_s=1800, remind_max=3)
    # The first reminder went out five hours late (the bot was down): the next is half an hour
    # after it, not at once for the slots that passed.
    late = T0 + 5 * HOUR
    record = waiting(reminders=1, reminded_at=late)
    due = steps.next_due(rule, record)
    assert due is not None and (due.kind, due.at, due.count) == ("remind", late + HOUR / 2, 1)
    # On time, the next slot is the schedule's.
    on_time = waiting(reminders=1, reminded_at=T0 + HOUR)
    assert (due := steps.next_due(rule, on_time)) is not None and due.at == T0 + 1.5 * HOUR


def test_a_person_a_later_all_step_names_keeps_their_approval_for_it() -> None:
    rule = AppliedRule(
        steps=[
            AppliedStep(approvers=["U0LEAD1", OWNER_A], need=1),
            AppliedStep(approvers=[OWNER_A, OWNER_B], need=0),
        ]
    )
    assert steps.later_all_step(rule, waiting(), OWNER_A) == 2
    assert steps.later_all_step(rule, waiting(), "U0LEAD1") is None
    # In the last step itself there is no later one.
    assert steps.later_all_step(rule, waiting(step=1), OWNER_A) is None


def test_without_remind_every_there_is_one_reminder() -> None:
    rule = AppliedRule(approvers=["U0A"], remind_after_s=3600)
    due = steps.next_due(rule, waiting())
    assert due is not None and (due.kind, due.at) == ("remind", T0 + HOUR)
    assert steps.next_due(rule, waiting(reminders=1)) is None


def test_at_the_same_time_a_skip_goes_first_then_the_escalation_then_the_reminder() -> None:
    rule = AppliedRule(
        steps=[
            AppliedStep(approvers=[LEADS], skip_after_s=3600),
            AppliedStep(approvers=[OWNER_A]),
        ],
        remind_after_s=3600,
        escalate_after_s=3600,
        escalate_to=[FALLBACK],
    )
    record = waiting()
    due = steps.next_due(rule, record)
    assert due is not None and (due.kind, due.at) == ("skip", T0 + HOUR)
    # On the last step nothing is skipped: the escalation comes before the reminder.
    last = waiting(step=1, step_started_at=T0)
    due = steps.next_due(rule, last)
    assert due is not None and (due.kind, due.step) == ("escalate", 1)
    due = steps.next_due(rule, last.model_copy(update={"escalated": [FALLBACK]}))
    assert due is not None and due.kind == "remind"


def test_the_earliest_comes_first_whatever_its_kind() -> None:
    rule = AppliedRule(
        approvers=["U0A"], remind_after_s=1800, escalate_after_s=7200, escalate_to=[FALLBACK]
    )
    first = steps.next_due(rule, waiting())
    assert first is not None and (first.kind, first.at) == ("remind", T0 + HOUR / 2)
    second = steps.next_due(rule, waiting(reminders=1))
    assert second is not None and (second.kind, second.at) == ("escalate", T0 + 2 * HOUR)
    assert steps.next_due(rule, waiting(reminders=1, escalated=[FALLBACK])) is None


def test_a_later_step_counts_from_when_it_began() -> None:
    rule = two_steps(remind_after_s=3600)
    began = T0 + 5 * HOUR
    due = steps.next_due(rule, waiting(step=1, step_started_at=began))
    assert due is not None and (due.at, due.step, due.count) == (began + HOUR, 1, 0)


def test_nothing_is_due_at_or_after_the_request_expires() -> None:
    rule = AppliedRule(
        approvers=["U0A"], remind_after_s=3600, escalate_after_s=7200, escalate_to=[FALLBACK]
    )
    assert steps.next_due(rule, waiting(expires_at=T0 + HOUR)) is None
    only_reminder = steps.next_due(rule, waiting(expires_at=T0 + 2 * HOUR))
    assert only_reminder is not None and only_reminder.kind == "remind"
    assert steps.next_due(rule, waiting(expires_at=T0 + 2 * HOUR, reminders=1)) is None


@pytest.mark.parametrize(
    "state", [State.APPROVED, State.REJECTED, State.CANCELLED, State.EXPIRED, State.SUCCEEDED]
)
def test_nothing_is_due_once_decided(state: State) -> None:
    rule = AppliedRule(approvers=["U0A"], remind_after_s=3600)
    assert steps.next_due(rule, waiting(state=state)) is None


# --- still_due ---------------------------------------------------------------------------


def test_a_due_reminder_is_done_once() -> None:
    rule = AppliedRule(approvers=["U0A"], remind_after_s=3600, remind_every_s=3600, remind_max=3)
    record = waiting()
    due = steps.next_due(rule, record)
    assert due is not None and steps.still_due(due, record)
    # Another replica sent it meanwhile: the same slot is not sent again.
    assert not steps.still_due(due, record.model_copy(update={"reminders": 1}))
    # An approval decided the request meanwhile.
    assert not steps.still_due(due, record.model_copy(update={"state": State.APPROVED}))
    # The step moved on meanwhile: its reminder belongs to a step that is over.
    assert not steps.still_due(due, record.model_copy(update={"step": 1}))


def test_a_due_escalation_is_done_once() -> None:
    rule = AppliedRule(approvers=["U0A"], escalate_after_s=3600, escalate_to=[FALLBACK])
    record = waiting()
    due = steps.next_due(rule, record)
    assert due is not None and due.kind == "escalate" and steps.still_due(due, record)
    assert not steps.still_due(due, record.model_copy(update={"escalated": [FALLBACK]}))
    assert not steps.still_due(due, record.model_copy(update={"state": State.REJECTED}))


def test_a_due_skip_is_not_done_on_a_step_already_left() -> None:
    rule = two_steps()
    rule.steps[0].skip_after_s = 3600
    record = waiting()
    due = steps.next_due(rule, record)
    assert due is not None and due.kind == "skip" and steps.still_due(due, record)
    assert not steps.still_due(due, record.model_copy(update={"step": 1}))


# --- the policy file ---------------------------------------------------------------------

STEPS = """
rules:
  - name: two-step
    when: {requestCpu: ">= 8"}
    steps:
      - name: lead
        approvers: [S0LEADS]
        skip_after: 2d
      - name: platform
        approvers: [U0OWNA, U0OWNB]
        need: all
    remind_after: 90m
    remind_every: 4h
    escalate_after: 1d
    escalate_to: [U0FALL, S0ONCALL]
    approval_comment: required
  - name: counted
    when: {requestCpu: ">= 4"}
    steps:
      - approvers: [S0LEADS]
        need: 2
    remind_after: 3600
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


async def no_members(group: str) -> frozenset[str]:
    return frozenset()


async def test_a_rule_with_steps_reminders_and_escalation_is_applied(tmp_path: Path) -> None:
    settings = Settings(approvers=["U0APP1"], remind_after_s=600, remind_every_s=600)
    rules = Rules(load_policy(write(tmp_path, STEPS)).rules, default_rule(settings))
    rule = await rules.applied(Facts(request_cpu=16), no_members)
    assert rule.name == "two-step"
    assert [(s.name, s.approvers, s.need, s.skip_after_s) for s in rule.steps] == [
        ("lead", ["S0LEADS"], 1, 2 * 86400),
        ("platform", ["U0OWNA", "U0OWNB"], 0, None),
    ]
    assert rule.steps[1].needs_all and rule.steps[1].required() == 2
    assert (rule.remind_after_s, rule.remind_every_s, rule.remind_max) == (5400, 4 * 3600, 3)
    assert (rule.escalate_after_s, rule.escalate_to) == (86400, ["U0FALL", "S0ONCALL"])
    assert rule.approval_comment and rule.nudges and len(rule.stages()) == 2
    # Without remind_every, one reminder; the escalation the rule leaves out is the default's
    # (none here).
    counted = await rules.applied(Facts(request_cpu=4), no_members)
    assert [(s.approvers, s.need) for s in counted.steps] == [(["S0LEADS"], 2)]
    assert (counted.remind_after_s, counted.remind_every_s, counted.remind_max) == (3600, None, 1)
    assert counted.escalate_after_s is None and not counted.approval_comment
    assert load_policy(write(tmp_path, STEPS)).groups() == {"S0LEADS", "S0ONCALL"}


async def test_a_rule_without_reminders_gets_the_default_rules(tmp_path: Path) -> None:
    settings = Settings(
        approvers=["U0APP1"],
        remind_after_s=600,
        remind_every_s=1200,
        remind_max=5,
        escalate_after_s=3600,
        escalate_to=["U0FALL"],
    )
    text = "rules:\n  - name: plain\n    approvers: [U0APP2]\n"
    rules = Rules(load_policy(write(tmp_path, text)).rules, default_rule(settings))
    rule = await rules.applied(Facts(), no_members)
    assert rule.name == "plain" and rule.stages() == [AppliedStep(approvers=["U0APP2"], need=1)]
    assert (rule.remind_after_s, rule.remind_every_s, rule.remind_max) == (600, 1200, 5)
    assert (rule.escalate_after_s, rule.escalate_to) == (3600, ["U0FALL"])


def rule_yaml(body: str) -> str:
    return "rules:\n  - name: a\n" + "".join(f"    {line}\n" for line in body.splitlines())


@pytest.mark.parametrize(
    ("body", "line"),
    [
        (
            "approvers: [U0APP1]\nsteps:\n  - approvers: [U0APP2]",
            "policy.yaml: rules[0] (a): a rule with steps names its approvers in the steps, "
            "not above them",
        ),
        (
            "approvals: 2\nsteps:\n  - approvers: [S0LEADS]",
            "policy.yaml: rules[0] (a): a rule with steps names its approvers in the steps",
        ),
        (
            "steps:\n  - approvers: [S0LEADS]\n  - approvers: [U0APP1]\n    skip_after: 1h",
            "policy.yaml: rules[0] (a): the last step cannot be skipped: nobody would have "
            "approved",
        ),
        (
            "steps:\n  - approvers: [S0LEADS, U0APP1]\n    need: all",
            "policy.yaml: rules[0] (a).steps[0]: need: all names each approver: list user ids "
            "(U…), or use a count with a group",
        ),
        (
            "steps:\n  - approvers: [U0APP1, U0APP2]\n    need: 3",
            "policy.yaml: rules[0] (a).steps[0]: need: 3 is more than the 2 listed",
        ),
        (
            "steps:\n  - approvers: [alice]",
            "policy.yaml: rules[0] (a).steps[0].approvers: 'alice' is not a Slack user id",
        ),
        ("steps:\n  - need: any", "policy.yaml: rules[0] (a).steps[0].approvers: Field required"),
        (
            "steps:\n  - approvers: [U0APP1]\n    quorum: 1",
            "policy.yaml: rules[0] (a).steps[0].quorum: unknown field",
        ),
        ("remind_every: 1h", "policy.yaml: rules[0] (a): remind_every needs remind_after"),
        (
            "escalate_after: 4h",
            "policy.yaml: rules[0] (a): escalate_after and escalate_to go together",
        ),
        (
            "escalate_to: [U0FALL]",
            "policy.yaml: rules[0] (a): escalate_after and escalate_to go together",
        ),
        ("remind_after: soon", "policy.yaml: rules[0] (a).remind_after: bad duration 'soon'"),
        (
            "escalate_after: 4h\nescalate_to: [boss]",
            "policy.yaml: rules[0] (a).escalate_to: 'boss' is not a Slack user id",
        ),
        ("approval_comment: maybe", "policy.yaml: rules[0] (a).approval_comment: Input should be"),
    ],
)
def test_a_bad_step_or_nudge_is_one_line(tmp_path: Path, body: str, line: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_policy(write(tmp_path, rule_yaml(body)))
    assert len(caught.value.problems) == 1, caught.value.problems
    assert caught.value.problems[0].startswith(line), caught.value.problems


# --- the settings' default rule ----------------------------------------------------------


def test_the_settings_give_the_default_rule_reminders_escalation_and_comments(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = {
        "CLONEBOT_APPROVERS": "U0APP1",
        "CLONEBOT_REMIND_AFTER_S": "3600",
        "CLONEBOT_REMIND_EVERY_S": "1800",
        "CLONEBOT_REMIND_MAX": "4",
        "CLONEBOT_ESCALATE_AFTER_S": "7200",
        "CLONEBOT_ESCALATE_TO": "U0FALL, S0ONCALL",
        "CLONEBOT_APPROVAL_COMMENT": "required",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    rule = default_rule(Settings.load())
    assert (rule.remind_after_s, rule.remind_every_s, rule.remind_max) == (3600, 1800, 4)
    assert (rule.escalate_after_s, rule.escalate_to) == (7200, ["U0FALL", "S0ONCALL"])
    assert rule.approval_comment and rule.nudges and rule.steps == []
    assert rule.stages() == [AppliedStep(approvers=["U0APP1"], need=1)]


def test_without_remind_every_the_default_rule_reminds_once() -> None:
    rule = default_rule(Settings(remind_after_s=3600, remind_max=5))
    assert (rule.remind_after_s, rule.remind_every_s, rule.remind_max) == (3600, None, 1)
    plain = default_rule(Settings())
    assert not plain.nudges and not plain.approval_comment and plain.escalate_to == []


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CLONEBOT_REMIND_EVERY_S": "600"}, "CLONEBOT_REMIND_EVERY_S needs"),
        ({"CLONEBOT_ESCALATE_AFTER_S": "600"}, "go together"),
        ({"CLONEBOT_ESCALATE_AFTER_S": "600", "CLONEBOT_ESCALATE_TO": "boss"}, "not Slack IDs"),
    ],
)
def test_inconsistent_nudge_settings_are_refused(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError) as caught:
        Settings.load()
    assert any(message in problem for problem in caught.value.problems), caught.value.problems
