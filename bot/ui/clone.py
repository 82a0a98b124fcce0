"""The clone modal: every CloneModelService parameter, prefilled from the source service.

Block ids equal the field names of ``bot.ui.clone_form.CloneForm``; the inputs themselves are
built from the parameter spec (``bot.ui.clone_inputs``). ``form_values`` reads a view's state back
into the raw values that ``validate_form`` takes, and the same raw values prefill the form, so
toggling "Advanced options" or re-rendering never loses what was typed.
"""

from __future__ import annotations

import functools
import json
from typing import Any, Self

from pydantic import BaseModel, field_validator
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    ExternalDataSelectElement,
    HeaderBlock,
    InputBlock,
    Option,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.i18n import Text, Translate, render, tr
from bot.requests.rules import AppliedRule
from bot.ui.cards import rule_text
from bot.ui.clone_inputs import ADVANCED as ADVANCED
from bot.ui.clone_inputs import BASIC as BASIC
from bot.ui.clone_inputs import VALUE as VALUE
from bot.ui.clone_inputs import defaults_from_source as defaults_from_source
from bot.ui.clone_inputs import field_input
from bot.ui.parts import md
from bot.ui.prerendered import RenderedView, as_json, blocks_of, once, prerendered_input
from bot.ui.text import OPTION_TEXT_MAX, Mrkdwn, fmt, one_line, truncate
from bot.ui.view_state import BlockValue, ViewState
from bot.zstack.models import ModelServiceInventory

CLONE_CALLBACK = "clone_model"
LOADING_CALLBACK = "clone_model_loading"
ACTION_RETRY_LOOKUP = "clone_retry_lookup"
# What ``/clone-model <text>`` keeps for "Try again" (private_metadata holds 3,000 characters).
LOOKUP_TEXT_MAX = 1000
ACTION_SOURCE = "source"
ACTION_TOGGLE_ADVANCED = "toggle_advanced"


class ViewMetadata(BaseModel):
    """A modal's ``private_metadata``: written by the bot, read back leniently (a value that
    does not parse gives the defaults, never an error)."""

    def dump(self) -> str:
        return self.model_dump_json(exclude_none=True)

    @classmethod
    def load(cls, raw: str | None) -> Self:
        try:
            return cls.model_validate(json.loads(raw or "{}"))
        except ValueError:
            return cls()


class CloneViewMeta(ViewMetadata):
    """``private_metadata`` of the clone modal (kept well under Slack's 3,000 characters)."""

    channel_id: str | None = None
    advanced: bool = False
    source_name: str | None = None
    supersedes: str | None = None  # edit and resubmit: the request this form replaces
    rule: str | None = None  # the approval rule the form said its values meet

    @field_validator("source_name")
    @classmethod
    def _short(cls, value: str | None) -> str | None:
        return truncate(one_line(value), 200) if value else value


def source_label(name: str, uuid: str, lang: str = "en") -> str:
    """``name · 90d425a8``: readable and still unambiguous, within Slack's 75 characters."""
    tail = f" · {uuid[:8]}"
    shown = one_line(name) or tr(lang).plain("(unnamed)")
    return truncate(shown, OPTION_TEXT_MAX - len(tail)) + tail


def source_option(inv: ModelServiceInventory, lang: str = "en") -> Option:
    return Option(value=inv.uuid or "", text=source_label(inv.name or "", inv.uuid or "", lang))


def _source_input(
    raw: dict[str, Any], source: Option | None, choices: list[Option], t: Translate
) -> InputBlock:
    element: StaticSelectElement | ExternalDataSelectElement
    if choices:
        initial = next((o for o in choices if o.value == raw.get("source")), None)
        element = StaticSelectElement(
            action_id=ACTION_SOURCE,
            options=choices[:100],
            initial_option=initial,
            placeholder=t("Several services match; choose one"),
        )
    else:
        element = ExternalDataSelectElement(
            action_id=ACTION_SOURCE,
            initial_option=source,
            min_query_length=1,
            placeholder=t("Type to search model services"),
        )
    return InputBlock(
        block_id="source",
        label=t("Model service to clone"),
        hint=t("Only the services your ZStack login can see are listed."),
        dispatch_action=True,
        element=element,
    )


def clone_form_view(
    raw: dict[str, Any],
    meta: CloneViewMeta,
    *,
    source: Option | None = None,
    choices: list[Option] | None = None,
    notice: Mrkdwn | None = None,
    rule: AppliedRule | None = None,
    lang: str = "en",
    models_only: bool = False,
) -> View:
    """The whole form; ``raw`` holds the values to show (from the source or from typing), and
    ``rule`` the approval rule they meet. The inputs and fixed blocks come rendered from
    ``bot.ui.prerendered``; ``models_only`` builds every block with its model instead (the
    definition the rendered ones are checked against)."""
    t = tr(lang)

    def inputs(block_ids: tuple[str, ...]) -> list[Block]:
        if models_only:
            return [field_input(b, raw, t) for b in block_ids]
        return [prerendered_input(b, raw, lang) for b in block_ids]

    blocks: list[Block] = []
    if meta.supersedes:
        editing = t(
            ":pencil2: Editing *{id}*: this form sends a new request that replaces it.",
            id=meta.supersedes,
        )
        blocks.append(ContextBlock(elements=[md(editing)]))
    if notice:
        blocks.append(SectionBlock(text=md(truncate(notice, 2900))))
    blocks.append(_source_input(raw, source, choices or [], t))
    blocks += inputs(BASIC)
    if rule is not None:
        line = fmt(":scales: {rule}", rule=rule_text(rule, lang, approvers=True))
        blocks.append(ContextBlock(block_id="rule", elements=[md(truncate(line, 2000))]))
    if models_only:
        blocks += _toggle(lang, meta.advanced)
    else:
        blocks += blocks_of(_rendered_toggle(lang, meta.advanced))
    blocks += inputs(ADVANCED) if meta.advanced else []
    blocks += [DividerBlock()] if models_only else blocks_of(_rendered_divider())
    blocks += inputs(("reason",))
    return (View if models_only else RenderedView)(
        type="modal",
        callback_id=CLONE_CALLBACK,
        title=t.plain("Edit and resubmit") if meta.supersedes else t.plain("Clone model service"),
        submit=t.plain("Resubmit") if meta.supersedes else t.plain("Request clone"),
        close=t("Cancel"),
        private_metadata=meta.dump(),
        blocks=blocks,
    )


def _toggle(lang: str, advanced: bool) -> list[Block]:
    """The "advanced options" button and what follows it: the advanced inputs' header (shown)
    or what keeps the source's values (hidden)."""
    t = tr(lang)
    toggle = t("Hide advanced options") if advanced else t("Show advanced options")
    blocks: list[Block] = [
        ActionsBlock(
            block_id="advanced_toggle",
            elements=[ButtonElement(text=toggle, action_id=ACTION_TOGGLE_ADVANCED, value="1")],
        )
    ]
    if advanced:
        blocks.append(HeaderBlock(text=t("Advanced options")))
        return blocks
    hint = t(
        "Readme, YAML, commands, versions, tags and GPU specs keep the "
        "source's values unless you change them under advanced options."
    )
    return [*blocks, ContextBlock(elements=[md(hint)])]


@functools.cache
def _rendered_toggle(lang: str, advanced: bool) -> str:
    return as_json(_toggle(lang, advanced))


_rendered_divider = once(DividerBlock)


def loading_view(
    lang: str = "en", meta: LookupMeta | None = None, *, models_only: bool = False
) -> View:
    """What the modal shows while the source is looked up (its block rendered once per
    language; ``models_only``: built by its model)."""
    t = tr(lang)
    return (View if models_only else RenderedView)(
        type="modal",
        callback_id=LOADING_CALLBACK,
        private_metadata=meta.dump() if meta else None,
        title=t("Clone model service"),
        close=t("Cancel"),
        blocks=_looking_up(lang) if models_only else blocks_of(_rendered_looking_up(lang)),
    )


def _looking_up(lang: str) -> list[Block]:
    t = tr(lang)
    text = t("Looking up the model service…")
    return [SectionBlock(text=md(fmt(":hourglass_flowing_sand: {text}", text=text)))]


@functools.cache
def _rendered_looking_up(lang: str) -> str:
    return as_json(_looking_up(lang))


def notice_view(message: Text, lang: str = "en") -> View:
    """A modal that only says something (why a form cannot be opened)."""
    t = tr(lang)
    return View(
        type="modal",
        callback_id=LOADING_CALLBACK,
        title=t.plain("Clone model service"),
        close=t.plain("Close"),
        blocks=[SectionBlock(text=md(truncate(render(message, lang), 2900)))],
    )


def form_values(view: Any) -> dict[str, BlockValue]:
    """Raw values of a view payload's inputs, keyed by block_id."""
    return ViewState.of(view).by_block()


class LookupMeta(ViewMetadata):
    """``private_metadata`` of the loading view: what to look up again on "Try again"."""

    channel_id: str | None = None
    text: str = ""
    resubmit: str | None = None  # the request whose values fill the form (edit and resubmit)

    @classmethod
    def of(cls, channel_id: str | None, text: str, *, resubmit: str | None = None) -> LookupMeta:
        return cls(channel_id=channel_id, text=text[:LOOKUP_TEXT_MAX], resubmit=resubmit)


def lookup_problem_view(problem: Mrkdwn, meta: LookupMeta, lang: str = "en") -> View:
    """The loading view when the lookup could not finish: why, and a way to try again."""
    t = tr(lang)
    return View(
        type="modal",
        callback_id=LOADING_CALLBACK,
        title=t.plain("Clone model service"),
        close=t.plain("Cancel"),
        private_metadata=meta.dump(),
        blocks=[
            SectionBlock(text=md(fmt(":warning: {problem}", problem=truncate(problem, 2900)))),
            ActionsBlock(
                block_id="retry_lookup",
                elements=[
                    ButtonElement(
                        text=t.plain("Try again"),
                        action_id=ACTION_RETRY_LOOKUP,
                        value="retry",
                        style="primary",
                    )
                ],
            ),
        ],
    )
