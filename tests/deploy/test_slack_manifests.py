"""The Slack app manifests in deploy/: Slack's manifest rules (as a JSON Schema) plus what the bot
needs of them — its slash commands, the scopes of the Web API methods it calls, its events."""

from __future__ import annotations

import ast
import copy
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest

from tests.deploy.support import DEPLOY, HERE, REPO, load_json, load_yaml

HTTP = DEPLOY / "manifest.http.yaml"
SOCKET = DEPLOY / "manifest.socket.yaml"
SCHEMA = load_json(HERE / "slack_manifest.schema.json")
PLACEHOLDER_URL = "https://clone-bot.example.com/slack/events"

# DESIGN §2: the commands a Slack user has.
COMMANDS = {"/clone-model", "/zstack"}

# Web API methods the bot calls → the bot scope each needs (slack-platform.md §5; None = none).
METHOD_SCOPES: dict[str, str | None] = {
    "auth.test": None,
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.postEphemeral": "chat:write",
    "chat.getPermalink": None,
    "views.open": None,
    "views.update": None,
    "views.push": None,
    "views.publish": None,
    "conversations.open": "im:write",
    "users.info": "users:read",
    "usergroups.users.list": "usergroups:read",
}
# Events the bot listens to → the scope Slack requires to deliver them.
EVENT_SCOPES: dict[str, str | None] = {
    "app_home_opened": None,  # App Home tab
    "message.channels": "channels:history",  # "approve" / "reject <reason>" in a public thread
    "message.groups": "groups:history",  # the same in a private channel
    "message.im": "im:history",  # a message in the bot's DM is answered with the commands
}
# Needed by the product but by no single method: slash commands, and posting request cards in
# channels the bot has not joined (the approval channel / where the command was typed).
EXTRA_SCOPES = {"commands", "chat:write.public"}
REQUIRED_SCOPES = {s for s in (*METHOD_SCOPES.values(), *EVENT_SCOPES.values()) if s} | {"commands"}
ALLOWED_SCOPES = REQUIRED_SCOPES | EXTRA_SCOPES

VALIDATOR = jsonschema.Draft7Validator(SCHEMA)


def _errors(manifest: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in VALIDATOR.iter_errors(manifest)
    ]


@pytest.fixture(params=[HTTP, SOCKET], ids=["http", "socket"])
def manifest_path(request: pytest.FixtureRequest) -> Path:
    return request.param


@pytest.fixture
def manifest(manifest_path: Path) -> dict[str, Any]:
    return load_yaml(manifest_path)


def test_schema_is_a_valid_draft7_schema() -> None:
    jsonschema.Draft7Validator.check_schema(SCHEMA)


def test_manifest_passes_the_slack_rules(manifest: dict[str, Any]) -> None:
    assert _errors(manifest) == []


def test_manifest_modes(manifest_path: Path, manifest: dict[str, Any]) -> None:
    assert manifest["settings"]["socket_mode_enabled"] is (manifest_path == SOCKET)
    assert manifest["_metadata"]["major_version"] == 1


def test_every_command_the_bot_has_is_declared(manifest: dict[str, Any]) -> None:
    declared = [c["command"] for c in manifest["features"]["slash_commands"]]
    assert len(declared) == len(set(declared))
    assert set(declared) >= COMMANDS
    # And every command a handler registers (app.command("/x")) is in the manifest.
    assert set(declared) >= _registered_commands()


def test_the_clone_shortcuts_are_declared_with_the_bots_callback(manifest: dict[str, Any]) -> None:
    from handlers.clone import SHORTCUT_CALLBACK

    shortcuts = manifest["features"]["shortcuts"]
    assert {(s["type"], s["callback_id"]) for s in shortcuts} == {
        ("global", SHORTCUT_CALLBACK),
        ("message", SHORTCUT_CALLBACK),
    }
    assert {s["name"] for s in shortcuts} == {"Clone a model service"}


def _registered_commands() -> set[str]:
    found: set[str] = set()
    for path in (REPO / "handlers").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "command"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
                and node.args[0].value.startswith("/")
            ):
                found.add(node.args[0].value)
    return found


def test_scopes_cover_every_method_and_event_and_nothing_more(manifest: dict[str, Any]) -> None:
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    missing = REQUIRED_SCOPES - scopes
    assert not missing, f"scopes missing for the bot's methods/events: {sorted(missing)}"
    extra = scopes - ALLOWED_SCOPES
    assert not extra, f"scopes nothing in the bot needs: {sorted(extra)}"
    assert "user" not in manifest["oauth_config"]["scopes"]


def test_bot_events_cover_what_the_bot_listens_to(manifest: dict[str, Any]) -> None:
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert events == set(EVENT_SCOPES)


def test_app_home_is_on(manifest: dict[str, Any]) -> None:
    home = manifest["features"]["app_home"]
    assert home["home_tab_enabled"] is True
    assert home["messages_tab_enabled"] is True
    assert manifest["features"]["bot_user"]["display_name"]
    assert manifest["settings"]["interactivity"]["is_enabled"] is True


def test_every_scope_is_justified_by_a_comment(manifest_path: Path) -> None:
    lines = manifest_path.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "bot:")
    for i in range(start + 1, len(lines)):
        stripped = lines[i].strip()
        if not stripped.startswith(("-", "#")):
            break
        if stripped.startswith("- "):
            assert lines[i - 1].strip().startswith("#"), f"scope without a comment: {stripped}"


def _urls(manifest: dict[str, Any]) -> list[str]:
    settings = manifest["settings"]
    urls = [c.get("url") for c in manifest["features"]["slash_commands"]]
    urls += [
        settings["interactivity"].get("request_url"),
        settings["interactivity"].get("message_menu_options_url"),
        settings["event_subscriptions"].get("request_url"),
    ]
    return [u for u in urls if u is not None]


def test_http_mode_urls_are_one_and_the_same() -> None:
    manifest = load_yaml(HTTP)
    urls = _urls(manifest)
    assert len(urls) == len(manifest["features"]["slash_commands"]) + 3
    assert set(urls) == {PLACEHOLDER_URL}
    # The path is the one bot/server.py serves.
    assert {urlsplit(u).path for u in urls} == {"/slack/events"}
    server = (REPO / "bot" / "server.py").read_text(encoding="utf-8")
    assert 'add_post("/slack/events"' in server
    text = HTTP.read_text(encoding="utf-8")
    assert re.search(r"^#.*REPLACE THE HOST", text, re.MULTILINE | re.IGNORECASE)


def test_socket_mode_has_no_urls() -> None:
    assert _urls(load_yaml(SOCKET)) == []


def test_the_two_manifests_differ_only_in_urls_and_mode() -> None:
    def strip(manifest: dict[str, Any]) -> dict[str, Any]:
        manifest = copy.deepcopy(manifest)
        for command in manifest["features"]["slash_commands"]:
            command.pop("url", None)
        manifest["settings"]["interactivity"].pop("request_url", None)
        manifest["settings"]["interactivity"].pop("message_menu_options_url", None)
        manifest["settings"]["event_subscriptions"].pop("request_url", None)
        manifest["settings"].pop("socket_mode_enabled")
        return manifest

    assert strip(load_yaml(HTTP)) == strip(load_yaml(SOCKET))


# --- the schema has teeth: each mutation breaks one Slack rule and must be refused -----------


def _set(path: str, value: Any) -> Any:
    def mutate(manifest: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = manifest
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        if value is _DELETE:
            del node[int(last) if last.isdigit() else last]
        elif last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value

    return mutate


_DELETE = object()

HTTP_MUTATIONS = {
    "name too long": _set("display_information.name", "x" * 36),
    "empty name": _set("display_information.name", ""),
    "display name too long": _set("features.bot_user.display_name", "b" * 81),
    "command without slash": _set("features.slash_commands.0.command", "clone-model"),
    "command too long": _set("features.slash_commands.0.command", "/" + "c" * 32),
    "description too long": _set("features.slash_commands.0.description", "d" * 2001),
    "usage hint too long": _set("features.slash_commands.0.usage_hint", "u" * 1001),
    "command url not https": _set(
        "features.slash_commands.0.url", "http://clone-bot.example.com/slack/events"
    ),
    "command url too long": _set(
        "features.slash_commands.0.url", "https://h.example.com/" + "p" * 3000
    ),
    "command url missing": _set("features.slash_commands.0.url", _DELETE),
    "interactivity url too long": _set(
        "settings.interactivity.request_url", "https://h.example.com/" + "p" * 3500
    ),
    "interactivity not enabled": _set("settings.interactivity.is_enabled", False),
    "interactivity is_enabled missing": _set("settings.interactivity.is_enabled", _DELETE),
    "options url missing": _set("settings.interactivity.message_menu_options_url", _DELETE),
    "events url missing": _set("settings.event_subscriptions.request_url", _DELETE),
    "too many scopes": _set("oauth_config.scopes.bot", [f"scope{i}:read" for i in range(256)]),
    "duplicate scope": _set("oauth_config.scopes.bot", ["commands", "commands"]),
    "too many commands": _set(
        "features.slash_commands",
        [{"command": f"/c{i}", "description": "d", "url": PLACEHOLDER_URL} for i in range(51)],
    ),
    "unknown key": _set("settings.surprise", True),
    "wrong major version": _set("_metadata.major_version", 2),
}

SOCKET_MUTATIONS = {
    "command url in socket mode": _set("features.slash_commands.0.url", PLACEHOLDER_URL),
    "interactivity url in socket mode": _set("settings.interactivity.request_url", PLACEHOLDER_URL),
    "options url in socket mode": _set(
        "settings.interactivity.message_menu_options_url", PLACEHOLDER_URL
    ),
    "events url in socket mode": _set("settings.event_subscriptions.request_url", PLACEHOLDER_URL),
}


@pytest.mark.parametrize("mutation", HTTP_MUTATIONS.values(), ids=HTTP_MUTATIONS.keys())
def test_schema_refuses_broken_http_manifests(mutation: Any) -> None:
    manifest = load_yaml(HTTP)
    mutation(manifest)
    assert _errors(manifest)


@pytest.mark.parametrize("mutation", SOCKET_MUTATIONS.values(), ids=SOCKET_MUTATIONS.keys())
def test_schema_refuses_urls_in_socket_mode(mutation: Any) -> None:
    manifest = load_yaml(SOCKET)
    mutation(manifest)
    assert _errors(manifest)
