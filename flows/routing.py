"""Routing: which offers, best first, a reason leads to for this customer.

Rules: standard library, `flows.model`, `offers.model`, `offers.ports` and `offers.eligibility` only; pure.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from offers.eligibility import eligible_offers
from offers.model import OfferKind
from offers.ports import SubscriptionStatus

if TYPE_CHECKING:
    from datetime import datetime

    from flows.model import CustomerContext, FlowDefinition, ReasonId
    from offers.model import Offer, OfferId
    from offers.ports import SubscriptionSnapshot

# A trial ending within a week leads with the trial extension whatever the reason: a week is about the
# time a trial user needs to finish evaluating, and after that they are asked to pay, not to stay.
TRIAL_ENDING_SOON = timedelta(days=7)


def trial_ends_soon(snapshot: SubscriptionSnapshot, now: datetime) -> bool:
    """Trialing, with the trial's end ahead of `now` by at most TRIAL_ENDING_SOON."""
    end = snapshot.trial_end
    trialing = snapshot.status is SubscriptionStatus.TRIALING
    return trialing and end is not None and now < end <= now + TRIAL_ENDING_SOON


def _trial_extensions(definition: FlowDefinition) -> list[OfferId]:
    return [o.id for o in definition.offers if o.kind is OfferKind.TRIAL_EXTENSION]


def route_offers(
    definition: FlowDefinition, reason_id: ReasonId | None, ctx: CustomerContext, now: datetime
) -> tuple[OfferId, ...]:
    """The reason's ranked offers, then the definition's final offer, filtered by eligibility.

    At most `definition.max_offers` are returned; the holdout arm of an experiment gets none. The
    per-session budget across reasons (after going back) is kept by `flows.machine`. A trial that ends
    soon (`trial_ends_soon`) leads with the flow's trial extension, the first card, when it is eligible.
    """
    if ctx.holdout or definition.max_offers <= 0:
        return ()
    reason = definition.reason(reason_id) if reason_id is not None else None
    wanted: list[OfferId] = list(reason.offer_ids) if reason else []
    if trial_ends_soon(ctx.snapshot, now):
        wanted = [*_trial_extensions(definition), *wanted]
    if definition.final_offer_id is not None and definition.final_offer_id not in wanted:
        wanted.append(definition.final_offer_id)
    unique = list(dict.fromkeys(wanted))  # an offer listed twice is still shown once
    candidates: list[Offer] = [o for o in (definition.offer(i) for i in unique) if o is not None]
    usable = eligible_offers(candidates, ctx.snapshot, ctx.history, now, ctx.policy)
    return tuple(o.id for o in usable)[: definition.max_offers]
