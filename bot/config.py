"""Settings: one pydantic-settings object, read from the environment or ``.env`` (DESIGN §6).

Only this module reads the environment. ``Settings.load()`` turns validation failures into a
``ConfigError`` with one human line per problem, so a bad deployment fails at start without a
traceback. Tests build ``Settings(...)`` with keyword arguments (field names).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

from bot.errors import ConfigError

LogFormat = Literal["json", "console"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
# Slack user IDs (U…, W… on Enterprise Grid) and user-group IDs (S…).
SLACK_ID = re.compile(r"[UWS][A-Z0-9]+")
# The REDIS_URL forms ``bot.store.urls`` parses (its docstring has the grammar of each).
REDIS_URL_SCHEMES = (
    "redis",
    "rediss",
    "unix",
    "redis+sentinel",
    "rediss+sentinel",
    "redis+cluster",
    "rediss+cluster",
)
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,30}")
_REDIS_URL_FORMS = "redis://, rediss://, unix://, redis+sentinel:// or redis+cluster://"


def _env(name: str, field: str) -> Any:
    # Environment name first; the field name lets tests and code pass keyword arguments.
    return Field(None, validation_alias=AliasChoices(name, field))


class Settings(BaseSettings):
    """Every knob of the bot. Environment names are in DESIGN §6; field names are snake_case."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_by_name=True,
        case_sensitive=False,
    )

    # Slack
    slack_bot_token: SecretStr | None = _env("SLACK_BOT_TOKEN", "slack_bot_token")
    slack_signing_secret: SecretStr | None = _env("SLACK_SIGNING_SECRET", "slack_signing_secret")
    slack_app_token: SecretStr | None = _env("SLACK_APP_TOKEN", "slack_app_token")
    slack_api_url: str = Field(
        DEFAULT_SLACK_API_URL, validation_alias=AliasChoices("SLACK_API_URL", "slack_api_url")
    )

    # ZStack
    zstack_url: str = Field(
        "http://127.0.0.1:8080", validation_alias=AliasChoices("ZSTACK_URL", "zstack_url")
    )
    zstack_verify_tls: bool = Field(
        True, validation_alias=AliasChoices("ZSTACK_VERIFY_TLS", "zstack_verify_tls")
    )
    zstack_ca_bundle: Path | None = _env("ZSTACK_CA_BUNDLE", "zstack_ca_bundle")
    zstack_timeout_s: float = Field(
        15.0, gt=0, le=600, validation_alias=AliasChoices("ZSTACK_TIMEOUT_S", "zstack_timeout_s")
    )
    zstack_console_url: str | None = _env("ZSTACK_CONSOLE_URL", "zstack_console_url")

    # Redis and state
    redis_url: str | None = _env("REDIS_URL", "redis_url")
    data_dir: Path = Field(
        Path(".clonebot"), validation_alias=AliasChoices("CLONEBOT_DATA_DIR", "data_dir")
    )
    session_key: SecretStr | None = _env("CLONEBOT_SESSION_KEY", "session_key")
    key_prefix: str = Field(
        "clonebot:",
        min_length=1,
        validation_alias=AliasChoices("CLONEBOT_KEY_PREFIX", "key_prefix"),
    )

    # Approval policy
    approval_channel: str | None = _env("CLONEBOT_APPROVAL_CHANNEL", "approval_channel")
    # Comma-separated in the environment, not JSON.
    approvers: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=AliasChoices("CLONEBOT_APPROVERS", "approvers")
    )
    allow_self_approval: bool = Field(
        False,
        validation_alias=AliasChoices("CLONEBOT_ALLOW_SELF_APPROVAL", "allow_self_approval"),
    )
    approvals_required: int = Field(
        1,
        ge=1,
        le=10,
        validation_alias=AliasChoices("CLONEBOT_APPROVALS_REQUIRED", "approvals_required"),
    )
    approval_ttl_s: int = Field(
        86400,
        ge=60,
        validation_alias=AliasChoices("CLONEBOT_APPROVAL_TTL_S", "approval_ttl_s"),
    )
    # Approvers must hold their own ZStack session that can see the source ("required").
    approver_login: Literal["required", "off"] = Field(
        "off", validation_alias=AliasChoices("CLONEBOT_APPROVER_LOGIN", "approver_login")
    )
    # Nobody decided: remind the approvers (after, then every, at most max times), then add
    # fallback approvers (users, user groups), once (the default rule's; rules set their own).
    remind_after_s: int | None = Field(
        None, ge=60, validation_alias=AliasChoices("CLONEBOT_REMIND_AFTER_S", "remind_after_s")
    )
    remind_every_s: int | None = Field(
        None, ge=60, validation_alias=AliasChoices("CLONEBOT_REMIND_EVERY_S", "remind_every_s")
    )
    remind_max: int = Field(
        3, ge=1, le=20, validation_alias=AliasChoices("CLONEBOT_REMIND_MAX", "remind_max")
    )
    escalate_after_s: int | None = Field(
        None,
        ge=60,
        validation_alias=AliasChoices("CLONEBOT_ESCALATE_AFTER_S", "escalate_after_s"),
    )
    escalate_to: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias=AliasChoices("CLONEBOT_ESCALATE_TO", "escalate_to"),
    )
    # Approvers write a comment with their approval ("required").
    approval_comment: Literal["required", "off"] = Field(
        "off", validation_alias=AliasChoices("CLONEBOT_APPROVAL_COMMENT", "approval_comment")
    )
    # Ordered approval rules (YAML, ``bot.requests.rules``); the settings above are the default.
    policy_file: Path | None = _env("CLONEBOT_POLICY_FILE", "policy_file")

    # Pace Web API calls to Slack's published rate limits (``bot.slack.pacing``); off only
    # against a Slack stand-in that has none. A 429's Retry-After is honoured either way.
    slack_pace: bool = Field(
        True, validation_alias=AliasChoices("CLONEBOT_SLACK_PACE", "slack_pace")
    )

    # Job tracking
    poll_initial_s: float = Field(
        1.0, gt=0, validation_alias=AliasChoices("CLONEBOT_POLL_INITIAL_S", "poll_initial_s")
    )
    poll_max_s: float = Field(
        10.0, gt=0, validation_alias=AliasChoices("CLONEBOT_POLL_MAX_S", "poll_max_s")
    )
    job_timeout_cap_s: float = Field(
        3 * 3600.0,
        gt=0,
        validation_alias=AliasChoices("CLONEBOT_JOB_TIMEOUT_S", "job_timeout_cap_s"),
    )

    # Language of channel posts and of users whose Slack locale is not supported (en, zh).
    locale: Literal["en", "zh"] = Field(
        "en", validation_alias=AliasChoices("CLONEBOT_LOCALE", "locale")
    )

    # Listener, webhooks, logs
    public_url: str | None = _env("CLONEBOT_PUBLIC_URL", "public_url")
    host: str = Field("127.0.0.1", validation_alias=AliasChoices("CLONEBOT_HOST", "host"))
    port: int = Field(3000, ge=0, le=65535, validation_alias=AliasChoices("CLONEBOT_PORT", "port"))
    log_level: LogLevel = Field(
        "INFO", validation_alias=AliasChoices("CLONEBOT_LOG_LEVEL", "log_level")
    )
    log_format: LogFormat = Field(
        "console", validation_alias=AliasChoices("CLONEBOT_LOG_FORMAT", "log_format")
    )

    @field_validator("approvers", "escalate_to", mode="before")
    @classmethod
    def _split_ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("approvers", "escalate_to")
    @classmethod
    def _slack_ids(cls, value: list[str]) -> list[str]:
        # A name or an @handle would never match a voter: the policy compares IDs.
        if not_ids := [entry for entry in value if not SLACK_ID.fullmatch(entry)]:
            raise ValueError(
                f"not Slack IDs: {', '.join(not_ids)} (use member IDs U… or W…, from the "
                "profile's ⋮ → Copy member ID, and user-group IDs S…, not names)"
            )
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        # Only the scheme is checked (and named) here: the rest may hold a password. The full
        # grammar is bot.store.urls', checked before anything is written at start.
        if value is None or not value.strip():
            return None
        scheme, sep, _ = value.strip().partition("://")
        if not sep:
            raise ValueError(f"not a URL: use {_REDIS_URL_FORMS}, e.g. redis://redis:6379/0")
        if scheme.lower() not in REDIS_URL_SCHEMES:
            shown = f"{scheme}://" if _SCHEME.fullmatch(scheme) else "the scheme"
            raise ValueError(f"unknown scheme {shown}: use {_REDIS_URL_FORMS}")
        return value.strip()

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("slack_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        # slack_sdk joins method names onto the base URL: without a trailing slash the path is lost.
        return value if value.endswith("/") else value + "/"

    @field_validator("zstack_url", "zstack_console_url", "public_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("zstack_ca_bundle")
    @classmethod
    def _ca_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"file not found: {value}")
        return value

    @field_validator("slack_bot_token", "slack_signing_secret", "slack_app_token", "session_key")
    @classmethod
    def _blank_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.slack_bot_token and not self.slack_bot_token.get_secret_value().startswith("xox"):
            raise ValueError("SLACK_BOT_TOKEN must be a bot token (xoxb-...)")
        if self.slack_app_token and not self.slack_app_token.get_secret_value().startswith("xapp-"):
            raise ValueError("SLACK_APP_TOKEN must be an app-level token (xapp-...)")
        if self.poll_max_s < self.poll_initial_s:
            raise ValueError("CLONEBOT_POLL_MAX_S must be >= CLONEBOT_POLL_INITIAL_S")
        if self.remind_every_s and not self.remind_after_s:
            raise ValueError("CLONEBOT_REMIND_EVERY_S needs CLONEBOT_REMIND_AFTER_S")
        if bool(self.escalate_after_s) != bool(self.escalate_to):
            raise ValueError("CLONEBOT_ESCALATE_AFTER_S and CLONEBOT_ESCALATE_TO go together")
        return self

    @property
    def has_slack_credentials(self) -> bool:
        """A bot token plus either a signing secret (HTTP mode) or an app token (Socket Mode)."""
        return self.slack_bot_token is not None and (
            self.slack_signing_secret is not None or self.slack_app_token is not None
        )

    def missing_slack_credentials(self) -> str | None:
        """What a partial set of Slack credentials lacks, in one line; ``None`` when a mode can
        run, or when none is set at all (the sandbox needs none: the caller says so)."""
        bot = self.slack_bot_token is not None
        secret = self.slack_signing_secret is not None
        app = self.slack_app_token is not None
        if self.has_slack_credentials or not (bot or secret or app):
            return None
        if bot:
            return (
                "SLACK_SIGNING_SECRET is missing: HTTP mode needs it with SLACK_BOT_TOKEN "
                "(or set SLACK_APP_TOKEN for Socket Mode)"
            )
        if secret and app:
            return (
                "SLACK_BOT_TOKEN is missing: both Socket Mode (SLACK_APP_TOKEN) and HTTP mode "
                "(SLACK_SIGNING_SECRET) need the bot token (xoxb-…) too"
            )
        if app:
            return (
                "SLACK_BOT_TOKEN is missing: Socket Mode needs the bot token (xoxb-…) "
                "with SLACK_APP_TOKEN"
            )
        return (
            "SLACK_BOT_TOKEN is missing: HTTP mode needs the bot token (xoxb-…) "
            "with SLACK_SIGNING_SECRET"
        )

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """Read the environment (and ``.env``); raise ``ConfigError`` with one line per problem."""
        try:
            return cls(**overrides)
        except ValidationError as exc:
            raise ConfigError([_describe(error) for error in exc.errors()]) from None
        except SettingsError as exc:
            raise ConfigError([str(exc)]) from None


_ENV_NAMES: dict[str, str] = {}
for _name, _field in Settings.model_fields.items():
    _alias = _field.validation_alias
    if isinstance(_alias, AliasChoices) and isinstance(_alias.choices[0], str):
        _ENV_NAMES[_name] = _alias.choices[0]


def _describe(error: Any) -> str:
    """One line for one validation problem, naming the environment variable, never its value."""
    loc = [str(part) for part in error.get("loc", ())]
    field = loc[0] if loc else ""
    name = _ENV_NAMES.get(field, field.upper() or "settings")
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    return f"{name}: {message}" if loc else message
