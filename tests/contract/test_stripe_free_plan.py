"""The forever-free downgrade on Stripe: the exact request for the $0 price, and what the next read reports."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from flows import default_definition
from flows.defaults import FREE_PLAN, FREE_PRICE
from offers import BillingError, DowngradeOffer, apply_offer
from offers.providers.stripe import StripeBillingProvider
from tests.support.stripe_http import NOW, FakeStripe, make_subscription

START = datetime.fromtimestamp(NOW, tz=UTC)


def free_plan() -> DowngradeOffer:
    offer = default_definition().offer(FREE_PLAN)
    assert isinstance(offer, DowngradeOffer) and offer.amount_cents == 0
    return offer


async def test_the_free_plan_swaps_the_item_to_the_zero_price_and_the_subscription_stays_active() -> None:
    fake = FakeStripe()
    fake.subscriptions["sub_1"] = make_subscription("sub_1")
    provider = StripeBillingProvider("sk_test_fake", http_client=fake)
    snap = await provider.get_subscription("sub_1")
    fake.requests.clear()
    result = await apply_offer(provider, free_plan(), snap, now=START, idempotency_key="sf:s:offer:free-plan:1")
    (write,) = fake.writes()
    assert (write.method, write.path, write.idempotency_key) == (
        "post",
        "/v1/subscriptions/sub_1",
        "sf:s:offer:free-plan:1",
    )
    assert write.params["items[0][id]"] == "si_sub_1" and write.params["items[0][price]"] == FREE_PRICE
    assert write.params["proration_behavior"] == "create_prorations"  # the unused paid days come back as credit
    after = await provider.get_subscription("sub_1")
    assert (after.price_id, after.amount_cents, after.status.value) == (FREE_PRICE, 0, "active")
    assert result.summary == "Moved to Free now"


async def test_a_price_stripe_does_not_know_is_refused_and_changes_nothing() -> None:
    fake = FakeStripe()
    fake.subscriptions["sub_1"] = make_subscription("sub_1")
    provider = StripeBillingProvider("sk_test_fake", http_client=fake)
    snap = await provider.get_subscription("sub_1")
    ghost = dataclasses.replace(free_plan(), price_id="price_does_not_exist")
    with pytest.raises(BillingError):
        await apply_offer(provider, ghost, snap, now=START, idempotency_key="k-ghost")
    assert (await provider.get_subscription("sub_1")).price_id == "price_pro_monthly"
