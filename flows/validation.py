"""Checks a flow definition before it is saved or published, and orders its reasons for display.

Rules: standard library, `flows.model`, `offers.model`, `offers.pause_choices` and `offers.winback` only; pure.
Every problem is a sentence a CS admin can act on; a definition with problems is never stored, so running
sessions never crash on one.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from flows.model import MAX_OFFERS_PER_STEP
from offers.model import (
    DiscountOffer,
    DowngradeOffer,
    ExitInterviewOffer,
    Offer,
    PauseOffer,
    TrainingOffer,
    TrialExtensionOffer,
)
from offers.pause_choices import length_problems
from offers.winback import winback_problems

if TYPE_CHECKING:
    from flows.model import FlowDefinition, ReasonDef
    from offers.ports import Catalogue

OTHER_REASON = "other"


def _offer_problems(offer: Offer) -> list[str]:
    name = f"Offer {offer.id!r}"
    problems = []
    if not offer.copy.title.strip() or not offer.copy.accept_label.strip():
        problems.append(f"{name} needs a title and a button label.")
    if isinstance(offer, PauseOffer):
        problems.extend(f"{name}: {problem}" for problem in length_problems(offer.lengths))
    if isinstance(offer, TrialExtensionOffer) and not 1 <= offer.days <= 90:
        problems.append(f"{name}: a trial extension adds 1 to 90 days.")
    if isinstance(offer, DiscountOffer):
        if not 1 <= offer.percent_off <= 100:
            problems.append(f"{name}: the discount must be between 1% and 100%.")
        if not 1 <= offer.duration_months <= 36:
            problems.append(f"{name}: a discount lasts 1 to 36 months.")
        if not offer.coupon_id.strip():
            problems.append(f"{name} needs the billing coupon id.")
    if isinstance(offer, DowngradeOffer) and (not offer.price_id.strip() or offer.amount_cents < 0):
        problems.append(f"{name} needs the price id of the cheaper plan and its amount.")
    booking = offer.booking_url if isinstance(offer, TrainingOffer | ExitInterviewOffer) else None
    if booking is not None and not booking.startswith(("https://", "http://", "mailto:")):
        problems.append(f"{name}: the booking link must start with https://, http:// or mailto:.")
    if isinstance(offer, ExitInterviewOffer):
        if not offer.incentive.strip():
            problems.append(f"{name}: say what the customer gets for the call (e.g. a $25 gift card).")
        if not 5 <= offer.call_minutes <= 120:
            problems.append(f"{name}: an exit interview call lasts 5 to 120 minutes.")
    return problems


def validate_definition(definition: FlowDefinition) -> list[str]:
    """Every problem that would stop this definition from working, in plain words (empty if fine)."""
    problems: list[str] = []
    if not definition.key.strip():
        problems.append("The flow needs a key.")
    offer_ids = [o.id for o in definition.offers]
    reason_ids = [r.id for r in definition.reasons]
    if len(set(offer_ids)) != len(offer_ids):
        problems.append("Two offers share an id; every offer id must be unique.")
    if len(set(reason_ids)) != len(reason_ids):
        problems.append("Two reasons share an id; every reason id must be unique.")
    if definition.survey and not definition.reasons:
        problems.append("The survey step is on but there are no reasons to choose from.")
    for reason in definition.reasons:
        if not reason.label.strip():
            problems.append(f"Reason {reason.id!r} needs a label.")
        if len(set(reason.offer_ids)) != len(reason.offer_ids):
            problems.append(f"Reason {reason.label!r} lists the same offer twice.")
        missing = [o for o in reason.offer_ids if o not in offer_ids]
        if missing:
            problems.append(f"Reason {reason.label!r} routes to offers that do not exist: {', '.join(missing)}.")
    if definition.final_offer_id is not None and definition.final_offer_id not in offer_ids:
        problems.append(f"The final offer {definition.final_offer_id!r} does not exist.")
    if not 0 <= definition.max_offers <= 5:
        problems.append("Show between 0 and 5 offers per session.")
    if not 1 <= definition.offers_per_step <= MAX_OFFERS_PER_STEP:
        problems.append(f"Show 1 to {MAX_OFFERS_PER_STEP} offers at once.")
    for offer in definition.offers:
        problems.extend(_offer_problems(offer))
    problems.extend(winback_problems(definition.winback))
    return problems


def catalogue_problems(definition: FlowDefinition, catalogue: Catalogue) -> list[str]:
    """The offers naming a price or coupon the billing system does not have (they would fail when accepted)."""
    problems: list[str] = []
    for offer in definition.offers:
        if isinstance(offer, DowngradeOffer) and offer.price_id not in catalogue.price_ids:
            problems.append(f"Offer {offer.copy.title!r}: billing has no price {offer.price_id!r}.")
        if isinstance(offer, DiscountOffer) and offer.coupon_id not in catalogue.coupon_ids:
            problems.append(f"Offer {offer.copy.title!r}: billing has no coupon {offer.coupon_id!r}.")
    coupon = definition.winback.coupon_id if definition.winback is not None else ""
    if coupon and coupon not in catalogue.coupon_ids:
        problems.append(f"The win-back offer: billing has no coupon {coupon!r}.")
    return problems


def reason_order(definition: FlowDefinition, session_id: str) -> tuple[ReasonDef, ...]:
    """The reasons as this session shows them: shuffled (stably, seeded by the session) when asked,
    with "other" always last so the catch-all never competes with the specific answers."""
    if not definition.randomize_reasons:
        return definition.reasons
    specific = [r for r in definition.reasons if r.id != OTHER_REASON]
    random.Random(session_id).shuffle(specific)  # noqa: S311 - ordering, not security
    return (*specific, *(r for r in definition.reasons if r.id == OTHER_REASON))
