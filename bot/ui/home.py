"""The App Home tab: the user's ZStack login, their recent requests, and what awaits them."""

from __future__ import annotations

from slack_sdk.models.blocks import (
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
from bot.request_model import CloneRequest
from bot.session_store import StoredSession
from bot.ui import cards
from bot.ui.login import kind_label
from bot.ui.text import escape, one_line, slack_date, truncate

ACTION_HOME_LOGIN = "home_login"
ACTION_HOME_LOGOUT = "home_logout"
MAX_LISTED = 10


def _md(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=truncate(text, 2900))


def _login_block(
    login: StoredSession | None, endpoint: str, t: Translate, lang: str
) -> SectionBlock:
    if login is None:
        return SectionBlock(
            block_id="home_login",
            text=_md(
                ":key: "
                + t(
                    "You are not logged in to ZStack at `{endpoint}`. Log in so the bot can "
                    "clone model services as you.",
                    endpoint=escape(endpoint),
                )
            ),
            accessory=ButtonElement(text=t("Log in"), action_id=ACTION_HOME_LOGIN, style="primary"),
        )
    return SectionBlock(
        block_id="home_login",
        text=_md(
            ":white_check_mark: "
            + t(
                "Logged in to ZStack at `{endpoint}` as *{who}* ({kind}).\nSession expires {when}.",
                endpoint=escape(login.zstack_url),
                who=escape(one_line(login.identity)),
                kind=kind_label(login.login_kind, lang).lower(),
                when=slack_date(login.expires_at),
            )
        ),
        accessory=ButtonElement(text=t("Log out"), action_id=ACTION_HOME_LOGOUT),
    )


def _request_line(record: CloneRequest) -> str:
    source = escape(truncate(one_line(record.source_name or record.source_uuid), 80))
    target = escape(truncate(one_line(record.new_name), 80))
    return f"*{record.id}* {source} → {target}"


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
        DividerBlock(),
        HeaderBlock(text=t("Waiting for your approval")),
    ]
    if not waiting:
        blocks.append(ContextBlock(elements=[_md(t("Nothing is waiting for you."))]))
    for record in waiting[:MAX_LISTED]:
        reason = escape(truncate(one_line(record.reason), 200))
        blocks.append(
            SectionBlock(
                text=_md(
                    _request_line(record)
                    + "\n"
                    + t(
                        "from <@{requester}> · {have}/{need} approvals · expires {when}",
                        requester=record.requester,
                        have=len(record.approvals),
                        need=record.approvals_required,
                        when=slack_date(record.expires_at),
                    )
                    + f"\n>{reason}"
                )
            )
        )
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
        blocks.append(
            SectionBlock(
                text=_md(f"{_request_line(record)}\n{state} · {slack_date(record.created_at)}")
            )
        )
    blocks.append(ContextBlock(elements=[_md("`/clone-model help` lists every command.")]))
    return View(type="home", blocks=blocks[:100])
