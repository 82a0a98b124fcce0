"""English and Simplified Chinese: a complete catalog, plural forms, and every card in Chinese."""

from __future__ import annotations

import ast
import contextlib
import string
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

from bot.config import Settings
from bot.errors import (
    NotLoggedIn,
    SessionExpired,
    SlackError,
    StoreUnavailable,
    ZStackUnavailable,
)
from bot.i18n import Msg, lang_of_locale, tr
from bot.i18n.catalog import LOCALES, compile_catalog, po_path, read_catalog
from bot.requests.effects import StoredMsg
from bot.requests.model import CloneRequest, ParamChange, PreflightCheck, State, Vote
from bot.requests.policy import Actor, ApprovalPolicy
from bot.requests.rules import AppliedRule, AppliedStep
from bot.sandbox.slack_emulator.validation import validate_blocks, validate_view
from bot.slack.error_reporting import user_message_for
from bot.store.sessions import StoredSession
from bot.ui import cards, clone, home, login, messages, results, status, thread
from bot.ui.clone_form import validate_form
from bot.ui.text import Mrkdwn
from bot.zstack.models import (
    CloneParams,
    CloneRequestBody,
    ErrorCode,
    ModelServiceInventory,
    SessionInventory,
)
from handlers.clone import clone_help
from tests.support.chinese import CJK, english_words, typography_problems, visible_texts

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
            assert CJK.search(chinese) or not english_words(chinese), english


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
        thread.approve_modal(record, "C1", lang="zh"),
        thread.break_glass_modal(record, "C1", lang="zh"),
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


# --- Chinese, completely: no English left, no typography slips -------------------------------


def test_no_entry_leaves_english_words_for_a_chinese_reader(zh: Catalog) -> None:
    """Every form of every entry (plural forms too): only names, acronyms, wire names and code
    may stay Latin, so a text copied over untranslated fails here."""
    left = {
        str(message.id): words
        for message in zh
        if message.id
        for chinese in forms(message)
        if (words := english_words(chinese))
    }
    assert left == {}, f"translate these: {MAKE_I18N}"


def test_no_entry_has_stray_spaces_or_brackets_in_brackets(zh: Catalog) -> None:
    slips = {
        str(message.id): problems
        for message in zh
        if message.id
        for chinese in forms(message)
        if (problems := typography_problems(chinese))
    }
    assert slips == {}


@pytest.mark.parametrize(
    ("text", "slip"),
    [
        ("请 登录", "a space between Chinese characters"),
        ("已完成 。", "a space beside full-width punctuation"),
        ("（可选） 填写", "a space beside full-width punctuation"),
        ("身份为 *alice*（项目用户（IAM2））", "brackets in brackets"),
        ("名称（(可选)）", "brackets in brackets"),
        ("等待审批 (1/2)", None),
        ("状态 (已批准)", "half-width brackets around Chinese"),
        ("完成: 已创建", "half-width punctuation after Chinese"),
        ("第 {n} 行：格式应为“架构 容器镜像”。", None),
        ("运行 `/zstack login`。", None),
    ],
)
def test_the_typography_check_finds_each_slip(text: str, slip: str | None) -> None:
    found = {problem.split(":", 1)[0] for problem in typography_problems(text)}
    assert slip in found if slip else found == set()


def test_the_english_check_tells_words_from_names() -> None:
    assert english_words("请选择 Advanced options 中的 `requestCpu`") == ["Advanced", "options"]
    assert english_words("<!date^1^{date_short_pretty} at {time}|2026-12-01 at 15:00 UTC>") == [
        "at",
        "at",
    ]
    assert english_words("ZStack 的 CloneModelService、CPU、SHA-512 与 CLONEBOT_LOCALE") == []
    assert english_words("<https://x|Open the thread> 与 <@U1>") == ["Open", "the", "thread"]


# The names and texts the views below carry as data (not the bot's words).
DATA = frozenset({"example", "example-clone", "alice", "python", "serve.py"})


def _zh_record(state: State, **fields: object) -> CloneRequest:
    """A request whose data reads neutral in Chinese: ZStack's error in Chinese, as ZStack
    answers a Chinese console, and names from ``DATA``."""
    error = ErrorCode.model_validate(
        {
            "code": "SYS.1006",
            "description": "操作失败",
            "details": "克隆失败",
            "cause": {"code": "SYS.1015", "details": "连接被拒绝", "cause": {"code": "SYS.1"}},
        }
    )
    record = _record(state).model_copy(
        update={
            "error": error,
            "error_text": error.summary(),
            "card_link": "https://slack.example/archives/C1/p1",
            "approved_at": datetime.now(UTC) - timedelta(minutes=3),
            "finished_at": datetime.now(UTC),
        }
    )
    return record.model_copy(update=fields)


def _inventory() -> ModelServiceInventory:
    return ModelServiceInventory.model_validate(
        {
            "uuid": "b" * 32,
            "name": "example-clone",
            "type": "Endpoint",
            "framework": "vLLM",
            "requestCpu": 4,
            "requestMemory": 8192,
            "pythonVersion": "3.11",
            "startCommand": "python serve.py",
            "supportDistributed": True,
            "createDate": "Dec 1, 2026 3:04:05 PM",
            "cpuArchitectures": ["x86_64"],
            "modelServiceImages": [
                {"cpuArchitecture": "x86_64", "dockerImage": "r/x:1"},
                {"cpuArchitecture": "aarch64", "vmImageUuid": "c" * 32},
            ],
        }
    )


def _chinese_surfaces() -> dict[str, object]:
    """The main views a Chinese reader gets, each as the payload Slack receives."""
    now = datetime.now(UTC)
    pending = _zh_record(
        State.PENDING,
        changes=[ParamChange(wire="requestCpu", before="2", after="4")],
        checks=[
            PreflightCheck(kind="name", ok=False, blocking=True),
            PreflightCheck(kind="source", ok=False, blocking=True),
            PreflightCheck(kind="session", ok=True, until=now + timedelta(hours=2)),
        ],
        reason="评测",
    )
    surfaces: dict[str, object] = {}
    for state in State:
        record = pending if state == State.PENDING else _zh_record(state)
        surfaces[f"card {state.value}"] = cards.request_card(record, ["U3", "S4"], "zh")
        surfaces[f"card text {state.value}"] = cards.card_fallback_text(record, "zh")
        surfaces[f"status {state.value}"] = status.status_text(record, "zh")
    surfaces["card, no session"] = cards.request_card(
        pending.model_copy(update={"checks": [PreflightCheck(kind="session", ok=False)]}),
        [],
        "zh",
    )
    surfaces["card, rejected without a reason"] = cards.request_card(
        _zh_record(State.REJECTED, decision_reason=None), [], "zh"
    )
    failed_by_the_bot = _zh_record(
        State.FAILED,
        error=None,
        failure=StoredMsg.of(
            Msg.of("ZStack's job {job} did not finish within {seconds} s.", job="a" * 32, seconds=9)
        ),
    )
    surfaces["card, failed by the bot's finding"] = cards.request_card(failed_by_the_bot, [], "zh")
    surfaces["status, failed by the bot's finding"] = status.status_text(failed_by_the_bot, "zh")
    surfaces["list"] = status.list_text([pending, _zh_record(State.SUCCEEDED)], "zh")
    surfaces["list, empty"] = status.list_text([], "zh")
    surfaces["notice"] = status.requester_notice(pending, pending.card_link, "zh")
    surfaces["notice, no link"] = status.requester_notice(pending, None, "zh")
    surfaces["parameters"] = thread.parameter_reply(pending, "zh")
    surfaces["reject dialog"] = thread.reject_modal(pending, "C1", lang="zh")
    surfaces["approve dialog"] = thread.approve_modal(pending, "C1", lang="zh")
    surfaces["break-glass dialog"] = thread.break_glass_modal(pending, "C1", lang="zh")
    # (A rule of one term only: with more, the card joins them with ", ".)
    stepped = AppliedRule(
        name="分步审批",
        steps=[
            AppliedStep(name="组长", approvers=["S0LEADS"], skip_after_s=7200),
            AppliedStep(approvers=["U3", "U4"], need=0),
            AppliedStep(approvers=["S0OWNERS"], need=2),
        ],
        remind_after_s=3600,
        escalate_after_s=7200,
        escalate_to=["S0ONCALL"],
    )
    in_steps = _zh_record(
        State.PENDING,
        rule=stepped,
        step=1,
        skipped=[],
        approvals=["U5", "U3"],
        votes=[
            Vote(user="U5", step=0, at=now, comment="配额已核对"),
            Vote(user="U3", step=1, at=now, comment="同意"),
        ],
        reminders=2,
        escalated=["S0ONCALL"],
    )
    surfaces["card, in its second step, reminded and escalated"] = cards.request_card(
        in_steps, [], "zh"
    )
    skipped = in_steps.model_copy(update={"skipped": [0], "votes": in_steps.votes[1:]})
    surfaces["card, a step skipped"] = cards.request_card(skipped, [], "zh")
    surfaces["full values"] = results.full_values_view(pending, "zh")
    surfaces["raw error"] = results.raw_error_view(_zh_record(State.FAILED), "zh")
    done = _zh_record(State.SUCCEEDED)
    surfaces["done"] = [
        *results.success_blocks(done, _inventory(), "https://zs.example", "zh"),
        *results.thread_link(done, "zh"),
    ]
    failed = _zh_record(State.FAILED)
    surfaces["failed"] = results.failure_blocks(failed, failed.error, "", "zh")
    surfaces["failed, no ZStack error"] = results.failure_blocks(
        failed_by_the_bot, None, cards.failure_text(failed_by_the_bot, "zh"), "zh"
    )
    surfaces["expired"] = results.expiry_note(pending, "zh")
    session = StoredSession(
        inventory=SessionInventory.model_validate({"uuid": "f" * 32}),
        login_kind="iam2",
        identity="alice",
        zstack_url="http://zs",
        logged_in_at=now,
        expires_at=now + timedelta(hours=2),
    )
    surfaces["home"] = home.home_view(session, "http://zs", [pending, done], [pending], "zh")
    surfaces["home, new"] = home.home_view(None, "http://zs", [], [], "zh")
    raw = clone.defaults_from_source(_inventory())
    surfaces["form"] = clone.clone_form_view(raw, clone.CloneViewMeta(), lang="zh")
    surfaces["form, advanced"] = clone.clone_form_view(
        raw, clone.CloneViewMeta(advanced=True), lang="zh"
    )
    surfaces["form, several sources"] = clone.clone_form_view(
        {},
        clone.CloneViewMeta(),
        choices=[clone.source_option(ModelServiceInventory(uuid="d" * 32), "zh")],
        lang="zh",
    )
    surfaces["form, loading"] = clone.loading_view("zh")
    surfaces["form, lookup failed"] = clone.lookup_problem_view(
        messages.zstack_unreachable("http://zs", "zh"), clone.LookupMeta(), "zh"
    )
    _, field_errors = validate_form(
        {
            "source": "",
            "name": "",
            "reason": "",
            "request_cpu": "0",
            "request_memory": "x",
            "architecture_images": "x86_64",
            "gpu_specs_by_vendor": "NVIDIA",
            "yaml": "a: [",
            "gpu_compute_capability": "high",
        },
        "zh",
    )
    surfaces["field errors"] = list(field_errors.values())
    for kind in ("account", "user", "iam2"):
        surfaces[f"whoami {kind}"] = login.whoami_text("alice", kind, "http://zs", now, "zh")
    surfaces["login"] = login.login_modal("http://zs", login.LoginContext(), error="x", lang="zh")
    surfaces["logging in"] = login.logging_in_modal("alice", "zh")
    surfaces["logged in"] = login.login_success_modal("alice", "iam2", now, "zh")
    surfaces["texts"] = [
        login.not_logged_in("zh"),
        login.session_expired("zh"),
        login.logout_text("alice", "zh"),
        login.logout_text(None, "zh"),
        login.unknown_subcommand("x", "zh"),
        clone_help("zh"),
        messages.store_down("zh"),
        messages.internal_error("ref-1", "zh"),
        messages.session_already_expired("zh"),
    ]
    surfaces["errors"] = [
        user_message_for(error, "http://zs", "ref-1", "zh")
        for error in (
            StoreUnavailable("x"),
            ZStackUnavailable("x", operation="x"),
            NotLoggedIn("x"),
            SessionExpired("x"),
            SlackError("views.open", "expired_trigger_id"),
            RuntimeError("x"),
        )
    ]
    return surfaces


def _texts(payload: object) -> list[str]:
    if isinstance(payload, str):
        return [payload]
    if isinstance(payload, list):
        return [text for item in payload for text in _texts(item)]
    dumped = payload.to_dict() if hasattr(payload, "to_dict") else payload
    return list(visible_texts(dumped))


def test_a_chinese_reader_meets_no_english_in_the_main_views() -> None:
    english: dict[str, list[str]] = {}
    slips: dict[str, list[str]] = {}
    for name, payload in _chinese_surfaces().items():
        texts = _texts(payload)
        assert any(CJK.search(text) for text in texts), name
        for text in texts:
            if words := english_words(text, DATA):
                english.setdefault(name, []).append(f"{words}: {text[:120]!r}")
            slips[name] = slips.get(name, []) + typography_problems(text)
    assert english == {}
    assert {name: found for name, found in slips.items() if found} == {}


def test_dates_are_laid_out_in_the_readers_language() -> None:
    moment = datetime(2026, 12, 1, 15, 4, tzinfo=UTC)
    epoch = int(moment.timestamp())
    assert tr("en")("expires {when}", when=moment) == (
        f"expires <!date^{epoch}^{{date_short_pretty}} at {{time}}|2026-12-01 at 15:04 UTC>"
    )
    assert tr("zh")("expires {when}", when=moment) == (
        f"<!date^{epoch}^{{date_short_pretty}} {{time}}|2026-12-01 15:04 UTC> 过期"
    )
    assert tr("zh").duration(0) == "1 秒内" and tr("zh").duration(3725) == "1 小时 2 分钟"
    assert tr("en").duration(190) == "3 min 10 s"


def test_a_note_keeps_its_date_for_each_readers_language() -> None:
    moment = datetime(2026, 12, 1, 15, 4, tzinfo=UTC)
    stored = StoredMsg.of(
        Msg.of("{id} expired {when}: nobody decided in time.", id="CR-1", when=moment)
    )
    again = StoredMsg.model_validate_json(stored.model_dump_json()).msg()
    assert "|2026-12-01 15:04 UTC>" in again.render("zh")
    assert "at {time}|2026-12-01 at 15:04 UTC>" in again.render("en")


def _code_files() -> list[Path]:
    """The bot's own modules, as the extractor reads them (the sandbox's text is not the bot's)."""
    files = [*(ROOT / "bot").rglob("*.py"), *(ROOT / "handlers").rglob("*.py")]
    return [path for path in files if "sandbox" not in path.relative_to(ROOT).parts]


# How the code names the translator's calls, and where each keeps its template(s).
_TEMPLATE_ARGS = {"t": (0,), "plain": (0,), "n": (0, 1), "plain_n": (0, 1), "of": (0,)}
_TEMPLATE_ARGS |= {"marked": (1,), "Problem": (0,), "N_": (0,)}


def _literal(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def test_every_template_the_code_writes_reaches_the_catalog(extracted: Catalog) -> None:
    """Each literal template of t, t.plain, t.n, t.plain_n, Msg.of, Msg.marked, Problem and N_
    (plural pairs too) is one the extractor found: none stays English for want of a keyword."""
    ids = {m.id for m in extracted if m.id}
    written: set[str | tuple[str, ...]] = set()
    for path in _code_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            positions = _TEMPLATE_ARGS.get(str(name), ())
            texts = [_literal(node.args[i]) for i in positions if i < len(node.args)]
            if texts and all(texts):
                written.add(texts[0] if len(texts) == 1 else tuple(map(str, texts)))
    assert len(written) > 250
    assert sorted(map(str, written - ids)) == []


def test_no_english_reaches_a_reader_around_the_translator() -> None:
    """Text put together without a template (``fmt``, ``Mrkdwn``, ``join``, a Block Kit literal)
    holds markup and values only: words would stay English for a Chinese reader."""
    shown_keywords = {"text", "title", "submit", "close", "label", "placeholder", "hint"}
    english: list[str] = []
    for path in _code_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            pieces = list(node.args[:1]) if name in ("fmt", "Mrkdwn", "join", "link") else []
            pieces += [kw.value for kw in node.keywords if kw.arg in shown_keywords]
            for piece in pieces:
                if isinstance(piece, ast.JoinedStr):  # an f-string: its values are data
                    text = "{}".join(_literal(v) or "" for v in piece.values)
                else:
                    text = _literal(piece) or ""
                if words := english_words(text):
                    english.append(f"{path.relative_to(ROOT)}:{node.lineno}: {words}")
    assert english == []
