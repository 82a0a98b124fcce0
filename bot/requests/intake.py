"""From ``/clone-model`` to a stored request: source lookup, the form, the record.

Handlers call this; it talks to ZStack (as the caller) and Redis. The card is the request's
first effect (``bot.slack.publisher`` posts it).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pydantic import SecretStr
from slack_sdk.models.blocks import Option
from slack_sdk.models.views import View

from bot.config import Settings
from bot.errors import (
    NotLoggedIn,
    RequestDenied,
    ResubmitRefused,
    SessionExpired,
    ZStackAPIError,
)
from bot.i18n import Locales, Msg, Text, render, tr
from bot.requests import effects
from bot.requests.changes import changes
from bot.requests.lifecycle import Event
from bot.requests.model import CloneRequest, State, utc_now
from bot.requests.policy import Actor, ApprovalPolicy, why_not_resubmit
from bot.requests.rules import AppliedRule, Facts, default_rule
from bot.requests.sessions import SessionService
from bot.store.requests import RequestStore
from bot.ui import login as login_ui
from bot.ui.cards import zstack_error
from bot.ui.clone import (
    ADVANCED,
    CloneViewMeta,
    clone_form_view,
    defaults_from_source,
    notice_view,
    source_option,
)
from bot.ui.clone_form import CloneForm, validate_form
from bot.ui.clone_inputs import clone_name, values_of_request
from bot.ui.text import Mrkdwn, one_line, truncate
from bot.zstack.client import NAME_SCAN_LIMIT, ZStackClient
from bot.zstack.models import UUID_RE, ModelServiceInventory

logger = logging.getLogger(__name__)

SUGGESTION_LIMIT = 20
# A modal's id, or one still on its way: the form is looked up while its loading view opens.
ViewRef = str | Awaitable[str]
# The reader's language, or its lookup still on its way: the source is looked up meanwhile.
LangRef = str | Awaitable[str]
CHOICES_LIMIT = 50
# Suggested names tried for a clone: ``<source>-clone`` then ``-2`` … ``-20``.
NAME_TRIES = 20


@dataclass
class SourceLookup:
    """What ``/clone-model <text>`` found: one service, several candidates, or nothing."""

    found: ModelServiceInventory | None = None
    choices: list[ModelServiceInventory] = field(default_factory=list)
    notice: Text | None = None  # in the reader's language when the form is built
    name: str | None = None  # a free name for the clone (``<source>-clone``, ``-2``, …)


@dataclass
class CloneFlow:
    settings: Settings
    zstack: ZStackClient
    store: RequestStore
    sessions: SessionService
    locales: Locales = field(default_factory=Locales)
    policy: ApprovalPolicy | None = None  # the approval rules; None: the settings' rule

    async def form_for(
        self,
        team: str,
        user: str,
        channel: str | None,
        text: str,
        lang: LangRef = "en",
        *,
        view_id: ViewRef | None = None,
    ) -> View:
        """The clone form for ``text`` as this user sees it, or the login modal first. With
        ``view_id``, the source's advanced values are kept for when that section is shown;
        ``lang`` may still be on its way (the lookup does not wait for it)."""
        try:
            lookup = await self.sessions.call(
                team,
                user,
                lambda session: self.lookup(session, text),
                authenticated=bool(text.strip()),  # with nothing to look up, check first
            )
        except (NotLoggedIn, SessionExpired) as exc:
            lang = await resolved(lang)
            t = tr(lang)
            context = login_ui.LoginContext(channel_id=channel, then_clone=text)
            first = t("Log in to ZStack first; the clone form opens right after.")
            return self._login_first(exc, context, first, lang)
        except ZStackAPIError as exc:
            lang = await resolved(lang)
            lookup = SourceLookup(notice=describe_lookup_error(exc, lang))
        lang = await resolved(lang)
        if view_id is not None:
            await self.remember_source(await resolved(view_id), lookup)
        return await self.form(lookup, CloneViewMeta(channel_id=channel), user, lang=lang)

    async def resubmit_form(
        self, actor: Actor, request_id: str, lang: str = "en", *, view_id: ViewRef | None = None
    ) -> View:
        """The clone form filled with a request's values, to edit and send as a new request
        that replaces it; the login modal first when the requester's session is gone."""
        t = tr(lang)
        record = await self.store.get(request_id)
        if record is None:
            return notice_view(Msg.of("There is no request {id}.", id=request_id), lang)
        if refusal := why_not_resubmit(actor, record):
            return notice_view(refusal, lang)
        try:
            lookup = await self.sessions.call(
                actor.team_id,
                actor.user_id,
                lambda session: self._resubmission(session, record),
                authenticated=True,
            )
        except (NotLoggedIn, SessionExpired) as exc:
            context = login_ui.LoginContext(channel_id=record.origin_channel, then_edit=record.id)
            first = t("Log in to ZStack first; the form opens right after.")
            return self._login_first(exc, context, first, lang)
        except ZStackAPIError as exc:
            lookup = SourceLookup(notice=describe_lookup_error(exc, lang))
        values = {**values_of_request(record.body), "reason": record.reason}
        if lookup.name and lookup.name != record.new_name:
            lookup.notice = Msg.marked(
                ":warning:",
                "A model service named *{taken}* already exists; the form suggests *{name}*.",
                taken=truncate(one_line(record.new_name), 200),
                name=lookup.name,
            ).render(lang)
            values["name"] = lookup.name
        elif lookup.found is None and lookup.notice is None:
            lookup.notice = Msg.marked(
                ":warning:",
                "The source of {id} no longer exists, or you cannot see it: choose another "
                "model service.",
                id=record.id,
            ).render(lang)
        if lookup.found is None:
            values.pop("source", None)
        if view_id is not None:
            await self.remember_source(await resolved(view_id), lookup, hidden=values)
        meta = CloneViewMeta(channel_id=record.origin_channel, supersedes=record.id)
        return await self.form(lookup, meta, actor.user_id, values=values, lang=lang)

    def _login_first(
        self, exc: Exception, context: login_ui.LoginContext, first: Mrkdwn, lang: str
    ) -> View:
        """The login modal, saying why: the session expired, or ``first`` (never logged in)."""
        reason = login_ui.session_expired(lang) if isinstance(exc, SessionExpired) else first
        return login_ui.login_modal(self.zstack.base_url, context, error=reason, lang=lang)

    async def _resubmission(self, session: SecretStr, record: CloneRequest) -> SourceLookup:
        """The request's source as the requester sees it now, and whether its name is still
        free (else a free one)."""
        found = await self.zstack.get_model_service(session, record.source_uuid)
        name = await self._free_name(session, record.new_name)
        return SourceLookup(found=found, name=name)

    async def remember_source(
        self,
        view_id: str,
        lookup: SourceLookup,
        *,
        advanced_hidden: bool = True,
        hidden: dict[str, Any] | None = None,
    ) -> None:
        """The source's values: all of them, to tell the approver what the clone changes; and
        those of the hidden advanced fields (``hidden``'s over the source's), shown when the
        user opens that section (the modal only holds what it shows)."""
        if lookup.found is None:
            if hidden is not None and advanced_hidden:
                await self.store.save_draft(view_id, {k: hidden.get(k) for k in ADVANCED})
            return
        defaults = defaults_from_source(lookup.found)
        as_it_is = {**defaults, "name": lookup.found.name or ""}  # not the suggested new name
        drafts = {_source_draft(view_id): as_it_is}
        if advanced_hidden:
            # A value the form would refuse (ZStack keeps YAML it never parsed) is left empty,
            # which keeps the source's: the user is not blocked by a field they did not touch.
            _form, refused = validate_form({**defaults, "reason": "-"})
            shown = {k: defaults.get(k) for k in ADVANCED if k not in refused}
            shown.update({k: v for k, v in (hidden or {}).items() if k in ADVANCED})
            drafts[view_id] = shown
        await self.store.save_drafts(drafts)

    async def source_values(self, view_id: str, source_uuid: str) -> dict[str, Any] | None:
        """The values the form was prefilled with from ``source_uuid`` (None: not known)."""
        values = await self.store.load_draft(_source_draft(view_id))
        return values if values.get("source") == source_uuid else None

    async def lookup(self, session: SecretStr, text: str) -> SourceLookup:
        """A source by UUID or by name (exact first, then partial), as the caller sees it, with
        a name for the clone that no service the caller can see has yet.

        A name is asked for in one query together with the names its clone would be offered
        (``<name>-clone``, ``-2`` …), guessing that it finds the service of that very name
        (asked again when the guess was wrong): the form waits for one round trip to ZStack,
        not two."""
        text = text.strip()
        if not text:
            return SourceLookup()
        if UUID_RE.match(text.lower()):
            found = await self.zstack.get_model_service(session, text.lower())
            if found is None:
                return SourceLookup(notice=_not_found(text))
            return SourceLookup(found=found, name=await self._free_name(session, found))
        exact, taken = await self._named(session, text)
        lookup = _picked(text, exact)
        if lookup is None:
            partial = await self.zstack.model_services_named(
                session, text, exact=False, limit=CHOICES_LIMIT
            )
            lookup = _picked(text, partial) or SourceLookup(notice=_not_found(text))
        if lookup.found is not None:
            lookup.name = await self._free_name(session, lookup.found, taken)
        return lookup

    async def _named(
        self, session: SecretStr, text: str
    ) -> tuple[list[ModelServiceInventory], _TakenNames | None]:
        """The services named ``text``, and which of its clone's names are taken (None: not
        asked, when ``text`` cannot be asked for in one query with them)."""
        tries = _name_tries(clone_name(text))
        folded = {name.casefold() for name in tries}
        asked = None
        if text.casefold() not in folded:  # else its namesakes could not be told from clones
            asked = await self.zstack.model_services_with_names(
                session, [text, *tries], limit=CHOICES_LIMIT + NAME_TRIES
            )
        if asked is None:
            named = await self.zstack.model_services_named(
                session, text, exact=True, limit=CHOICES_LIMIT
            )
            return named, None
        # The page has room for every taken name beside up to CHOICES_LIMIT namesakes; more
        # namesakes are a choice, for which no name is offered.
        exact = [i for i in asked if (i.name or "").casefold() not in folded]
        taken = {(i.name or "").casefold() for i in asked} & folded
        return exact[:CHOICES_LIMIT], _TakenNames(tries[0], taken)

    async def _free_name(
        self,
        session: SecretStr,
        source: ModelServiceInventory | str,
        known: _TakenNames | None = None,
    ) -> str:
        """``<source>-clone``, or ``-2``, ``-3``… : the first no visible service has (``known``
        when it was asked for those very names; else asked in one query; the first itself when
        ZStack's answer cannot settle it). ``source`` is the service or the name wanted."""
        wanted = source if isinstance(source, str) else clone_name(source.name)
        if known is not None and known.wanted.casefold() == wanted.casefold():
            taken = known.taken
        else:
            taken = {
                (i.name or "").casefold()
                for i in await self.zstack.model_services_named(
                    session, wanted, exact=False, limit=NAME_SCAN_LIMIT
                )
            }
        return next((n for n in _name_tries(wanted) if n.casefold() not in taken), wanted)

    async def suggest(self, session: SecretStr, text: str) -> list[ModelServiceInventory]:
        """Type-ahead for the source select: names containing ``text``."""
        return await self.zstack.model_services_named(
            session, text.strip(), exact=False, limit=SUGGESTION_LIMIT
        )

    async def form(
        self,
        lookup: SourceLookup,
        meta: CloneViewMeta,
        requester: str,
        *,
        keep: dict[str, Any] | None = None,
        values: dict[str, Any] | None = None,
        lang: str = "en",
    ) -> View:
        """The form for ``lookup``'s source, prefilled from it; ``keep``'s non-empty values
        over those, or ``values`` over them all (empty ones too: a resubmission's)."""
        raw: dict[str, Any] = {}
        source = None
        if lookup.found is not None:
            raw = defaults_from_source(lookup.found)
            raw["name"] = lookup.name or raw["name"]
            source = source_option(lookup.found, lang)
            meta = CloneViewMeta(**{**meta.model_dump(), "source_name": lookup.found.name})
        if keep:
            raw.update({k: v for k, v in keep.items() if v not in (None, "", [])})
        if values:
            raw.update(values)
        choices = [source_option(c, lang) for c in lookup.choices]
        return await self.view(
            raw,
            meta,
            requester,
            source=source,
            choices=choices,
            notice=render(lookup.notice, lang) if lookup.notice is not None else None,
            source_values=defaults_from_source(lookup.found) if lookup.found else None,
            lang=lang,
        )

    async def create(
        self,
        *,
        team_id: str,
        requester: str,
        origin_channel: str | None,
        form: CloneForm,
        source_name: str | None,
        source_values: dict[str, Any] | None = None,
        supersedes: str | None = None,
    ) -> CloneRequest:
        """Store the request; with ``supersedes``, it replaces that request of the same
        requester (``ResubmitRefused`` when that may no longer happen), which is withdrawn if
        still waiting and says so on its card."""
        now = utc_now()
        changed = changes(form, source_values)
        channel = self.settings.approval_channel or origin_channel or requester
        replaced = await self._replaceable(team_id, requester, supersedes) if supersedes else None
        facts = facts_of(form.model_dump(), source_values, source_name, origin_channel, requester)
        rule = await self.rule_for(facts)
        if rule.deny:
            raise RequestDenied(rule)

        def build(request_id: str) -> CloneRequest:
            return CloneRequest(
                id=request_id,
                team_id=team_id,
                requester=requester,
                origin_channel=origin_channel,
                channel=channel,
                source_uuid=form.source,
                source_name=source_name,
                body=form.to_request(),
                reason=form.reason,
                created_at=now,
                updated_at=now,
                expires_at=now + timedelta(seconds=rule.ttl_s),
                approvals_required=rule.approvals,
                changes=changed,
                rule=rule,
                supersedes=replaced.id if replaced else None,
                supersedes_link=replaced.card_link if replaced else None,
            )

        # The card and the pre-flight checks are the request's first effects: carried out by
        # the outbox, after a crash too.
        created = await self.store.create(build, effects=[effects.publish(), effects.preflight()])
        if replaced is not None:
            await self._supersede(replaced.id, created)
        if rule.auto_approve:
            created = await self._auto_approve(created)
        return created

    async def rule_for(self, facts: Facts) -> AppliedRule:
        """The approval rule a request with these facts meets."""
        if self.policy is None:
            return default_rule(self.settings)
        return await self.policy.applied(facts)

    async def view(
        self,
        raw: dict[str, Any],
        meta: CloneViewMeta,
        requester: str,
        *,
        source: Option | None = None,
        choices: list[Option] | None = None,
        notice: Mrkdwn | None = None,
        source_values: dict[str, Any] | None = None,
        lang: str = "en",
    ) -> View:
        """The form showing ``raw``; with a policy file, the rule those values meet is said
        under the fields that decide it (and remembered, to tell a change at submit)."""
        rule = None
        if self.policy is not None and self.policy.has_rules:
            facts = facts_of(raw, source_values, meta.source_name, meta.channel_id, requester)
            rule = await self.policy.applied(facts)
            meta = meta.model_copy(update={"rule": rule.name})
        return clone_form_view(
            raw, meta, source=source, choices=choices, notice=notice, rule=rule, lang=lang
        )

    async def _auto_approve(self, record: CloneRequest) -> CloneRequest:
        """Approved by its rule, without a click: logged and said on the card as such."""
        rule = record.rule.name if record.rule else "?"

        def approve(current: CloneRequest) -> CloneRequest | None:
            if current.state != State.PENDING:
                return None
            update = {"state": State.APPROVED, "approved_at": utc_now(), "decided_by": "bot"}
            return current.model_copy(update=update)

        note = Msg.marked(
            ":robot_face:",
            "Approved automatically by rule *{rule}*. Cloning as <@{requester}>…",
            rule=rule,
            requester=record.requester,
        )
        outcome = await self.store.transition(
            record.id,
            Event.APPROVE,
            approve,
            actor="bot",
            note=f"auto-approved by rule {rule}",
            effects=[effects.submit(), effects.card(), effects.note(note)],
        )
        logger.info("request auto-approved", extra={"request_id": record.id, "rule": rule})
        if outcome.changed:
            await self.store.unschedule("expiry", record.id)
            await self.store.unschedule("nudge", record.id)
        return outcome.record

    async def _replaceable(self, team_id: str, requester: str, request_id: str) -> CloneRequest:
        record = await self.store.get(request_id)
        if record is None:
            raise ResubmitRefused(Msg.of("There is no request {id}.", id=request_id))
        if refusal := why_not_resubmit(Actor(team_id, requester), record):
            raise ResubmitRefused(refusal)
        return record

    async def _supersede(self, old_id: str, new: CloneRequest) -> None:
        """Mark ``old_id`` as replaced by ``new`` (withdrawn, if it still waited). Created
        first, marked second: a crash in between leaves two requests, never none."""

        def replaced(current: CloneRequest) -> CloneRequest | None:
            if current.superseded_by:
                return None
            update: dict[str, Any] = {"superseded_by": new.id}
            if current.state == State.PENDING:
                update |= {"state": State.CANCELLED, "decided_by": new.requester}
                update["finished_at"] = utc_now()
            return current.model_copy(update=update)

        note = Msg.marked(
            ":pencil2:",
            "<@{user}> edited and resubmitted {old} as {new}.",
            user=new.requester,
            old=old_id,
            new=new.id,
        )
        outcome = await self.store.transition(
            old_id,
            Event.SUPERSEDE,
            replaced,
            actor=new.requester,
            note=f"superseded by {new.id}",
            effects=[effects.card(), effects.note(note)],
        )
        if outcome.changed:
            await self.store.unschedule("expiry", old_id)
            await self.store.unschedule("nudge", old_id)
            await self.store.unpark(new.team_id, new.requester, old_id)
        else:
            logger.info("resubmitted request was not marked", extra={"request_id": old_id})

    async def merged_values(
        self, view_id: str, typed: dict[str, Any], meta: CloneViewMeta
    ) -> dict[str, Any]:
        """Typed values plus the advanced ones kept aside while that section was hidden."""
        if meta.advanced:
            return typed
        draft = await self.store.load_draft(view_id)
        return {**{k: v for k, v in draft.items() if k in ADVANCED}, **typed}


def _source_draft(view_id: str) -> str:
    """Where a form's source values are kept beside its draft of hidden fields."""
    return f"{view_id}-source"


@dataclass(frozen=True)
class _TakenNames:
    """Which of the names tried for a clone of ``wanted`` (casefolded) some service has."""

    wanted: str
    taken: set[str]


def _name_tries(wanted: str) -> list[str]:
    """The names a clone is offered, in order: ``wanted``, then ``wanted-2`` … ``-20``."""
    return [wanted, *(f"{wanted}-{number}" for number in range(2, NAME_TRIES + 1))]


def _picked(text: str, found: list[ModelServiceInventory]) -> SourceLookup | None:
    """The one service found, or the choice among several; None when nothing was found."""
    if len(found) == 1:
        return SourceLookup(found=found[0])
    if not found:
        return None
    notice = Msg.of(
        "Several model services match *{text}*; choose one.", text=truncate(one_line(text), 80)
    )
    return SourceLookup(choices=found, notice=notice)


def _not_found(text: str) -> Msg:
    return Msg.marked(
        ":mag:",
        "No model service you can see matches *{text}*. Search for one in the field below.",
        text=truncate(one_line(text), 80),
    )


def describe_lookup_error(error: ZStackAPIError, lang: str = "en") -> Mrkdwn:
    t = tr(lang)
    text = t(
        "ZStack could not look up the model service: {error}",
        error=zstack_error(error.error, lang),
    )
    return truncate(text, 2000)


def facts_of(
    values: Mapping[str, Any],
    source_values: Mapping[str, Any] | None,
    source_name: str | None,
    channel: str | None,
    requester: str,
) -> Facts:
    """What approval rules look at: the form's values (validated, or as typed), the source's
    where the form leaves them."""
    source = source_values or {}

    def given(key: str) -> Any:
        value = values.get(key)
        return value if value not in (None, "", [], {}) else source.get(key)

    def number(key: str) -> int | None:
        value = given(key)
        if isinstance(value, str) and value.strip().isdigit():
            return int(value.strip())
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def word(key: str) -> str | None:
        value = given(key)
        return value if isinstance(value, str) else None

    return Facts(
        request_cpu=number("request_cpu"),
        request_memory=number("request_memory"),
        size=number("size"),
        gpu=bool(given("gpu_compute_capability") or given("vendor_to_spec_uuids_map")),
        type=word("type"),
        model_source=word("model_source"),
        source_name=source_name or word("name"),
        channel=channel,
        requester=requester,
    )


async def resolved(value: ViewRef | LangRef) -> str:
    """A view id or a language, waited for when it is still on its way."""
    return value if isinstance(value, str) else await value
