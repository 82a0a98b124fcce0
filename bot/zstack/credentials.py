"""Who logs in to ZStack: an account, an IAM user of an account, or an IAM2 virtual ID (project
user), with the password already hashed as ZStack expects (reference §2.1). The password never
exists here in plain text: ``hash_password`` turns the typed text into its SHA-512 at once."""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from pydantic import BaseModel, SecretStr


def hash_password(plain: str) -> SecretStr:
    """ZStack's password encoding: lowercase hex SHA-512 of the UTF-8 text (reference §2.1)."""
    return SecretStr(hashlib.sha512(plain.encode("utf-8")).hexdigest())


class AccountLogin(BaseModel):
    kind: Literal["account"] = "account"
    account_name: str
    password_sha512: SecretStr


class UserLogin(BaseModel):
    """An IAM user of an account."""

    kind: Literal["user"] = "user"
    account_name: str
    user_name: str
    password_sha512: SecretStr


class IAM2Login(BaseModel):
    """An IAM2 virtual ID (project user)."""

    kind: Literal["iam2"] = "iam2"
    name: str
    password_sha512: SecretStr


Credentials = AccountLogin | UserLogin | IAM2Login


def login_request(creds: Credentials) -> tuple[str, str, dict[str, Any]]:
    """(operation, path, body) of the login call for one kind of credentials."""
    password = creds.password_sha512.get_secret_value()
    if isinstance(creds, AccountLogin):
        body = {"accountName": creds.account_name, "password": password}
        return "LogInByAccount", "/accounts/login", {"logInByAccount": body}
    if isinstance(creds, UserLogin):
        body = {
            "accountName": creds.account_name,
            "userName": creds.user_name,
            "password": password,
        }
        return "LogInByUser", "/accounts/users/login", {"logInByUser": body}
    body = {"name": creds.name, "password": password}
    return "LogInIAM2VirtualID", "/iam2/virtual-ids/login", {"loginIAM2VirtualID": body}
