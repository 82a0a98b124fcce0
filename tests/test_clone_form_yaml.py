"""The YAML check of the clone form: any text is either accepted or a field problem."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.ui.clone_form import YAML_MAX_DEPTH, Problem, check_yaml

YAMLISH = st.text(alphabet="[]{}:,-&*!?|>#'\" \n\tab1", max_size=3000)


@settings(max_examples=300, deadline=None)
@given(text=YAMLISH)
def test_any_text_is_valid_yaml_or_a_problem(text: str) -> None:
    with contextlib.suppress(Problem):
        check_yaml(text)


def test_depth_up_to_the_bound_is_accepted_and_beyond_refused() -> None:
    check_yaml("[" * (YAML_MAX_DEPTH - 1) + "]" * (YAML_MAX_DEPTH - 1))
    try:
        check_yaml("[" * (YAML_MAX_DEPTH + 1) + "]" * (YAML_MAX_DEPTH + 1))
    except Problem as problem:
        assert "nested too deeply" in str(problem)
    else:
        raise AssertionError("accepted a document nested beyond the bound")


def test_an_alias_bomb_is_refused() -> None:
    """Twelve levels of ten aliases each would expand to 10**12 items."""
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(12):
        name, previous = chr(98 + i), chr(97 + i)
        lines.append(f"{name}: &{name} [{', '.join(['*' + previous] * 10)}]")
    try:
        check_yaml("\n".join(lines))
    except Problem:
        return
    raise AssertionError("an alias bomb passed")


def _verdict(text: str) -> tuple[str, str] | None:
    try:
        check_yaml(text)
    except Problem as problem:
        return problem.template, str(problem)
    return None


def test_a_text_checked_again_gets_the_same_verdict() -> None:
    """Verdicts are kept per text: asking again answers as the first time, each text its own."""
    texts = ["a: 1", "a: [1", "b: [2", "[" * (YAML_MAX_DEPTH + 1) + "]" * (YAML_MAX_DEPTH + 1)]
    first = [_verdict(text) for text in texts]
    assert first[0] is None
    assert first[1] is not None and first[2] is not None and first[3] is not None
    assert "nested too deeply" in first[3][1]
    assert [_verdict(text) for text in texts] == first
    problems = []
    for _ in range(2):
        try:
            check_yaml("a: [1")
        except Problem as problem:
            problems.append(problem)
    assert problems[0] is not problems[1]  # a fresh exception each time, never one re-raised
