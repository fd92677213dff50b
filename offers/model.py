"""The offer catalogue: what a salvage offer is, as plain frozen data.

Rules: standard library only. Offers carry their own user-facing copy and their own limits (cooldown
days, redemptions per customer; unset means the eligibility policy's default). How an offer becomes a
billing call lives in `offers.apply`, whether it may be shown lives in `offers.eligibility`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import NewType

OfferId = NewType("OfferId", str)


class OfferKind(StrEnum):
    PAUSE = "pause"
    DOWNGRADE = "downgrade"
    TRIAL_EXTENSION = "trial_extension"
    TRAINING = "training"
    DISCOUNT = "discount"
    REACTIVATE = "reactivate"  # built in, never configured: undo a scheduled cancellation
    RESUME = "resume"  # built in, never configured: end a pause now


class PauseBehavior(StrEnum):
    """What Stripe does with invoices while collection is paused."""

    VOID = "void"
    KEEP_AS_DRAFT = "keep_as_draft"
    MARK_UNCOLLECTIBLE = "mark_uncollectible"


@dataclass(frozen=True, slots=True)
class OfferCopy:
    """What the cancelling user reads on the offer card."""

    title: str
    body: str
    accept_label: str


@dataclass(frozen=True, slots=True)
class PauseOffer:
    """Pause billing for `months`, or until the date `until` when it is set (e.g. a seasonal business)."""

    id: OfferId
    copy: OfferCopy
    months: int
    behavior: PauseBehavior = PauseBehavior.VOID
    until: datetime | None = None
    # Per-offer limits (every kind has them): None uses the eligibility policy's default for the kind;
    # 0 means no cooldown / no cap on redemptions.
    cooldown_days: int | None = field(default=None, kw_only=True)
    max_redemptions: int | None = field(default=None, kw_only=True)
    kind: OfferKind = field(default=OfferKind.PAUSE, init=False)


@dataclass(frozen=True, slots=True)
class DowngradeOffer:
    id: OfferId
    copy: OfferCopy
    price_id: str
    plan_name: str
    amount_cents: int
    at_period_end: bool = False
    cooldown_days: int | None = field(default=None, kw_only=True)
    max_redemptions: int | None = field(default=None, kw_only=True)
    kind: OfferKind = field(default=OfferKind.DOWNGRADE, init=False)


@dataclass(frozen=True, slots=True)
class TrialExtensionOffer:
    id: OfferId
    copy: OfferCopy
    days: int
    cooldown_days: int | None = field(default=None, kw_only=True)
    max_redemptions: int | None = field(default=None, kw_only=True)
    kind: OfferKind = field(default=OfferKind.TRIAL_EXTENSION, init=False)


@dataclass(frozen=True, slots=True)
class TrainingOffer:
    """A call or training session with the CS team: no billing change."""

    id: OfferId
    copy: OfferCopy
    booking_url: str
    cooldown_days: int | None = field(default=None, kw_only=True)
    max_redemptions: int | None = field(default=None, kw_only=True)
    kind: OfferKind = field(default=OfferKind.TRAINING, init=False)


@dataclass(frozen=True, slots=True)
class DiscountOffer:
    id: OfferId
    copy: OfferCopy
    coupon_id: str
    percent_off: int
    duration_months: int
    cooldown_days: int | None = field(default=None, kw_only=True)
    max_redemptions: int | None = field(default=None, kw_only=True)
    kind: OfferKind = field(default=OfferKind.DISCOUNT, init=False)


@dataclass(frozen=True, slots=True)
class ReactivateOffer:
    """ "Keep my subscription" for a customer already set to cancel: undo the scheduled cancellation.

    Built in (BUILT_IN_OFFERS), never routed by a reason nor edited: the widget offers it to every
    returning customer whose subscription runs to its period end."""

    id: OfferId
    copy: OfferCopy
    cooldown_days: int | None = field(default=None, kw_only=True)
    max_redemptions: int | None = field(default=None, kw_only=True)
    kind: OfferKind = field(default=OfferKind.REACTIVATE, init=False)


@dataclass(frozen=True, slots=True)
class ResumeOffer:
    """ "Resume now" for a paused customer: billing starts again today. Built in, like ReactivateOffer."""

    id: OfferId
    copy: OfferCopy
    cooldown_days: int | None = field(default=None, kw_only=True)
    max_redemptions: int | None = field(default=None, kw_only=True)
    kind: OfferKind = field(default=OfferKind.RESUME, init=False)


Offer = (
    PauseOffer | DowngradeOffer | TrialExtensionOffer | TrainingOffer | DiscountOffer | ReactivateOffer | ResumeOffer
)

REACTIVATE = ReactivateOffer(
    OfferId("keep-subscription"),
    OfferCopy(
        title="Keep my subscription",
        body="Your subscription renews as before, on the same plan and price.",
        accept_label="Keep my subscription",
    ),
)
RESUME = ResumeOffer(
    OfferId("resume-now"),
    OfferCopy(title="Resume now", body="Billing starts again today.", accept_label="Resume now"),
)
BUILT_IN_OFFERS: dict[OfferId, Offer] = {REACTIVATE.id: REACTIVATE, RESUME.id: RESUME}

OFFER_TYPES: dict[OfferKind, type[Offer]] = {
    OfferKind.PAUSE: PauseOffer,
    OfferKind.DOWNGRADE: DowngradeOffer,
    OfferKind.TRIAL_EXTENSION: TrialExtensionOffer,
    OfferKind.TRAINING: TrainingOffer,
    OfferKind.DISCOUNT: DiscountOffer,
}


@dataclass(frozen=True, slots=True)
class OfferResult:
    """What applying an offer changed, in words the done step and the admin can show."""

    offer_id: OfferId
    kind: OfferKind
    summary: str
    booking_url: str | None = None
