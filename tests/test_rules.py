"""The policy file: validated with one line per problem, rules matched in order."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Settings
from bot.errors import ConfigError
from bot.requests.rules import DEFAULT_RULE, Facts, Rules, default_rule, load_policy

EXAMPLE = """
rules:
  - name: no-prod
    when: {source_name: "prod-*"}
    deny: Production services are cloned by the platform team.
  - name: large-or-gpu
    when: [{gpu: true}, {requestCpu: "> 8"}]
    approvers: [S0PLATFORM, U0LEAD]
    approvals: 2
    ttl: 4h
    approver_login: required
    break_glass: [U0LEAD]
  - name: small
    when: {requestCpu: "<= 2", gpu: false}
    auto_approve: true
  - name: ml-team
    when: {requester: [S0MLTEAM], channel: C0MLOPS}
    approvals: 1
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def rules(tmp_path: Path, text: str = EXAMPLE) -> Rules:
    settings = Settings(approvers=["U0APP1"], approvals_required=1, approval_ttl_s=3600)
    return Rules(load_policy(write(tmp_path, text)).rules, default_rule(settings))


async def no_groups(group: str) -> frozenset[str]:
    return frozenset({"U0ML"}) if group == "S0MLTEAM" else frozenset()


async def test_the_first_matching_rule_wins_and_says_why(tmp_path: Path) -> None:
    policy = rules(tmp_path)
    big = await policy.applied(Facts(request_cpu=64, requester="U0REQ"), no_groups)
    assert big.name == "large-or-gpu"
    assert [(b.kind, b.value, b.op, b.bound) for b in big.because] == [("cpu", 64, ">", 8)]
    assert (big.approvals, big.ttl_s, big.approver_login) == (2, 4 * 3600, True)
    assert big.approvers == ["S0PLATFORM", "U0LEAD"] and big.break_glass == ["U0LEAD"]
    gpu = await policy.applied(Facts(request_cpu=1, gpu=True), no_groups)
    assert gpu.name == "large-or-gpu" and gpu.because[0].kind == "gpu"
    prod = await policy.applied(Facts(request_cpu=64, source_name="prod-llm"), no_groups)
    assert prod.name == "no-prod" and prod.deny


async def test_unmatched_requests_get_the_settings_rule(tmp_path: Path) -> None:
    policy = rules(tmp_path)
    middle = await policy.applied(Facts(request_cpu=4, requester="U0REQ"), no_groups)
    assert middle.name == DEFAULT_RULE
    assert (middle.approvers, middle.approvals, middle.ttl_s) == (["U0APP1"], 1, 3600)
    # A CPU nobody knows meets no threshold: never auto-approved.
    unknown = await policy.applied(Facts(request_cpu=None), no_groups)
    assert unknown.name == DEFAULT_RULE


async def test_requesters_match_directly_or_through_a_group(tmp_path: Path) -> None:
    policy = rules(tmp_path)
    member = await policy.applied(
        Facts(request_cpu=4, requester="U0ML", channel="C0MLOPS"), no_groups
    )
    assert member.name == "ml-team"
    assert {b.kind for b in member.because} == {"requester", "channel"}
    elsewhere = await policy.applied(
        Facts(request_cpu=4, requester="U0ML", channel="C0GENERAL"), no_groups
    )
    assert elsewhere.name == DEFAULT_RULE
    assert load_policy(write(tmp_path, EXAMPLE)).groups() == {"S0PLATFORM", "S0MLTEAM"}


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (
            "rules:\n  - name: a\n    when: {requestCpu: '>> 3'}\n",
            "policy.yaml: rules[0] (a).when[0].requestCpu: bad threshold '>> 3'",
        ),
        (
            "rules:\n  - name: a\n    when: {cpus: 3}\n",
            "policy.yaml: rules[0] (a).when[0].cpus: unknown field",
        ),
        (
            "rules:\n  - name: a\n    approvers: [alice]\n",
            "policy.yaml: rules[0] (a).approvers: 'alice' is not a Slack user id",
        ),
        (
            "rules:\n  - name: a\n    when: {requestCpu: '>= 2'}\n    auto_approve: true\n",
            "policy.yaml: rules[0] (a): auto_approve needs bounds",
        ),
        (
            "rules:\n  - name: a\n  - name: a\n",
            "policy.yaml: rules: rule names must be unique",
        ),
        ("rules:\n  - name: a\n    ttl: soon\n", "policy.yaml: rules[0] (a).ttl: bad duration"),
        ("rules: [\n", "policy.yaml: "),
    ],
)
def test_a_bad_file_gives_one_line_per_problem(tmp_path: Path, text: str, line: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_policy(write(tmp_path, text))
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith(line), caught.value.problems


def test_several_problems_come_back_together(tmp_path: Path) -> None:
    text = "rules:\n  - name: a\n    approvals: 0\n    colour: red\n  - when: {gpu: maybe}\n"
    with pytest.raises(ConfigError) as caught:
        load_policy(write(tmp_path, text))
    problems = caught.value.problems
    assert len(problems) == 4, problems
    assert any("rules[0] (a).approvals" in p for p in problems)
    assert any("rules[0] (a).colour: unknown field" in p for p in problems)
    assert any("rules[1].name" in p for p in problems)
    assert any("rules[1].when[0].gpu" in p for p in problems)


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_policy(tmp_path / "nope.yaml")
    assert caught.value.problems == [
        f"CLONEBOT_POLICY_FILE: cannot read {tmp_path / 'nope.yaml'}: No such file or directory"
    ]
