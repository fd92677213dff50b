"""The in-memory provider's `resubscribe` keeps Stripe's idempotency rules and refuses what Stripe would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from offers import IdempotencyConflict, OfferNotApplicable, SubscriptionSnapshot, SubscriptionStatus
from offers.providers.memory import InMemoryBillingProvider, Price

NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)


def provider() -> InMemoryBillingProvider:
    billing = InMemoryBillingProvider(clock=lambda: NOW)
    billing.add_price(Price("price_pro", 4900))
    billing.coupons.add("save30")
    ended = SubscriptionSnapshot(
        "sub_old", "cus_1", SubscriptionStatus.CANCELED, "price_pro", 4900, "usd", "month", NOW - timedelta(days=3)
    )
    billing.add_subscription(ended)
    return billing


async def test_a_new_subscription_with_the_coupon_once_per_key() -> None:
    billing = provider()
    new = await billing.resubscribe(
        "cus_1", price_id="price_pro", coupon_id="save30", trial_days=0, idempotency_key="k"
    )
    assert (new.customer_id, new.status, new.amount_cents, new.discount_coupon_ids) == (
        "cus_1",
        SubscriptionStatus.ACTIVE,
        4900,
        ("save30",),
    )
    assert billing.subscriptions[new.id] == new and new.id != "sub_old"
    again = await billing.resubscribe(
        "cus_1", price_id="price_pro", coupon_id="save30", trial_days=0, idempotency_key="k"
    )
    assert again == new and [c.method for c in billing.calls] == ["resubscribe"]  # replayed, not created twice
    with pytest.raises(IdempotencyConflict):
        await billing.resubscribe("cus_1", price_id="price_pro", coupon_id="", trial_days=0, idempotency_key="k")


async def test_free_days_start_a_trial() -> None:
    new = await provider().resubscribe("cus_1", price_id="price_pro", coupon_id="", trial_days=30, idempotency_key="t")
    assert new.status is SubscriptionStatus.TRIALING
    assert new.trial_end == NOW + timedelta(days=30) == new.current_period_end


@pytest.mark.parametrize(
    ("customer", "price", "coupon"), [("cus_x", "price_pro", ""), ("cus_1", "price_x", ""), ("cus_1", "price_pro", "x")]
)
async def test_an_unknown_customer_price_or_coupon_is_refused(customer: str, price: str, coupon: str) -> None:
    billing = provider()
    with pytest.raises(OfferNotApplicable):
        await billing.resubscribe(customer, price_id=price, coupon_id=coupon, trial_days=0, idempotency_key="k")
    assert len(billing.subscriptions) == 1
