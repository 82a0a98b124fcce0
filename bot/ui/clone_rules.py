"""How each kind of clone-form input is checked: the rule for a parameter comes from its spec.

A rule is a pydantic before-validator: it takes what Slack sent for the block (text, an option's
value, a list of values) and gives the field's value or raises ``Problem``, an English message
template translated when shown. Limits, patterns and messages are the spec's
(``bot.zstack.clone_spec``); only how a kind of input is read is written here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache, partial
from typing import Any

import yaml
from pydantic import BeforeValidator

from bot.i18n import N_, Msg, tr
from bot.zstack.clone_spec import CPU_ARCHITECTURES, LONG_TEXT_MAX, TEXT_MAX, UUID_RE, Param, Shown
from bot.zstack.models import ArchitectureImage

_ARCH_ALIASES = {"amd64": "x86_64", "x86-64": "x86_64", "arm64": "aarch64"}
DOCKER_IMAGE_RE = re.compile(r"^[a-z0-9][a-z0-9._\-/:@]*$", re.IGNORECASE)
_SPLIT = re.compile(r"[\s,]+")


class Problem(ValueError):
    """A field problem: an English template and its values, translated when shown."""

    def __init__(self, template: str, **values: Any) -> None:
        self.template = template
        self.values = values
        super().__init__(template.format(**values) if values else template)

    def text(self, lang: str) -> str:
        values = {k: v.render(lang) if isinstance(v, Msg) else v for k, v in self.values.items()}
        return tr(lang)(self.template, **values)


# YAML typed into the form is parsed to check it, never trusted: nesting, anchors and size are
# bounded before PyYAML's recursive composer or an alias bomb can take the process down.
YAML_MAX_DEPTH = 50
# Twenty aliases expand a document at most about 1,500-fold (3^6 * 2), never a billion-fold.
YAML_MAX_ALIASES = 20


class _YAMLTooComplex(yaml.YAMLError):
    """Nested deeper, or with more aliases, than the form accepts."""


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses documents nested deeper than ``YAML_MAX_DEPTH`` or with more than
    ``YAML_MAX_ALIASES`` aliases."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > YAML_MAX_ALIASES:
                raise _YAMLTooComplex("too many aliases")
        self._depth += 1
        try:
            if self._depth > YAML_MAX_DEPTH:
                raise _YAMLTooComplex("nested too deeply")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def check_yaml(text: str) -> None:
    """``Problem`` unless ``text`` is YAML of bounded depth and size (it is only checked)."""
    if len(text) > LONG_TEXT_MAX:
        raise Problem("At most {limit} characters.", limit=f"{LONG_TEXT_MAX:,}")
    problem = _yaml_problem(text)
    if problem is not None:
        template, values = problem
        raise Problem(template, **values)


# The same YAML is checked several times over one request (the source's when its form is
# filled, then the submission's, then the source's again to tell what the clone changes), and a
# popular source's by everyone who clones it: PyYAML's pure-Python parse is the dear part.
YAML_VERDICTS_KEPT = 256


@lru_cache(maxsize=YAML_VERDICTS_KEPT)
def _yaml_problem(text: str) -> tuple[str, dict[str, Any]] | None:
    """What is wrong with ``text`` as a ``Problem``'s template and values; None: nothing."""
    loader = _BoundedLoader(text)
    try:
        loader.get_single_data()
    except _YAMLTooComplex:
        return (
            N_(
                "This YAML is nested too deeply or repeats anchors too often (at most {depth} "
                "levels, {aliases} aliases)."
            ),
            {"depth": YAML_MAX_DEPTH, "aliases": YAML_MAX_ALIASES},
        )
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" ({mark.line + 1}:{mark.column + 1})" if mark else ""
        return N_("This is not valid YAML{where}."), {"where": where}
    finally:
        loader.dispose()
    return None


def normalise_arch(text: str) -> str:
    lowered = text.strip().lower()
    return _ARCH_ALIASES.get(lowered, lowered)


def _clean(value: Any) -> Any:
    """Strip text; empty text means "not given"."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _printable(text: str, *, multiline: bool) -> str:
    allowed = "\n\t" if multiline else ""
    if any(not (c.isprintable() or c in allowed) for c in text):
        raise Problem("Remove the control characters from this field.")
    return text


def _within(spec: Param, text: str) -> str:
    if spec.max_length is not None and len(text) > spec.max_length:
        raise Problem(
            "At most {limit} characters (this has {count}).",
            limit=f"{spec.max_length:,}",
            count=f"{len(text):,}",
        )
    return text


def _typed(spec: Param, value: Any) -> str:
    """The text typed into a list-like field ("" when empty); anything else is not what Slack
    sends."""
    value = _clean(value)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Problem("Enter text.")
    return _within(spec, value)


def _options_of(value: Any) -> list[str]:
    """Selected option values of a multi-select or checkboxes."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Problem("Choose from the list.")
    return value


def _text(spec: Param, value: Any) -> str | None:
    value = _clean(value)
    if value is None:
        if spec.required:
            raise Problem(spec.required)
        return None
    if not isinstance(value, str):
        raise Problem("Enter text.")
    text = _printable(_within(spec, value), multiline=spec.shown is not Shown.TEXT)
    if spec.lowercase:
        text = text.lower()
    if spec.pattern is not None and not spec.pattern.match(text):
        raise Problem(spec.mismatch or "Check this field.")
    if spec.shown is Shown.YAML:
        check_yaml(text)
    return text


def _integer(spec: Param, value: Any) -> int | None:
    value = _clean(value)
    if value is None:
        return None
    try:
        number = float(str(value))  # exact: every bound is within 2**53
    except ValueError:
        raise Problem("Enter a whole number.") from None
    if not number.is_integer():
        raise Problem("Enter a whole number.")
    low, high = spec.bounds
    if not low <= number <= high and spec.unit:
        raise Problem(
            "Enter a number from {low} to {high} {unit}.",
            low=f"{low:,}",
            high=f"{high:,}",
            unit=Msg.of(spec.unit),
        )
    if not low <= number <= high:
        raise Problem("Enter a number from {low} to {high}.", low=f"{low:,}", high=f"{high:,}")
    return int(number)


def _choice(spec: Param, value: Any) -> Any:
    value = _clean(value)
    if value is not None and value not in spec.options:
        raise Problem("Choose one of {choices}.", choices=", ".join(spec.options))
    return value


def _architectures(spec: Param, value: Any) -> list[str]:
    archs = [normalise_arch(a) for a in _options_of(value) if a.strip()]
    unknown = [a for a in archs if a not in spec.options]
    if unknown:
        raise Problem("Unknown architecture: {arch}.", arch=unknown[0][:40])
    return list(dict.fromkeys(archs))


def _words(spec: Param, value: Any) -> list[str]:
    items = [w for w in _SPLIT.split(_typed(spec, value)) if w]
    if spec.lowercase:
        items = [w.lower() for w in items]
    bad = [w for w in items if spec.pattern is not None and not spec.pattern.match(w)]
    if bad:
        raise Problem(spec.mismatch or "Check this field.", value=bad[0][:40])
    return list(dict.fromkeys(items))


def _lines(spec: Param, value: Any) -> list[str]:
    lines = [line.strip() for line in _typed(spec, value).splitlines() if line.strip()]
    limit = spec.item_max_length
    if limit is not None and any(len(line) > limit for line in lines):
        raise Problem("Each tag is at most {max} characters.", max=limit)
    for line in lines:
        _printable(line, multiline=False)
    return lines


def _images(spec: Param, value: Any) -> list[ArchitectureImage]:
    return parse_image_lines(_typed(spec, value))


def _vendors(spec: Param, value: Any) -> dict[str, list[str]]:
    return parse_vendor_lines(_typed(spec, value))


_READERS: dict[Shown, Callable[[Param, Any], Any]] = {
    Shown.TEXT: _text,
    Shown.MULTILINE: _text,
    Shown.YAML: _text,
    Shown.NUMBER: _integer,
    Shown.SELECT: _choice,
    Shown.MULTI_SELECT: _architectures,  # the only multi-select
    Shown.WORDS: _words,
    Shown.LINES: _lines,
    Shown.MAP: _vendors,
    Shown.IMAGES: _images,
}


def rule(spec: Param) -> BeforeValidator:
    """The validator of a form field that shows ``spec`` (flags are read as a group)."""
    return BeforeValidator(partial(_READERS[spec.shown], spec))


def flags_rule(flags: tuple[Param, ...]) -> BeforeValidator:
    """The checkboxes of the flag parameters: the keys of those ticked."""
    known = {f.key for f in flags}
    return BeforeValidator(lambda value: [v for v in _options_of(value) if v in known])


def parse_image_lines(text: str) -> list[ArchitectureImage]:
    """``<arch> <docker-image or -> [<vm-image-uuid>]``, one architecture per line."""
    images: list[ArchitectureImage] = []
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) > 3:
            raise Problem("Line {n}: write it as arch docker-image [vm-image-uuid].", n=number)
        arch = normalise_arch(parts[0])
        if arch not in CPU_ARCHITECTURES:
            raise Problem("Line {n}: unknown architecture {arch}.", n=number, arch=parts[0][:40])
        if arch in seen:
            raise Problem("Line {n}: {what} is listed twice.", n=number, what=arch)
        seen.add(arch)
        docker = parts[1] if len(parts) > 1 and parts[1] != "-" else None
        vm = parts[2].lower() if len(parts) > 2 and parts[2] != "-" else None
        if docker is not None and (len(docker) > TEXT_MAX or not DOCKER_IMAGE_RE.match(docker)):
            raise Problem(
                "Line {n}: {image} is not a container image reference.", n=number, image=docker[:60]
            )
        if vm is not None and not UUID_RE.match(vm):
            raise Problem("Line {n}: the VM image must be a 32-hex UUID.", n=number)
        if docker is None and vm is None:
            raise Problem("Line {n}: give a container image, a VM image UUID, or both.", n=number)
        images.append(
            ArchitectureImage(cpu_architecture=arch, docker_image=docker, vm_image_uuid=vm)
        )
    return images


def parse_vendor_lines(text: str) -> dict[str, list[str]]:
    """``VENDOR: spec-uuid, spec-uuid``, one GPU vendor per line."""
    result: dict[str, list[str]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        vendor, sep, rest = line.partition(":")
        vendor = vendor.strip()
        if not sep or not vendor or len(vendor) > 64 or not vendor.replace("-", "").isalnum():
            raise Problem("Line {n}: write it as VENDOR: spec-uuid, spec-uuid.", n=number)
        if vendor in result:
            raise Problem("Line {n}: {what} is listed twice.", n=number, what=vendor)
        specs = [s.lower() for s in _SPLIT.split(rest) if s]
        if not specs or any(not UUID_RE.match(s) for s in specs):
            raise Problem("Line {n}: GPU spec UUIDs are 32 hex characters.", n=number)
        result[vendor] = specs
    return result
