"""Routing: which offers, best first, a reason leads to for this customer.

Rules: standard library, `flows.model` and `offers.eligibility` only; pure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from offers.eligibility import eligible_offers

if TYPE_CHECKING:
    from datetime import datetime

    from flows.model import CustomerContext, FlowDefinition, ReasonId
    from offers.model import Offer, OfferId


def route_offers(
    definition: FlowDefinition, reason_id: ReasonId | None, ctx: CustomerContext, now: datetime
) -> tuple[OfferId, ...]:
    """The reason's ranked offers, then the definition's final offer, filtered by eligibility.

    At most `definition.max_offers` are returned; the holdout arm of an experiment gets none. The
    per-session budget across reasons (after going back) is kept by `flows.machine`.
    """
    if ctx.holdout or definition.max_offers <= 0:
        return ()
    reason = definition.reason(reason_id) if reason_id is not None else None
    wanted: list[OfferId] = list(reason.offer_ids) if reason else []
    if definition.final_offer_id is not None and definition.final_offer_id not in wanted:
        wanted.append(definition.final_offer_id)
    unique = list(dict.fromkeys(wanted))  # an offer listed twice is still shown once
    candidates: list[Offer] = [o for o in (definition.offer(i) for i in unique) if o is not None]
    usable = eligible_offers(candidates, ctx.snapshot, ctx.history, now, ctx.policy)
    return tuple(o.id for o in usable)[: definition.max_offers]
