"""What the page's welcome panel tells a first-time visitor: who the people are, which logins the
system behind the bot accepts, and the first steps. The emulator knows only Slack; whoever starts
it (the sandbox launcher) says what these are, and the page words them in the reader's language.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .records import JSON

Role = Literal["requester", "approver", "outsider"]
LoginKind = Literal["account", "iam_user", "iam2"]


@dataclass(frozen=True)
class Person:
    user: str  # a user id of the workspace
    role: Role
    group: str | None = None  # the user group that makes an approver one


@dataclass(frozen=True)
class Login:
    """One row of the logins table: what goes in each field of ``/zstack login``'s form."""

    kind: LoginKind  # the form's "Log in as"
    password: str
    account: str | None = None  # the form's "Account name" (an account, an IAM user's account)
    user: str | None = None  # the form's "User name" (an IAM or IAM2 user)
    suggested: bool = False  # the one the first step names


@dataclass(frozen=True)
class Welcome:
    people: tuple[Person, ...]
    logins: tuple[Login, ...] = ()
    source: str = "example"  # what the first /clone-model clones

    def to_dict(self) -> JSON:
        suggested = next((x for x in self.logins if x.suggested), None)
        return {
            "people": [{"user": p.user, "role": p.role, "group": p.group} for p in self.people],
            "logins": [
                {
                    "kind": x.kind,
                    "account": x.account,
                    "user": x.user,
                    "password": x.password,
                    "suggested": x is suggested,
                }
                for x in self.logins
            ],
            "source": self.source,
        }
