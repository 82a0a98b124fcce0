"""Accounts, IAM users, IAM2 virtual IDs and their sessions (reference §2).

Passwords are stored as lowercase SHA-512 hex and compared with what the client sends, which is
already that hex. Sessions slide: every authenticated call moves the expiry to now + timeout.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from bot.sandbox.zstack_sim import seed
from bot.sandbox.zstack_sim.clock import SimClock
from bot.sandbox.zstack_sim.errors import ApiFailure, err, session_invalid
from bot.sandbox.zstack_sim.models import new_uuid
from bot.zstack.models import format_zstack_date


def sha512_hex(password: str) -> str:
    """What ZStack stores and what a client sends: ``sha512(utf-8 plaintext)`` as lowercase hex."""
    return hashlib.sha512(password.encode()).hexdigest()


class PrincipalKind(Enum):
    ACCOUNT = "AccountVO"
    USER = "UserVO"
    VIRTUAL_ID = "IAM2VirtualIDVO"


@dataclass(frozen=True)
class Principal:
    """Someone who can log in; ``account_uuid`` is whose resources they act on."""

    kind: PrincipalKind
    uuid: str
    name: str
    account_uuid: str
    account_name: str
    password_hash: str


@dataclass
class Session:
    uuid: str
    principal: Principal
    created: datetime
    expires: datetime

    def valid_at(self, now: datetime) -> bool:
        return now <= self.expires

    def to_inventory(self) -> dict[str, Any]:
        """SessionInventory; for an account login ``userUuid == accountUuid``."""
        return {
            "uuid": self.uuid,
            "accountUuid": self.principal.account_uuid,
            "userUuid": self.principal.uuid,
            "userType": self.principal.kind.value,
            "expiredDate": format_zstack_date(self.expires),
            "createDate": format_zstack_date(self.created),
        }


_MSG_ACCOUNT_LOGIN = "org.zstack.header.identity.APILogInByAccountMsg"
_MSG_USER_LOGIN = "org.zstack.header.identity.APILogInByUserMsg"
_MSG_IAM2_LOGIN = "org.zstack.iam2.api.APILoginIAM2VirtualIDMsg"


def _require(value: str | None, field: str, message_class: str) -> str:
    if value is None:
        raise ApiFailure(
            err(
                "SYS.1007",
                f"field[{field}] of message[{message_class}] is mandatory, can not be null",
            )
        )
    return value


class IdentityStore:
    """Principals and live sessions; all time decisions use the simulator clock."""

    def __init__(self, clock: SimClock, *, session_timeout_s: float, max_sessions: int) -> None:
        self._clock = clock
        self.session_timeout_s = session_timeout_s
        self.session_error_style = "classic"
        self._max_sessions = max_sessions
        self.accounts: dict[str, Principal] = {}  # by name
        self.users: dict[tuple[str, str], Principal] = {}  # by (account uuid, user name)
        self.virtual_ids: dict[str, Principal] = {}  # by name
        self.sessions: dict[str, Session] = {}
        self.load_seed()

    def load_seed(self) -> None:
        """Back to the demo identities, with no sessions."""
        self.sessions.clear()
        self.accounts = {
            a.name: Principal(
                PrincipalKind.ACCOUNT, a.uuid, a.name, a.uuid, a.name, sha512_hex(a.password)
            )
            for a in seed.DEMO_ACCOUNTS
        }
        self.users = {}
        for u in seed.DEMO_USERS:
            acc = self.accounts[u.account]
            self.users[(acc.uuid, u.name)] = Principal(
                PrincipalKind.USER, u.uuid, u.name, acc.uuid, acc.name, sha512_hex(u.password)
            )
        self.virtual_ids = {}
        for v in seed.DEMO_VIRTUAL_IDS:
            acc = self.accounts[v.account]
            self.virtual_ids[v.name] = Principal(
                PrincipalKind.VIRTUAL_ID, v.uuid, v.name, acc.uuid, acc.name, sha512_hex(v.password)
            )

    def is_admin(self, session: Session) -> bool:
        return session.principal.account_uuid == seed.ADMIN_ACCOUNT_UUID

    def account_name(self, account_uuid: str) -> str | None:
        for acc in self.accounts.values():
            if acc.uuid == account_uuid:
                return acc.name
        return None

    # -- login ---------------------------------------------------------------------------------

    def login_account(self, account_name: str | None, password: str | None) -> Session:
        name = _require(account_name, "accountName", _MSG_ACCOUNT_LOGIN)
        pw = _require(password, "password", _MSG_ACCOUNT_LOGIN)
        acc = self.accounts.get(name)
        if acc is None or acc.password_hash != pw:
            raise ApiFailure(err("ID.1000", "wrong account name or password"))
        return self._open(acc)

    def login_user(
        self,
        account_name: str | None,
        account_uuid: str | None,
        user_name: str | None,
        password: str | None,
    ) -> Session:
        if account_name is None and account_uuid is None:
            raise ApiFailure(err("SYS.1007", "accountName and accountUuid cannot both be null"))
        name = _require(user_name, "userName", _MSG_USER_LOGIN)
        pw = _require(password, "password", _MSG_USER_LOGIN)
        acc = next(
            (
                a
                for a in self.accounts.values()
                if a.uuid == account_uuid or (account_uuid is None and a.name == account_name)
            ),
            None,
        )
        user = self.users.get((acc.uuid, name)) if acc else None
        if user is None or user.password_hash != pw:
            raise ApiFailure(err("ID.1000", "wrong account or username or password"))
        return self._open(user)

    def login_virtual_id(self, name: str | None, password: str | None) -> Session:
        vid_name = _require(name, "name", _MSG_IAM2_LOGIN)
        pw = _require(password, "password", _MSG_IAM2_LOGIN)
        vid = self.virtual_ids.get(vid_name)
        if vid is None or vid.password_hash != pw:
            raise ApiFailure(err("ID.1000", "wrong virtual id name or password"))
        return self._open(vid)

    def _open(self, principal: Principal) -> Session:
        now = self._clock.now()
        live = sum(
            1
            for s in self.sessions.values()
            if s.principal.uuid == principal.uuid and s.valid_at(now)
        )
        if live >= self._max_sessions:
            raise ApiFailure(
                err(
                    "ID.1006",
                    f"Login sessions hit limit of max allowed concurrent login sessions,"
                    f" max allowed: {self._max_sessions}",
                )
            )
        session = Session(
            uuid=new_uuid(),
            principal=principal,
            created=now,
            expires=now + timedelta(seconds=self.session_timeout_s),
        )
        self.sessions[session.uuid] = session
        return session

    # -- using a session -----------------------------------------------------------------------

    def is_valid(self, session_uuid: str) -> bool:
        """APIValidateSession: never extends the session."""
        session = self.sessions.get(session_uuid)
        return session is not None and session.valid_at(self._clock.now())

    def authenticate(self, session_uuid: str | None) -> Session:
        """Check a session for an API call and slide its expiry (ID.1001 when unusable)."""
        now = self._clock.now()
        session = self.sessions.get(session_uuid or "")
        if session is None or not session.valid_at(now):
            raise session_invalid(self.session_error_style)
        session.expires = now + timedelta(seconds=self.session_timeout_s)
        return session

    def renew(self, session_uuid: str, duration_s: int | None) -> Session:
        """APIRenewSession: expiry = now + ``duration_s`` (default: the session timeout)."""
        if duration_s is not None and not 60 <= duration_s <= 31536000:
            raise ApiFailure(err("SYS.1007", "field[duration] must be in range of [60, 31536000]"))
        now = self._clock.now()
        session = self.sessions.get(session_uuid)
        if session is None or not session.valid_at(now):
            raise session_invalid(self.session_error_style)
        seconds = self.session_timeout_s if duration_s is None else duration_s
        session.expires = now + timedelta(seconds=seconds)
        return session

    def logout(self, session_uuid: str) -> None:
        self.sessions.pop(session_uuid, None)

    def expire(self, *, account_name: str | None = None, everything: bool = False) -> int:
        """Expire the sessions of one account (by name) or all of them; returns how many."""
        past = self._clock.now() - timedelta(seconds=1)
        count = 0
        for session in self.sessions.values():
            if everything or session.principal.account_name == account_name:
                session.expires = past
                count += 1
        return count
