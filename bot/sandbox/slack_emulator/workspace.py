"""The workspace the emulator pretends to be: team, bot, people, channels and user groups.

A :class:`Workspace` is plain data. Tests build their own or start from :func:`default_workspace`;
the emulator deep-copies it, so ``/_emu/reset`` can return to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_SCOPES = (
    "commands",
    "chat:write",
    "chat:write.public",
    "im:write",
    "users:read",
    "usergroups:read",
    "channels:history",
    "groups:history",
    "im:history",
)


@dataclass
class User:
    id: str
    name: str
    real_name: str
    locale: str = "en-US"
    tz: str = "America/Los_Angeles"
    is_bot: bool = False
    email: str | None = None

    def to_dict(self, team_id: str, *, include_locale: bool = False) -> dict[str, object]:
        profile: dict[str, object] = {
            "real_name": self.real_name,
            "real_name_normalized": self.real_name,
            "display_name": self.name,
            "display_name_normalized": self.name,
            "team": team_id,
        }
        if self.email:
            profile["email"] = self.email
        user: dict[str, object] = {
            "id": self.id,
            "team_id": team_id,
            "name": self.name,
            "deleted": False,
            "real_name": self.real_name,
            "tz": self.tz,
            "is_admin": False,
            "is_owner": False,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "profile": profile,
        }
        if include_locale:
            user["locale"] = self.locale
        return user


@dataclass
class Channel:
    """A public/private channel, or an IM (``is_im``) between the bot and ``im_user``."""

    id: str
    name: str
    members: set[str] = field(default_factory=set)
    bot_member: bool = False
    is_private: bool = False
    is_im: bool = False
    im_user: str | None = None

    def has_member(self, user_id: str) -> bool:
        if self.is_im:
            return user_id == self.im_user
        return user_id in self.members

    @property
    def channel_type(self) -> str:
        if self.is_im:
            return "im"
        return "group" if self.is_private else "channel"

    @property
    def command_channel_name(self) -> str:
        """What a slash command's ``channel_name`` says for this conversation."""
        if self.is_im:
            return "directmessage"
        return "privategroup" if self.is_private else self.name


@dataclass
class UserGroup:
    id: str
    handle: str
    name: str
    members: list[str] = field(default_factory=list)


@dataclass
class Workspace:
    team_id: str = "T0CLONE"
    team_domain: str = "clonebot-sandbox"
    team_name: str = "Clone Bot Sandbox"
    app_id: str = "A0CLONE"
    bot_user_id: str = "U0BOT"
    bot_id: str = "B0BOT"
    bot_name: str = "clonebot"
    verification_token: str = "emulator-verification-token"
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    users: dict[str, User] = field(default_factory=dict)
    channels: dict[str, Channel] = field(default_factory=dict)
    usergroups: dict[str, UserGroup] = field(default_factory=dict)

    def add_user(self, user: User) -> User:
        self.users[user.id] = user
        return user

    def add_channel(self, channel: Channel) -> Channel:
        self.channels[channel.id] = channel
        return channel

    def add_usergroup(self, group: UserGroup) -> UserGroup:
        self.usergroups[group.id] = group
        return group

    def find_channel(self, ref: str) -> Channel | None:
        """A channel by id, ``#name`` or ``name``."""
        if ref in self.channels:
            return self.channels[ref]
        name = ref.removeprefix("#")
        for channel in self.channels.values():
            if not channel.is_im and channel.name == name:
                return channel
        return None

    def im_for(self, user_id: str) -> Channel:
        """The bot's DM with ``user_id``: one per user, with a stable id (``U0REQ`` → ``D0REQ``)."""
        for channel in self.channels.values():
            if channel.is_im and channel.im_user == user_id:
                return channel
        im = Channel(
            id="D" + user_id[1:], name=user_id, is_im=True, im_user=user_id, bot_member=True
        )
        return self.add_channel(im)


REQUESTER = "U0REQ"
APPROVER_1 = "U0APP1"
APPROVER_2 = "U0APP2"
OUTSIDER = "U0OUT"
GENERAL = "C0GENERAL"
APPROVALS = "C0APPROVE"
MLOPS = "C0MLOPS"
APPROVERS_GROUP = "S0APPROVERS"


def default_workspace() -> Workspace:
    """Team ``T0CLONE``: a requester, two approvers (one ``zh-CN``), an outsider, three channels."""
    ws = Workspace()
    ws.add_user(User(id=ws.bot_user_id, name=ws.bot_name, real_name="Clone Bot", is_bot=True))
    ws.add_user(User(REQUESTER, "riley", "Riley Chen", email="riley@example.com"))
    ws.add_user(User(APPROVER_1, "avery", "Avery Brooks", email="avery@example.com"))
    ws.add_user(
        User(
            APPROVER_2,
            "jordan",
            "Jordan Li",
            locale="zh-CN",
            tz="Asia/Shanghai",
            email="jordan@example.com",
        )
    )
    ws.add_user(User(OUTSIDER, "sam", "Sam Patel", email="sam@example.com"))
    people = {REQUESTER, APPROVER_1, APPROVER_2, OUTSIDER}
    ws.add_channel(Channel(GENERAL, "general", members=set(people)))
    ws.add_channel(Channel(APPROVALS, "model-approvals", members=set(people), bot_member=True))
    ws.add_channel(Channel(MLOPS, "ml-ops", members={REQUESTER, APPROVER_1, APPROVER_2}))
    ws.add_usergroup(
        UserGroup(APPROVERS_GROUP, "model-approvers", "Model approvers", [APPROVER_1, APPROVER_2])
    )
    return ws
