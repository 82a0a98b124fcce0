"""The App Home tab: the user's ZStack login, their recent requests, and what awaits them."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.i18n import Translate, tr
from bot.requests import steps
from bot.requests.model import CloneRequest
from bot.store.sessions import StoredSession
from bot.ui import cards
from bot.ui.login import kind_in_text
from bot.ui.parts import md
from bot.ui.text import Mrkdwn, fmt, link, one_line, truncate

ACTION_HOME_LOGIN = "home_login"
ACTION_HOME_LOGOUT = "home_logout"
ACTION_HOME_NEW_CLONE = "home_new_clone"
MAX_LISTED = 10


def _md(text: Mrkdwn) -> MarkdownTextObject:
    return md(truncate(text, 2900))


def _login_block(
    login: StoredSession | None, endpoint: str, t: Translate, lang: str
) -> SectionBlock:
    if login is None:
        return SectionBlock(
            block_id="home_login",
            text=_md(
                fmt(
                    ":key: {text}",
                    text=t(
                        "You are not logged in to ZStack at `{endpoint}`. Log in so the bot can "
                        "clone model services as you.",
                        endpoint=endpoint,
                    ),
                )
            ),
            accessory=ButtonElement(text=t("Log in"), action_id=ACTION_HOME_LOGIN, style="primary"),
        )
    return SectionBlock(
        block_id="home_login",
        text=_md(
            fmt(
                ":white_check_mark: {text}",
                text=t(
                    "Logged in to ZStack at `{endpoint}` as *{who}* ({kind}).\n"
                    "Session expires {when}.",
                    endpoint=login.zstack_url,
                    who=one_line(login.identity),
                    kind=kind_in_text(login.login_kind, lang),
                    when=login.expires_at,
                ),
            )
        ),
        accessory=ButtonElement(text=t("Log out"), action_id=ACTION_HOME_LOGOUT),
    )


def _request_line(record: CloneRequest) -> Mrkdwn:
    return fmt(
        "*{id}* {source} → {target}",
        id=link(record.card_link, record.id) if record.card_link else record.id,
        source=truncate(one_line(record.source_name or record.source_uuid), 80),
        target=truncate(one_line(record.new_name), 80),
    )


def home_view(
    login: StoredSession | None,
    endpoint: str,
    recent: list[CloneRequest],
    waiting: list[CloneRequest],
    lang: str = "en",
) -> View:
    t = tr(lang)
    blocks: list[Block] = [
        HeaderBlock(text="ZStack Clone Bot"),
        _login_block(login, endpoint, t, lang),
        ActionsBlock(
            block_id="home_start",
            elements=[
                ButtonElement(
                    text=t.plain("New clone"), action_id=ACTION_HOME_NEW_CLONE, style="primary"
                )
            ],
        ),
        DividerBlock(),
        HeaderBlock(text=t("Waiting for your approval")),
    ]
    if not waiting:
        blocks.append(ContextBlock(elements=[_md(t("Nothing is waiting for you."))]))
    for record in waiting[:MAX_LISTED]:
        have, need = steps.progress(record)
        status = t.n(
            "from <@{requester}> · {have}/{count} approval · expires {when}",
            "from <@{requester}> · {have}/{count} approvals · expires {when}",
            need,
            requester=record.requester,
            have=have,
            when=record.expires_at,
        )
        text = fmt(
            "{line}\n{status}\n>{reason}",
            line=_request_line(record),
            status=status,
            reason=truncate(one_line(record.reason), 200),
        )
        blocks.append(SectionBlock(text=_md(text)))
        blocks.append(cards.decision_buttons(record, with_cancel=False, lang=lang))
    blocks += [DividerBlock(), HeaderBlock(text=t("Your recent requests"))]
    if not recent:
        blocks.append(
            ContextBlock(
                elements=[_md(t("No requests yet. Start one with `/clone-model [source]`."))]
            )
        )
    for record in recent[:MAX_LISTED]:
        state = cards.state_label(record.state, lang)
        text = fmt(
            "{line}\n{state} · {when}",
            line=_request_line(record),
            state=state,
            when=t.date(record.created_at),
        )
        blocks.append(SectionBlock(text=_md(text)))
    help_line = t("`/clone-model help` lists every command.")
    blocks.append(ContextBlock(elements=[_md(help_line)]))
    return View(type="home", blocks=blocks[:100])
