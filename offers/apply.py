"""Turns an accepted offer into exactly one billing-port call and describes the result.

Rules: `offers.model` and `offers.ports` only; no clock (time is passed in), no provider import.
"""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from offers.model import (
    DiscountOffer,
    DowngradeOffer,
    ExitInterviewOffer,
    ExtendPauseOffer,
    Offer,
    OfferResult,
    PauseLength,
    PauseOffer,
    PauseStart,
    PauseUnit,
    ReactivateOffer,
    ResumeOffer,
    TrainingOffer,
    TrialExtensionOffer,
    UndoDowngradeOffer,
)
from offers.ports import OfferNotApplicable

if TYPE_CHECKING:
    from offers.ports import BillingProvider, SubscriptionSnapshot


def add_months(moment: datetime, months: int) -> datetime:
    """Same day-of-month `months` later, clamped to the month's last day (31 Jan + 1 = 28/29 Feb)."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def add_length(moment: datetime, length: PauseLength) -> datetime:
    """`moment` plus `length`: days and weeks are exact, months keep the day of the month (`add_months`)."""
    if length.unit is PauseUnit.MONTHS:
        return add_months(moment, length.count)
    return moment + (timedelta(weeks=length.count) if length.unit is PauseUnit.WEEKS else timedelta(days=length.count))


def pause_starts_at(offer: PauseOffer, snapshot: SubscriptionSnapshot, now: datetime) -> datetime:
    """Now, or the end of the period already paid for when the offer starts there (and it is still ahead)."""
    if offer.starts is PauseStart.PERIOD_END and snapshot.current_period_end > now:
        return snapshot.current_period_end
    return now


def pause_resumes_at(
    offer: PauseOffer, snapshot: SubscriptionSnapshot, now: datetime, length: PauseLength | None = None
) -> datetime:
    """When billing resumes: a fixed `until` wins when it is still ahead; otherwise `length` (default: the
    offer's first, which is the accepted one once `with_length` pinned it) from when the pause starts."""
    if offer.until is not None and offer.until > now:
        return offer.until
    return add_length(pause_starts_at(offer, snapshot, now), length or offer.lengths[0])


def extended_until(offer: ExtendPauseOffer, snapshot: SubscriptionSnapshot, now: datetime) -> datetime:
    """The paused subscription's current end plus the extension's (pinned) length.

    Raises:
        OfferNotApplicable: the subscription is not paused at `now`, so there is no pause to extend.
    """
    if snapshot.paused_until is None or snapshot.paused_until <= now or not offer.lengths:
        raise OfferNotApplicable("only a paused subscription's pause can be extended")
    return add_length(snapshot.paused_until, offer.lengths[0])


def trial_end_after_extension(offer: TrialExtensionOffer, snapshot: SubscriptionSnapshot, now: datetime) -> datetime:
    base = snapshot.trial_end if snapshot.trial_end and snapshot.trial_end > now else now
    return base + timedelta(days=offer.days)


async def apply_offer(
    billing: BillingProvider,
    offer: Offer,
    snapshot: SubscriptionSnapshot,
    *,
    now: datetime,
    idempotency_key: str,
) -> OfferResult:
    """Apply `offer` to the subscription in `snapshot` with one idempotent billing call.

    Every parameter comes from `offer`, `snapshot` and `now`, which the caller keeps frozen: a retry
    under the same key sends the same request (providers replay or refuse anything else).

    Raises:
        BillingError: any subclass from `offers.ports`; nothing was applied unless the provider
            later replays the same key.
    """
    sub = snapshot.id
    if isinstance(offer, PauseOffer):
        # A pause from the period end says so: on Stripe it is the same request (that period is paid already,
        # so pausing collection until `resumes_at` charges nothing more); Chargebee and Paddle schedule it.
        resumes_at = pause_resumes_at(offer, snapshot, now)
        later = offer.starts is PauseStart.PERIOD_END
        await billing.pause(
            sub, resumes_at=resumes_at, behavior=offer.behavior, idempotency_key=idempotency_key, at_period_end=later
        )
        if offer.until is not None and offer.until == resumes_at:
            return OfferResult(offer.id, offer.kind, f"Paused until {resumes_at:%Y-%m-%d}")
        summary = f"Paused for {offer.lengths[0]}"
        if offer.starts is PauseStart.PERIOD_END:
            summary += f" from {pause_starts_at(offer, snapshot, now):%Y-%m-%d}"
        return OfferResult(offer.id, offer.kind, f"{summary}, resumes {resumes_at:%Y-%m-%d}")
    if isinstance(offer, ExtendPauseOffer):
        resumes_at = extended_until(offer, snapshot, now)
        await billing.pause(sub, resumes_at=resumes_at, behavior=offer.behavior, idempotency_key=idempotency_key)
        return OfferResult(offer.id, offer.kind, f"Pause extended by {offer.lengths[0]}, resumes {resumes_at:%Y-%m-%d}")
    if isinstance(offer, DowngradeOffer):
        await billing.change_price(
            sub,
            price_id=offer.price_id,
            at_period_end=offer.at_period_end,
            snapshot=snapshot,
            idempotency_key=idempotency_key,
        )
        when = f"from {snapshot.current_period_end:%Y-%m-%d}" if offer.at_period_end else "now"
        return OfferResult(offer.id, offer.kind, f"Moved to {offer.plan_name} {when}")
    if isinstance(offer, TrialExtensionOffer):
        trial_end = trial_end_after_extension(offer, snapshot, now)
        await billing.extend_trial(sub, trial_end=trial_end, idempotency_key=idempotency_key)
        return OfferResult(offer.id, offer.kind, f"Trial extended to {trial_end:%Y-%m-%d}")
    if isinstance(offer, DiscountOffer):
        await billing.apply_discount(sub, coupon_id=offer.coupon_id, snapshot=snapshot, idempotency_key=idempotency_key)
        return OfferResult(offer.id, offer.kind, f"{offer.percent_off}% off for {offer.duration_months} months")
    if isinstance(offer, TrainingOffer):
        return OfferResult(offer.id, offer.kind, "Session with our team requested", booking_url=offer.booking_url)
    if isinstance(offer, ExitInterviewOffer):  # no billing change: the cancellation goes ahead
        summary = f"Exit interview booked ({offer.call_minutes} min) for {offer.incentive}"
        return OfferResult(offer.id, offer.kind, summary, booking_url=offer.booking_url)
    if isinstance(offer, UndoDowngradeOffer):
        await billing.cancel_scheduled_change(sub, idempotency_key=idempotency_key)
        return OfferResult(offer.id, offer.kind, f"Scheduled plan change dropped: stays on {snapshot.price_id}")
    if isinstance(offer, ResumeOffer):
        await billing.resume(sub, idempotency_key=idempotency_key)
        return OfferResult(offer.id, offer.kind, f"Pause ended: billing resumed {now:%Y-%m-%d}")
    if isinstance(offer, ReactivateOffer):
        await billing.reactivate(sub, idempotency_key=idempotency_key)
        return OfferResult(offer.id, offer.kind, f"Cancellation undone: renews {snapshot.current_period_end:%Y-%m-%d}")
    raise TypeError(f"unknown offer type {type(offer).__name__}")  # pragma: no cover - exhaustive union
