"""English and Simplified Chinese: a complete catalog, plural forms, and every card in Chinese."""

from __future__ import annotations

import ast
import contextlib
import re
import string
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

from bot.config import Settings
from bot.i18n import Msg, lang_of_locale, tr
from bot.i18n.catalog import LOCALES, compile_catalog, po_path, read_catalog
from bot.requests.model import CloneRequest, State
from bot.requests.policy import Actor, ApprovalPolicy
from bot.sandbox.slack_emulator.validation import validate_blocks, validate_view
from bot.store.sessions import StoredSession
from bot.ui import cards, clone, home, login, results, status, thread
from bot.ui.clone_form import validate_form
from bot.ui.text import Mrkdwn
from bot.zstack.models import (
    CloneParams,
    CloneRequestBody,
    ModelServiceInventory,
    SessionInventory,
)

CJK = re.compile(r"[\u4e00-\u9fff]")
ROOT = Path(__file__).resolve().parents[2]
MAKE_I18N = "run `make i18n`, translate what is empty or fuzzy"


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def forms(message: Message) -> tuple[str, ...]:
    return tuple(message.string) if message.pluralizable else (str(message.string),)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """The templates in the code, extracted as `make i18n` extracts them."""
    pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
    with contextlib.chdir(ROOT):
        argv = ["-F", "pyproject.toml", "-o", str(pot), "bot", "handlers"]
        CommandLineInterface().run(["pybabel", "--quiet", "extract", *argv])
    with pot.open("rb") as template:
        return read_po(template)


@pytest.fixture(scope="module")
def zh() -> Catalog:
    return read_catalog(LOCALES["zh"])


def test_the_catalog_holds_exactly_the_templates_in_the_code(
    extracted: Catalog, zh: Catalog
) -> None:
    in_code = {m.id for m in extracted if m.id}
    in_catalog = {m.id for m in zh if m.id}
    assert len(in_code) > 150
    missing = sorted(map(str, in_code - in_catalog))
    assert missing == [], f"not in the catalog: {MAKE_I18N}"
    # A text moved into a table or a helper must stay marked (N_, t, Msg.of, ...), or the
    # extractor loses it and `make i18n` drops its translation.
    gone = sorted(map(str, (in_catalog - in_code) | set(zh.obsolete)))
    assert gone == [], f"the code no longer uses these: {MAKE_I18N}"


def test_every_entry_is_translated_with_the_same_placeholders(zh: Catalog) -> None:
    assert zh.num_plurals == 1
    for message in zh:
        if not message.id:
            continue
        english = message.id if isinstance(message.id, tuple) else (message.id,)
        assert not message.fuzzy, f"fuzzy: {english[0]!r}"
        assert len(forms(message)) == (zh.num_plurals if message.pluralizable else 1), english
        for chinese in forms(message):
            assert chinese, f"not translated: {english[0]!r}"
            # The plural template names every value; the count may be left out of a form.
            assert fields(english[-1]) - {"count"} <= fields(chinese), english
            assert fields(chinese) <= set().union(*map(fields, english)) | {"count"}, english
            assert CJK.search(chinese) or chinese == english[0], english


def test_the_catalog_header_gives_chinese_one_plural_form() -> None:
    header = po_path(LOCALES["zh"]).read_text(encoding="utf-8")
    assert '"Plural-Forms: nplurals=1; plural=0;\\n"' in header
    assert '"Language: zh_CN\\n"' in header


def test_an_installed_package_carries_every_catalog() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["bot.i18n"]
    package = ROOT / "bot" / "i18n"
    shipped = [PurePosixPath(p.relative_to(package).as_posix()) for p in package.rglob("*.po")]
    assert {p.parts[1] for p in shipped} >= set(LOCALES.values())
    assert all(any(p.match(pattern) for pattern in patterns) for p in shipped)


def test_templates_are_literals_where_the_extractor_finds_them() -> None:
    """``tr(lang)("...")`` would run but stay English: Babel finds ``t("...")`` only."""
    hidden = []
    for path in [*(ROOT / "bot").rglob("*.py"), *(ROOT / "handlers").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Call)
                and getattr(node.func.func, "id", None) == "tr"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                hidden.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert hidden == [], "write t = tr(lang), then t(...)"


def test_fuzzy_and_empty_entries_fall_back_to_english() -> None:
    catalog = Catalog(locale="zh_CN")
    catalog.add("Approve", "批准")
    catalog.add("Reject", "拒绝", flags=["fuzzy"])
    catalog.add("Cancel", "")
    catalog.add(("one file", "{count} files"), ("",))
    catalog.add(("one tag", "{count} tags"), ("{count} 个标签",))
    compiled = compile_catalog(catalog)
    assert compiled.gettext("Approve") == "批准"
    assert compiled.gettext("Reject") == "Reject"
    assert compiled.gettext("Cancel") == "Cancel"
    assert compiled.ngettext("one file", "{count} files", 3) == "{count} files"
    assert compiled.ngettext("one tag", "{count} tags", 1) == "{count} 个标签"


@pytest.mark.parametrize(
    ("lang", "count", "text"),
    [
        ("en", 1, "one approval needed"),
        ("en", 2, "2 approvals needed"),
        ("en", 0, "0 approvals needed"),
        ("zh", 1, "需要 1 个批准"),
        ("zh", 3, "需要 3 个批准"),
    ],
)
def test_plural_forms_follow_the_language(lang: str, count: int, text: str) -> None:
    t = tr(lang)
    assert t.n("one approval needed", "{count} approvals needed", count) == text
    assert t.plain_n("one approval needed", "{count} approvals needed", count) == text
    assert text in cards.approvers_text([], count, lang)


def test_plural_values_are_escaped_for_mrkdwn_only() -> None:
    for lang in ("en", "zh"):
        t = tr(lang)
        text = t.n("{who} asks once", "{who} asks {count} times", 2, who="<!here>")
        assert isinstance(text, Mrkdwn) and text == "&lt;!here&gt; asks 2 times"
        assert t.n("{who}", "{who}s", 1, who=Mrkdwn("<@U1>")) == "<@U1>"
        assert t.plain_n("{who} asks once", "{who} asks {count} times", 1, who="<b>") == (
            "<b> asks once"
        )


def test_a_plural_missing_from_the_catalog_falls_back_to_the_english_rule() -> None:
    t = tr("zh")
    assert t.n("one thing", "{count} things", 1) == "one thing"
    assert t.n("one thing", "{count} things", 2) == "2 things"


@pytest.mark.parametrize(
    ("lang", "required", "expected"),
    [
        ("en", 1, "0/1 approval · expires"),
        ("en", 2, "0/2 approvals · expires"),
        ("zh", 1, "批准 0/1 ·"),
        ("zh", 2, "批准 0/2 ·"),
    ],
)
def test_app_home_counts_approvals_in_the_readers_language(
    lang: str, required: int, expected: str
) -> None:
    record = _record(State.PENDING).model_copy(
        update={"approvals": [], "approvals_required": required}
    )
    view = home.home_view(None, "http://zs", [], [record], lang)
    assert expected in str(view.to_dict())


def test_missing_translation_falls_back_to_english() -> None:
    assert tr("zh")("not in the catalog {x}", x=1) == "not in the catalog 1"
    assert Msg.of("Approve").render("zh") == "批准"


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
    assert CJK.search(status.status_text(_record(state), "zh"))


def test_parameter_reply_results_and_notices_in_chinese() -> None:
    record = _record(State.PENDING)
    assert "的参数" in _chinese_message(thread.parameter_reply(record, "zh"))
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
    assert CJK.search(status.requester_notice(record, "https://x/archives/C1/p1", "zh"))
    assert CJK.search(status.list_text([record], "zh"))
    assert CJK.search(results.expiry_note(record, "zh"))


def test_modals_and_home_in_chinese() -> None:
    record = _record(State.PENDING)
    views = [
        login.login_modal("http://zs", login.LoginContext(), error="x", lang="zh"),
        login.logging_in_modal("alice", "zh"),
        login.login_success_modal("alice", "account", datetime.now(UTC), "zh"),
        clone.clone_form_view({"name": "n"}, clone.CloneViewMeta(advanced=True), lang="zh"),
        clone.loading_view("zh"),
        thread.reject_modal(record, "C1", lang="zh"),
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
