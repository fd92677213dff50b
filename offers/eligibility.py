"""Pure eligibility rules: may this offer be shown to this customer right now?

Rules: standard library and `offers.model` / `offers.ports` only. Every rule is a small
function returning an `Ineligibility` (why not) or None, so the admin can show why an offer
was skipped and tests can pin each boundary. Cooldowns count from the customer's last redemption of
an offer of the same kind; redemption caps count redemptions of the same offer, per customer, ever.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from offers.model import (
    DiscountOffer,
    DowngradeOffer,
    ExtendPauseOffer,
    Offer,
    OfferId,
    OfferKind,
    PauseOffer,
    ReactivateOffer,
    ResumeOffer,
    TrialExtensionOffer,
    UndoDowngradeOffer,
)
from offers.ports import ALL_CAPABILITIES, Capability, SubscriptionSnapshot, SubscriptionStatus


class Ineligibility(StrEnum):
    SUBSCRIPTION_ENDED = "subscription_ended"
    COOLDOWN = "cooldown"
    MAX_REDEMPTIONS = "max_redemptions"
    NOT_TRIALING = "not_trialing"
    TRIALING = "trialing"  # nothing to pause during a free trial: extend it instead
    NOT_CHEAPER = "not_cheaper"
    ALREADY_PAUSED = "already_paused"
    DISCOUNT_STACKING = "discount_stacking"
    BILLING_CANNOT = "billing_cannot"  # the configured billing system has no way to make this change


@dataclass(frozen=True, slots=True)
class Redemption:
    """An offer this customer accepted before (from our own session history)."""

    offer_id: OfferId
    kind: OfferKind
    at: datetime


def _default_cooldowns() -> dict[OfferKind, int]:
    return {
        OfferKind.PAUSE: 180,
        OfferKind.DISCOUNT: 365,
        OfferKind.TRIAL_EXTENSION: 365,
        OfferKind.DOWNGRADE: 0,
        OfferKind.TRAINING: 0,
        OfferKind.EXIT_INTERVIEW: 0,  # one per customer already (the redemption cap): no cooldown on top
    }


@dataclass(frozen=True, slots=True)
class EligibilityPolicy:
    """The defaults for offers that set no limits of their own: cooldown days per offer kind, and how
    often one offer may be redeemed by one customer (0: never)."""

    cooldown_days: Mapping[OfferKind, int] = field(default_factory=_default_cooldowns)
    max_redemptions_per_offer: int = 1
    # What the configured billing system can do (its provider's `capabilities`).
    capabilities: frozenset[Capability] = ALL_CAPABILITIES


def required_capability(offer: Offer) -> Capability | None:
    """The billing change accepting `offer` makes (None: it changes no billing)."""
    if isinstance(offer, PauseOffer | ExtendPauseOffer):
        return Capability.PAUSE
    if isinstance(offer, DowngradeOffer):
        return Capability.CHANGE_PRICE_AT_PERIOD_END if offer.at_period_end else Capability.CHANGE_PRICE_NOW
    simple: dict[type[object], Capability] = {
        TrialExtensionOffer: Capability.EXTEND_TRIAL,
        DiscountOffer: Capability.DISCOUNT,
        ReactivateOffer: Capability.REACTIVATE,
        ResumeOffer: Capability.RESUME,
        UndoDowngradeOffer: Capability.CANCEL_SCHEDULED_CHANGE,
    }
    return simple.get(type(offer))


def default_cooldown_days(kind: OfferKind) -> int:
    """The cooldown an offer of `kind` gets when it sets none (what the admin shows as the default)."""
    return _default_cooldowns().get(kind, 0)


def cooldown_days(offer: Offer, policy: EligibilityPolicy) -> int:
    """Days after redeeming an offer of this kind before `offer` is shown again: the offer's own
    value when it sets one (0: none), else the policy's for its kind."""
    own = offer.cooldown_days
    return own if own is not None and own >= 0 else policy.cooldown_days.get(offer.kind, 0)


def redemption_cap(offer: Offer, policy: EligibilityPolicy) -> int | None:
    """How often one customer may redeem `offer` in a lifetime (None: no cap). The offer's own value
    when it sets one (0 there means no cap), else the policy's (where 0 means never)."""
    own = offer.max_redemptions
    if own is None or own < 0:
        return policy.max_redemptions_per_offer
    return own or None


def ineligibility(
    offer: Offer,
    snapshot: SubscriptionSnapshot,
    history: Iterable[Redemption],
    now: datetime,
    policy: EligibilityPolicy | None = None,
) -> Ineligibility | None:
    """Return why `offer` may not be shown, or None when it may.

    Args:
        offer: the candidate offer.
        snapshot: the subscription as it was when the session started.
        history: offers this customer accepted before.
        now: the decision time (passed in: the core reads no clock).
        policy: cooldowns and redemption caps for offers that set none of their own.
    """
    policy = policy or EligibilityPolicy()
    past = tuple(history)
    if has_ended(snapshot):
        return Ineligibility.SUBSCRIPTION_ENDED
    needs = required_capability(offer)
    if needs is not None and needs not in policy.capabilities:
        return Ineligibility.BILLING_CANNOT
    cap = redemption_cap(offer, policy)
    if cap is not None and sum(1 for r in past if r.offer_id == offer.id) >= cap:
        return Ineligibility.MAX_REDEMPTIONS
    cooldown = timedelta(days=cooldown_days(offer, policy))
    if cooldown and any(r.kind == offer.kind and now - r.at < cooldown for r in past):
        return Ineligibility.COOLDOWN
    return _kind_rule(offer, snapshot, now)


def has_ended(snapshot: SubscriptionSnapshot) -> bool:
    """Cancelled, never started, or set to end: no offer applies.

    Deliberately not `not snapshot.is_live`: a `past_due` or `unpaid` subscription is not paying (so a
    save is not verified), but it has not ended, and an offer may still keep that customer.
    """
    ended = snapshot.status in (SubscriptionStatus.CANCELED, SubscriptionStatus.INCOMPLETE)
    return ended or snapshot.cancel_at_period_end


def _kind_rule(offer: Offer, snapshot: SubscriptionSnapshot, now: datetime) -> Ineligibility | None:
    if isinstance(offer, TrialExtensionOffer) and snapshot.status is not SubscriptionStatus.TRIALING:
        return Ineligibility.NOT_TRIALING
    if isinstance(offer, DowngradeOffer) and (
        offer.price_id == snapshot.price_id or offer.amount_cents >= snapshot.amount_cents
    ):
        return Ineligibility.NOT_CHEAPER
    if isinstance(offer, PauseOffer) and snapshot.status is SubscriptionStatus.TRIALING:
        return Ineligibility.TRIALING
    if isinstance(offer, PauseOffer) and snapshot.paused_until is not None and snapshot.paused_until > now:
        return Ineligibility.ALREADY_PAUSED
    if isinstance(offer, DiscountOffer) and snapshot.discount_coupon_ids:
        return Ineligibility.DISCOUNT_STACKING
    return None


def eligible_offers(
    offers: Iterable[Offer],
    snapshot: SubscriptionSnapshot,
    history: Iterable[Redemption],
    now: datetime,
    policy: EligibilityPolicy | None = None,
) -> tuple[Offer, ...]:
    """The offers from `offers`, in their order, that pass every rule."""
    past = tuple(history)
    return tuple(o for o in offers if ineligibility(o, snapshot, past, now, policy) is None)
