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

from bot.request_model import CloneRequest
from bot.session_store import StoredSession
from bot.ui import cards
from bot.ui.login import KIND_LABELS
from bot.ui.text import escape, one_line, slack_date, truncate

ACTION_HOME_LOGIN = "home_login"
ACTION_HOME_LOGOUT = "home_logout"
MAX_LISTED = 10


def _md(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=truncate(text, 2900))


def _login_block(login: StoredSession | None, endpoint: str) -> SectionBlock:
    if login is None:
        return SectionBlock(
            block_id="home_login",
            text=_md(
                f":key: You are not logged in to ZStack at `{escape(endpoint)}`. Log in so the "
                "bot can clone model services as you."
            ),
            accessory=ButtonElement(text="Log in", action_id=ACTION_HOME_LOGIN, style="primary"),
        )
    kind = KIND_LABELS.get(login.login_kind, login.login_kind).lower()
    return SectionBlock(
        block_id="home_login",
        text=_md(
            f":white_check_mark: Logged in to ZStack at `{escape(login.zstack_url)}` as "
            f"*{escape(one_line(login.identity))}* ({kind}).\n"
            f"Session expires {slack_date(login.expires_at)}."
        ),
        accessory=ButtonElement(text="Log out", action_id=ACTION_HOME_LOGOUT),
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
) -> View:
    blocks: list[Block] = [
        HeaderBlock(text="ZStack Clone Bot"),
        _login_block(login, endpoint),
        DividerBlock(),
        HeaderBlock(text="Waiting for your approval"),
    ]
    if not waiting:
        blocks.append(ContextBlock(elements=[_md("Nothing is waiting for you.")]))
    for record in waiting[:MAX_LISTED]:
        reason = escape(truncate(one_line(record.reason), 200))
        blocks.append(
            SectionBlock(
                text=_md(
                    f"{_request_line(record)}\nfrom <@{record.requester}> · "
                    f"{len(record.approvals)}/{record.approvals_required} approvals · "
                    f"expires {slack_date(record.expires_at)}\n>{reason}"
                )
            )
        )
        blocks.append(cards.decision_buttons(record, with_cancel=False))
    blocks += [DividerBlock(), HeaderBlock(text="Your recent requests")]
    if not recent:
        blocks.append(
            ContextBlock(elements=[_md("No requests yet. Start one with `/clone-model [source]`.")])
        )
    for record in recent[:MAX_LISTED]:
        state = cards.STATE_LABELS[record.state]
        blocks.append(
            SectionBlock(
                text=_md(f"{_request_line(record)}\n{state} · {slack_date(record.created_at)}")
            )
        )
    blocks.append(ContextBlock(elements=[_md("`/clone-model help` lists every command.")]))
    return View(type="home", blocks=blocks[:100])
