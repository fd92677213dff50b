"""One contract for every billing provider: each offer kind, cancel, undo and resume behave alike everywhere."""

from __future__ import annotations

from datetime import timedelta

import pytest

from offers import Capability, OfferNotApplicable, SubscriptionNotFound, SubscriptionStatus
from tests.contract.harness import START, Harness, capable, requires

STARTER = "price_starter_monthly"


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
    assert snap.paused_until is None and not snap.cancel_at_period_end and snap.scheduled_price_id is None
    assert snap.is_live


async def test_unknown_subscription_is_not_found(harness: Harness) -> None:
    with pytest.raises(SubscriptionNotFound):
        await harness.provider.get_subscription("sub_nope")


async def test_pause_until_a_date_keeps_the_subscription_active(harness: Harness) -> None:
    capable(harness, Capability.PAUSE)
    resumes = START + timedelta(days=61)
    snap = await harness.provider.pause("sub_1", resumes_at=resumes, behavior="void", idempotency_key="k-pause")
    assert snap.paused_until == resumes
    assert snap.status is SubscriptionStatus.ACTIVE


async def test_resume_clears_the_pause(harness: Harness) -> None:
    capable(harness, Capability.PAUSE, Capability.RESUME)
    await harness.provider.pause("sub_1", resumes_at=START + timedelta(days=30), behavior="void", idempotency_key="k1")
    snap = await harness.provider.resume("sub_1", idempotency_key="k2")
    assert snap.paused_until is None


async def test_trial_extension_moves_the_trial_end(harness: Harness) -> None:
    capable(harness, Capability.EXTEND_TRIAL)
    new_end = START + timedelta(days=17)
    snap = await harness.provider.extend_trial("sub_trial", trial_end=new_end, idempotency_key="k-trial")
    assert snap.trial_end == new_end


async def test_extending_the_trial_of_an_active_subscription_is_not_applicable(harness: Harness) -> None:
    """Item 6: Stripe itself would accept `trial_end` here and start a new free trial; the adapter refuses."""
    capable(harness, Capability.EXTEND_TRIAL)
    with pytest.raises(OfferNotApplicable):
        await harness.provider.extend_trial("sub_1", trial_end=START + timedelta(days=9), idempotency_key="k-x")
    after = await harness.provider.get_subscription("sub_1")
    assert (after.status, after.trial_end) == (SubscriptionStatus.ACTIVE, None)


async def test_discount_is_added_next_to_existing_ones(harness: Harness) -> None:
    capable(harness, Capability.DISCOUNT)
    requires(harness, "discount_stacking")
    before = await harness.provider.get_subscription("sub_1")
    snap = await harness.provider.apply_discount(
        "sub_1", coupon_id="save30_3m", snapshot=before, idempotency_key="k-discount"
    )
    assert snap.discount_coupon_ids == ("loyal10", "save30_3m")


async def test_downgrade_now_changes_the_price(harness: Harness) -> None:
    capable(harness, Capability.CHANGE_PRICE_NOW)
    before = await harness.provider.get_subscription("sub_1")
    snap = await harness.provider.change_price(
        "sub_1", price_id=STARTER, at_period_end=False, snapshot=before, idempotency_key="k-down"
    )
    assert snap.price_id == STARTER
    assert snap.discount_coupon_ids == ("loyal10",)


async def test_downgrade_at_period_end_schedules_it_and_keeps_the_discounts(harness: Harness) -> None:
    """Item 4: the next phase carries the subscription's discounts, and a read reports the scheduled price."""
    capable(harness, Capability.CHANGE_PRICE_AT_PERIOD_END)
    before = await harness.provider.get_subscription("sub_1")
    snap = await harness.provider.change_price(
        "sub_1", price_id=STARTER, at_period_end=True, snapshot=before, idempotency_key="k-down-later"
    )
    assert (snap.price_id, snap.scheduled_price_id) == ("price_pro_monthly", STARTER)
    assert snap.discount_coupon_ids == ("loyal10",)
    assert harness.next_phase_coupons("sub_1") == ("loyal10",)
    assert (await harness.provider.get_subscription("sub_1")).scheduled_price_id == STARTER


async def test_a_schedule_someone_else_created_is_never_overwritten(harness: Harness) -> None:
    """Item 4: the offer is not applicable (the user sees it as unavailable), and their schedule stays as it was."""
    capable(harness, Capability.CHANGE_PRICE_AT_PERIOD_END)
    requires(harness, "foreign_schedule")
    harness.add_foreign_schedule("sub_1")
    before = await harness.provider.get_subscription("sub_1")
    with pytest.raises(OfferNotApplicable):
        await harness.provider.change_price(
            "sub_1", price_id=STARTER, at_period_end=True, snapshot=before, idempotency_key="k-down-later"
        )
    assert harness.has_schedule("sub_1") and harness.next_phase_coupons("sub_1") is None
    assert (await harness.provider.get_subscription("sub_1")).scheduled_price_id is None


async def test_cancel_at_period_end_and_now(harness: Harness) -> None:
    capable(harness, Capability.CANCEL_AT_PERIOD_END, Capability.CANCEL_NOW)
    later = await harness.provider.cancel(
        "sub_1", at_period_end=True, reason="too_expensive", comment="budget", idempotency_key="k-c1"
    )
    assert later.cancel_at_period_end and later.status is SubscriptionStatus.ACTIVE
    now = await harness.provider.cancel(
        "sub_trial", at_period_end=False, reason=None, comment=None, idempotency_key="k-c2"
    )
    assert now.status is SubscriptionStatus.CANCELED and now.canceled_at is not None
    assert not now.is_live


@pytest.mark.parametrize("at_period_end", [True, False], ids=["at-period-end", "now"])
@pytest.mark.parametrize("whose", ["ours", "foreign"])
async def test_cancelling_releases_any_schedule_first(harness: Harness, whose: str, at_period_end: bool) -> None:
    """Item 4: click-to-cancel always works, even for a subscription a schedule manages."""
    capable(harness, Capability.CANCEL_AT_PERIOD_END if at_period_end else Capability.CANCEL_NOW)
    if whose == "ours":
        capable(harness, Capability.CHANGE_PRICE_AT_PERIOD_END)
    else:
        requires(harness, "foreign_schedule")
    before = await harness.provider.get_subscription("sub_1")
    if whose == "ours":
        await harness.provider.change_price(
            "sub_1", price_id=STARTER, at_period_end=True, snapshot=before, idempotency_key="k-down-later"
        )
    else:
        harness.add_foreign_schedule("sub_1")
    snap = await harness.provider.cancel(
        "sub_1", at_period_end=at_period_end, reason="too_expensive", comment=None, idempotency_key="k-cancel"
    )
    assert not harness.has_schedule("sub_1")
    assert snap.scheduled_price_id is None
    if at_period_end:
        assert snap.cancel_at_period_end and snap.status is SubscriptionStatus.ACTIVE
    else:
        assert snap.status is SubscriptionStatus.CANCELED


async def test_cancelling_now_twice_with_one_key_is_one_cancel(harness: Harness) -> None:
    """Stripe ignores keys on DELETE and answers a repeat with 404; the port still answers the cancel's result."""
    capable(harness, Capability.CANCEL_NOW)
    first = await harness.provider.cancel("sub_1", at_period_end=False, reason=None, comment=None, idempotency_key="k")
    again = await harness.provider.cancel("sub_1", at_period_end=False, reason=None, comment=None, idempotency_key="k")
    assert again.status is SubscriptionStatus.CANCELED
    assert again.canceled_at == first.canceled_at
    assert harness.effects() == 1


async def test_reactivating_undoes_a_scheduled_cancellation_and_nothing_else(harness: Harness) -> None:
    """Issue 25: "Keep my subscription" for a customer set to cancel undoes the cancel through billing."""
    capable(harness, Capability.CANCEL_AT_PERIOD_END, Capability.REACTIVATE)
    untouched = await harness.provider.reactivate("sub_1", idempotency_key="k-r0")
    assert not untouched.cancel_at_period_end  # nothing scheduled: nothing changes
    await harness.provider.cancel("sub_1", at_period_end=True, reason=None, comment=None, idempotency_key="k-c")
    assert (await harness.provider.get_subscription("sub_1")).cancel_at_period_end
    snap = await harness.provider.reactivate("sub_1", idempotency_key="k-r1")
    assert not snap.cancel_at_period_end and snap.status is SubscriptionStatus.ACTIVE
    assert not (await harness.provider.get_subscription("sub_1")).cancel_at_period_end
    assert snap.discount_coupon_ids == ("loyal10",)


async def test_an_ended_subscription_cannot_be_reactivated(harness: Harness) -> None:
    capable(harness, Capability.CANCEL_NOW, Capability.REACTIVATE)
    await harness.provider.cancel("sub_1", at_period_end=False, reason=None, comment=None, idempotency_key="k-c")
    with pytest.raises(OfferNotApplicable):
        await harness.provider.reactivate("sub_1", idempotency_key="k-r")


async def test_a_scheduled_downgrade_can_be_undone_but_not_someone_elses_schedule(harness: Harness) -> None:
    capable(harness, Capability.CHANGE_PRICE_AT_PERIOD_END, Capability.CANCEL_SCHEDULED_CHANGE)
    before = await harness.provider.get_subscription("sub_1")
    await harness.provider.change_price(
        "sub_1", price_id=STARTER, at_period_end=True, snapshot=before, idempotency_key="k-down-later"
    )
    snap = await harness.provider.cancel_scheduled_change("sub_1", idempotency_key="k-undo")
    assert (snap.price_id, snap.scheduled_price_id) == ("price_pro_monthly", None)
    assert not harness.has_schedule("sub_1")
    assert (
        await harness.provider.cancel_scheduled_change("sub_1", idempotency_key="k-undo2")
    ).scheduled_price_id is None
    if "foreign_schedule" in harness.unheld:
        return
    harness.add_foreign_schedule("sub_1")
    with pytest.raises(OfferNotApplicable):
        await harness.provider.cancel_scheduled_change("sub_1", idempotency_key="k-undo3")
    assert harness.has_schedule("sub_1")


async def test_a_change_the_provider_cannot_make_is_not_applicable(harness: Harness) -> None:
    """Eligibility hides offers needing a missing capability; if one is asked for anyway, the provider refuses
    it as not applicable (the user is offered the rest) and changes nothing."""
    billing = harness.provider
    before = await billing.get_subscription("sub_1")
    trial = await billing.get_subscription("sub_trial")
    calls = {
        Capability.PAUSE: lambda: billing.pause(
            "sub_1", resumes_at=START + timedelta(days=30), behavior="void", idempotency_key="n1"
        ),
        Capability.RESUME: lambda: billing.resume("sub_1", idempotency_key="n2"),
        Capability.CHANGE_PRICE_NOW: lambda: billing.change_price(
            "sub_1", price_id=STARTER, at_period_end=False, snapshot=before, idempotency_key="n3"
        ),
        Capability.CHANGE_PRICE_AT_PERIOD_END: lambda: billing.change_price(
            "sub_1", price_id=STARTER, at_period_end=True, snapshot=before, idempotency_key="n4"
        ),
        Capability.EXTEND_TRIAL: lambda: billing.extend_trial(
            "sub_trial", trial_end=(trial.trial_end or START) + timedelta(days=7), idempotency_key="n5"
        ),
        Capability.DISCOUNT: lambda: billing.apply_discount(
            "sub_1", coupon_id="save30_3m", snapshot=before, idempotency_key="n6"
        ),
        Capability.CANCEL_NOW: lambda: billing.cancel(
            "sub_1", at_period_end=False, reason=None, comment=None, idempotency_key="n7"
        ),
        Capability.CANCEL_AT_PERIOD_END: lambda: billing.cancel(
            "sub_1", at_period_end=True, reason=None, comment=None, idempotency_key="n8"
        ),
        Capability.REACTIVATE: lambda: billing.reactivate("sub_1", idempotency_key="n9"),
        Capability.CANCEL_SCHEDULED_CHANGE: lambda: billing.cancel_scheduled_change("sub_1", idempotency_key="n10"),
        Capability.RESUBSCRIBE: lambda: billing.resubscribe(
            "cus_1", price_id=STARTER, coupon_id="", trial_days=0, idempotency_key="n11"
        ),
    }
    assert set(calls) == set(Capability)
    missing = [c for c in Capability if c not in billing.capabilities]
    if not missing:
        pytest.skip("this billing system can make every change")
    for capability in missing:
        with pytest.raises(OfferNotApplicable):
            await calls[capability]()
    assert await billing.get_subscription("sub_1") == before
    assert harness.effects() == 0
