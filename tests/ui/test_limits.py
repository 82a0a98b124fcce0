"""Whatever a source inventory or a user holds, every view and message stays within Slack's limits.

Checked with the emulator's validator, which applies slack_sdk's models plus the limits they miss.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.requests.model import CloneRequest, State
from bot.sandbox.slack_emulator.validation import validate_blocks, validate_view
from bot.ui import cards, status, thread
from bot.ui.clone import CloneViewMeta, clone_form_view, defaults_from_source, source_option
from bot.ui.clone_form import validate_form
from bot.zstack.models import CloneParams, CloneRequestBody, ModelServiceInventory
from tests.support.records import record_in

hostile = st.text(
    alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Z", "Cc", "Cf")),
    min_size=0,
    max_size=200,
) | st.sampled_from(["x" * 20_000, "<!channel> *bold* `tick` ```fence``` &amp; <@U1>", "\n" * 5000])

inventories = st.builds(
    lambda name, text, n_images, arch, number, vendors: ModelServiceInventory.model_validate(
        {
            "uuid": "90d425a802ff44eeb530f21587633700",
            "name": name,
            "description": text,
            "readme": text * 3,
            "yaml": text,
            "framework": text,
            "type": name,
            "startCommand": text,
            "requestCpu": number,
            "requestMemory": number,
            "gpuComputeCapability": name,
            "cpuArchitectures": [arch] * n_images,
            "vendorToSpecUuidsMap": {f"V{i}{name[:5]}": [text[:40]] for i in range(vendors)},
            "modelServiceImages": [
                {"cpuArchitecture": arch, "dockerImage": text, "vmImageUuid": name}
                for _ in range(n_images)
            ],
        }
    ),
    hostile,
    hostile,
    st.integers(0, 300),
    hostile,
    st.integers(-(2**63), 2**63 - 1),
    st.integers(0, 60),
)


def _request(params: CloneParams, reason: str, state: State, source_name: str) -> CloneRequest:
    now = datetime.now(UTC)
    return CloneRequest(
        id="CR-7F3K2Q",
        state=state,
        team_id="T1",
        requester="U1",
        channel="C1",
        card_ts="1.000100",
        source_uuid="90d425a802ff44eeb530f21587633700",
        source_name=source_name,
        body=CloneRequestBody(params=params, user_tags=[reason[:50]] * 3),
        reason=reason or "r",
        created_at=now,
        updated_at=now,
        expires_at=now + timedelta(days=1),
        approvals=["U2", "U3"],
        approvals_required=3,
        decided_by="U2",
        decision_reason=reason,
        job_uuid="a" * 32,
        finished_at=now,
        result={"name": source_name, "uuid": reason[:40]},
        error_text=reason * 10,
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inventories, st.booleans())
def test_clone_form_from_any_inventory_is_a_valid_view(
    inv: ModelServiceInventory, advanced: bool
) -> None:
    raw: dict[str, Any] = defaults_from_source(inv)
    view = clone_form_view(
        raw,
        CloneViewMeta(advanced=advanced, source_name=inv.name),
        source=source_option(inv),
        choices=[source_option(inv)] * 120,
        notice=inv.description,
    ).to_dict()
    code, problems = validate_view(view)
    assert code is None, problems


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile, hostile, st.sampled_from(list(State)))
def test_cards_and_replies_are_valid_messages(text: str, name: str, state: State) -> None:
    params = CloneParams(
        name=name or "n",
        description=text,
        readme=text * 5,
        yaml=text,
        framework=text,
        start_command=text,
        cpu_architectures=[text[:30]] * 5,
        vendor_to_spec_uuids_map={f"v{i}": [text[:32]] for i in range(40)},
    )
    record = _request(params, text, state, name)
    for blocks in (cards.request_card(record, ["U1", "S2"] * 30), thread.parameter_reply(record)):
        dumped = [b.to_dict() for b in blocks]
        assert validate_blocks(dumped, surface="message") == []
    assert len(cards.card_fallback_text(record)) <= 40_000
    assert len(status.status_text(record)) <= 40_000


def test_form_from_the_seed_submits_cleanly() -> None:
    inv = ModelServiceInventory.model_validate(
        {"uuid": "90d425a802ff44eeb530f21587633700", "name": "example"}
    )
    raw = {**defaults_from_source(inv), "reason": "ok"}
    form, errors = validate_form(raw)
    assert errors == {} and form is not None


def test_cancel_asks_for_confirmation_like_approve() -> None:
    record = record_in(State.PENDING, "CR-7F3K2Q")
    buttons = cards.decision_buttons(record, with_cancel=True).to_dict()["elements"]
    by_action = {b["action_id"]: b for b in buttons}
    for action in (cards.ACTION_APPROVE, cards.ACTION_CANCEL):
        assert by_action[action]["confirm"]["confirm"]["text"], action
    assert by_action[cards.ACTION_CANCEL]["confirm"]["deny"]["text"] == "Keep it"
