"""English and Simplified Chinese: a complete catalog, and every card rendered in Chinese."""

from __future__ import annotations

import re
import string
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import Settings
from bot.i18n import Msg, lang_of_locale, tr
from bot.i18n.zh import ZH
from bot.requests.model import CloneRequest, State
from bot.requests.policy import Actor, ApprovalPolicy
from bot.sandbox.slack_emulator.validation import validate_blocks, validate_view
from bot.store.sessions import StoredSession
from bot.ui import cards, clone, home, login, results
from bot.ui.clone_form import validate_form
from bot.zstack.models import (
    CloneParams,
    CloneRequestBody,
    ModelServiceInventory,
    SessionInventory,
)
from tests.i18n_scan import templates

CJK = re.compile(r"[\u4e00-\u9fff]")
ROOT = Path(__file__).resolve().parents[2]


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_template_has_a_chinese_entry_with_the_same_placeholders() -> None:
    used = templates(ROOT)
    assert len(used) > 150
    missing = sorted(t for t in used if t not in ZH)
    assert missing == []
    for english, chinese in ZH.items():
        assert fields(english) == fields(chinese), english
        assert CJK.search(chinese) or chinese == english, english


@pytest.mark.parametrize(
    ("locale", "lang"),
    [
        ("zh-CN", "zh"),
        ("zh_CN", "zh"),
        ("zh-SG", "zh"),
        ("en-US", "en"),
        ("ja-JP", "en"),
        (None, "en"),
    ],
)
def test_locales_map_to_languages(locale: str | None, lang: str) -> None:
    assert lang_of_locale(locale) == lang


def test_missing_translation_falls_back_to_english() -> None:
    assert tr("zh")("not in the catalog {x}", x=1) == "not in the catalog 1"
    assert Msg.of("Approve").render("zh") == "批准"


def _record(state: State) -> CloneRequest:
    now = datetime.now(UTC)
    return CloneRequest(
        id="CR-7F3K2Q",
        state=state,
        team_id="T1",
        requester="U1",
        channel="C1",
        card_ts="1.000100",
        source_uuid="90d425a802ff44eeb530f21587633700",
        source_name="example",
        body=CloneRequestBody(
            params=CloneParams(name="example-clone", request_cpu=2, yaml="a: 1\n" * 400)
        ),
        reason="评测",
        created_at=now,
        updated_at=now,
        expires_at=now + timedelta(days=1),
        approvals=["U2"],
        approvals_required=2,
        decided_by="U2",
        decision_reason="太大",
        job_uuid="a" * 32,
        finished_at=now,
        result={"name": "example-clone", "uuid": "b" * 32},
        error={
            "code": "SYS.1006",
            "details": "failed",
            "cause": {"code": "SYS.1015", "details": "refused"},
        },
        error_text="SYS.1006 An operation failed: failed",
    )


def _chinese_message(blocks: list[object]) -> str:
    dumped = [b.to_dict() for b in blocks]  # type: ignore[attr-defined]
    assert validate_blocks(dumped, surface="message") == []
    text = str(dumped)
    assert CJK.search(text), text[:300]
    return text


@pytest.mark.parametrize("state", list(State))
def test_request_card_in_chinese_for_every_state(state: State) -> None:
    text = _chinese_message(cards.request_card(_record(state), ["U3", "S4"], "zh"))
    assert "克隆申请 CR-7F3K2Q" in text
    assert cards.state_name(state, "zh") in text
    assert CJK.search(cards.card_fallback_text(_record(state), "zh"))
    assert CJK.search(cards.status_text(_record(state), "zh"))


def test_parameter_reply_results_and_notices_in_chinese() -> None:
    record = _record(State.PENDING)
    assert "的参数" in _chinese_message(cards.parameter_reply(record, "zh"))
    inventory = ModelServiceInventory.model_validate(
        {
            "uuid": "b" * 32,
            "name": "example-clone",
            "supportDistributed": True,
            "modelServiceImages": [{"cpuArchitecture": "x86_64", "dockerImage": "r/x:1"}],
        }
    )
    done = _record(State.SUCCEEDED)
    assert "克隆完成" in _chinese_message(
        results.success_blocks(done, inventory, "https://zs", "zh")
    )
    failed = _record(State.FAILED)
    error = failed.error
    text = _chinese_message(results.failure_blocks(failed, error, "x", "zh"))
    assert "根因" in text and "SYS.1015" in text
    assert CJK.search(cards.requester_notice(record, "https://x/archives/C1/p1", "zh"))
    assert CJK.search(cards.list_text([record], "zh"))
    assert CJK.search(results.expiry_note(record, "zh"))


def test_modals_and_home_in_chinese() -> None:
    record = _record(State.PENDING)
    views = [
        login.login_modal("http://zs", login.LoginContext(), error="x", lang="zh"),
        login.logging_in_modal("alice", "zh"),
        login.login_success_modal("alice", "account", datetime.now(UTC), "zh"),
        clone.clone_form_view({"name": "n"}, clone.CloneViewMeta(advanced=True), lang="zh"),
        clone.loading_view("zh"),
        cards.reject_modal(record, "C1", lang="zh"),
        results.raw_error_view(_record(State.FAILED), "zh"),
        results.full_values_view(record, "zh"),
    ]
    session = StoredSession(
        inventory=SessionInventory.model_validate({"uuid": "f" * 32}),
        login_kind="account",
        identity="alice",
        zstack_url="http://zs",
        logged_in_at=datetime.now(UTC),
        expires_at=datetime.now(UTC) + timedelta(hours=2),
    )
    views += [
        home.home_view(session, "http://zs", [record], [record], "zh"),
        home.home_view(None, "http://zs", [], [], "zh"),
    ]
    for view in views:
        code, problems = validate_view(view.to_dict())
        assert code is None, problems
        assert CJK.search(str(view.to_dict()))


def test_texts_and_field_errors_in_chinese() -> None:
    now = datetime.now(UTC)
    for text in (
        login.whoami_text("alice", "user", "http://zs", now, "zh"),
        login.not_logged_in("zh"),
        login.session_expired("zh"),
        login.logout_text("alice", "zh"),
        login.zstack_help("zh"),
        login.unknown_subcommand("x", "zh"),
    ):
        assert CJK.search(text), text
    _form, errors = validate_form(
        {"source": "x", "name": "", "reason": "", "request_cpu": "0"}, "zh"
    )
    assert set(errors) == {"source", "name", "reason", "request_cpu"}
    assert all(CJK.search(message) for message in errors.values())


async def test_policy_refusals_translate() -> None:
    policy = ApprovalPolicy(Settings())
    record = _record(State.PENDING)
    refusal = await policy.why_not_approve(Actor(record.team_id, "U1"), record)
    assert refusal is not None
    assert refusal.render("zh") == "你不能批准自己的申请，需要其他审批人批准。"
