"""The clone form's fast path (blocks rendered once, filled in per request) yields exactly the
JSON slack_sdk's models yield, for every variant of the form and in every language."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from slack_sdk.models.blocks import Option

from bot.requests.rules import AppliedRule
from bot.sandbox.zstack_sim.seed import seed_services
from bot.ui.clone import (
    ADVANCED,
    BASIC,
    CloneViewMeta,
    clone_form_view,
    defaults_from_source,
    loading_view,
    source_option,
)
from bot.ui.prerendered import Prerendered
from bot.zstack.clone_spec import param
from bot.zstack.models import ModelServiceInventory

LANGS = ("en", "zh")
SOURCES = [ModelServiceInventory.model_validate(s.to_inventory()) for s in seed_services()]


def _raws() -> list[dict[str, Any]]:
    """What the form is filled with: nothing, each seeded source, and values at the edges."""
    raws: list[dict[str, Any]] = [{}]
    raws += [defaults_from_source(inv) for inv in SOURCES]
    edges = dict(defaults_from_source(SOURCES[0]))
    edges["description"] = "x" * ((param("description").max_length or 0) + 1)  # too long
    edges["readme"] = "line one\nline two"
    edges["name"] = "tabs\tand  spaces"
    edges["request_cpu"] = "12"  # typed back as text
    edges["request_memory"] = 10**12  # out of bounds: not prefilled
    edges["type"] = "NoSuchType"
    edges["cpu_architectures"] = ["aarch64", "x86_64", "sparc"]
    edges["flags"] = ["no-such-flag"]
    edges["reason"] = "因为"
    raws.append(edges)
    return raws


RULE = AppliedRule(name="gpu", approvers=["U0APPROVER"], approvals=2)


def _variants() -> list[dict[str, Any]]:
    choices = [source_option(inv) for inv in SOURCES]
    out: list[dict[str, Any]] = []
    for advanced, supersedes, notice, with_choices, rule in itertools.product(
        (False, True), (None, "CR-7"), (None, ":warning: *Note* <x>"), (False, True), (None, RULE)
    ):
        out.append(
            {
                "meta": CloneViewMeta(
                    channel_id="C0GENERAL", advanced=advanced, supersedes=supersedes
                ),
                "notice": notice,
                "choices": choices if with_choices else None,
                "source": None if with_choices else source_option(SOURCES[0]),
                "rule": rule,
            }
        )
    return out


@pytest.mark.parametrize("lang", LANGS)
def test_every_form_variant_renders_exactly_what_the_models_render(lang: str) -> None:
    for raw, variant in itertools.product(_raws(), _variants()):
        fast = clone_form_view(raw, lang=lang, **variant).to_dict()
        models = clone_form_view(raw, lang=lang, models_only=True, **variant).to_dict()
        # The same JSON text: same values, same key order.
        assert json.dumps(fast, ensure_ascii=False) == json.dumps(models, ensure_ascii=False)


def test_the_fast_path_uses_rendered_blocks_and_hands_out_fresh_ones() -> None:
    raw = defaults_from_source(SOURCES[0])
    view = clone_form_view(raw, CloneViewMeta(advanced=True), lang="en")
    rendered = [b for b in view.blocks if isinstance(b, Prerendered)]
    assert len(rendered) >= len(BASIC) + len(ADVANCED)
    first = view.to_dict()
    first["blocks"][1]["element"]["initial_value"] = "changed by a caller"
    again = clone_form_view(raw, CloneViewMeta(advanced=True), lang="en").to_dict()
    assert again["blocks"][1]["element"]["initial_value"] == raw["name"]


def test_languages_are_cached_apart() -> None:
    english = clone_form_view({}, CloneViewMeta(), lang="en").to_dict()
    chinese = clone_form_view({}, CloneViewMeta(), lang="zh").to_dict()
    assert english["blocks"][1]["label"] != chinese["blocks"][1]["label"]
    assert clone_form_view({}, CloneViewMeta(), lang="en").to_dict() == english


@pytest.mark.parametrize("lang", LANGS)
def test_the_loading_view_is_what_its_models_render(lang: str) -> None:
    assert loading_view(lang).to_dict() == loading_view(lang, models_only=True).to_dict()


def test_an_option_choice_is_kept_per_value() -> None:
    source = Option(value=SOURCES[0].uuid or "", text="example")
    for arch in (["x86_64"], ["aarch64"], []):
        raw = {"cpu_architectures": arch}
        fast = clone_form_view(raw, CloneViewMeta(), source=source).to_dict()
        models = clone_form_view(raw, CloneViewMeta(), source=source, models_only=True).to_dict()
        assert fast == models
