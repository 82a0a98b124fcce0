"""Encryption of secrets at rest (ZStack sessions in Redis) with Fernet (DESIGN §5).

The key comes from ``CLONEBOT_SESSION_KEY``: one Fernet key, or several separated by commas, newest
first (rotation: new values are encrypted with the first key, every listed key can still decrypt,
and readers re-encrypt old values with the newest key). When the setting is unset, a key is
generated once and kept in ``<data_dir>/session.key`` (mode 0600) with a warning: fine for one
process with local data, wrong for several replicas, which must share ``CLONEBOT_SESSION_KEY``.

Keys are never logged and never appear in error messages.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from bot.config import Settings
from bot.errors import ConfigError, DecryptError

logger = logging.getLogger(__name__)

# File name of the generated key inside the data directory.
KEY_FILE_NAME = "session.key"

_KEY_HELP = "must be a Fernet key (32 url-safe base64-encoded bytes; comma-separated to rotate)"


@dataclass(frozen=True, slots=True)
class Decrypted:
    """Plain bytes and whether they were encrypted with an older key (re-encrypt them)."""

    plaintext: bytes
    stale: bool


class SecretBox:
    """Fernet encryption with rotation (``cryptography``'s ``MultiFernet``): encrypt with the
    newest key, decrypt with any."""

    __slots__ = ("_keys", "_newest", "_ring")

    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise ConfigError([f"CLONEBOT_SESSION_KEY: {_KEY_HELP}"])
        self._keys = list(keys)
        self._newest = Fernet(keys[0])
        self._ring = MultiFernet([Fernet(key) for key in keys])

    def derived_keys(self, purpose: bytes) -> list[bytes]:
        """Sub-keys for another use (e.g. webhook MACs), newest first, one per configured key.

        HMAC-SHA256 of ``purpose`` under each key, so the sub-keys rotate with the session keys
        and reveal nothing about them.
        """
        return [hmac.new(key, purpose, hashlib.sha256).digest() for key in self._keys]

    def __repr__(self) -> str:
        return f"SecretBox(keys={len(self._keys)})"

    def encrypt(self, plaintext: bytes) -> bytes:
        """A Fernet token (URL-safe base64 bytes) made with the newest key."""
        return self._ring.encrypt(plaintext)

    def decrypt(self, token: bytes) -> Decrypted:
        """Decrypt with the newest key first, then older ones; ``DecryptError`` if none fits."""
        try:
            return Decrypted(self._newest.decrypt(token), stale=False)
        except InvalidToken:
            pass
        try:
            return Decrypted(self._ring.decrypt(token), stale=True)
        except InvalidToken:
            raise DecryptError(
                "value cannot be decrypted with the configured session key(s)"
            ) from None


def generate_key() -> str:
    """A new random Fernet key, as text (what ``CLONEBOT_SESSION_KEY`` takes)."""
    return Fernet.generate_key().decode("ascii")


def parse_keys(text: str, *, source: str = "CLONEBOT_SESSION_KEY") -> list[bytes]:
    """Split and check comma-separated Fernet keys; ``ConfigError`` naming ``source`` if bad."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts:
        raise ConfigError([f"{source}: {_KEY_HELP}"])
    keys: list[bytes] = []
    for position, part in enumerate(parts, start=1):
        key = part.encode("ascii", errors="replace")
        try:
            Fernet(key)
        except (ValueError, TypeError):
            where = f" (key {position} of {len(parts)})" if len(parts) > 1 else ""
            raise ConfigError([f"{source}: {_KEY_HELP}{where}"]) from None
        keys.append(key)
    return keys


def _read_or_create_key_file(data_dir: Path) -> tuple[str, bool]:
    """Return the key file's text and whether it was just created. Safe against a racing peer."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = data_dir / KEY_FILE_NAME
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = path.stat().st_mode
        if mode & 0o077:
            logger.warning("%s is readable by other users; chmod 600 it", path)
        return path.read_text(encoding="ascii", errors="replace"), False
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        key = generate_key()
        handle.write(key + "\n")
    return key, True


def load_secret_box(settings: Settings) -> SecretBox:
    """Build the ``SecretBox`` from settings (start-up only: may touch the key file).

    Raises ``ConfigError`` with one line when a key is malformed or the key file is unusable.
    """
    if settings.session_key is not None:
        return SecretBox(parse_keys(settings.session_key.get_secret_value()))
    data_dir = settings.data_dir.expanduser().resolve()
    path = data_dir / KEY_FILE_NAME
    try:
        text, created = _read_or_create_key_file(data_dir)
    except OSError as exc:
        raise ConfigError(
            [f"CLONEBOT_SESSION_KEY is unset and {path} cannot be used: {exc.strerror or exc}"]
        ) from None
    if created:
        logger.warning(
            "CLONEBOT_SESSION_KEY is unset: generated a session key in %s; "
            "set CLONEBOT_SESSION_KEY (shared by every replica) in production",
            path,
        )
    else:
        logger.warning(
            "CLONEBOT_SESSION_KEY is unset: using the session key kept in %s; "
            "set CLONEBOT_SESSION_KEY (shared by every replica) in production",
            path,
        )
    return SecretBox(parse_keys(text, source=str(path)))


async def aload_secret_box(settings: Settings) -> SecretBox:
    """``load_secret_box`` in a worker thread, for callers already inside the event loop."""
    return await asyncio.to_thread(load_secret_box, settings)
