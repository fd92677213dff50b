"""The exact requests the Stripe adapter sends for each offer, and how Stripe's errors are translated."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
import stripe

from offers import (
    BillingError,
    IdempotencyConflict,
    OfferNotApplicable,
    ProviderAuthFailed,
    ProviderFailed,
    ProviderRejected,
    ProviderUnavailable,
    SubscriptionNotFound,
    SubscriptionSnapshot,
    apply_offer,
)
from offers.model import EXTEND_PAUSE, OfferCopy, OfferId, PauseLength, PauseOffer, PauseStart, PauseUnit, with_length
from offers.providers.stripe import API_VERSION, REQUEST_TIMEOUT_SECONDS, StripeBillingProvider
from tests.support.stripe_http import DAY, NOW, Failure, FakeStripe, Recorded, make_subscription

START = datetime.fromtimestamp(NOW, tz=UTC)
STARTER = "price_starter_monthly"
EXPANDED = {"expand[0]": "discounts", "expand[1]": "schedule", "expand[2]": "latest_invoice"}


def adapter(timeout: float = REQUEST_TIMEOUT_SECONDS) -> tuple[StripeBillingProvider, FakeStripe]:
    fake = FakeStripe()
    fake.subscriptions["sub_1"] = make_subscription("sub_1", discounts=("loyal10",))
    fake.subscriptions["sub_trial"] = make_subscription("sub_trial", status="trialing")
    return StripeBillingProvider("sk_test_fake", http_client=fake, timeout=timeout), fake


async def frozen(provider: StripeBillingProvider, fake: FakeStripe) -> SubscriptionSnapshot:
    """The session's snapshot, read before the offer (the read is then forgotten)."""
    snap = await provider.get_subscription("sub_1")
    fake.requests.clear()
    return snap


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
                **EXPANDED,
            },
            "sf:s:offer:pause:1",
        )
    ]


def _pause(lengths: tuple[PauseLength, ...], starts: PauseStart) -> PauseOffer:
    return PauseOffer(OfferId("pause"), OfferCopy("t", "b", "a"), lengths, starts=starts)


@pytest.mark.parametrize(
    ("length", "starts", "resumes"),
    [
        # From now (2026-11-23 08:00 UTC): two weeks later.
        (PauseLength(2, PauseUnit.WEEKS), PauseStart.NOW, datetime(2026, 12, 7, 8, tzinfo=UTC)),
        # From the period end (2026-12-05 08:00, already paid): a month after it.
        (PauseLength(1, PauseUnit.MONTHS), PauseStart.PERIOD_END, datetime(2027, 1, 5, 8, tzinfo=UTC)),
    ],
)
async def test_a_pause_now_or_from_the_period_end_is_pause_collection_until_its_date(
    length: PauseLength, starts: PauseStart, resumes: datetime
) -> None:
    """Both are one `pause_collection` update (docs.stripe.com/billing/subscriptions/pause-payment): the paid
    period is not touched, and invoices until `resumes_at` are voided."""
    provider, fake = adapter()
    snapshot = await frozen(provider, fake)
    offer = _pause((length, PauseLength(3, PauseUnit.MONTHS)), starts)
    chosen = with_length(offer, length)
    await apply_offer(provider, chosen, snapshot, now=START, idempotency_key="sf:s:offer:pause:1")
    expected = {"pause_collection[behavior]": "void", "pause_collection[resumes_at]": str(int(resumes.timestamp()))}
    key = "sf:s:offer:pause:1"
    assert fake.writes() == [Recorded("post", "/v1/subscriptions/sub_1", {**expected, **EXPANDED}, key)]


async def test_extending_a_pause_moves_resumes_at_by_the_chosen_length() -> None:
    provider, fake = adapter()
    paused_until = datetime(2027, 1, 31, 12, tzinfo=UTC)
    snapshot = dataclasses.replace(await frozen(provider, fake), paused_until=paused_until)
    extension = with_length(EXTEND_PAUSE, PauseLength(1, PauseUnit.MONTHS))
    await apply_offer(provider, extension, snapshot, now=START, idempotency_key="sf:s:offer:extend-pause:1")
    feb_28 = str(int(datetime(2027, 2, 28, 12, tzinfo=UTC).timestamp()))  # 31 Jan + 1 month: the month's last day
    expected = {"pause_collection[behavior]": "void", "pause_collection[resumes_at]": feb_28, **EXPANDED}
    assert fake.writes() == [Recorded("post", "/v1/subscriptions/sub_1", expected, "sf:s:offer:extend-pause:1")]


async def test_trial_extension_never_prorates_and_checks_the_trial_first() -> None:
    provider, fake = adapter()
    end = START + timedelta(days=17)
    await provider.extend_trial("sub_trial", trial_end=end, idempotency_key="k")
    read, write = fake.requests
    assert (read.method, read.path) == ("get", "/v1/subscriptions/sub_trial")
    assert write.params["trial_end"] == str(int(end.timestamp()))
    assert write.params["proration_behavior"] == "none"


async def test_no_trial_end_is_sent_for_an_active_subscription() -> None:
    """Item 6: Stripe would start a free trial on an active subscription; the adapter sends nothing."""
    provider, fake = adapter()
    with pytest.raises(OfferNotApplicable):
        await provider.extend_trial("sub_1", trial_end=START + timedelta(days=9), idempotency_key="k")
    assert fake.writes() == []
    assert fake.subscriptions["sub_1"]["status"] == "active"


async def test_discount_resends_the_snapshots_discounts_by_id_and_reads_nothing() -> None:
    provider, fake = adapter()
    snap = await frozen(provider, fake)
    assert snap.discount_ids == ("di_loyal10",)
    await provider.apply_discount("sub_1", coupon_id="save30_3m", snapshot=snap, idempotency_key="k")
    (write,) = fake.requests
    assert write.params["discounts[0][discount]"] == "di_loyal10"
    assert write.params["discounts[1][coupon]"] == "save30_3m"


async def test_a_discount_retry_after_a_lost_answer_sends_a_byte_identical_body() -> None:
    """Item 2: today's retry re-read the subscription and re-sent the new discount; Stripe refuses that body."""
    provider, fake = adapter()
    snap = await frozen(provider, fake)
    fake.failures.append(Failure(0, applied=True))
    with pytest.raises(ProviderUnavailable):
        await provider.apply_discount("sub_1", coupon_id="save30_3m", snapshot=snap, idempotency_key="k")
    retried = await provider.apply_discount("sub_1", coupon_id="save30_3m", snapshot=snap, idempotency_key="k")
    first, second = fake.writes()
    assert first.params == second.params and first.idempotency_key == second.idempotency_key
    assert retried.discount_coupon_ids == ("loyal10", "save30_3m")
    assert fake.executed == 1


async def test_downgrade_now_swaps_the_item_price_with_prorations() -> None:
    provider, fake = adapter()
    snap = await frozen(provider, fake)
    await provider.change_price("sub_1", price_id=STARTER, at_period_end=False, snapshot=snap, idempotency_key="k")
    (write,) = fake.writes()
    assert write.params["items[0][id]"] == "si_sub_1"
    assert write.params["items[0][price]"] == STARTER
    assert write.params["proration_behavior"] == "create_prorations"


async def test_downgrade_at_period_end_builds_a_marked_two_phase_schedule_keeping_the_discounts() -> None:
    """Item 4: both phases carry the snapshot's discount by id; the schedule is marked as ours."""
    provider, fake = adapter()
    snap = await frozen(provider, fake)
    await provider.change_price("sub_1", price_id=STARTER, at_period_end=True, snapshot=snap, idempotency_key="k")
    create, phases = fake.writes()
    assert (create.path, create.params, create.idempotency_key) == (
        "/v1/subscription_schedules",
        {"from_subscription": "sub_1"},
        "k:schedule",
    )
    assert (phases.path, phases.idempotency_key) == ("/v1/subscription_schedules/sub_sched_sub_1", "k:phases")
    assert phases.params["end_behavior"] == "release"
    assert phases.params["metadata[saveflow_scheduled_price]"] == STARTER
    assert phases.params["phases[0][items][0][price]"] == "price_pro_monthly"
    assert phases.params["phases[0][start_date]"] == str(NOW - 18 * 86400)
    assert phases.params["phases[0][end_date]"] == str(NOW + 12 * 86400)
    assert phases.params["phases[0][discounts][0][discount]"] == "di_loyal10"
    assert phases.params["phases[1][items][0][price]"] == STARTER
    assert phases.params["phases[1][proration_behavior]"] == "none"
    assert phases.params["phases[1][discounts][0][discount]"] == "di_loyal10"


@pytest.mark.parametrize(
    "lost", ["/v1/subscription_schedules", "/v1/subscription_schedules/"], ids=["create", "phases"]
)
async def test_a_downgrade_retry_after_a_lost_answer_replays_every_schedule_request(lost: str) -> None:
    """Item 2 for schedules: whether the create's or the update's answer was lost, the retry sends the same bodies."""
    provider, fake = adapter()
    snap = await frozen(provider, fake)
    fake.failures.append(Failure(0, applied=True, path=lost))
    with pytest.raises(ProviderUnavailable):
        await provider.change_price("sub_1", price_id=STARTER, at_period_end=True, snapshot=snap, idempotency_key="k")
    done = await provider.change_price(
        "sub_1", price_id=STARTER, at_period_end=True, snapshot=snap, idempotency_key="k"
    )
    assert done.scheduled_price_id == STARTER
    assert fake.executed == 2  # one create, one phases update: every other write was a replay
    sent: dict[str | None, set[tuple[tuple[str, str], ...]]] = {}
    for write in fake.writes():
        sent.setdefault(write.idempotency_key, set()).add(tuple(sorted(write.params.items())))
    assert set(sent) <= {"k:schedule", "k:phases"}
    assert all(len(bodies) == 1 for bodies in sent.values())


async def test_a_schedule_someone_else_created_is_left_alone() -> None:
    provider, fake = adapter()
    foreign = fake.add_foreign_schedule("sub_1")
    snap = await frozen(provider, fake)
    with pytest.raises(OfferNotApplicable):
        await provider.change_price("sub_1", price_id=STARTER, at_period_end=True, snapshot=snap, idempotency_key="k")
    assert [w.path for w in fake.writes()] == ["/v1/subscription_schedules"]  # the create Stripe refused
    assert fake.schedules[foreign]["metadata"] == {"created_by": "dashboard"}
    assert len(fake.schedules[foreign]["phases"]) == 1


async def test_cancel_at_period_end_releases_the_schedule_then_carries_cancellation_details() -> None:
    provider, fake = adapter()
    snap = await frozen(provider, fake)
    await provider.change_price("sub_1", price_id=STARTER, at_period_end=True, snapshot=snap, idempotency_key="d")
    fake.requests.clear()
    await provider.cancel("sub_1", at_period_end=True, reason="competitor", comment="Moving to X", idempotency_key="k")
    release, write = fake.writes()
    assert (release.path, release.idempotency_key) == (
        "/v1/subscription_schedules/sub_sched_sub_1/release",
        "k:release",
    )
    assert (write.method, write.path, write.idempotency_key) == ("post", "/v1/subscriptions/sub_1", "k")
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


async def test_a_cancel_whose_answer_was_lost_is_found_done_on_retry() -> None:
    provider, fake = adapter()
    fake.failures.append(Failure(0, applied=True))
    with pytest.raises(ProviderUnavailable):
        await provider.cancel("sub_1", at_period_end=False, reason=None, comment=None, idempotency_key="k")
    snap = await provider.cancel("sub_1", at_period_end=False, reason=None, comment=None, idempotency_key="k")
    assert snap.status.value == "canceled"
    assert fake.executed == 1


async def test_the_api_version_is_pinned_and_every_call_has_a_deadline() -> None:
    assert API_VERSION.startswith("20")
    provider, _ = adapter()
    assert provider._client._requestor._options.stripe_version == API_VERSION
    default = StripeBillingProvider("sk_test_fake")
    http = default._client._requestor._client
    assert isinstance(http, stripe.HTTPXClient)
    assert http._timeout == REQUEST_TIMEOUT_SECONDS == default.timeout


async def test_a_call_past_its_deadline_is_unavailable() -> None:
    provider, fake = adapter(timeout=0.05)
    fake.delay_next(0.3)
    with pytest.raises(ProviderUnavailable):
        await provider.pause("sub_1", resumes_at=START + timedelta(days=30), behavior="void", idempotency_key="k")
    await asyncio.sleep(0.3)  # Stripe finished it meanwhile; the same key replays that result
    snap = await provider.pause("sub_1", resumes_at=START + timedelta(days=30), behavior="void", idempotency_key="k")
    assert snap.paused_until == START + timedelta(days=30)


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (Failure(0, None), ProviderUnavailable),
        (
            Failure(429, {"type": "invalid_request_error", "code": "rate_limit", "message": "slow down"}),
            ProviderUnavailable,
        ),
        (
            Failure(409, {"type": "invalid_request_error", "code": "idempotency_key_in_use", "message": "in use"}),
            ProviderUnavailable,
        ),
        (Failure(500, {"type": "api_error", "message": "boom"}), ProviderFailed),
        (Failure(503, {"type": "api_error", "message": "unavailable"}), ProviderFailed),
        (Failure(402, {"type": "card_error", "code": "card_declined", "message": "declined"}), ProviderRejected),
        (Failure(401, {"type": "invalid_request_error", "message": "bad key"}), ProviderAuthFailed),
        (Failure(403, {"type": "invalid_request_error", "message": "restricted key"}), ProviderAuthFailed),
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
    ids=["connection", "rate-limit", "key-in-flight", "500", "503", "card", "401", "403", "missing", "invalid", "idem"],
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


async def test_the_latest_paid_invoice_comes_with_every_read_and_a_trials_zero_invoice_is_no_payment() -> None:
    """Verified saves need a paid invoice after the save: the verification poll reads it from the subscription."""
    provider, fake = adapter()
    assert (await provider.get_subscription("sub_1")).last_paid_at is None  # no invoice yet
    fake.pay_invoice("sub_trial", amount=0, paid_at=NOW)
    assert (await provider.get_subscription("sub_trial")).last_paid_at is None
    fake.pay_invoice("sub_1", amount=4900, paid_at=NOW + DAY)
    assert (await provider.get_subscription("sub_1")).last_paid_at == START + timedelta(days=1)
    assert fake.requests[-1].params == EXPANDED


async def test_reactivating_sends_cancel_at_period_end_false_or_clears_a_cancel_date() -> None:
    provider, fake = adapter()
    await provider.cancel("sub_1", at_period_end=True, reason=None, comment=None, idempotency_key="k-c")
    fake.requests.clear()
    await provider.reactivate("sub_1", idempotency_key="sf:s:reactivate:1")
    assert fake.writes() == [
        Recorded("post", "/v1/subscriptions/sub_1", {"cancel_at_period_end": "false", **EXPANDED}, "sf:s:reactivate:1")
    ]
    fake.subscriptions["sub_1"]["cancel_at"] = NOW + 5 * DAY  # a cancellation date set in the dashboard
    fake.requests.clear()
    snap = await provider.reactivate("sub_1", idempotency_key="sf:s:reactivate:2")
    assert fake.writes() == [
        Recorded("post", "/v1/subscriptions/sub_1", {"cancel_at": "", **EXPANDED}, "sf:s:reactivate:2")
    ]
    assert not snap.cancel_at_period_end


async def test_resubscribing_creates_a_subscription_with_the_coupon_that_must_be_paid_at_once() -> None:
    provider, fake = adapter()
    snap = await provider.resubscribe(
        "cus_1", price_id="price_pro_monthly", coupon_id="save30_3m", trial_days=0, idempotency_key="sf:wb:1:resub"
    )
    body = {
        "customer": "cus_1",
        "items[0][price]": "price_pro_monthly",
        "payment_behavior": "error_if_incomplete",
        "discounts[0][coupon]": "save30_3m",
        **EXPANDED,
    }
    assert fake.writes() == [Recorded("post", "/v1/subscriptions", body, "sf:wb:1:resub")]
    assert (snap.customer_id, snap.price_id, snap.discount_coupon_ids) == ("cus_1", "price_pro_monthly", ("save30_3m",))
    assert snap.id in fake.subscriptions and snap.id != "sub_1"


async def test_resubscribing_with_free_days_asks_for_a_trial_and_no_coupon() -> None:
    provider, fake = adapter()
    snap = await provider.resubscribe(
        "cus_1", price_id="price_pro_monthly", coupon_id="", trial_days=30, idempotency_key="sf:wb:2:resub"
    )
    [sent] = fake.writes()
    assert sent.params["trial_period_days"] == "30"
    assert not any(k.startswith("discounts") for k in sent.params)
    assert snap.status.value == "trialing"


async def test_the_catalogue_lists_every_page_of_prices_and_only_valid_coupons() -> None:
    """#26: the flow editor checks offers against Stripe's active prices and valid coupons."""
    fake = FakeStripe()
    fake.prices.update({f"price_extra_{i:03}": 100 + i for i in range(150)})  # two pages at limit 100
    fake.expired_coupons.add("summer2019")
    billing = StripeBillingProvider("sk_test_fake", http_client=fake)
    listed = await billing.catalogue()
    assert listed.price_ids == set(fake.prices)
    assert listed.coupon_ids == {"loyal10", "save30_3m"}
    reads = [(r.path, r.params) for r in fake.requests]
    assert reads[0] == ("/v1/prices", {"active": "true", "limit": "100"})
    assert reads[1][0] == "/v1/prices" and reads[1][1]["starting_after"]  # the second page
    assert [path for path, _ in reads] == ["/v1/prices", "/v1/prices", "/v1/coupons"]
