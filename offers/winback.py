"""The win-back offer: what a flow offers a customer after the cancel, its money, and the billing calls it takes.

Rules: standard library and `offers.ports` / `offers.value` only; pure. Time arrives as data. A flow's
`FlowDefinition.winback` is a `WinbackOffer` or None (no win-back: no emails, no page). The offer is a
discount (a billing coupon, its percent and months) or free time (N days without charge).

Which billing calls reactivate a customer depends on where the subscription stands when they click:
- still set to cancel at the period end → `reactivate` (undo the cancel), then the offer on that same
  subscription: the coupon (`apply_discount`), or the free days as a pause of collection until the
  period end plus N days (the renewal invoices in that window are voided);
- ended → `resubscribe`: a new subscription for the same customer and price, with the coupon or a trial
  of N days;
- live and not cancelling → nothing to do (they came back some other way).
Each call has its own idempotency key derived from the win-back's key, so a retry repeats exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from offers.ports import SubscriptionSnapshot, SubscriptionStatus
from offers.value import monthly_cents

MAX_FREE_DAYS = 90
MAX_DISCOUNT_MONTHS = 36


class WinbackKind(StrEnum):
    DISCOUNT = "discount"  # `percent_off` off for `duration_months`, through billing coupon `coupon_id`
    FREE_DAYS = "free_days"  # `free_days` days without charge


@dataclass(frozen=True, slots=True)
class WinbackOffer:
    """A flow's win-back offer (one dataclass for both kinds, so stored definitions decode without a tag)."""

    kind: WinbackKind = WinbackKind.DISCOUNT
    coupon_id: str = ""
    percent_off: int = 0
    duration_months: int = 0
    free_days: int = 0


def winback_problems(offer: WinbackOffer | None) -> list[str]:
    """What stops this win-back offer from working, as sentences a CS admin can act on (empty if fine)."""
    if offer is None:
        return []
    problems = []
    if offer.kind is WinbackKind.DISCOUNT:
        if not offer.coupon_id.strip():
            problems.append("The win-back discount needs the billing coupon id.")
        if not 1 <= offer.percent_off <= 100:
            problems.append("The win-back discount must be between 1% and 100%.")
        if not 1 <= offer.duration_months <= MAX_DISCOUNT_MONTHS:
            problems.append(f"The win-back discount lasts 1 to {MAX_DISCOUNT_MONTHS} months.")
    elif not 1 <= offer.free_days <= MAX_FREE_DAYS:
        problems.append(f"The win-back free time is 1 to {MAX_FREE_DAYS} days.")
    return problems


class Standing(StrEnum):
    """Where the subscription stands when the customer clicks the win-back link."""

    CANCELLING = "cancelling"  # set to cancel at the period end, which has not come yet
    ENDED = "ended"  # cancelled (or its period ran out): a new subscription is needed
    LIVE = "live"  # active and not cancelling: nothing to win back


def standing(snapshot: SubscriptionSnapshot, now: datetime) -> Standing:
    if snapshot.status is SubscriptionStatus.CANCELED or snapshot.current_period_end <= now:
        return Standing.ENDED
    if snapshot.cancel_at_period_end:
        return Standing.CANCELLING
    return Standing.LIVE


@dataclass(frozen=True, slots=True)
class BillingCall:
    """One billing write of a win-back: `method` names the port method, the rest are its arguments."""

    method: str  # reactivate | apply_discount | pause | resubscribe
    idempotency_key: str
    coupon_id: str = ""
    resumes_at: datetime | None = None
    trial_days: int = 0


def billing_calls(
    offer: WinbackOffer, snapshot: SubscriptionSnapshot, now: datetime, key: str
) -> tuple[BillingCall, ...]:
    """The calls that bring the customer back with `offer`, in order, each under a key derived from `key`.

    `snapshot` must be the subscription as read when the win-back was recorded, so a retry (the sweep)
    derives the same calls and arguments.
    """
    where = standing(snapshot, now)
    discount = offer.kind is WinbackKind.DISCOUNT
    if where is Standing.LIVE:
        return ()
    if where is Standing.ENDED:
        return (
            BillingCall(
                "resubscribe",
                f"{key}:resubscribe",
                coupon_id=offer.coupon_id if discount else "",
                trial_days=0 if discount else offer.free_days,
            ),
        )
    then = (
        BillingCall("apply_discount", f"{key}:discount", coupon_id=offer.coupon_id)
        if discount
        else BillingCall(
            "pause", f"{key}:free", resumes_at=snapshot.current_period_end + timedelta(days=offer.free_days)
        )
    )
    return (BillingCall("reactivate", f"{key}:reactivate"), then)


@dataclass(frozen=True, slots=True)
class WinbackValue:
    """The offer's money, monthly, in minor units of the subscription's currency.

    `list_cents`: the monthly list price. `won_back_cents`: what the customer pays per month once billing
    restarts: a discount's reduced price (for `months` months), free time's list price (after `free_days`).
    """

    currency: str
    list_cents: int
    won_back_cents: int
    months: int = 0
    free_days: int = 0


def winback_value(offer: WinbackOffer, snapshot: SubscriptionSnapshot) -> WinbackValue:
    price = monthly_cents(snapshot.amount_cents, snapshot.interval, snapshot.interval_count)
    currency = snapshot.currency.lower()[:3]
    if offer.kind is WinbackKind.DISCOUNT:
        reduced = round(price * (100 - offer.percent_off) / 100)
        return WinbackValue(currency, price, reduced, months=offer.duration_months)
    return WinbackValue(currency, price, price, free_days=offer.free_days)


def second_email_due(access_ends: datetime, days_after: int, now: datetime) -> bool:
    """The second win-back email goes out `days_after` days after access ended, not before."""
    return now >= access_ends + timedelta(days=days_after)
