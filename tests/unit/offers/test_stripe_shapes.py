"""How a Stripe subscription (the recorded fixture shape) becomes a SubscriptionSnapshot."""

from __future__ import annotations

from offers.providers.stripe_shapes import snapshot_from_stripe
from offers.value import monthly_cents
from tests.support.stripe_http import make_subscription


def test_a_quarterly_price_is_read_with_its_interval_count_and_valued_per_month() -> None:
    sub = make_subscription(amount=30_000)
    sub["items"]["data"][0]["price"]["recurring"].update(interval="month", interval_count=3)
    snapshot = snapshot_from_stripe(sub)
    assert (snapshot.interval, snapshot.interval_count) == ("month", 3)
    assert monthly_cents(snapshot.amount_cents, snapshot.interval, snapshot.interval_count) == 10_000
