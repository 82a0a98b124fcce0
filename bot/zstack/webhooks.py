"""ZStack job callbacks: the URL the bot hands to ZStack (``X-Web-Hook``) and its check.

The URL carries the request id, the job UUID and an HMAC of both under a key derived from the
session key, so only URLs the bot issued are accepted and each one is good for one job only.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from bot.crypto import SecretBox

WEBHOOK_PATH = "/zstack/webhook"
_PURPOSE = b"clonebot webhook v1"
_MAC_CHARS = 43  # base16 of 256 bits, shortened: still far beyond guessing
_MAC_FORM = re.compile(rf"^[0-9a-f]{{{_MAC_CHARS}}}$")


class WebhookSigner:
    def __init__(self, box: SecretBox, public_url: str | None) -> None:
        self._keys = box.derived_keys(_PURPOSE)
        self._public_url = public_url.rstrip("/") if public_url else None

    def use_public_url(self, public_url: str | None) -> None:
        """Issue URLs under ``public_url`` from now on (e.g. once a listener's port is known)."""
        self._public_url = public_url.rstrip("/") if public_url else None

    @property
    def enabled(self) -> bool:
        return self._public_url is not None

    def _mac(self, key: bytes, request_id: str, job_uuid: str) -> str:
        message = f"{request_id}:{job_uuid}".encode()
        return hmac.new(key, message, hashlib.sha256).hexdigest()[:_MAC_CHARS]

    def url_for(self, request_id: str, job_uuid: str) -> str | None:
        """The callback URL for one job, or None when no public URL is configured."""
        if self._public_url is None:
            return None
        mac = self._mac(self._keys[0], request_id, job_uuid)
        return f"{self._public_url}{WEBHOOK_PATH}/{request_id}/{job_uuid}/{mac}"

    def verify(self, request_id: str, job_uuid: str, mac: str) -> bool:
        """Constant-time check against every configured key (rotation keeps old URLs valid).
        A MAC that is not of the form the bot issues is refused before any comparison."""
        if not _MAC_FORM.match(mac):
            return False
        given = mac.encode("ascii")
        return any(
            hmac.compare_digest(self._mac(key, request_id, job_uuid).encode("ascii"), given)
            for key in self._keys
        )
