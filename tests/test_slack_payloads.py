"""Who acted and for which workspace: Bolt's context, and the checks kept on top of it where Bolt
would let someone decide who must not (a Slack Connect guest, an edit, a nested author)."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context

from bot.requests.policy import Actor
from bot.slack.payloads import (
    acting_user,
    installing_workspace,
    interaction_actor,
    message_author,
)

HOME = "T0CLONE"
GUEST_ORG = "T0OTHERORG"
PERSON = "U0APPROVER"


def context_of(body: dict[str, Any]) -> AsyncBoltContext:
    """The context Bolt builds for ``body`` before any listener runs."""
    return build_async_context(AsyncBoltContext(), body)


def message_event(**event: Any) -> dict[str, Any]:
    return {
        "type": "event_callback",
        "team_id": HOME,
        "event_id": "Ev0TEST",
        "authorizations": [{"team_id": HOME, "user_id": "U0BOT", "is_bot": True}],
        "event": {"type": "message", "channel": "C0APPROVALS", "text": "approve", **event},
    }


def click(**user: Any) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "team": {"id": HOME},
        "user": {"id": PERSON, **user},
        "actions": [{"action_id": "request_approve", "value": "CR-7F3K2Q"}],
    }


def test_a_command_names_its_user_and_workspace() -> None:
    context = context_of({"command": "/zstack", "user_id": PERSON, "team_id": HOME})
    assert (acting_user(context), installing_workspace(context)) == (PERSON, HOME)


def test_a_click_from_the_workspace_acts_for_it() -> None:
    body = click(team_id=HOME)
    assert interaction_actor(body, context_of(body)) == Actor(team_id=HOME, user_id=PERSON)


def test_a_slack_connect_guest_click_keeps_the_guest_workspace() -> None:
    body = click(team_id=GUEST_ORG)
    context = context_of(body)
    assert context.team_id == HOME  # Bolt names the installation...
    assert interaction_actor(body, context).team_id == GUEST_ORG  # ...the guest stays a guest


def test_a_person_of_the_workspace_writes_a_message() -> None:
    body = message_event(user=PERSON, team=HOME, user_team=HOME)
    assert message_author(body["event"], context_of(body)) == Actor(team_id=HOME, user_id=PERSON)


def test_an_edit_speaks_for_no_one_though_bolt_finds_its_author() -> None:
    body = message_event(subtype="message_changed", message={"user": PERSON, "text": "approve"})
    context = context_of(body)
    assert context.user_id == PERSON
    assert message_author(body["event"], context) is None


def test_a_nested_author_without_a_subtype_speaks_for_no_one() -> None:
    body = message_event(previous_message={"user": PERSON})
    context = context_of(body)
    assert context.user_id == PERSON
    assert message_author(body["event"], context) is None


def test_a_message_from_another_organisation_speaks_for_no_one() -> None:
    for field in ("user_team", "team"):
        body = message_event(user=PERSON, **{field: GUEST_ORG})
        context = context_of(body)
        assert context.team_id == HOME
        assert message_author(body["event"], context) is None, field


def test_bots_and_authorless_messages_speak_for_no_one() -> None:
    for event in ({"bot_id": "B0BOT", "user": PERSON}, {}, {"user": "not-an-id"}):
        body = message_event(**event)
        assert message_author(body["event"], context_of(body)) is None, event
