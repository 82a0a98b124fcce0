"""deploy/docker-compose.yml: the bot and a persistent Redis 7, wired and health-checked."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.deploy.support import DEPLOY, load_yaml, settings_env_names

COMPOSE = DEPLOY / "docker-compose.yml"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_yaml(COMPOSE)


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def _command(service: dict[str, Any]) -> list[str]:
    command = service.get("command", [])
    return command.split() if isinstance(command, str) else [str(c) for c in command]


def test_services(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {"bot", "redis"}


def test_redis_7_persists_with_aof_on_a_named_volume(compose: dict[str, Any]) -> None:
    redis = compose["services"]["redis"]
    assert redis["image"].split(":")[0].endswith("redis")
    assert redis["image"].split(":")[1].startswith("7")
    command = _command(redis)
    assert command[0] == "redis-server"
    assert command[command.index("--appendonly") + 1] == "yes"
    data_dir = command[command.index("--dir") + 1] if "--dir" in command else "/data"
    mounts = [v.split(":") for v in redis["volumes"]]
    named = {source: target for source, target, *_ in mounts}
    assert data_dir in named.values()
    volume = next(source for source, target in named.items() if target == data_dir)
    assert volume in compose["volumes"], "the Redis data must live on a named volume"


def test_healthchecks_and_restart_policies(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        check = service["healthcheck"]["test"]
        assert check[0] in {"CMD", "CMD-SHELL"}, name
        assert service["restart"] in {"always", "unless-stopped", "on-failure"}, name
    assert "redis-cli" in compose["services"]["redis"]["healthcheck"]["test"]
    bot_check = " ".join(compose["services"]["bot"]["healthcheck"]["test"])
    assert "/healthz" in bot_check and "python" in bot_check


def test_bot_waits_for_a_healthy_redis_and_uses_it(compose: dict[str, Any]) -> None:
    bot = compose["services"]["bot"]
    assert bot["depends_on"]["redis"]["condition"] == "service_healthy"
    env = _environment(bot)
    assert env["REDIS_URL"] == "redis://redis:6379/0"
    assert urlsplit(env["REDIS_URL"]).hostname in compose["services"]
    assert env["CLONEBOT_HOST"] == "0.0.0.0"


def test_bot_reads_dotenv_builds_the_image_and_publishes_3000(compose: dict[str, Any]) -> None:
    bot = compose["services"]["bot"]
    env_files = bot["env_file"] if isinstance(bot["env_file"], list) else [bot["env_file"]]
    assert "../.env" in env_files
    context = (COMPOSE.parent / bot["build"]["context"]).resolve()
    assert (context / bot["build"]["dockerfile"]).is_file()
    assert (context / "pyproject.toml").is_file()
    assert any(str(p).split(":")[-1] == "3000" for p in bot["ports"])


def test_bot_environment_names_are_settings_the_bot_reads(compose: dict[str, Any]) -> None:
    unknown = set(_environment(compose["services"]["bot"])) - settings_env_names()
    assert not unknown


def test_no_credentials_in_the_compose_file(compose: dict[str, Any]) -> None:
    env = _environment(compose["services"]["bot"])
    for name in (
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_APP_TOKEN",
        "CLONEBOT_SESSION_KEY",
    ):
        assert name not in env
