"""Clone request records for tests that talk to the store directly (no Slack, no form)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.requests.model import CloneRequest, State
from bot.zstack.models import CloneParams, CloneRequestBody

SOURCE = "90d425a802ff44eeb530f21587633700"


def record_in(state: State, request_id: str, **fields: Any) -> CloneRequest:
    """A request of team T1's user U1, in ``state``, expiring in an hour; ``fields`` override."""
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "id": request_id,
        "state": state,
        "team_id": "T1",
        "requester": "U1",
        "channel": "C1",
        "source_uuid": SOURCE,
        "body": CloneRequestBody(params=CloneParams(name="copy")),
        "reason": "test",
        "created_at": now,
        "updated_at": now,
        "expires_at": now + timedelta(hours=1),
    }
    return CloneRequest(**{**values, **fields})
