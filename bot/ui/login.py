"""The ``/zstack`` surfaces: the login modal and its states, whoami, logout and help."""

from __future__ import annotations

import json
from datetime import datetime

from pydantic import BaseModel, Field
from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    InputBlock,
    Option,
    PlainTextInputElement,
    RadioButtonsElement,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.i18n import N_, tr
from bot.ui.parts import md
from bot.ui.text import Mrkdwn, fmt, join, truncate

LOGIN_CALLBACK = "zstack_login"
BLOCK_KIND, ACTION_KIND = "login_kind", "kind"
BLOCK_ACCOUNT, ACTION_ACCOUNT = "account_name", "value"
BLOCK_USER, ACTION_USER = "user_name", "value"
BLOCK_PASSWORD, ACTION_PASSWORD = "password", "value"

KIND_LABELS = {
    "account": N_("Account"),
    "user": N_("IAM user of an account"),
    "iam2": N_("Project user (IAM2)"),
}
# The same inside a sentence, in parentheses already: "as *alice* (account)".
KIND_IN_TEXT = {
    "account": N_("account"),
    "user": N_("IAM user of an account"),
    "iam2": N_("IAM2 project user"),
}


class LoginContext(BaseModel):
    """What the login modal carries in ``private_metadata``: where to go after a login."""

    channel_id: str | None = None
    # After a successful login, continue to the clone form for this source ("" = no source).
    then_clone: str | None = None
    # Or to the edit-and-resubmit form of this request.
    then_edit: str | None = None
    # Or count the approval of this request (its rule wants the approver's ZStack login).
    then_approve: str | None = None
    approve_comment: str | None = Field(default=None, max_length=1000)  # with that approval
    # Opened from App Home: re-render it after the login.
    refresh_home: bool = False
    notice: str | None = Field(default=None, max_length=500)

    def dump(self) -> str:
        return self.model_dump_json(exclude_none=True)

    @classmethod
    def load(cls, raw: str | None) -> LoginContext:
        if not raw:
            return cls()
        try:
            return cls.model_validate(json.loads(raw))
        except ValueError:
            return cls()


class LoginPrefill(BaseModel):
    kind: str = "account"
    account_name: str | None = None
    user_name: str | None = None


def _text_input(
    block_id: str, label: str, *, hint: str, initial: str | None, optional: bool
) -> InputBlock:
    return InputBlock(
        block_id=block_id,
        label=label,
        hint=hint,
        optional=optional,
        element=PlainTextInputElement(
            action_id="value", initial_value=initial or None, max_length=256
        ),
    )


def kind_label(kind: str, lang: str = "en") -> str:
    return tr(lang).plain(KIND_LABELS.get(kind, kind))


def kind_in_text(kind: str, lang: str = "en") -> str:
    """The login kind as a sentence names it (``account``, ``IAM2 project user``)."""
    return tr(lang).plain(KIND_IN_TEXT.get(kind, kind))


def login_modal(
    endpoint: str,
    context: LoginContext,
    *,
    prefill: LoginPrefill | None = None,
    error: Mrkdwn | None = None,
    lang: str = "en",
) -> View:
    """The login form. ``error`` (ZStack's reason, or why we could not reach it) shows on top."""
    t = tr(lang)
    prefill = prefill or LoginPrefill()
    options = [Option(value=k, text=t.plain(v)) for k, v in KIND_LABELS.items()]
    initial = next((o for o in options if o.value == prefill.kind), options[0])
    blocks: list[Block] = []
    if error:
        blocks.append(SectionBlock(text=md(fmt(":warning: {error}", error=truncate(error, 2900)))))
    blocks += [
        SectionBlock(
            text=md(
                t(
                    "Log in to ZStack at `{endpoint}` so the bot can act as you.",
                    endpoint=endpoint,
                )
            )
        ),
        InputBlock(
            block_id=BLOCK_KIND,
            label=t("Log in as"),
            element=RadioButtonsElement(
                action_id=ACTION_KIND, options=options, initial_option=initial
            ),
        ),
        _text_input(
            BLOCK_ACCOUNT,
            t("Account name"),
            hint=t("Needed for an account and for an IAM user."),
            initial=prefill.account_name,
            optional=True,
        ),
        _text_input(
            BLOCK_USER,
            t("User name"),
            hint=t("The IAM user name, or the project (IAM2) user name."),
            initial=prefill.user_name,
            optional=True,
        ),
        InputBlock(
            block_id=BLOCK_PASSWORD,
            label=t("Password"),
            hint=t("Hashed (SHA-512) on arrival and never stored. Slack shows it as you type."),
            element=PlainTextInputElement(action_id=ACTION_PASSWORD, max_length=256),
        ),
        ContextBlock(
            elements=[md(t("The bot keeps only your ZStack session, encrypted, until it expires."))]
        ),
    ]
    return View(
        type="modal",
        callback_id=LOGIN_CALLBACK,
        title=t("ZStack login"),
        submit=t("Log in"),
        close=t("Cancel"),
        private_metadata=context.dump(),
        blocks=blocks,
    )


def _info_modal(title: str, text: Mrkdwn, *, close: str, metadata: str | None = None) -> View:
    return View(
        type="modal",
        callback_id=f"{LOGIN_CALLBACK}_info",
        title=title,
        close=close,
        private_metadata=metadata,
        blocks=[SectionBlock(text=md(truncate(text, 2900)))],
    )


def logging_in_modal(identity: str, lang: str = "en") -> View:
    t = tr(lang)
    return _info_modal(
        t("ZStack login"),
        fmt(
            ":hourglass_flowing_sand: {text}",
            text=t("Logging in to ZStack as *{who}*…", who=identity),
        ),
        close=t("Close"),
    )


def login_success_modal(
    identity: str, kind: str, expires_at: datetime, lang: str = "en", *, then: Mrkdwn | None = None
) -> View:
    """Logged in; ``then``: what happened next (an approval counted, or why not)."""
    t = tr(lang)
    text = fmt(
        ":white_check_mark: {text}",
        text=t(
            "Logged in to ZStack as *{who}* ({kind}).\nYour session expires {when} unless you "
            "use it; `/zstack logout` ends it now.",
            who=identity,
            kind=kind_in_text(kind, lang),
            when=expires_at,
        ),
    )
    if then is not None:
        text = fmt("{text}\n\n{then}", text=text, then=then)
    return _info_modal(t("ZStack login"), text, close=t("Done"))


def approver_login_reason(request_id: str, lang: str = "en") -> Mrkdwn:
    """Why an approver is asked to log in before their approval counts."""
    t = tr(lang)
    return t(
        "Approvers of {id} prove who they are in ZStack: log in with your own account, and "
        "your approval goes ahead right after.",
        id=request_id,
    )


def whoami_text(
    identity: str, kind: str, endpoint: str, expires_at: datetime, lang: str = "en"
) -> Mrkdwn:
    t = tr(lang)
    return t(
        "You are logged in to ZStack at `{endpoint}` as *{who}* ({kind}). Session expires {when}.",
        endpoint=endpoint,
        who=identity,
        kind=kind_in_text(kind, lang),
        when=expires_at,
    )


def not_logged_in(lang: str = "en") -> Mrkdwn:
    t = tr(lang)
    return t("You are not logged in to ZStack. Run `/zstack login` to log in.")


def session_expired(lang: str = "en") -> Mrkdwn:
    t = tr(lang)
    return t(
        "Your ZStack session has expired or was ended in ZStack, so the bot forgot it. "
        "Run `/zstack login` to log in again."
    )


def logout_text(identity: str | None, lang: str = "en") -> Mrkdwn:
    t = tr(lang)
    if identity is None:
        return t("You were not logged in to ZStack; nothing to do.")
    return t(
        "Logged out of ZStack (*{who}*). The bot no longer holds a session for you.",
        who=identity,
    )


def zstack_help(lang: str = "en") -> Mrkdwn:
    t = tr(lang)
    return join(
        "\n",
        [
            t("*ZStack session commands*"),
            t(
                "• `/zstack login` — log in (account, IAM user or project user); "
                "the bot then acts as you"
            ),
            t("• `/zstack whoami` — who you are logged in as, where, and until when"),
            t("• `/zstack logout` — end your ZStack session and remove it from the bot"),
            t("• `/zstack help` — this help"),
            t("Clone a model service with `/clone-model [source]`."),
        ],
    )


def unknown_subcommand(text: str, lang: str = "en") -> Mrkdwn:
    t = tr(lang)
    head = t("I don't know `/zstack {text}`.", text=truncate(text, 50))
    return fmt("{head}\n\n{help}", head=head, help=zstack_help(lang))
