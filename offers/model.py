"""The offer catalogue: what a salvage offer is, as plain frozen data.

Rules: standard library only. Offers carry their own user-facing copy and their own limits (cooldown
days, redemptions per customer; unset means the eligibility policy's default). How an offer becomes a
billing call lives in `offers.apply`, whether it may be shown lives in `offers.eligibility`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, NewType

if TYPE_CHECKING:
    from collections.abc import Iterable

OfferId = NewType("OfferId", str)


class OfferKind(StrEnum):
    PAUSE = "pause"
    DOWNGRADE = "downgrade"
    TRIAL_EXTENSION = "trial_extension"
    TRAINING = "training"
    DISCOUNT = "discount"
    REACTIVATE = "reactivate"  # built in, never configured: undo a scheduled cancellation
    RESUME = "resume"  # built in, never configured: end a pause now
    EXTEND_PAUSE = "extend_pause"  # built in, never configured: move a pause's end later
    UNDO_DOWNGRADE = "undo_downgrade"  # built in, never configured: drop a price change scheduled for period end
    EXIT_INTERVIEW = "exit_interview"  # a paid call about why they leave; the cancellation still goes ahead


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


class PauseStart(StrEnum):
    """When a pause begins: today, or when the period the customer already paid for ends."""

    NOW = "now"
    PERIOD_END = "period_end"


class PauseUnit(StrEnum):
    DAYS = "days"
    WEEKS = "weeks"
    MONTHS = "months"


@dataclass(frozen=True, slots=True)
class PauseLength:
    """How long a pause lasts: `count` `unit`s (2 weeks, 1 month)."""

    count: int
    unit: PauseUnit

    @property
    def key(self) -> str:
        """The form value naming this length ("2-weeks"); `parse_length_key` reads it back."""
        return f"{self.count}-{self.unit.value}"

    def __str__(self) -> str:
        return f"{self.count} {self.unit.value[:-1] if self.count == 1 else self.unit.value}"


def parse_length_key(key: str) -> PauseLength | None:
    """The length a form value names ("2-weeks"), or None when it names none."""
    count, _, unit = key.partition("-")
    if not count.isdigit() or unit not in PauseUnit.__members__.values():
        return None
    return PauseLength(int(count), PauseUnit(unit))


def months(count: int) -> tuple[PauseLength, ...]:
    """One length of `count` months: what a pause offer stored before lengths existed meant."""
    return (PauseLength(count, PauseUnit.MONTHS),)


@dataclass(frozen=True, slots=True)
class PauseOffer:
    """Pause billing for one of `lengths` (the customer picks; the first is preselected), starting now or at the
    period end, or until the date `until` when it is set and still ahead (e.g. a seasonal business)."""

    id: OfferId
    copy: OfferCopy
    lengths: tuple[PauseLength, ...]
    behavior: PauseBehavior = PauseBehavior.VOID
    until: datetime | None = None
    starts: PauseStart = PauseStart.NOW
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


@dataclass(frozen=True, slots=True)
class ExtendPauseOffer:
    """ "Extend the pause" for a paused customer: billing resumes `lengths[0]` later than it would.

    Built in, like ResumeOffer, with no lengths of its own: the machine offers those of the flow's first
    pause offer (`offers.pauses.extension_lengths`) and pins the one chosen (`with_length`)."""

    id: OfferId
    copy: OfferCopy
    lengths: tuple[PauseLength, ...] = ()
    behavior: PauseBehavior = PauseBehavior.VOID
    cooldown_days: int | None = field(default=None, kw_only=True)
    max_redemptions: int | None = field(default=None, kw_only=True)
    kind: OfferKind = field(default=OfferKind.EXTEND_PAUSE, init=False)


@dataclass(frozen=True, slots=True)
class UndoDowngradeOffer:
    """ "Keep my current plan" for a customer with a price change scheduled for the period end: drop it.

    Built in, like ReactivateOffer. Its outcome is `kept`, not `saved` nor `reactivated`: nothing was
    being cancelled and no salvage offer changed the price; the customer keeps the plan they already pay."""

    id: OfferId
    copy: OfferCopy
    cooldown_days: int | None = field(default=None, kw_only=True)
    max_redemptions: int | None = field(default=None, kw_only=True)
    kind: OfferKind = field(default=OfferKind.UNDO_DOWNGRADE, init=False)


@dataclass(frozen=True, slots=True)
class ExitInterviewOffer:
    """A short paid call about why the customer leaves, for `incentive` (e.g. "$25 gift card").

    Taking it does not stop the cancellation (no billing change): CS gets a task to hold the call and
    fulfil the incentive, and the customer still confirms the cancel."""

    id: OfferId
    copy: OfferCopy
    incentive: str
    call_minutes: int
    booking_url: str
    cooldown_days: int | None = field(default=None, kw_only=True)
    max_redemptions: int | None = field(default=None, kw_only=True)
    kind: OfferKind = field(default=OfferKind.EXIT_INTERVIEW, init=False)


Offer = (
    PauseOffer
    | DowngradeOffer
    | TrialExtensionOffer
    | TrainingOffer
    | DiscountOffer
    | ReactivateOffer
    | ResumeOffer
    | ExtendPauseOffer
    | UndoDowngradeOffer
    | ExitInterviewOffer
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
UNDO_DOWNGRADE = UndoDowngradeOffer(
    OfferId("keep-current-plan"),
    OfferCopy(
        title="Keep my current plan",
        body="The scheduled plan change is dropped; nothing else changes.",
        accept_label="Keep my current plan",
    ),
)
EXTEND_PAUSE = ExtendPauseOffer(
    OfferId("extend-pause"),
    OfferCopy(title="Extend the pause", body="Billing resumes later.", accept_label="Extend the pause"),
)
BUILT_IN_OFFERS: dict[OfferId, Offer] = {
    REACTIVATE.id: REACTIVATE,
    RESUME.id: RESUME,
    UNDO_DOWNGRADE.id: UNDO_DOWNGRADE,
    EXTEND_PAUSE.id: EXTEND_PAUSE,
}


def with_length(offer: Offer, length: PauseLength | None, offers: Iterable[Offer] = ()) -> Offer:
    """`offer` as accepted: a pause or an extension pinned to the one length the customer chose (its only
    length, so everything downstream reads `lengths[0]`); any other offer, or no choice, unchanged.

    An extension also takes the invoice behaviour of the flow's first pause offer in `offers`."""
    if length is None or not isinstance(offer, PauseOffer | ExtendPauseOffer):
        return offer
    pause = next((o for o in offers if isinstance(o, PauseOffer)), None)
    if isinstance(offer, ExtendPauseOffer) and pause is not None:
        offer = dataclasses.replace(offer, behavior=pause.behavior)
    return dataclasses.replace(offer, lengths=(length,))


OFFER_TYPES: dict[OfferKind, type[Offer]] = {
    OfferKind.PAUSE: PauseOffer,
    OfferKind.DOWNGRADE: DowngradeOffer,
    OfferKind.TRIAL_EXTENSION: TrialExtensionOffer,
    OfferKind.TRAINING: TrainingOffer,
    OfferKind.DISCOUNT: DiscountOffer,
    OfferKind.EXIT_INTERVIEW: ExitInterviewOffer,
}


@dataclass(frozen=True, slots=True)
class OfferResult:
    """What applying an offer changed, in words the done step and the admin can show."""

    offer_id: OfferId
    kind: OfferKind
    summary: str
    booking_url: str | None = None
