"""The clone form's fast path (blocks rendered once, filled in per request) yields exactly the
JSON slack_sdk's models yield, for every variant of the form and in every language."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Option

from bot.requests.rules import AppliedRule
from bot.sandbox.zstack_sim.seed import seed_services
from bot.ui.clone import (
    ADVANCED,
    BASIC,
    CloneViewMeta,
    LookupMeta,
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


def test_the_fast_path_uses_rendered_blocks_and_prefills_copies_of_them() -> None:
    raw = defaults_from_source(SOURCES[0])
    view = clone_form_view(raw, CloneViewMeta(advanced=True), lang="en")
    rendered = [b for b in view.blocks if isinstance(b, Prerendered)]
    assert len(rendered) >= len(BASIC) + len(ADVANCED)
    assert view.to_dict()["blocks"][1]["element"]["initial_value"] == raw["name"]
    # The shared blocks are as rendered without a prefill: the form with nothing typed has none.
    empty = clone_form_view({}, CloneViewMeta(advanced=True), lang="en").to_dict()
    models = clone_form_view({}, CloneViewMeta(advanced=True), lang="en", models_only=True)
    assert "initial_value" not in empty["blocks"][1]["element"]
    assert empty == models.to_dict()


def test_languages_are_cached_apart() -> None:
    english = clone_form_view({}, CloneViewMeta(), lang="en").to_dict()
    chinese = clone_form_view({}, CloneViewMeta(), lang="zh").to_dict()
    assert english["blocks"][1]["label"] != chinese["blocks"][1]["label"]
    assert clone_form_view({}, CloneViewMeta(), lang="en").to_dict() == english


@pytest.mark.parametrize("lang", LANGS)
def test_the_loading_view_is_what_its_models_render(lang: str) -> None:
    for meta in (None, LookupMeta.of("C0GENERAL", "example"), LookupMeta.of(None, "")):
        fast = loading_view(lang, meta).to_dict()
        models = loading_view(lang, meta, models_only=True).to_dict()
        assert json.dumps(fast, ensure_ascii=False) == json.dumps(models, ensure_ascii=False)


def test_a_view_its_model_refuses_is_refused_on_the_fast_path_too() -> None:
    meta = CloneViewMeta(channel_id="C0GENERAL", supersedes="CR-" + "7" * 3000)
    with pytest.raises(SlackObjectFormationError, match="private_metadata"):
        clone_form_view({}, meta, lang="en", models_only=True).to_dict()
    with pytest.raises(SlackObjectFormationError, match="private_metadata"):
        clone_form_view({}, meta, lang="en").to_dict()


def test_an_option_choice_is_kept_per_value() -> None:
    source = Option(value=SOURCES[0].uuid or "", text="example")
    for arch in (["x86_64"], ["aarch64"], []):
        raw = {"cpu_architectures": arch}
        fast = clone_form_view(raw, CloneViewMeta(), source=source).to_dict()
        models = clone_form_view(raw, CloneViewMeta(), source=source, models_only=True).to_dict()
        assert fast == models
