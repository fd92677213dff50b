"""Where a returning customer's session opens: the step the live subscription's state calls for, and its offer.

Rules: standard library, `flows.model`, `offers.model` and `offers.ports` only; pure (time is passed in).
A customer whose subscription already has something pending (a cancellation, a pause, a plan change) is
first offered to undo it, never asked again why they are leaving.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flows.model import StepKind
from offers.model import EXTEND_PAUSE, REACTIVATE, RESUME, UNDO_DOWNGRADE, OfferId
from offers.ports import ALL_CAPABILITIES, Capability

if TYPE_CHECKING:
    from datetime import datetime

    from offers.ports import SubscriptionSnapshot

# The returning customer's steps, by the built-in offer each one shows.
RETURNING_STEPS: dict[OfferId, StepKind] = {
    REACTIVATE.id: StepKind.ENDING,
    RESUME.id: StepKind.PAUSED,
    EXTEND_PAUSE.id: StepKind.PAUSED,  # the paused step's second card (flows.machine._on_started)
    UNDO_DOWNGRADE.id: StepKind.DOWNGRADE_SCHEDULED,
}


def returning_step(
    snapshot: SubscriptionSnapshot, now: datetime, can: frozenset[Capability] = ALL_CAPABILITIES
) -> tuple[StepKind, OfferId] | None:
    """The returning step (and its one built-in offer) for this subscription, or None for the usual flow.

    The order is the order of what matters most: a subscription set to end is about to be lost, so keeping
    it comes first; a pause holds the plan anyway; a scheduled plan change is the mildest. A step whose undo
    the billing system cannot make (`can`: its provider's capabilities) is skipped: never offer what fails.
    """
    if not snapshot.is_live:
        return None
    if snapshot.cancel_at_period_end and Capability.REACTIVATE in can:
        return StepKind.ENDING, REACTIVATE.id
    if snapshot.paused_until is not None and snapshot.paused_until > now and Capability.RESUME in can:
        return StepKind.PAUSED, RESUME.id
    scheduled = snapshot.scheduled_price_id is not None and snapshot.scheduled_price_id != snapshot.price_id
    if scheduled and Capability.CANCEL_SCHEDULED_CHANGE in can:
        return StepKind.DOWNGRADE_SCHEDULED, UNDO_DOWNGRADE.id
    return None
