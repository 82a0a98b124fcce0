"""Reading the login modal's submission into ZStack credentials (or field errors)."""

from __future__ import annotations

from bot.i18n import Translate, tr
from bot.ui.login import (
    ACTION_ACCOUNT,
    ACTION_KIND,
    ACTION_PASSWORD,
    ACTION_USER,
    BLOCK_ACCOUNT,
    BLOCK_KIND,
    BLOCK_PASSWORD,
    BLOCK_USER,
    KIND_LABELS,
    LoginPrefill,
)
from bot.ui.view_state import ViewState
from bot.zstack.credentials import AccountLogin, Credentials, IAM2Login, UserLogin, hash_password

NAME_MAX = 255


def _typed(state: ViewState, block: str, action: str) -> str:
    return (state.text(block, action) or "").strip()


def _name_error(name: str, what: str, t: Translate) -> str | None:
    """``what`` is already translated."""
    if not name:
        return t("Enter the {what}.", what=what)
    if len(name) > NAME_MAX:
        return t("The {what} is too long (at most {max} characters).", what=what, max=NAME_MAX)
    if any(not c.isprintable() for c in name):
        return t("The {what} contains characters that cannot be typed.", what=what)
    return None


def parse_login(
    state: ViewState, lang: str = "en"
) -> tuple[Credentials | None, dict[str, str], LoginPrefill]:
    """Credentials from the login modal's state, or field errors keyed by block_id.

    The password is hashed here and the plain text goes no further.
    """
    chosen = state.choice(BLOCK_KIND, ACTION_KIND)
    kind = (chosen.value.strip() if chosen else "") or "account"
    account = _typed(state, BLOCK_ACCOUNT, ACTION_ACCOUNT)
    user = _typed(state, BLOCK_USER, ACTION_USER)
    password = state.text(BLOCK_PASSWORD, ACTION_PASSWORD)  # as typed: spaces count
    prefill = LoginPrefill(kind=kind if kind in KIND_LABELS else "account")
    prefill.account_name, prefill.user_name = account or None, user or None

    t = tr(lang)
    errors: dict[str, str] = {}
    if kind not in KIND_LABELS:
        errors[BLOCK_KIND] = t("Choose how to log in.")
    if kind in ("account", "user") and (problem := _name_error(account, t("account name"), t)):
        errors[BLOCK_ACCOUNT] = problem
    if kind in ("user", "iam2") and (problem := _name_error(user, t("user name"), t)):
        errors[BLOCK_USER] = problem
    if not password:
        errors[BLOCK_PASSWORD] = t("Enter the password.")
    if errors or password is None:
        return None, errors, prefill

    hashed = hash_password(password)
    creds: Credentials
    if kind == "account":
        creds = AccountLogin(account_name=account, password_sha512=hashed)
    elif kind == "user":
        creds = UserLogin(account_name=account, user_name=user, password_sha512=hashed)
    else:
        creds = IAM2Login(name=user, password_sha512=hashed)
    return creds, {}, prefill
