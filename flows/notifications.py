"""Which outbound webhook events a transition causes (the host app's view of a session).

Rules: standard library and flows.* only; pure. The shell stores one delivery per subscribed endpoint
in the same transaction as the state change (an outbox), so no event is lost or sent for a change
that was rolled back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flows.model import FlowDefinition, FlowState, Outcome, StepKind
from offers.model import OfferKind

_TOOK_OFFER = frozenset({Outcome.SAVED, Outcome.KEPT})
# `subscription.pause_ending` comes from the reminder sweep (service.use_cases.lifecycle), not a transition.
EVENT_TYPES = (
    "session.completed",
    "offer.applied",
    "subscription.paused",
    "subscription.cancelled",
    "subscription.pause_ending",
    "subscription.reactivated",
)


@dataclass(frozen=True, slots=True)
class Notification:
    type: str
    data: dict[str, Any]


def notifications(definition: FlowDefinition, before: FlowState, after: FlowState) -> tuple[Notification, ...]:
    """The events to announce when `before` became `after` (nothing unless the session just finished)."""
    if before.step is StepKind.DONE or after.step is not StepKind.DONE or after.outcome is None:
        return ()
    if before.step is StepKind.OFFER_PENDING and after.outcome is Outcome.CANCELLED:
        return ()  # the undo of its own cancellation failed (flows.undo_cancel): announced when it was made
    offer = definition.offer(after.accepted_offer) if after.accepted_offer else None
    summary: dict[str, Any] = {
        "session_id": after.session_id,
        "outcome": after.outcome.value,
        "reason": after.reason,
        "offer": {"id": offer.id, "kind": offer.kind.value} if offer and after.outcome in _TOOK_OFFER else None,
        "result": after.result_summary,
        "cancel_effective_at": after.cancel_effective_at.isoformat() if after.cancel_effective_at else None,
    }
    found = [Notification("session.completed", summary)]
    if after.outcome in _TOOK_OFFER and offer is not None:  # kept by a no-billing offer (training) too
        found.append(Notification("offer.applied", summary))
        if offer.kind is OfferKind.PAUSE:
            found.append(Notification("subscription.paused", summary))
    if after.outcome is Outcome.CANCELLED:
        found.append(Notification("subscription.cancelled", summary))
    if after.outcome is Outcome.REACTIVATED:  # a scheduled cancellation was undone: the host can restore access
        found.append(Notification("subscription.reactivated", summary))
    return tuple(found)
