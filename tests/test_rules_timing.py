"""What a rule's reminders, escalation and skipped steps can do before a request expires
(``never_due``, said by ``check`` and ``policy explain``), and the user groups they name."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Settings
from bot.requests.rules import (
    AppliedRule,
    AppliedStep,
    Rules,
    default_rule,
    duration_text,
    load_policy,
    never_due,
)


def texts(rule: AppliedRule) -> list[str]:
    return [problem.text for problem in never_due(rule)]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(86400, "1d"), (172800, "2d"), (3600, "1h"), (90000, "25h"), (5400, "90m"), (61, "61s")],
)
def test_durations_are_written_as_in_the_policy_file(seconds: int, text: str) -> None:
    assert duration_text(seconds) == text


def test_nudges_that_fit_in_the_ttl_are_fine() -> None:
    rule = AppliedRule(
        approvers=["U0LEAD"],
        ttl_s=86400,
        remind_after_s=3600,
        remind_every_s=3600 * 7,
        remind_max=4,  # 1h, 8h, 15h, 22h: all before 24h
        escalate_after_s=3600 * 23,
        escalate_to=["S0ONCALL"],
        steps=[
            AppliedStep(approvers=["S0LEADS"], skip_after_s=3600 * 12),
            AppliedStep(approvers=["U0OWNER"], need=0),
        ],
    )
    assert texts(rule) == []


def test_what_comes_at_or_after_the_expiry_is_named() -> None:
    rule = AppliedRule(
        approvers=["U0LEAD"],
        ttl_s=7200,
        remind_after_s=7200,
        escalate_after_s=9000,
        escalate_to=["U0ONCALL"],
    )
    assert texts(rule) == [
        "reminders after 2h never happen: the request expires after 2h",
        "escalation after 150m never happens: the request expires after 2h",
    ]
    # The reminder at 30m + 3 × 30m = 2h would come as the request expires: three fit.
    counted = AppliedRule(
        approvers=["U0LEAD"], ttl_s=7200, remind_after_s=1800, remind_every_s=1800, remind_max=5
    )
    assert texts(counted) == [
        "only 3 of the 5 reminders (after 30m, every 30m) fit: the request expires after 2h"
    ]
    skipped = AppliedRule(
        ttl_s=3600,
        steps=[
            AppliedStep(approvers=["U0A"], skip_after_s=3600),
            AppliedStep(approvers=["U0B"], skip_after_s=600),
            AppliedStep(approvers=["U0C"]),
        ],
    )
    assert texts(skipped) == ["step 1 is never skipped after 1h: the request expires after 1h"]


def test_reminders_to_nobody_and_an_escalation_that_adds_nobody() -> None:
    anyone = AppliedRule(ttl_s=86400, remind_after_s=3600)
    assert texts(anyone) == [
        "reminders are a thread note only, with nobody to mention or DM: no approvers are "
        "named (anyone but the requester may approve)"
    ]
    already = AppliedRule(
        approvers=["U0A", "S0LEADS"], escalate_after_s=3600, escalate_to=["S0LEADS"]
    )
    assert texts(already) == ["escalation adds nobody: S0LEADS approve in every step already"]
    # What to change, for check's fix: the people, not the durations.
    assert [p.change for p in never_due(anyone) + never_due(already)] == [
        "approvers",
        "escalate_to",
    ]
    # In one step of two they are new: the escalation does something there.
    stepped = already.model_copy(
        update={"steps": [AppliedStep(approvers=["S0LEADS"]), AppliedStep(approvers=["U0B"])]}
    )
    assert texts(stepped) == []


def test_a_rule_resolved_with_the_settings_filling_in(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        "rules:\n"
        "  - name: own\n"
        "    approvers: [U0LEAD]\n"
        "    ttl: 2h\n"
        "  - name: stepped\n"
        "    steps: [{approvers: [S0LEADS]}, {approvers: [U0A, U0B], need: all}]\n"
        "    remind_after: 30m\n"
        "    escalate_after: 1h\n"
        "    escalate_to: [S0ONCALL, U0OC]\n",
        encoding="utf-8",
    )
    policy = load_policy(path)
    assert policy.groups() == {"S0LEADS", "S0ONCALL"}
    settings = Settings(
        data_dir=tmp_path, escalate_after_s=7200, escalate_to=["U0FALLBACK"], remind_after_s=600
    )
    rules = Rules(policy.rules, default_rule(settings))
    own, stepped = (rules.resolved(rule) for rule in policy.rules)
    # The rule's own TTL, the settings' escalation and reminder: the escalation never comes.
    assert (own.ttl_s, own.escalate_after_s, own.escalate_to, own.remind_after_s) == (
        7200,
        7200,
        ["U0FALLBACK"],
        600,
    )
    assert texts(own) == ["escalation after 2h never happens: the request expires after 2h"]
    assert [(s.approvers, s.need) for s in stepped.steps] == [(["S0LEADS"], 1), (["U0A", "U0B"], 0)]
    assert (stepped.remind_after_s, stepped.escalate_to) == (1800, ["S0ONCALL", "U0OC"])
    assert texts(stepped) == []
