"""The in-memory provider's new subscriptions (a win-back's `resubscribe`): what one looks like when it starts.

Rules: standard library and `offers.ports` only.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from offers.ports import OfferNotApplicable, SubscriptionSnapshot, SubscriptionStatus

if TYPE_CHECKING:
    from collections.abc import Callable

PERIOD_DAYS = {"day": 1, "week": 7, "month": 30, "year": 365}  # a new subscription's first period


Terms = tuple[str, int, str, str, str, int]  # price id, amount, currency, interval, coupon id, trial days


def new_subscription(key: str, customer_id: str, terms: Terms, now: datetime) -> SubscriptionSnapshot:
    """The subscription `resubscribe` creates. Its id follows from the idempotency key, so a replay names
    the same subscription (Stripe replays the first answer)."""
    price_id, amount_cents, currency, interval, coupon_id, trial_days = terms
    first_period = timedelta(days=trial_days or PERIOD_DAYS.get(interval, 30))
    return SubscriptionSnapshot(
        id="sub_wb_" + hashlib.sha256(key.encode()).hexdigest()[:16],
        customer_id=customer_id,
        status=SubscriptionStatus.TRIALING if trial_days else SubscriptionStatus.ACTIVE,
        price_id=price_id,
        amount_cents=amount_cents,
        currency=currency,
        interval=interval,
        current_period_end=now + first_period,
        trial_end=now + first_period if trial_days else None,
        discount_coupon_ids=(coupon_id,) if coupon_id else (),
    )


def refused_unless(ok: bool, what: str) -> Callable[[SubscriptionSnapshot], SubscriptionSnapshot]:
    """The write's change: the new subscription as it starts, or Stripe's refusal of an unknown customer,
    price or coupon (raised when the request executes, so the refusal is stored under its key)."""

    def change(sub: SubscriptionSnapshot) -> SubscriptionSnapshot:
        if not ok:
            raise OfferNotApplicable(f"no such customer, price or coupon: {what}")
        return sub

    return change
