"""The request lifecycle as data: which event may move a request from which state to which.

``TRANSITIONS`` is the whole state machine (DESIGN §4). ``RequestStore.transition`` consults it
on every change: an event that is not allowed in the request's current state changes nothing, and
a change that lands anywhere but the table's target is refused as a bug. The README's diagram is
drawn from this table (a test keeps the two equal).

Some events keep the state (a vote below the quorum, the card being posted, a completion notice
recorded): they are edges from a state to itself.
"""

from __future__ import annotations

from enum import StrEnum

from bot.requests.model import State


class Event(StrEnum):
    POSTED = "posted"  # the card is in the channel
    VOTE = "vote"  # an approval below the quorum
    APPROVE = "approve"  # the approval that reaches the quorum
    REJECT = "reject"
    CANCEL = "cancel"  # by the requester
    WITHDRAW = "withdraw"  # by the bot: the card could not be posted
    EXPIRE = "expire"  # nobody decided within the TTL
    SUBMIT = "submit"  # write-ahead of the job UUID, before CloneModelService is sent
    ACCEPT = "accept"  # ZStack took the job (202, or found running by its UUID)
    RESEND = "resend"  # ZStack never got it: back to approved, to be sent again
    SUCCEED = "succeed"
    FAIL = "fail"
    PARK = "park"  # the requester's session is gone: wait for their login
    RESUME = "resume"  # they logged in
    RETRY = "retry"  # a person retries a failed request
    NOTIFIED = "notified"  # one completion notice delivered
    CHECKED = "checked"  # pre-flight checks recorded while the request waits for approval
    SUPERSEDE = "supersede"  # the requester edited and resubmitted it as a new request
    REMIND = "remind"  # nobody decided yet: the approvers are reminded
    ESCALATE = "escalate"  # nobody decided in time: fallback approvers join
    SKIP = "skip"  # an approval step nobody decided in time is skipped


S = State
TRANSITIONS: dict[tuple[State, Event], State] = {
    # A card posted late (after a restart) is still recorded, whatever became of the request.
    **{(state, Event.POSTED): state for state in State},
    (S.PENDING, Event.VOTE): S.PENDING,
    (S.PENDING, Event.CHECKED): S.PENDING,
    (S.PENDING, Event.REMIND): S.PENDING,
    (S.PENDING, Event.ESCALATE): S.PENDING,
    (S.PENDING, Event.SKIP): S.PENDING,
    (S.PENDING, Event.APPROVE): S.APPROVED,
    (S.PENDING, Event.REJECT): S.REJECTED,
    (S.PENDING, Event.CANCEL): S.CANCELLED,
    (S.PENDING, Event.WITHDRAW): S.CANCELLED,
    (S.PENDING, Event.EXPIRE): S.EXPIRED,
    # A waiting request is withdrawn by its resubmission; an ended one only records it.
    (S.PENDING, Event.SUPERSEDE): S.CANCELLED,
    **{(state, Event.SUPERSEDE): state for state in (S.REJECTED, S.FAILED, S.EXPIRED, S.CANCELLED)},
    (S.APPROVED, Event.SUBMIT): S.SUBMITTING,
    (S.APPROVED, Event.PARK): S.AWAITING_LOGIN,
    (S.APPROVED, Event.FAIL): S.FAILED,  # ZStack never took it after every resend
    (S.SUBMITTING, Event.ACCEPT): S.RUNNING,
    (S.SUBMITTING, Event.RESEND): S.APPROVED,
    (S.SUBMITTING, Event.SUCCEED): S.SUCCEEDED,
    (S.SUBMITTING, Event.FAIL): S.FAILED,
    (S.SUBMITTING, Event.PARK): S.AWAITING_LOGIN,
    (S.RUNNING, Event.SUCCEED): S.SUCCEEDED,
    (S.RUNNING, Event.FAIL): S.FAILED,
    (S.RUNNING, Event.PARK): S.AWAITING_LOGIN,
    (S.AWAITING_LOGIN, Event.RESUME): S.APPROVED,
    (S.AWAITING_LOGIN, Event.CANCEL): S.CANCELLED,
    (S.AWAITING_LOGIN, Event.EXPIRE): S.EXPIRED,
    (S.FAILED, Event.RETRY): S.APPROVED,
    (S.FAILED, Event.NOTIFIED): S.FAILED,
    (S.SUCCEEDED, Event.NOTIFIED): S.SUCCEEDED,
}
del S


def target(state: State, event: Event) -> State | None:
    """Where ``event`` takes a request in ``state``, or None when it may not happen there."""
    return TRANSITIONS.get((state, event))


def sources(event: Event) -> frozenset[State]:
    """The states ``event`` may happen in."""
    return frozenset(state for (state, ev) in TRANSITIONS if ev == event)


def mermaid() -> str:
    """The state diagram (Mermaid ``stateDiagram-v2``), one line per edge that changes state."""
    lines = ["stateDiagram-v2", "    [*] --> pending"]
    for (state, event), to in TRANSITIONS.items():
        if to != state:
            lines.append(f"    {state.value} --> {to.value}: {event.value}")
    for state in (State.SUCCEEDED, State.REJECTED, State.CANCELLED, State.EXPIRED):
        lines.append(f"    {state.value} --> [*]")
    return "\n".join(lines)
