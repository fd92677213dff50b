"""One contract, two providers: the in-memory default and Stripe over recorded, real-shaped HTTP."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from offers import (
    BillingProvider,
    OfferNotApplicable,
    SubscriptionNotFound,
    SubscriptionSnapshot,
    SubscriptionStatus,
)
from offers.providers.memory import InMemoryBillingProvider, Price
from offers.providers.stripe import StripeBillingProvider
from tests.support.stripe_http import NOW, Failure, FakeStripe, make_subscription

START = datetime.fromtimestamp(NOW, tz=UTC)


@dataclass
class Harness:
    provider: BillingProvider
    writes: Callable[[], int]
    fake: FakeStripe | None = None  # the recorded HTTP behind the Stripe adapter


def memory() -> Harness:
    provider = InMemoryBillingProvider(clock=lambda: START)
    provider.add_price(Price("price_pro_monthly", 4900))
    provider.add_price(Price("price_starter_monthly", 1900))
    provider.coupons.update({"save30_3m", "loyal10"})
    base = SubscriptionSnapshot(
        "sub_1",
        "cus_1",
        SubscriptionStatus.ACTIVE,
        "price_pro_monthly",
        4900,
        "usd",
        "month",
        START + timedelta(days=12),
        discount_coupon_ids=("loyal10",),
    )
    provider.add_subscription(base)
    provider.add_subscription(
        SubscriptionSnapshot(
            "sub_trial",
            "cus_1",
            SubscriptionStatus.TRIALING,
            "price_pro_monthly",
            4900,
            "usd",
            "month",
            START + timedelta(days=12),
            trial_end=START + timedelta(days=3),
        )
    )
    return Harness(provider, lambda: len(provider.calls))


def stripe_over_fixtures() -> Harness:
    fake = FakeStripe()
    fake.subscriptions["sub_1"] = make_subscription("sub_1", discounts=("loyal10",))
    fake.subscriptions["sub_trial"] = make_subscription("sub_trial", status="trialing")
    provider = StripeBillingProvider("sk_test_fake", http_client=fake)
    return Harness(provider, lambda: len(fake.writes()), fake)


PROVIDERS: dict[str, Callable[[], Harness]] = {"memory": memory, "stripe": stripe_over_fixtures}


@pytest.fixture(params=sorted(PROVIDERS), name="harness")
def fx_harness(request: pytest.FixtureRequest) -> Harness:
    factory: Any = PROVIDERS[request.param]
    harness: Harness = factory()
    return harness


async def test_reads_the_subscription(harness: Harness) -> None:
    snap = await harness.provider.get_subscription("sub_1")
    assert (snap.id, snap.customer_id, snap.status) == ("sub_1", "cus_1", SubscriptionStatus.ACTIVE)
    assert (snap.price_id, snap.amount_cents, snap.currency, snap.interval) == (
        "price_pro_monthly",
        4900,
        "usd",
        "month",
    )
    assert snap.current_period_end == START + timedelta(days=12)
    assert snap.discount_coupon_ids == ("loyal10",)
    assert snap.paused_until is None and not snap.cancel_at_period_end


async def test_unknown_subscription_is_not_found(harness: Harness) -> None:
    with pytest.raises(SubscriptionNotFound):
        await harness.provider.get_subscription("sub_nope")


async def test_pause_until_a_date_keeps_the_subscription_active(harness: Harness) -> None:
    resumes = START + timedelta(days=61)
    snap = await harness.provider.pause("sub_1", resumes_at=resumes, behavior="void", idempotency_key="k-pause")
    assert snap.paused_until == resumes
    assert snap.status is SubscriptionStatus.ACTIVE


async def test_resume_clears_the_pause(harness: Harness) -> None:
    await harness.provider.pause("sub_1", resumes_at=START + timedelta(days=30), behavior="void", idempotency_key="k1")
    snap = await harness.provider.resume("sub_1", idempotency_key="k2")
    assert snap.paused_until is None


async def test_trial_extension_moves_the_trial_end(harness: Harness) -> None:
    new_end = START + timedelta(days=17)
    snap = await harness.provider.extend_trial("sub_trial", trial_end=new_end, idempotency_key="k-trial")
    assert snap.trial_end == new_end


async def test_discount_is_added_next_to_existing_ones(harness: Harness) -> None:
    snap = await harness.provider.apply_discount("sub_1", coupon_id="save30_3m", idempotency_key="k-discount")
    assert snap.discount_coupon_ids == ("loyal10", "save30_3m")


async def test_downgrade_now_changes_the_price(harness: Harness) -> None:
    snap = await harness.provider.change_price(
        "sub_1", price_id="price_starter_monthly", at_period_end=False, idempotency_key="k-down"
    )
    assert snap.price_id == "price_starter_monthly"


async def test_downgrade_at_period_end_schedules_it(harness: Harness) -> None:
    snap = await harness.provider.change_price(
        "sub_1", price_id="price_starter_monthly", at_period_end=True, idempotency_key="k-down-later"
    )
    assert (snap.price_id, snap.scheduled_price_id) == ("price_pro_monthly", "price_starter_monthly")


async def test_cancel_at_period_end_and_now(harness: Harness) -> None:
    later = await harness.provider.cancel(
        "sub_1", at_period_end=True, reason="too_expensive", comment="budget", idempotency_key="k-c1"
    )
    assert later.cancel_at_period_end and later.status is SubscriptionStatus.ACTIVE
    now = await harness.provider.cancel(
        "sub_trial", at_period_end=False, reason=None, comment=None, idempotency_key="k-c2"
    )
    assert now.status is SubscriptionStatus.CANCELED and now.canceled_at is not None
    assert not now.is_live


async def test_a_repeated_key_changes_billing_once(harness: Harness) -> None:
    resumes = START + timedelta(days=61)
    first = await harness.provider.pause("sub_1", resumes_at=resumes, behavior="void", idempotency_key="same")
    writes = harness.writes()
    second = await harness.provider.pause("sub_1", resumes_at=resumes, behavior="void", idempotency_key="same")
    assert first == second
    assert harness.writes() - writes <= 1  # Stripe sees the replay; neither applies it twice


async def test_extending_the_trial_of_an_active_subscription_is_not_applicable(harness: Harness) -> None:
    if harness.fake is not None:  # what Stripe answers for this request
        harness.fake.failures.append(
            Failure(
                400,
                {
                    "type": "invalid_request_error",
                    "param": "trial_end",
                    "message": "Cannot extend the trial of a non-trialing subscription.",
                },
            )
        )
    with pytest.raises(OfferNotApplicable):
        await harness.provider.extend_trial("sub_1", trial_end=START + timedelta(days=9), idempotency_key="k-x")
