"""requirements.lock and requirements-dev.lock: exact, hashed pins that cover every dependency
pyproject.toml declares (within its ranges), and the files that install — the Makefile, the
Dockerfile, CI — install from them and resolve nothing else."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from tests.deploy.support import DEPLOY, REPO, parse_dockerfile

LOCK = REPO / "requirements.lock"
DEV_LOCK = REPO / "requirements-dev.lock"
HASH = re.compile(r"--hash=(sha256:[0-9a-f]{64})\b")


@dataclass(frozen=True)
class Pin:
    """One locked requirement: ``name==version``, its marker if any, its allowed hashes."""

    name: NormalizedName
    version: Version
    marker: Marker | None
    hashes: frozenset[str]

    def applies_here(self) -> bool:
        return self.marker is None or self.marker.evaluate()


def read_lock(path: Path) -> list[Pin]:
    """The pins of a requirements-format lock, continuations joined and comments dropped."""
    entries: list[str] = []
    buffer = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        buffer += line.removesuffix("\\").strip() + " "
        if not line.endswith("\\"):
            entries.append(buffer.strip())
            buffer = ""
    assert not buffer, f"{path.name}: dangling line continuation"

    pins = []
    for entry in entries:
        text, _, _ = entry.partition(" --hash=")
        requirement = Requirement(text)
        specifiers = list(requirement.specifier)
        assert len(specifiers) == 1 and specifiers[0].operator == "==", f"not exact: {entry}"
        assert "*" not in specifiers[0].version, f"not exact: {entry}"
        pins.append(
            Pin(
                name=canonicalize_name(requirement.name),
                version=Version(specifiers[0].version),
                marker=requirement.marker,
                hashes=frozenset(HASH.findall(entry)),
            )
        )
    return pins


def _declared() -> tuple[list[Requirement], list[Requirement]]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = [Requirement(r) for r in project["dependencies"]]
    dev = [Requirement(r) for r in project["optional-dependencies"]["dev"]]
    return runtime, dev


RUNTIME, DEV = _declared()


@pytest.fixture(scope="module")
def runtime_lock() -> list[Pin]:
    return read_lock(LOCK)


@pytest.fixture(scope="module")
def dev_lock() -> list[Pin]:
    return read_lock(DEV_LOCK)


def _assert_covered(requirement: Requirement, pins: list[Pin], lock: Path) -> None:
    name = canonicalize_name(requirement.name)
    found = [p for p in pins if p.name == name]
    assert found, f"{lock.name} has no {name}: run `make lock`"
    for pin in found:
        assert requirement.specifier.contains(pin.version, prereleases=True), (
            f"{lock.name} pins {name}=={pin.version} outside pyproject's {requirement}: "
            "run `make lock`"
        )
    if requirement.marker is None or requirement.marker.evaluate({"extra": "dev"}):
        assert any(p.applies_here() for p in found), f"{lock.name}: no {name} for this platform"


def test_read_lock_joins_continuations_and_keeps_markers(tmp_path: Path) -> None:
    sample = tmp_path / "sample.lock"
    digest = "0" * 64
    sample.write_text(
        "# header\nA_b==1.0 \\\n    --hash=sha256:" + digest + "\n    # via x\n"
        "c==2 ; platform_machine == 'x86_64' \\\n    --hash=sha256:" + digest + "\n",
        encoding="utf-8",
    )
    first, second = read_lock(sample)
    assert (first.name, first.version, first.marker) == ("a-b", Version("1.0"), None)
    assert first.hashes == {f"sha256:{digest}"}
    assert str(second.marker) == 'platform_machine == "x86_64"'
    sample.write_text("d>=1\n", encoding="utf-8")
    with pytest.raises(AssertionError, match="not exact"):
        read_lock(sample)


@pytest.mark.parametrize("lock", [LOCK, DEV_LOCK], ids=lambda p: p.name)
def test_every_pin_is_exact_hashed_and_single(lock: Path) -> None:
    pins = read_lock(lock)
    assert pins
    unhashed = [p.name for p in pins if not p.hashes]
    assert not unhashed, f"{lock.name}: pins without a hash: {unhashed}"
    # A name may appear twice only as a platform fork, under different markers.
    keys = [(p.name, str(p.marker)) for p in pins]
    assert len(keys) == len(set(keys)), f"{lock.name}: a package pinned twice"


@pytest.mark.parametrize("requirement", RUNTIME, ids=str)
def test_runtime_lock_covers_each_dependency(
    requirement: Requirement, runtime_lock: list[Pin]
) -> None:
    _assert_covered(requirement, runtime_lock, LOCK)


@pytest.mark.parametrize("requirement", RUNTIME + DEV, ids=str)
def test_dev_lock_covers_each_dependency_and_dev_tool(
    requirement: Requirement, dev_lock: list[Pin]
) -> None:
    _assert_covered(requirement, dev_lock, DEV_LOCK)


def test_the_image_runs_what_the_tests_ran(runtime_lock: list[Pin], dev_lock: list[Pin]) -> None:
    """The runtime lock is the dev lock's runtime part: same versions, same hashes."""
    dev = set(dev_lock)
    differing = sorted(f"{p.name}=={p.version}" for p in runtime_lock if p not in dev)
    assert not differing, f"pinned differently in {DEV_LOCK.name}: {differing}: run `make lock`"


def test_runtime_lock_holds_no_dev_tool(runtime_lock: list[Pin]) -> None:
    runtime_names = {canonicalize_name(r.name) for r in RUNTIME}
    tools = {canonicalize_name(r.name) for r in DEV} - runtime_names
    leaked = sorted(tools & {p.name for p in runtime_lock})
    assert not leaked, f"dev tools in {LOCK.name}: {leaked}"


def test_this_environment_is_the_dev_lock(dev_lock: list[Pin]) -> None:
    """What the tests run on is what the lock says (`make install` installs nothing else)."""
    drift = []
    for pin in dev_lock:
        if not pin.applies_here():
            continue
        try:
            installed = Version(metadata.version(pin.name))
        except metadata.PackageNotFoundError:
            installed = None
        if installed != pin.version:
            drift.append(f"{pin.name}: {installed} installed, {pin.version} locked")
    assert not drift, f"run `make install`: {drift}"


# --- the files that install ---------------------------------------------------------------


def _make_variables(text: str) -> dict[str, str]:
    assignments = re.findall(r"^([A-Z_]+)\s*[?:]?=\s*(.*)$", text, flags=re.MULTILINE)
    return {name: value.strip() for name, value in assignments}


def _expand(text: str, variables: dict[str, str]) -> str:
    for _ in range(10):  # nested references, e.g. $(BIN) inside $(STAMP)'s recipe
        text = re.sub(r"\$\((\w+)\)", lambda m: variables.get(m.group(1), m.group(0)), text)
    return text


def _make_rule(target: str) -> tuple[list[str], list[str]]:
    """Prerequisites and recipe lines of one Makefile rule, variables expanded."""
    text = (REPO / "Makefile").read_text(encoding="utf-8")
    variables = _make_variables(text)
    lines = text.splitlines()
    for index, line in enumerate(lines):
        head, colon, prerequisites = line.partition(":")
        if colon and not line.startswith("\t") and _expand(head, variables).strip() == target:
            recipe = []
            for follower in lines[index + 1 :]:
                if not follower.startswith("\t"):
                    break
                recipe.append(_expand(follower.strip(), variables))
            return _expand(prerequisites, variables).split(), recipe
    raise AssertionError(f"no Makefile rule for {target}")


def test_make_install_installs_the_dev_lock_then_the_project_alone() -> None:
    prerequisites, recipe = _make_rule(".venv/.installed")
    # The stamp is out of date whenever a lock changes, so `make install` re-syncs.
    assert {"pyproject.toml", LOCK.name, DEV_LOCK.name} <= set(prerequisites)
    installs = [line.split() for line in recipe if "pip install" in line]
    installs = [words for words in installs if words[-2:] != ["--upgrade", "pip"]]
    assert installs[0][-3:] == ["--require-hashes", "-r", DEV_LOCK.name]
    assert installs[-1][-3:] == ["--no-deps", "-e", "."]
    assert len(installs) == 2, "nothing else is installed, above all nothing from pyproject ranges"


def test_make_lock_writes_both_locks_with_hashes() -> None:
    _, recipe = _make_rule("lock")
    compiles = [line for line in recipe if "uv pip compile" in line]
    assert len(compiles) == 2
    dev, runtime = compiles
    assert "--extra dev" in dev and dev.endswith(f"--output-file {DEV_LOCK.name}")
    assert runtime.endswith(f"--output-file {LOCK.name}")
    assert f"--constraint {DEV_LOCK.name}" in runtime and "--extra" not in runtime
    for command in compiles:
        assert "--generate-hashes" in command and "--universal" in command


def test_the_image_installs_the_runtime_lock_then_the_wheel_alone() -> None:
    _, stages = parse_dockerfile((DEPLOY / "Dockerfile").read_text(encoding="utf-8"))
    builder = stages[0]
    copied = [c.args.split()[0] for c in builder.all("COPY") if "--from=" not in c.args]
    assert LOCK.name in copied
    # Its own layer before the sources: a code change does not reinstall the dependencies.
    assert copied.index(LOCK.name) < copied.index("bot")
    commands = [part.strip() for run in builder.all("RUN") for part in run.args.split("&&")]
    installs = [c.split() for c in commands if c.startswith("pip install")]
    assert installs[0] == ["pip", "install", "--require-hashes", "-r", LOCK.name]
    for install in installs[1:]:
        assert "--no-deps" in install, f"{' '.join(install)} would resolve from pyproject ranges"


def test_ci_installs_through_make() -> None:
    script = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^[^#\n]*\bmake test\b", script, flags=re.MULTILINE)
    assert "pip install" not in script
