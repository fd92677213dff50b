"""The in-memory billing provider keeps Stripe's idempotency contract and its failure injection works as documented."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from offers import (
    BillingProvider,
    IdempotencyConflict,
    OfferNotApplicable,
    ProviderAuthFailed,
    ProviderFailed,
    ProviderRejected,
    ProviderUnavailable,
    SubscriptionNotFound,
    SubscriptionStatus,
)
from offers.providers.memory import BillingCall, InMemoryBillingProvider
from offers.providers.memory_store import SubscriptionStore
from tests.factories import COUPON, NOW, make_provider, make_snapshot, make_trialing_snapshot

RESUMES = NOW + timedelta(days=61)
SUB_1, TRIAL = make_snapshot(), make_trialing_snapshot()
DISCOUNTED = replace(SUB_1, discount_coupon_ids=("welcome10",))


def test_it_implements_the_billing_port() -> None:
    assert isinstance(make_provider(), BillingProvider)


async def test_the_same_key_and_parameters_return_the_stored_result_without_a_second_call() -> None:
    provider = make_provider()
    first = await provider.apply_discount("sub_1", coupon_id=COUPON, snapshot=SUB_1, idempotency_key="k")
    again = await provider.apply_discount("sub_1", coupon_id=COUPON, snapshot=SUB_1, idempotency_key="k")
    assert again == first
    assert first.discount_coupon_ids == (COUPON,)  # applied once, not twice
    assert provider.calls == [BillingCall("apply_discount", "sub_1", (("coupon_id", COUPON),), "k")]


async def test_concurrent_requests_with_one_key_apply_once_and_the_others_are_told_to_retry() -> None:
    provider = make_provider()
    results = await asyncio.gather(
        *(provider.pause("sub_1", resumes_at=RESUMES, behavior="void", idempotency_key="k") for _ in range(5)),
        return_exceptions=True,
    )
    assert [type(r).__name__ for r in results].count("ProviderUnavailable") == 4  # Stripe's 409 idempotency_key_in_use
    assert len(provider.calls) == 1
    assert await provider.pause("sub_1", resumes_at=RESUMES, behavior="void", idempotency_key="k") in results


@pytest.mark.parametrize(
    ("method", "subscription", "kwargs"),
    [
        ("apply_discount", "sub_1", {"coupon_id": "other_coupon", "snapshot": SUB_1}),  # other parameters
        ("apply_discount", "sub_1", {"coupon_id": COUPON, "snapshot": DISCOUNTED}),  # keeping other discounts
        ("apply_discount", "sub_trial", {"coupon_id": COUPON, "snapshot": SUB_1}),  # other subscription
        ("cancel", "sub_1", {"at_period_end": True, "reason": None, "comment": None}),  # other method
    ],
)
async def test_reusing_a_key_for_a_different_request_is_a_conflict(
    method: str, subscription: str, kwargs: dict[str, object]
) -> None:
    provider = make_provider()
    await provider.apply_discount("sub_1", coupon_id=COUPON, snapshot=SUB_1, idempotency_key="k")
    with pytest.raises(IdempotencyConflict):
        await getattr(provider, method)(subscription, idempotency_key="k", **kwargs)
    assert len(provider.calls) == 1
    assert (await provider.get_subscription("sub_trial")).discount_coupon_ids == ()


async def test_a_definitive_failure_is_replayed_for_the_same_key() -> None:
    provider = make_provider()
    provider.fail_next(ProviderRejected("card declined"))
    for _ in range(2):  # the second try replays the stored refusal; fail_next was used up by the first
        with pytest.raises(ProviderRejected, match="card declined"):
            await provider.apply_discount("sub_1", coupon_id=COUPON, snapshot=SUB_1, idempotency_key="k1")
    assert provider.calls == []
    assert (await provider.get_subscription("sub_1")).discount_coupon_ids == ()
    fresh = await provider.apply_discount("sub_1", coupon_id=COUPON, snapshot=SUB_1, idempotency_key="k2")  # next key
    assert fresh.discount_coupon_ids == (COUPON,)


async def test_a_refusal_by_the_subscription_state_is_replayed_too() -> None:
    provider = make_provider()
    with pytest.raises(OfferNotApplicable):
        await provider.pause("sub_trial", resumes_at=RESUMES, behavior="void", idempotency_key="k")
    with pytest.raises(OfferNotApplicable):
        await provider.pause("sub_trial", resumes_at=RESUMES, behavior="void", idempotency_key="k")
    assert len(provider.calls) == 1
    assert (await provider.get_subscription("sub_trial")).paused_until is None


async def test_a_transient_failure_is_not_stored_so_a_retry_with_the_same_key_succeeds() -> None:
    provider = make_provider()
    provider.fail_next(ProviderUnavailable("timeout"))
    with pytest.raises(ProviderUnavailable):
        await provider.pause("sub_1", resumes_at=RESUMES, behavior="void", idempotency_key="k")
    assert provider.calls == []
    snapshot = await provider.pause("sub_1", resumes_at=RESUMES, behavior="void", idempotency_key="k")
    assert snapshot.paused_until == RESUMES
    assert len(provider.calls) == 1


async def test_injected_failures_are_used_one_per_call_in_order() -> None:
    provider = make_provider()
    provider.fail_next(ProviderUnavailable("first"))
    provider.fail_next(ProviderRejected("second"))
    with pytest.raises(ProviderUnavailable):
        await provider.resume("sub_1", idempotency_key="a")
    with pytest.raises(ProviderRejected):
        await provider.resume("sub_1", idempotency_key="b")
    await provider.resume("sub_1", idempotency_key="c")
    assert [c.idempotency_key for c in provider.calls] == ["c"]


async def test_a_discount_keeps_the_snapshots_discounts_and_adds_the_coupon() -> None:
    """As Stripe's `discounts` list: the request names the discounts to keep (from the frozen snapshot)."""
    provider = make_provider()
    provider.coupons.add("welcome10")
    first = await provider.apply_discount("sub_1", coupon_id="welcome10", snapshot=SUB_1, idempotency_key="k1")
    snapshot = await provider.apply_discount("sub_1", coupon_id=COUPON, snapshot=first, idempotency_key="k2")
    assert snapshot.discount_coupon_ids == ("welcome10", COUPON)
    with pytest.raises(OfferNotApplicable):
        await provider.apply_discount("sub_1", coupon_id="no_such_coupon", snapshot=first, idempotency_key="k3")


async def test_cancelling_at_period_end_keeps_the_subscription_running() -> None:
    provider = make_provider()
    snapshot = await provider.cancel(
        "sub_1", at_period_end=True, reason="too_expensive", comment="hi", idempotency_key="k"
    )
    assert (snapshot.status, snapshot.cancel_at_period_end, snapshot.canceled_at) == (
        SubscriptionStatus.ACTIVE,
        True,
        None,
    )
    assert snapshot.is_live
    assert provider.calls[0].params == (("at_period_end", True), ("reason", "too_expensive"), ("comment", "hi"))


async def test_cancelling_now_ends_the_subscription_at_the_clock_time() -> None:
    provider = make_provider()
    snapshot = await provider.cancel("sub_1", at_period_end=False, reason=None, comment=None, idempotency_key="k")
    assert (snapshot.status, snapshot.canceled_at, snapshot.cancel_at_period_end) == (
        SubscriptionStatus.CANCELED,
        NOW,
        False,
    )
    assert not snapshot.is_live


async def test_changing_price_now_or_at_period_end() -> None:
    provider = make_provider()
    later = await provider.change_price(
        "sub_1", price_id="price_starter_monthly", at_period_end=True, snapshot=SUB_1, idempotency_key="k1"
    )
    assert (later.price_id, later.amount_cents, later.scheduled_price_id) == (
        "price_pro_monthly",
        4900,
        "price_starter_monthly",
    )
    now = await provider.change_price(
        "sub_1", price_id="price_starter_monthly", at_period_end=False, snapshot=SUB_1, idempotency_key="k2"
    )
    assert (now.price_id, now.amount_cents) == ("price_starter_monthly", 1900)
    with pytest.raises(OfferNotApplicable):
        await provider.change_price(
            "sub_1", price_id="price_ghost", at_period_end=False, snapshot=SUB_1, idempotency_key="k3"
        )


async def test_trial_extension_and_resume() -> None:
    provider = make_provider()
    trial_end = NOW + timedelta(days=30)
    assert (await provider.extend_trial("sub_trial", trial_end=trial_end, idempotency_key="k1")).trial_end == trial_end
    with pytest.raises(OfferNotApplicable):
        await provider.extend_trial("sub_1", trial_end=trial_end, idempotency_key="k2")
    await provider.pause("sub_1", resumes_at=RESUMES, behavior="void", idempotency_key="k3")
    assert (await provider.resume("sub_1", idempotency_key="k4")).paused_until is None


async def test_an_unknown_subscription_is_not_found() -> None:
    provider = make_provider()
    with pytest.raises(SubscriptionNotFound):
        await provider.get_subscription("sub_ghost")
    with pytest.raises(SubscriptionNotFound):
        await provider.apply_discount("sub_ghost", coupon_id=COUPON, snapshot=SUB_1, idempotency_key="k")
    assert provider.calls_for("sub_1") == []


async def test_a_timed_out_call_keeps_running_and_its_key_answers_409_until_it_is_done() -> None:
    provider = make_provider()
    provider.delay_next(0.2)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(
            provider.pause("sub_1", resumes_at=RESUMES, behavior="void", idempotency_key="k"), timeout=0.05
        )
    with pytest.raises(ProviderUnavailable, match="idempotency_key_in_use"):  # never waits, never applies twice
        await provider.pause("sub_1", resumes_at=RESUMES, behavior="void", idempotency_key="k")
    await asyncio.sleep(0.25)
    assert (await provider.get_subscription("sub_1")).paused_until == RESUMES  # the provider finished it
    snapshot = await provider.pause("sub_1", resumes_at=RESUMES, behavior="void", idempotency_key="k")
    assert snapshot.paused_until == RESUMES
    assert len(provider.calls) == 1


async def test_a_short_delay_still_completes() -> None:
    provider = make_provider()
    provider.delay_next(0.01)
    snapshot = await asyncio.wait_for(provider.resume("sub_1", idempotency_key="k"), timeout=1.0)
    assert snapshot.paused_until is None
    assert provider.calls_for("sub_1") == [BillingCall("resume", "sub_1", (), "k")]


async def test_the_idempotency_memory_survives_a_restart_over_the_same_subscriptions() -> None:
    """A provider built over another's `subscriptions` (as test_crash_safety builds one) shares its memory."""
    first = make_provider()
    assert isinstance(first.subscriptions, SubscriptionStore)
    applied = await first.pause("sub_1", resumes_at=RESUMES, behavior="void", idempotency_key="k")
    restarted = InMemoryBillingProvider(clock=first.clock, subscriptions=first.subscriptions, prices=first.prices)
    assert await restarted.pause("sub_1", resumes_at=RESUMES, behavior="void", idempotency_key="k") == applied
    with pytest.raises(IdempotencyConflict):
        await restarted.pause("sub_1", resumes_at=RESUMES + timedelta(days=1), behavior="void", idempotency_key="k")
    assert restarted.calls == []


async def test_keys_expire_24_hours_after_their_first_use() -> None:
    now = [NOW]
    provider = make_provider()
    provider.clock = lambda: now[0]
    await provider.pause("sub_1", resumes_at=RESUMES, behavior="void", idempotency_key="k")
    now[0] = NOW + timedelta(hours=24)
    other: datetime = RESUMES + timedelta(days=1)
    assert (await provider.pause("sub_1", resumes_at=other, behavior="void", idempotency_key="k")).paused_until == other
    assert len(provider.calls) == 2


async def test_server_errors_are_stored_and_auth_errors_are_not() -> None:
    provider = make_provider()
    provider.fail_next_with_server_error()
    provider.fail_next_with_auth_error()
    with pytest.raises(ProviderFailed):
        await provider.resume("sub_1", idempotency_key="a")
    with pytest.raises(ProviderAuthFailed):  # credentials are checked before any stored answer is looked up
        await provider.resume("sub_1", idempotency_key="a")
    with pytest.raises(ProviderFailed):  # the stored 500, replayed
        await provider.resume("sub_1", idempotency_key="a")
    await provider.resume("sub_1", idempotency_key="b")
    assert [c.idempotency_key for c in provider.calls] == ["b"]


async def test_a_server_error_after_the_change_and_a_lost_answer_both_leave_the_change_made() -> None:
    provider = make_provider()
    provider.fail_next_with_server_error(applied=True)
    with pytest.raises(ProviderFailed):
        await provider.pause("sub_1", resumes_at=RESUMES, behavior="void", idempotency_key="a")
    assert (await provider.get_subscription("sub_1")).paused_until == RESUMES
    provider.lose_next_response()
    with pytest.raises(ProviderUnavailable):
        await provider.resume("sub_1", idempotency_key="b")
    assert (await provider.resume("sub_1", idempotency_key="b")).paused_until is None  # the stored result
    assert [c.method for c in provider.calls] == ["pause", "resume"]


async def test_a_period_end_downgrade_keeps_discounts_refuses_foreign_schedules_and_cancel_releases() -> None:
    provider = make_provider()
    await provider.change_price(
        "sub_1", price_id="price_starter_monthly", at_period_end=True, snapshot=DISCOUNTED, idempotency_key="d1"
    )
    assert provider.store.schedules["sub_1"].discount_coupon_ids == ("welcome10",)
    provider.add_foreign_schedule("sub_trial")
    with pytest.raises(OfferNotApplicable, match="did not create"):
        await provider.change_price(
            "sub_trial", price_id="price_starter_monthly", at_period_end=True, snapshot=TRIAL, idempotency_key="d2"
        )
    for sub in ("sub_1", "sub_trial"):
        cancelled = await provider.cancel(sub, at_period_end=True, reason=None, comment=None, idempotency_key=sub)
        assert cancelled.cancel_at_period_end and cancelled.scheduled_price_id is None
    assert provider.store.schedules == {}
