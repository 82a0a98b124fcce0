"""Request signing exactly as Slack does it (reference §1), via slack_sdk's own implementation."""

from __future__ import annotations

from slack_sdk.signature import SignatureVerifier


def signature_headers(signing_secret: str, body: str, timestamp: int) -> dict[str, str]:
    """``X-Slack-Request-Timestamp`` and ``X-Slack-Signature`` (``v0=`` HMAC-SHA256 of
    ``v0:{timestamp}:{body}``) for one request body."""
    verifier = SignatureVerifier(signing_secret)
    signature = verifier.generate_signature(timestamp=str(timestamp), body=body)
    return {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": str(signature)}
