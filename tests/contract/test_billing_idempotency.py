"""Stripe's idempotency rules, held by both providers: replay, conflict, key in flight, stored 5xx, 401, expiry."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest

from offers import (
    BillingProvider,
    Capability,
    IdempotencyConflict,
    ProviderAuthFailed,
    ProviderFailed,
    ProviderUnavailable,
    SubscriptionSnapshot,
)
from tests.contract.harness import START, Harness, capable, requires

RESUMES = START + timedelta(days=61)
Operation = Callable[[BillingProvider, SubscriptionSnapshot, str], Awaitable[SubscriptionSnapshot]]


async def _pause(billing: BillingProvider, snap: SubscriptionSnapshot, key: str) -> SubscriptionSnapshot:
    return await billing.pause(snap.id, resumes_at=RESUMES, behavior="void", idempotency_key=key)


async def _discount(billing: BillingProvider, snap: SubscriptionSnapshot, key: str) -> SubscriptionSnapshot:
    return await billing.apply_discount(snap.id, coupon_id="save30_3m", snapshot=snap, idempotency_key=key)


async def _downgrade_now(billing: BillingProvider, snap: SubscriptionSnapshot, key: str) -> SubscriptionSnapshot:
    price = "price_starter_monthly"
    return await billing.change_price(snap.id, price_id=price, at_period_end=False, snapshot=snap, idempotency_key=key)


async def _downgrade_later(billing: BillingProvider, snap: SubscriptionSnapshot, key: str) -> SubscriptionSnapshot:
    price = "price_starter_monthly"
    return await billing.change_price(snap.id, price_id=price, at_period_end=True, snapshot=snap, idempotency_key=key)


async def _cancel_later(billing: BillingProvider, snap: SubscriptionSnapshot, key: str) -> SubscriptionSnapshot:
    return await billing.cancel(snap.id, at_period_end=True, reason="too_expensive", comment="x", idempotency_key=key)


OPERATIONS: dict[str, tuple[Operation, Capability]] = {
    "pause": (_pause, Capability.PAUSE),
    "discount": (_discount, Capability.DISCOUNT),
    "downgrade-now": (_downgrade_now, Capability.CHANGE_PRICE_NOW),
    "downgrade-at-period-end": (_downgrade_later, Capability.CHANGE_PRICE_AT_PERIOD_END),
    "cancel-at-period-end": (_cancel_later, Capability.CANCEL_AT_PERIOD_END),
}


@pytest.fixture(params=sorted(OPERATIONS), name="operation")
def fx_operation(request: pytest.FixtureRequest, harness: Harness) -> Operation:
    operation, needs = OPERATIONS[str(request.param)]
    capable(harness, needs)
    if operation is _discount:  # sub_1 already has a discount
        requires(harness, "discount_stacking")
    return operation


@pytest.fixture(autouse=True)
def fx_pauses(harness: Harness) -> None:
    """The single-operation tests below pause: a provider that cannot pause has none of them to hold."""
    capable(harness, Capability.PAUSE)


async def test_a_repeated_key_returns_the_stored_result_and_changes_billing_once(
    harness: Harness, operation: Operation
) -> None:
    requires(harness, "key_replay")
    snap = await harness.provider.get_subscription("sub_1")
    first = await operation(harness.provider, snap, "same")
    effects = harness.effects()
    second = await operation(harness.provider, snap, "same")
    assert second == first
    assert harness.effects() == effects  # a replay, not a second execution


async def test_a_retry_after_a_lost_answer_sends_the_same_request(harness: Harness, operation: Operation) -> None:
    """Item 2: the retry derives its parameters from the same frozen snapshot, so Stripe replays, never refuses."""
    snap = await harness.provider.get_subscription("sub_1")
    harness.lose_next_response()
    with pytest.raises(ProviderUnavailable):
        await operation(harness.provider, snap, "k")
    retried = await operation(harness.provider, snap, "k")
    assert retried == await harness.provider.get_subscription("sub_1")
    if operation is _discount:
        assert retried.discount_coupon_ids == ("loyal10", "save30_3m")  # applied once


async def test_the_same_key_with_other_parameters_is_a_conflict(harness: Harness) -> None:
    requires(harness, "key_conflict")
    snap = await harness.provider.get_subscription("sub_1")
    await harness.provider.pause("sub_1", resumes_at=RESUMES, behavior="void", idempotency_key="k")
    other = RESUMES + timedelta(days=1)
    with pytest.raises(IdempotencyConflict):
        await harness.provider.pause("sub_1", resumes_at=other, behavior="void", idempotency_key="k")
    with pytest.raises(IdempotencyConflict):
        await harness.provider.apply_discount("sub_1", coupon_id="save30_3m", snapshot=snap, idempotency_key="k")
    after = await harness.provider.get_subscription("sub_1")
    assert (after.paused_until, after.discount_coupon_ids) == (RESUMES, ("loyal10",))


async def test_a_key_still_in_flight_is_unavailable_and_never_applied_twice(harness: Harness) -> None:
    """Item 1 (adapter half): Stripe's 409 idempotency_key_in_use means "retry later with the same key"."""
    requires(harness, "key_in_flight")
    harness.hold_next(0.3)
    first = asyncio.create_task(
        harness.provider.pause("sub_1", resumes_at=RESUMES, behavior="void", idempotency_key="k")
    )
    await asyncio.sleep(0.05)
    with pytest.raises(ProviderUnavailable):
        await harness.provider.pause("sub_1", resumes_at=RESUMES, behavior="void", idempotency_key="k")
    done = await first
    assert done.paused_until == RESUMES
    again = await harness.provider.pause("sub_1", resumes_at=RESUMES, behavior="void", idempotency_key="k")
    assert again == done
    assert harness.effects() == 1


async def test_a_request_the_caller_gave_up_on_still_finishes(harness: Harness) -> None:
    harness.hold_next(0.2)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(
            harness.provider.pause("sub_1", resumes_at=RESUMES, behavior="void", idempotency_key="k"), timeout=0.05
        )
    await asyncio.sleep(0.3)
    assert (await harness.provider.get_subscription("sub_1")).paused_until == RESUMES
    again = await harness.provider.pause("sub_1", resumes_at=RESUMES, behavior="void", idempotency_key="k")
    assert again.paused_until == RESUMES
    assert harness.effects() == 1


async def test_a_stored_server_error_is_replayed_for_its_key(harness: Harness) -> None:
    """Item 5: a 5xx is ProviderFailed; its key can only fail again, a fresh key applies the change."""
    requires(harness, "stored_server_error")
    harness.fail_next_with_server_error()
    for _ in range(2):
        with pytest.raises(ProviderFailed):
            await harness.provider.pause("sub_1", resumes_at=RESUMES, behavior="void", idempotency_key="k1")
    assert (await harness.provider.get_subscription("sub_1")).paused_until is None
    fresh = await harness.provider.pause("sub_1", resumes_at=RESUMES, behavior="void", idempotency_key="k2")
    assert fresh.paused_until == RESUMES


async def test_a_server_error_may_come_after_the_change_so_the_caller_reads_first(harness: Harness) -> None:
    requires(harness, "stored_server_error")
    harness.fail_next_with_server_error(applied=True)
    with pytest.raises(ProviderFailed):
        await harness.provider.pause("sub_1", resumes_at=RESUMES, behavior="void", idempotency_key="k1")
    assert (await harness.provider.get_subscription("sub_1")).paused_until == RESUMES
    with pytest.raises(ProviderFailed):
        await harness.provider.pause("sub_1", resumes_at=RESUMES, behavior="void", idempotency_key="k1")


async def test_bad_credentials_are_an_auth_failure_that_is_not_stored(harness: Harness) -> None:
    """Item 5: 401 is ProviderAuthFailed, checked before Stripe's idempotency layer, so the key stays usable."""
    harness.fail_next_with_auth_error()
    with pytest.raises(ProviderAuthFailed):
        await harness.provider.pause("sub_1", resumes_at=RESUMES, behavior="void", idempotency_key="k")
    assert (await harness.provider.get_subscription("sub_1")).paused_until is None
    snap = await harness.provider.pause("sub_1", resumes_at=RESUMES, behavior="void", idempotency_key="k")
    assert snap.paused_until == RESUMES


async def test_keys_are_forgotten_after_24_hours(harness: Harness) -> None:
    requires(harness, "key_expiry")
    await harness.provider.pause("sub_1", resumes_at=RESUMES, behavior="void", idempotency_key="k")
    harness.advance(24 * 3600 - 1)
    later = RESUMES + timedelta(days=1)
    with pytest.raises(IdempotencyConflict):
        await harness.provider.pause("sub_1", resumes_at=later, behavior="void", idempotency_key="k")
    harness.advance(1)
    snap = await harness.provider.pause("sub_1", resumes_at=later, behavior="void", idempotency_key="k")
    assert snap.paused_until == later
