"""``/clone-model`` end to end: the form, its validation, and the request card."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from bot.requests.model import State
from bot.runtime import Runtime
from bot.sandbox.slack_emulator import SlackEmulator
from bot.sandbox.zstack_sim import SimServer
from tests.e2e.helpers import (
    ALICE_LOGIN,
    APPROVALS,
    APPROVER,
    EXAMPLE,
    GENERAL,
    REQUESTER,
    blocks_text,
    login,
    top_view,
)
from tests.fixtures.bot import BotFactory
from tests.support.approval import click, wait_card, wait_state


@pytest.fixture
async def approval_bot(bot_factory: BotFactory) -> Runtime:
    return await bot_factory(approval_channel=APPROVALS)


async def open_form(emu: SlackEmulator, text: str) -> Any:
    delivery = await emu.slash_command(REQUESTER, GENERAL, "/clone-model", text)
    assert delivery.status == 200
    return await top_view(emu, REQUESTER, "clone_model")


def initial(view: Any, block_id: str) -> Any:
    block = next(b for b in view.definition["blocks"] if b.get("block_id") == block_id)
    element = block["element"]
    return (
        element.get("initial_value")
        or element.get("initial_option")
        or element.get("initial_options")
    )


async def test_with_a_uuid_the_form_is_prefilled_from_the_source(
    slack_emu: SlackEmulator, approval_bot: Runtime
) -> None:
    await login(slack_emu)
    view = await open_form(slack_emu, EXAMPLE)
    assert initial(view, "name") == "example-clone"
    assert initial(view, "source")["value"] == EXAMPLE
    assert initial(view, "request_memory") == "1024"
    assert "x86_64 registry.example.com/x86_64/myimage:latest" in initial(
        view, "architecture_images"
    )
    assert not slack_emu.validation_failures


async def test_with_a_name_and_with_nothing(
    slack_emu: SlackEmulator, approval_bot: Runtime
) -> None:
    await login(slack_emu)
    view = await open_form(slack_emu, "example")
    assert initial(view, "source")["value"] == EXAMPLE
    assert initial(view, "name") == "example-clone"
    await slack_emu.close_view(REQUESTER, view.id)
    # Found by part of its name: the name guessed from the text is not the one asked about.
    partial = await open_form(slack_emu, "exampl")
    assert initial(partial, "name") == "example-clone"
    await slack_emu.close_view(REQUESTER, partial.id)
    empty = await open_form(slack_emu, "")
    assert initial(empty, "source") is None
    assert initial(empty, "name") is None
    await slack_emu.close_view(REQUESTER, empty.id)
    missing = await open_form(slack_emu, "no-such-model")
    assert "No model service you can see matches" in blocks_text(missing)


async def test_a_name_matching_several_offers_the_choices(
    slack_emu: SlackEmulator, approval_bot: Runtime, zstack_sim: SimServer
) -> None:
    await login(
        slack_emu,
        values={
            **ALICE_LOGIN,
            "account_name": {"value": "admin"},
            "password": {"value": "password"},
        },
    )
    view = await open_form(slack_emu, "e")  # several names contain an "e"
    source = next(b for b in view.definition["blocks"] if b.get("block_id") == "source")
    assert source["element"]["type"] == "static_select"
    assert len(source["element"]["options"]) >= 2
    assert "Several model services match" in blocks_text(view)


async def test_not_logged_in_gets_the_login_modal_then_the_form(
    slack_emu: SlackEmulator, approval_bot: Runtime
) -> None:
    await slack_emu.slash_command(REQUESTER, GENERAL, "/clone-model", "example")
    login_view = await top_view(slack_emu, REQUESTER, "zstack_login")
    assert "Log in to ZStack first" in blocks_text(login_view)
    await slack_emu.submit_view(REQUESTER, login_view.id, ALICE_LOGIN)
    form = await top_view(slack_emu, REQUESTER, "clone_model")
    assert initial(form, "name") == "example-clone"


async def test_slow_zstack_still_opens_within_three_seconds(
    slack_emu: SlackEmulator, approval_bot: Runtime, zstack_sim: SimServer
) -> None:
    await login(slack_emu)
    zstack_sim.state.set_latency(2.5, ["QueryModelService"])
    started = time.monotonic()
    await slack_emu.slash_command(REQUESTER, GENERAL, "/clone-model", "example")
    command = slack_emu.state.commands[-1]
    await slack_emu.wait_for(lambda: command.views_open_at, timeout=3)
    assert command.views_open_delay is not None and command.views_open_delay < 3.0
    form = await top_view(slack_emu, REQUESTER, "clone_model", timeout=8)
    assert initial(form, "name") == "example-clone"
    assert time.monotonic() - started >= 2.5


async def test_the_source_is_looked_up_while_the_loading_view_opens(
    slack_emu: SlackEmulator, approval_bot: Runtime, zstack_sim: SimServer
) -> None:
    await login(slack_emu)
    queries = zstack_sim.state.counts.requests_by_operation
    before = queries["QueryModelService"]
    shown = [v.id for v in slack_emu.state.open_views(REQUESTER)]  # the login's "Logged in"
    slack_emu.slow_down("views.open", 2.0)  # answered as usual, late (the trigger still lives)
    await slack_emu.slash_command(REQUESTER, GENERAL, "/clone-model", "example")
    # The lookup reaches ZStack while Slack has not yet opened the loading view...
    await slack_emu.wait_for(lambda: queries["QueryModelService"] > before)
    assert [v.id for v in slack_emu.state.open_views(REQUESTER)] == shown
    # ...and the form fills the view once it is open, with the looked-up values.
    form = await top_view(slack_emu, REQUESTER, "clone_model", timeout=8)
    assert initial(form, "name") == "example-clone"


async def test_the_lookup_itself_checks_the_session(
    slack_emu: SlackEmulator, approval_bot: Runtime, zstack_sim: SimServer
) -> None:
    await login(slack_emu)
    redis = approval_bot.deps.redis.client
    await redis.delete(*[k async for k in redis.scan_iter("*validated*")])  # not checked lately
    calls = zstack_sim.state.counts.requests_by_operation
    before = calls["ValidateSession"]
    form = await open_form(slack_emu, "example")
    assert initial(form, "name") == "example-clone"
    assert calls["ValidateSession"] == before  # the query's answer was the check
    # A session ZStack no longer accepts: the lookup's ID.1001 asks for a login, and the
    # stored session is forgotten.
    zstack_sim.state.expire_sessions(account="alice")
    await redis.delete(*[k async for k in redis.scan_iter("*validated*")])
    await slack_emu.slash_command(REQUESTER, GENERAL, "/clone-model", "example")
    login_view = await top_view(slack_emu, REQUESTER, "zstack_login")
    assert "expired" in blocks_text(login_view)
    assert [k async for k in redis.scan_iter("*:session")] == []


async def test_type_ahead_lists_matching_services(
    slack_emu: SlackEmulator, approval_bot: Runtime
) -> None:
    await login(slack_emu)
    view = await open_form(slack_emu, "")
    options = await slack_emu.suggest(REQUESTER, view.id, "source", "exa")
    assert [o["value"] for o in options] == [EXAMPLE]
    assert options[0]["text"]["text"].startswith("example")
    none = await slack_emu.suggest(REQUESTER, view.id, "source", "qwen")  # admin's, not alice's
    assert none == []


async def test_advanced_toggle_keeps_what_was_typed(
    slack_emu: SlackEmulator, approval_bot: Runtime
) -> None:
    await login(slack_emu)
    view = await open_form(slack_emu, EXAMPLE)
    assert "readme" not in blocks_text(view)
    await slack_emu.view_action(REQUESTER, view.id, "toggle_advanced", block_id="advanced_toggle")
    shown = await slack_emu.wait_for(
        lambda: (
            (v := slack_emu.state.view(view.id)) and '"block_id": "yaml"' in blocks_text(v) and v
        )
    )
    assert shown is not None
    # Type into an advanced field and a basic one, hide, show again: both survive.
    await slack_emu.view_action(
        REQUESTER, view.id, "value", block_id="start_command", value="python serve.py"
    )
    await slack_emu.view_action(REQUESTER, view.id, "value", block_id="name", value="renamed")
    await slack_emu.view_action(REQUESTER, view.id, "toggle_advanced", block_id="advanced_toggle")
    await slack_emu.wait_for(
        lambda: '"block_id": "yaml"' not in blocks_text(slack_emu.state.view(view.id))
    )
    await slack_emu.view_action(REQUESTER, view.id, "toggle_advanced", block_id="advanced_toggle")
    again = await slack_emu.wait_for(
        lambda: (
            (v := slack_emu.state.view(view.id)) and '"block_id": "yaml"' in blocks_text(v) and v
        )
    )
    assert initial(again, "start_command") == "python serve.py"
    assert initial(again, "name") == "renamed"


@pytest.mark.parametrize(
    ("values", "block"),
    [
        ({"name": {"value": ""}}, None),  # Slack's client refuses an empty required input
        ({"request_cpu": {"value": "0"}}, None),  # number_input min_value: refused client-side
        ({"gpu_compute_capability": {"value": "sm80"}}, "gpu_compute_capability"),
        ({"architecture_images": {"value": "x86_64 a/b:1\nx86_64 c/d:2"}}, "architecture_images"),
        ({"description": {"value": "bad\x07bell"}}, "description"),
    ],
)
async def test_bad_values_come_back_as_field_errors_and_create_nothing(
    slack_emu: SlackEmulator, approval_bot: Runtime, values: dict[str, Any], block: str | None
) -> None:
    from bot.sandbox.slack_emulator.actor import InputRejected

    await login(slack_emu)
    view = await open_form(slack_emu, EXAMPLE)
    submitted = {"reason": {"value": "testing"}, **values}
    if block is None:
        with pytest.raises(InputRejected):
            await slack_emu.submit_view(REQUESTER, view.id, submitted)
    else:
        delivery = await slack_emu.submit_view(REQUESTER, view.id, submitted)
        assert delivery.json()["response_action"] == "errors"
        assert list(slack_emu.state.view(view.id).errors) == [block]
    assert [k async for k in approval_bot.deps.redis.client.scan_iter("*req:*")] == []
    assert slack_emu.state.messages(APPROVALS) == []


async def test_yaml_that_does_not_parse_is_a_field_error(
    slack_emu: SlackEmulator, approval_bot: Runtime
) -> None:
    await login(slack_emu)
    view = await open_form(slack_emu, EXAMPLE)
    await show_advanced(slack_emu, view.id)
    delivery = await slack_emu.submit_view(
        REQUESTER, view.id, {"reason": {"value": "x"}, "yaml": {"value": "a: [1,"}}
    )
    assert delivery.json()["errors"].keys() == {"yaml"}


async def test_valid_submission_creates_one_request_card_thread_and_notice(
    slack_emu: SlackEmulator, approval_bot: Runtime
) -> None:
    await login(slack_emu)
    view = await open_form(slack_emu, EXAMPLE)
    delivery = await slack_emu.submit_view(
        REQUESTER,
        view.id,
        {"reason": {"value": "A/B test of the new prompt"}, "request_cpu": {"value": "4"}},
    )
    assert delivery.status == 200 and not delivery.body
    cards = await slack_emu.wait_for(lambda: slack_emu.state.messages(APPROVALS))
    assert len(cards) == 1
    card = cards[0]
    assert "Clone request CR-" in blocks_text(card.blocks)
    assert "A/B test of the new prompt" in blocks_text(card.blocks)
    assert {"request_approve", "request_reject", "request_cancel"} <= {
        e.get("action_id") for b in card.blocks if b["type"] == "actions" for e in b["elements"]
    }
    replies = await slack_emu.wait_for(lambda: slack_emu.state.thread(APPROVALS, card.ts))
    parameters = blocks_text(replies[0].blocks)
    assert "requestCpu" in parameters
    # Images one line per architecture, lists as lists: no JSON for people to read.
    assert "• `x86_64` container `registry.example.com/x86_64/myimage:latest`" in parameters
    assert "vmImageUuid" not in parameters and "x86_64, aarch64" in parameters
    notice = await slack_emu.wait_for(lambda: slack_emu.state.dms(REQUESTER))
    assert "waiting for approval" in notice[-1].text and "/archives/" in notice[-1].text
    keys = [k async for k in approval_bot.deps.redis.client.scan_iter("*:record")]
    assert len(keys) == 1
    record = await approval_bot.deps.requests.get(keys[0].decode().split("{req:")[1].split("}")[0])
    assert record is not None and record.state == "pending" and record.card_ts == card.ts
    assert record.body.params.request_cpu == 4 and record.requester == REQUESTER
    assert not slack_emu.validation_failures


async def test_help_status_and_list(slack_emu: SlackEmulator, approval_bot: Runtime) -> None:
    await login(slack_emu)
    view = await open_form(slack_emu, EXAMPLE)
    await slack_emu.submit_view(REQUESTER, view.id, {"reason": {"value": "x"}})
    await slack_emu.wait_for(lambda: slack_emu.state.messages(APPROVALS))
    for text in ("help", "list"):
        await slack_emu.slash_command(REQUESTER, GENERAL, "/clone-model", text)
    texts = await slack_emu.wait_for(
        lambda: (t := [m.text for m in slack_emu.state.ephemerals(REQUESTER)]) and len(t) >= 2 and t
    )
    assert "/clone-model status" in texts[0]
    assert "CR-" in texts[1] and "example → example-clone" in texts[1]
    request_id = re.findall(r"CR-[0-9A-Z]{6}", texts[1])[0]
    await slack_emu.slash_command(
        REQUESTER, GENERAL, "/clone-model", f"status {request_id.lower()}"
    )
    status = await slack_emu.wait_for(
        lambda: (
            (t := [m.text for m in slack_emu.state.ephemerals(REQUESTER)]) and len(t) >= 3 and t[-1]
        )
    )
    assert request_id in status and "Waiting for approval" in status


@pytest.mark.parametrize(
    "text",
    ["[" * 600, "{a: " * 300, "- " * 200 + "x", "&a [" * 100],
    ids=["600-brackets", "300-mappings", "200-dashes", "anchored"],
)
async def test_yaml_nested_too_deep_is_a_field_error_not_a_crash(
    slack_emu: SlackEmulator, approval_bot: Runtime, text: str
) -> None:
    """600 ``[`` (1,200 characters, typeable in the form) made PyYAML's composer recurse until
    RecursionError: HTTP 500 and an "internal error" message."""
    await login(slack_emu)
    view = await open_form(slack_emu, EXAMPLE)
    await show_advanced(slack_emu, view.id)
    delivery = await slack_emu.submit_view(
        REQUESTER, view.id, {"reason": {"value": "x"}, "yaml": {"value": text}}
    )
    assert delivery.status == 200
    assert delivery.json()["errors"].keys() == {"yaml"}
    assert (
        approval_bot.deps.metrics.registry.get_sample_value(
            "clonebot_handler_errors_total", {"error": "RecursionError"}
        )
        is None
    )


async def show_advanced(emu: SlackEmulator, view_id: str) -> None:
    """Press "Show advanced options" and wait until the YAML field is there."""
    await emu.view_action(REQUESTER, view_id, "toggle_advanced", block_id="advanced_toggle")
    await emu.wait_for(lambda: '"block_id": "yaml"' in blocks_text(emu.state.view(view_id)))


async def test_prefilled_cpu_and_memory_survive_the_advanced_toggle_and_are_sent(
    slack_emu: SlackEmulator, approval_bot: Runtime, zstack_sim: SimServer
) -> None:
    """Slack hands number inputs back as text; a re-rendered form dropped them, and the request
    went out without the source's CPU and memory."""
    await login(slack_emu)
    view = await open_form(slack_emu, EXAMPLE)
    cpu, memory = initial(view, "request_cpu"), initial(view, "request_memory")
    assert cpu and memory
    await show_advanced(slack_emu, view.id)
    shown = slack_emu.state.view(view.id)
    assert (initial(shown, "request_cpu"), initial(shown, "request_memory")) == (cpu, memory)
    await slack_emu.submit_view(REQUESTER, view.id, {"reason": {"value": "eval"}})
    await slack_emu.wait_for(lambda: slack_emu.state.messages(APPROVALS))
    (record,) = await approval_bot.deps.requests.recent("T0CLONE", REQUESTER)
    params = record.body.params
    assert (params.request_cpu, params.request_memory) == (int(cpu), int(memory))
    # Approved, the CloneModelService POST carries them: the clone has the source's sizes.
    record = await wait_card(approval_bot, record.id)
    await click(slack_emu, APPROVER, record, "request_approve")
    await wait_state(approval_bot, record.id, State.SUCCEEDED)
    services = zstack_sim.state.snapshot()["model_services"]
    clone = next(s["inventory"] for s in services if s["inventory"]["name"] == "example-clone")
    assert (clone["requestCpu"], clone["requestMemory"]) == (int(cpu), int(memory))


async def test_advanced_options_show_the_sources_values(
    slack_emu: SlackEmulator, approval_bot: Runtime
) -> None:
    """Empty advanced fields silently meant "keep the source's"; they show the source's values."""
    await login(slack_emu)
    view = await open_form(slack_emu, EXAMPLE)
    await show_advanced(slack_emu, view.id)
    shown = slack_emu.state.view(view.id)
    assert initial(shown, "start_command") == "python3 app.py"
    assert initial(shown, "install_path") == "/example/install/path"
    assert initial(shown, "python_version") == "3.8.10"
    assert initial(shown, "conda_version") == "23.7.4"


async def test_status_with_a_malformed_id_says_there_is_no_such_request(
    slack_emu: SlackEmulator, approval_bot: Runtime
) -> None:
    for text in ("status CR-NOPE00", "status <!channel>", "status"):
        await slack_emu.slash_command(REQUESTER, GENERAL, "/clone-model", text)
    answers = await slack_emu.wait_for(
        lambda: (t := [m.text for m in slack_emu.state.ephemerals(REQUESTER)]) and len(t) >= 3 and t
    )
    assert answers[0] == "There is no request CR-NOPE00."
    assert answers[1] == "There is no request &lt;!channel&gt;."  # escaped: it never pings
    assert "Give a request id" in answers[2]


async def test_the_shortcuts_open_the_same_form(
    slack_emu: SlackEmulator, approval_bot: Runtime
) -> None:
    await login(slack_emu)
    # The global shortcut: the form, with no source chosen yet.
    delivery = await slack_emu.shortcut(REQUESTER, "clone_model_service")
    assert delivery.status == 200
    view = await top_view(slack_emu, REQUESTER, "clone_model")
    assert initial(view, "name") is None
    slack_emu.modals.clear(REQUESTER, reason="close")
    # The message shortcut on a message naming a service: the form prefilled from it.
    dashed = f"{EXAMPLE[:8]}-{EXAMPLE[8:12]}-{EXAMPLE[12:16]}-{EXAMPLE[16:20]}-{EXAMPLE[20:]}"
    await slack_emu.post_message(REQUESTER, GENERAL, f"can we copy {dashed}?")
    message = slack_emu.state.messages(GENERAL)[-1]
    delivery = await slack_emu.shortcut(
        REQUESTER, "clone_model_service", channel=GENERAL, message_ts=message.ts
    )
    assert delivery.status == 200
    prefilled = await top_view(slack_emu, REQUESTER, "clone_model")
    assert initial(prefilled, "name") == "example-clone"


async def test_anything_written_in_the_bots_dm_is_answered_with_the_commands(
    slack_emu: SlackEmulator, approval_bot: Runtime
) -> None:
    dm = slack_emu.state.workspace.im_for(REQUESTER)
    for text in ("help", "what can you do?"):
        await slack_emu.post_message(REQUESTER, dm.id, text)
    replies = await slack_emu.wait_for(
        lambda: (
            (r := [m.text for m in slack_emu.state.dms(REQUESTER) if m.bot_id])
            and len(r) >= 2
            and r
        )
    )
    assert all("/clone-model status" in text for text in replies)
    # The bot's own posts in the DM are not answered: exactly two replies, however long we wait.
    await approval_bot.deps.background.drain(1.0)
    assert len([m for m in slack_emu.state.dms(REQUESTER) if m.bot_id]) == 2


async def test_the_card_shows_what_the_clone_changes_with_human_labels(
    slack_emu: SlackEmulator, approval_bot: Runtime
) -> None:
    await login(slack_emu)
    view = await open_form(slack_emu, EXAMPLE)
    cpu = int(initial(view, "request_cpu"))
    await slack_emu.submit_view(
        REQUESTER,
        view.id,
        {"reason": {"value": "bigger"}, "request_cpu": {"value": str(cpu * 2)}},
    )
    cards = await slack_emu.wait_for(lambda: slack_emu.state.messages(APPROVALS))
    text = blocks_text(cards[0].blocks)
    assert "What changes against the source" in text
    assert f"*CPU cores*: {cpu} → {cpu * 2}" in text
    assert "example-clone" in text
    assert "requestCpu" not in text  # people's labels, not wire names
    (record,) = await approval_bot.deps.requests.recent("T0CLONE", REQUESTER)
    assert record.changes is not None
    assert {c.wire for c in record.changes} == {"name", "requestCpu"}
