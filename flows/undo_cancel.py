"""Changed your mind? The cancelled done screen's way back: keep the subscription, through billing, once.

Rules: standard library, `flows.model`, `flows.events`, `flows.returning`, `offers.model` and `offers.ports`
only; pure. A cancellation that runs to the period end leaves the subscription live until then, so the done
screen shows the card a returning customer set to end gets (the built-in REACTIVATE, flows.returning), and
taking it is the same ApplyOffer: ledger row before the call, derived key, billing's `reactivate`. While
billing is asked the session has no outcome; applied, it ends `reactivated` (flows.outcomes); failed, it is
back on the cancelled screen, still cancelled (flows.machine's OfferFailed handler asks `failed_back_to`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flows.model import Outcome, StepKind
from flows.returning import RETURNING_STEPS
from offers.model import REACTIVATE
from offers.ports import Capability

if TYPE_CHECKING:
    from flows.events import CancelApplied
    from flows.model import CustomerContext, FlowDefinition, FlowState
    from offers.model import OfferId


def undo_offers(
    definition: FlowDefinition, state: FlowState, event: CancelApplied, ctx: CustomerContext
) -> tuple[OfferId, ...]:
    """The cancelled done screen's card: REACTIVATE when the subscription stays live until a later end (a test
    session asked no billing, so its period end stands in) and billing can undo the cancel; else none.

    Not after a paid exit interview: the session's accepted offer is the interview (its CS task, its count
    on the dashboard), and a failed undo, which clears the accepted offer, would lose that record.
    """
    ends = ctx.snapshot.current_period_end if ctx.test_mode else event.effective_at
    can = Capability.REACTIVATE in ctx.policy.capabilities and state.accepted_offer is None
    return (REACTIVATE.id,) if definition.cancel_at_period_end and can and ends > event.at else ()


def failed_back_to(state: FlowState, offer_id: OfferId) -> tuple[StepKind, Outcome | None]:
    """Where a failed billing call for the accepted offer returns, with the outcome it has there: the cancelled
    done screen for an undo of this session's own cancellation, a returning customer's step for its built-in
    offer, else the offer step."""
    if state.cancel_effective_at is not None and offer_id == REACTIVATE.id:
        return StepKind.DONE, Outcome.CANCELLED
    return RETURNING_STEPS.get(offer_id, StepKind.OFFER), None
