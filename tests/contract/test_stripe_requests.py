"""The exact requests the Stripe adapter sends for each offer, and how Stripe's errors are translated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from offers import (
    BillingError,
    IdempotencyConflict,
    OfferNotApplicable,
    ProviderRejected,
    ProviderUnavailable,
    SubscriptionNotFound,
)
from offers.providers.stripe import API_VERSION, StripeBillingProvider
from tests.support.stripe_http import NOW, Failure, FakeStripe, Recorded, make_subscription

START = datetime.fromtimestamp(NOW, tz=UTC)


def adapter(**subs: dict[str, object]) -> tuple[StripeBillingProvider, FakeStripe]:
    fake = FakeStripe()
    fake.subscriptions["sub_1"] = make_subscription("sub_1", discounts=("loyal10",))
    fake.subscriptions["sub_trial"] = make_subscription("sub_trial", status="trialing")
    return StripeBillingProvider("sk_test_fake", http_client=fake), fake


async def test_pause_sends_pause_collection_with_resumes_at() -> None:
    provider, fake = adapter()
    resumes = START + timedelta(days=61)
    await provider.pause("sub_1", resumes_at=resumes, behavior="void", idempotency_key="sf:s:offer:pause:1")
    assert fake.writes() == [
        Recorded(
            "post",
            "/v1/subscriptions/sub_1",
            {
                "pause_collection[behavior]": "void",
                "pause_collection[resumes_at]": str(int(resumes.timestamp())),
                "expand[0]": "discounts",
            },
            "sf:s:offer:pause:1",
        )
    ]


async def test_trial_extension_never_prorates() -> None:
    provider, fake = adapter()
    end = START + timedelta(days=17)
    await provider.extend_trial("sub_trial", trial_end=end, idempotency_key="k")
    (write,) = fake.writes()
    assert write.params["trial_end"] == str(int(end.timestamp()))
    assert write.params["proration_behavior"] == "none"


async def test_discount_resends_existing_discounts_before_the_new_coupon() -> None:
    provider, fake = adapter()
    await provider.apply_discount("sub_1", coupon_id="save30_3m", idempotency_key="k")
    (write,) = fake.writes()
    assert write.params["discounts[0][discount]"] == "di_loyal10"
    assert write.params["discounts[1][coupon]"] == "save30_3m"
    reads = [r for r in fake.requests if r.method == "get"]
    assert reads and reads[0].params == {"expand[0]": "discounts"}  # existing discounts are read first


async def test_downgrade_now_swaps_the_item_price_with_prorations() -> None:
    provider, fake = adapter()
    await provider.change_price("sub_1", price_id="price_starter_monthly", at_period_end=False, idempotency_key="k")
    (write,) = fake.writes()
    assert write.params["items[0][id]"] == "si_sub_1"
    assert write.params["items[0][price]"] == "price_starter_monthly"
    assert write.params["proration_behavior"] == "create_prorations"


async def test_downgrade_at_period_end_builds_a_two_phase_schedule_with_derived_keys() -> None:
    provider, fake = adapter()
    await provider.change_price("sub_1", price_id="price_starter_monthly", at_period_end=True, idempotency_key="k")
    create, phases = fake.writes()
    assert (create.path, create.params, create.idempotency_key) == (
        "/v1/subscription_schedules",
        {"from_subscription": "sub_1"},
        "k:schedule",
    )
    assert phases.path == "/v1/subscription_schedules/sub_sched_sub_1"
    assert phases.idempotency_key == "k:phases"
    period_end = str(NOW + 12 * 86400)
    assert phases.params["end_behavior"] == "release"
    assert phases.params["phases[0][items][0][price]"] == "price_pro_monthly"
    assert phases.params["phases[0][end_date]"] == period_end
    assert phases.params["phases[1][items][0][price]"] == "price_starter_monthly"
    assert phases.params["phases[1][proration_behavior]"] == "none"


async def test_cancel_at_period_end_carries_cancellation_details() -> None:
    provider, fake = adapter()
    await provider.cancel("sub_1", at_period_end=True, reason="competitor", comment="Moving to X", idempotency_key="k")
    (write,) = fake.writes()
    assert (write.method, write.path) == ("post", "/v1/subscriptions/sub_1")
    assert write.params["cancel_at_period_end"] == "true"
    assert write.params["cancellation_details[feedback]"] == "switched_service"
    assert write.params["cancellation_details[comment]"] == "Moving to X"


async def test_cancel_now_deletes_with_feedback_other_for_custom_reasons() -> None:
    provider, fake = adapter()
    await provider.cancel("sub_1", at_period_end=False, reason="my_custom_reason", comment=None, idempotency_key="k")
    (write,) = fake.writes()
    assert (write.method, write.path, write.idempotency_key) == ("delete", "/v1/subscriptions/sub_1", "k")
    assert write.params["cancellation_details[feedback]"] == "other"
    assert "cancellation_details[comment]" not in write.params


async def test_the_api_version_is_pinned() -> None:
    assert API_VERSION.startswith("20")
    provider, _ = adapter()
    assert provider._client._requestor._options.stripe_version == API_VERSION


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (Failure(0, None), ProviderUnavailable),
        (
            Failure(429, {"type": "invalid_request_error", "code": "rate_limit", "message": "slow down"}),
            ProviderUnavailable,
        ),
        (Failure(500, {"type": "api_error", "message": "boom"}), ProviderUnavailable),
        (Failure(402, {"type": "card_error", "code": "card_declined", "message": "declined"}), ProviderRejected),
        (Failure(401, {"type": "invalid_request_error", "message": "bad key"}), ProviderRejected),
        (
            Failure(404, {"type": "invalid_request_error", "code": "resource_missing", "param": "id", "message": "no"}),
            SubscriptionNotFound,
        ),
        (Failure(400, {"type": "invalid_request_error", "param": "trial_end", "message": "no"}), OfferNotApplicable),
        (
            Failure(
                400,
                {
                    "type": "idempotency_error",
                    "message": "Keys for idempotent requests can only be used with the same parameters",
                },
            ),
            IdempotencyConflict,
        ),
    ],
    ids=["connection", "rate-limit", "5xx", "card", "auth", "missing", "invalid", "idempotency"],
)
async def test_stripe_errors_become_billing_errors(failure: Failure, expected: type[BillingError]) -> None:
    provider, fake = adapter()
    fake.failures.append(failure)
    with pytest.raises(expected):
        await provider.pause("sub_1", resumes_at=START + timedelta(days=30), behavior="void", idempotency_key="k")


async def test_a_transient_failure_is_retried_with_the_same_key_by_the_caller() -> None:
    provider, fake = adapter()
    fake.failures.append(Failure(0, None))
    resumes = START + timedelta(days=30)
    with pytest.raises(ProviderUnavailable):
        await provider.pause("sub_1", resumes_at=resumes, behavior="void", idempotency_key="same-key")
    snap = await provider.pause("sub_1", resumes_at=resumes, behavior="void", idempotency_key="same-key")
    assert snap.paused_until == resumes
    assert [w.idempotency_key for w in fake.writes()] == ["same-key", "same-key"]
