"""From ``/clone-model`` to a posted request: source lookup, the form, the record, the card.

Handlers call this; it talks to ZStack (as the caller), Redis and the Slack Web API.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pydantic import SecretStr
from slack_sdk.errors import SlackApiError
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.errors import NotLoggedIn, SessionExpired, ZStackAPIError
from bot.i18n import Locales, Msg, tr
from bot.requests.lifecycle import Event
from bot.requests.model import CloneRequest, State, utc_now
from bot.requests.sessions import SessionService
from bot.slack.client import slack_error_code
from bot.slack.notifier import PERMANENT_ERRORS
from bot.store.requests import RequestStore
from bot.ui import cards
from bot.ui import login as login_ui
from bot.ui.clone import (
    ADVANCED,
    CloneViewMeta,
    clone_form_view,
    defaults_from_source,
    source_option,
)
from bot.ui.clone_form import CloneForm
from bot.ui.text import Mrkdwn, one_line, truncate
from bot.zstack.client import ZStackClient
from bot.zstack.models import UUID_RE, ModelServiceInventory
from bot.zstack.query import Query, name_search

logger = logging.getLogger(__name__)

SUGGESTION_LIMIT = 20
# A card not posted (crash, Slack trouble) is tried again after this long, under this lease.
PUBLISH_RETRY_S = 60.0
PUBLISH_LEASE_S = 30.0
CHOICES_LIMIT = 50
# Answers looked through when a name can only be searched by a fragment and filtered here.
FILTERED_SCAN_LIMIT = 200


@dataclass
class SourceLookup:
    """What ``/clone-model <text>`` found: one service, several candidates, or nothing."""

    found: ModelServiceInventory | None = None
    choices: list[ModelServiceInventory] = field(default_factory=list)
    notice: Mrkdwn | None = None


@dataclass
class CloneFlow:
    settings: Settings
    zstack: ZStackClient
    store: RequestStore
    sessions: SessionService
    locales: Locales = field(default_factory=Locales)

    async def form_for(
        self, team: str, user: str, channel: str | None, text: str, lang: str = "en"
    ) -> View:
        """The clone form for ``text`` as this user sees it, or the login modal first."""
        t = tr(lang)
        try:
            lookup = await self.sessions.call(
                team, user, lambda session: self.lookup(session, text, lang)
            )
        except (NotLoggedIn, SessionExpired) as exc:
            context = login_ui.LoginContext(channel_id=channel, then_clone=text)
            reason = (
                login_ui.session_expired(lang)
                if isinstance(exc, SessionExpired)
                else t("Log in to ZStack first; the clone form opens right after.")
            )
            return login_ui.login_modal(self.zstack.base_url, context, error=reason, lang=lang)
        except ZStackAPIError as exc:
            lookup = SourceLookup(notice=describe_lookup_error(exc, lang))
        return self.form(lookup, CloneViewMeta(channel_id=channel), lang=lang)

    async def lookup(self, session: SecretStr, text: str, lang: str = "en") -> SourceLookup:
        """A source by UUID or by name (exact first, then partial), as the caller sees it."""
        text = text.strip()
        if not text:
            return SourceLookup()
        if UUID_RE.match(text.lower()):
            found = await self.zstack.get_model_service(session, text.lower())
            if found:
                return SourceLookup(found=found)
            return SourceLookup(notice=_not_found(text, lang))
        for exact in (True, False):
            usable = await self._named(session, text, exact=exact, limit=CHOICES_LIMIT)
            if len(usable) == 1:
                return SourceLookup(found=usable[0])
            if usable:
                notice = Msg.of(
                    "Several model services match *{text}*; choose one.",
                    text=truncate(one_line(text), 80),
                ).render(lang)
                return SourceLookup(choices=usable, notice=notice)
        return SourceLookup(notice=_not_found(text, lang))

    async def suggest(self, session: SecretStr, text: str) -> list[ModelServiceInventory]:
        """Type-ahead for the source select: names containing ``text``."""
        return await self._named(session, text.strip(), exact=False, limit=SUGGESTION_LIMIT)

    async def _named(
        self, session: SecretStr, text: str, *, exact: bool, limit: int
    ) -> list[ModelServiceInventory]:
        """Services named ``text`` or containing it, whatever characters it holds."""
        query, keep = name_search(text, exact=exact) if text else (Query(), None)
        page = limit if keep is None else FILTERED_SCAN_LIMIT
        result = await self.zstack.query_model_services(
            session, query.page(limit=page, with_total=False).sorted("+name")
        )
        found = [i for i in result.inventories if i.uuid and (keep is None or keep(i.name or ""))]
        return found[:limit]

    def form(
        self,
        lookup: SourceLookup,
        meta: CloneViewMeta,
        *,
        keep: dict[str, Any] | None = None,
        lang: str = "en",
    ) -> View:
        raw: dict[str, Any] = {}
        source = None
        if lookup.found is not None:
            raw = defaults_from_source(lookup.found)
            source = source_option(lookup.found)
            meta = CloneViewMeta(**{**meta.model_dump(), "source_name": lookup.found.name})
        if keep:
            raw.update({k: v for k, v in keep.items() if v not in (None, "", [])})
        choices = [source_option(c) for c in lookup.choices]
        return clone_form_view(
            raw, meta, source=source, choices=choices, notice=lookup.notice, lang=lang
        )

    async def create(
        self,
        *,
        team_id: str,
        requester: str,
        origin_channel: str | None,
        form: CloneForm,
        source_name: str | None,
    ) -> CloneRequest:
        now = utc_now()
        channel = self.settings.approval_channel or origin_channel or requester

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
                expires_at=now + timedelta(seconds=self.settings.approval_ttl_s),
                approvals_required=self.settings.approvals_required,
            )

        record = await self.store.create(build)
        # Until the card is posted, this brings the request back (e.g. after a crash now).
        await self.store.schedule("publish", record.id, time.time() + PUBLISH_RETRY_S)
        return record

    async def publish(self, client: AsyncWebClient, record: CloneRequest) -> CloneRequest:
        """Post the card and its parameter reply, remember where, tell the requester.

        Runs under the request's lease, once: a card already posted is not posted again. Until
        it is posted, the ``publish`` schedule brings the request back (after a crash, or when
        Slack failed for a reason that passes).
        """
        owner = f"publish:{secrets.token_hex(4)}"
        if not await self.store.claim(record.id, owner, PUBLISH_LEASE_S):
            return record
        try:
            current = await self.store.require(record.id)
            if current.card_ts or current.state != State.PENDING:
                await self.store.unschedule("publish", record.id)
                return current
            return await self._publish(client, current)
        finally:
            await self.store.release(record.id, owner)

    async def republish(self, client: AsyncWebClient, request_id: str) -> None:
        """The publish schedule's step: post a card that is still missing."""
        record = await self.store.get(request_id)
        if record is None:
            await self.store.unschedule("publish", request_id)
            return
        await self.publish(client, record)

    async def _publish(self, client: AsyncWebClient, record: CloneRequest) -> CloneRequest:
        try:
            card = await client.chat_postMessage(
                channel=record.channel,
                text=cards.card_fallback_text(record, self.locales.default),
                blocks=cards.request_card(record, self.settings.approvers, self.locales.default),
                unfurl_links=False,
            )
        except SlackApiError as exc:
            if slack_error_code(exc) in PERMANENT_ERRORS:
                await self.store.unschedule("publish", record.id)
                return await self._not_posted(client, record, exc)
            logger.warning(
                "request card not posted yet; will retry",
                extra={"request_id": record.id, "error": slack_error_code(exc)},
            )
            await self.store.schedule("publish", record.id, time.time() + PUBLISH_RETRY_S)
            return record
        channel, ts = str(card["channel"]), str(card["ts"])
        params_ts: str | None = None
        try:
            reply = await client.chat_postMessage(
                channel=channel,
                thread_ts=ts,
                text=Msg.of("Parameters of {id}", id=record.id).render(self.locales.default),
                blocks=cards.parameter_reply(record, self.locales.default),
            )
            params_ts = str(reply["ts"])
        except SlackApiError as exc:  # the card stands and works without its parameter reply
            logger.warning(
                "parameter reply not posted",
                extra={"request_id": record.id, "error": slack_error_code(exc)},
            )

        def placed(current: CloneRequest) -> CloneRequest:
            return current.model_copy(
                update={"channel": channel, "card_ts": ts, "params_ts": params_ts}
            )

        outcome = await self.store.transition(
            record.id, Event.POSTED, placed, actor=record.requester, note="posted"
        )
        await self.store.index_thread(channel, ts, record.id)
        await self.store.unschedule("publish", record.id)
        await self._tell_requester(client, outcome.record)
        return outcome.record

    async def _not_posted(
        self, client: AsyncWebClient, record: CloneRequest, exc: SlackApiError
    ) -> CloneRequest:
        """The card could not be posted (e.g. ``channel_not_found``, ``not_in_channel``): nobody
        could approve the request, so it is withdrawn and the requester told why, by DM."""
        code = slack_error_code(exc)
        logger.error(
            "request card not posted",
            extra={"request_id": record.id, "channel_id": record.channel, "error": code},
        )

        def withdraw(current: CloneRequest) -> CloneRequest | None:
            if current.state != State.PENDING or current.card_ts:
                return None
            return current.model_copy(
                update={
                    "state": State.CANCELLED,
                    "decided_by": "bot",
                    "decision_reason": f"the request card could not be posted ({code})",
                    "finished_at": utc_now(),
                }
            )

        outcome = await self.store.transition(
            record.id, Event.WITHDRAW, withdraw, actor="bot", note=f"card not posted: {code}"
        )
        if outcome.changed:
            await self.store.unschedule("expiry", record.id)
        lang = await self.locales.of(client, record.requester)
        text = Msg.marked(
            ":warning:",
            "Your clone request {id} could not be posted in <#{channel}> (Slack said `{code}`), "
            "so nobody could approve it; it was withdrawn. Ask an admin to invite the bot to that "
            "channel (or to check CLONEBOT_APPROVAL_CHANNEL), then submit it again.",
            id=record.id,
            channel=record.channel,
            code=code,
        ).render(lang)
        try:
            await client.chat_postMessage(channel=record.requester, text=text)
        except SlackApiError as dm_exc:
            logger.error(
                "could not tell the requester",
                extra={"request_id": record.id, "error": slack_error_code(dm_exc)},
            )
        return outcome.record

    async def _tell_requester(self, client: AsyncWebClient, record: CloneRequest) -> None:
        permalink: str | None = None
        try:
            link = await client.chat_getPermalink(
                channel=record.channel, message_ts=record.card_ts or ""
            )
            permalink = str(link["permalink"])
        except SlackApiError:
            logger.warning("no permalink for the card", extra={"request_id": record.id})
        lang = await self.locales.of(client, record.requester)
        text = cards.requester_notice(record, permalink, lang)
        if record.origin_channel == record.channel:
            try:
                await client.chat_postEphemeral(
                    channel=record.channel, user=record.requester, text=text
                )
                return
            except SlackApiError:
                pass  # not visible there: a DM always works
        await client.chat_postMessage(channel=record.requester, text=text)

    async def merged_values(
        self, view_id: str, typed: dict[str, Any], meta: CloneViewMeta
    ) -> dict[str, Any]:
        """Typed values plus the advanced ones kept aside while that section was hidden."""
        if meta.advanced:
            return typed
        draft = await self.store.load_draft(view_id)
        return {**{k: v for k, v in draft.items() if k in ADVANCED}, **typed}


def _not_found(text: str, lang: str) -> Mrkdwn:
    return Msg.marked(
        ":mag:",
        "No model service you can see matches *{text}*. Search for one in the field below.",
        text=truncate(one_line(text), 80),
    ).render(lang)


def describe_lookup_error(error: ZStackAPIError, lang: str = "en") -> Mrkdwn:
    text = Msg.of(
        "ZStack could not look up the model service: {error}", error=error.error.summary()
    ).render(lang)
    return truncate(text, 2000)
