"""The exact requests the Chargebee adapter sends for each change, and what it does with the answers."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from offers import (
    BillingError,
    OfferNotApplicable,
    ProviderRejected,
    ProviderUnavailable,
    SubscriptionStatus,
)
from offers.providers.chargebee import ChargebeeBillingProvider
from offers.providers.chargebee_shapes import SCHEDULE_MARKER, snapshot_from_chargebee, subscription_id_for
from tests.support.chargebee_api import (
    make_subscription,
)
from tests.support.chargebee_http import API_KEY, Failure, FakeChargebee, Recorded
from tests.support.stripe_http import DAY, NOW

START = datetime.fromtimestamp(NOW, tz=UTC)
STARTER = "price_starter_monthly"
RESUMES = START + timedelta(days=61)
KEY = "chargebee-idempotency-key"


@pytest.fixture(name="fake")
def fx_fake() -> Iterator[FakeChargebee]:
    with FakeChargebee() as fake:
        fake.subscriptions["sub_1"] = make_subscription("sub_1", coupons=("loyal10",))
        fake.subscriptions["sub_trial"] = make_subscription("sub_trial", status="in_trial")
        yield fake


@pytest.fixture(name="billing")
def fx_billing(fake: FakeChargebee) -> ChargebeeBillingProvider:
    return ChargebeeBillingProvider(API_KEY, fake.site)


def paths(fake: FakeChargebee) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in fake.requests]


SUB_1 = "/subscriptions/sub_1"
EXTENDED = {"resume_date": str(NOW + 91 * DAY)}  # the resume date a month later
UNSCHEDULE = Recorded("post", f"{SUB_1}/remove_scheduled_pause", {}, "k2:unschedule")
NOW_STEPS = (
    [Recorded("post", f"{SUB_1}/resume", {"resume_option": "specific_date", **EXTENDED}, "k2")],
    Recorded("post", f"{SUB_1}/resume", {"resume_option": "immediately"}, "k3"),
)
TERM_END_STEPS = (
    [UNSCHEDULE, Recorded("post", f"{SUB_1}/pause", {"pause_option": "end_of_term", **EXTENDED}, "k2")],
    Recorded("post", f"{SUB_1}/remove_scheduled_pause", {}, "k3"),
)


@pytest.mark.parametrize(("at_period_end", "option", "status", "extend", "resume"), [
    (False, "immediately", "paused", *NOW_STEPS), (True, "end_of_term", "active", *TERM_END_STEPS)
], ids=["now", "at-the-term-end"])  # fmt: skip
async def test_a_pause_until_a_date_is_found_done_extended_and_resumed(
    fake: FakeChargebee, billing: Any, at_period_end: bool, option: str, status: str, extend: Any, resume: Recorded
) -> None:
    """At the term end Chargebee keeps it active with `pause_date` set, read as paused until the resume date. It
    moves a paused one's resume date only, and refuses a pause over a scheduled one: an extension removes the
    scheduled pause and sets it again from the same date; resuming removes it."""
    pause = functools.partial(billing.pause, "sub_1", at_period_end=at_period_end)
    snap = await pause(resumes_at=RESUMES, behavior="void", idempotency_key="sf:pause:1")
    body = {"pause_option": option, "resume_date": str(NOW + 61 * DAY)}
    assert fake.writes() == [Recorded("post", f"{SUB_1}/pause", body, "sf:pause:1")]
    assert paths(fake)[0] == ("get", SUB_1)
    assert (snap.status, snap.paused_until, fake.subscriptions["sub_1"]["status"]) == ("active", RESUMES, status)
    fake.advance(3600)  # Chargebee forgot the key: the read finds the pause (or the pause set) and sends nothing
    assert await pause(resumes_at=RESUMES, behavior="void", idempotency_key="sf:pause:1") == snap
    later = RESUMES + timedelta(days=30)
    snap = await pause(resumes_at=later, behavior="void", idempotency_key="k2")
    assert (fake.writes()[1:], snap.paused_until, fake.subscriptions["sub_1"]["status"]) == (extend, later, status)
    snap = await billing.resume("sub_1", idempotency_key="k3")
    assert (fake.writes()[-1], snap.status, snap.paused_until) == (resume, "active", None)
    await billing.resume("sub_1", idempotency_key="k4")  # nothing paused: nothing sent
    assert fake.writes()[-1] == resume and not {"pause_date", "resume_date"} & set(fake.subscriptions["sub_1"])
    with pytest.raises(OfferNotApplicable):  # Stripe's invoice behaviours only; Chargebee has no equivalent
        await pause(resumes_at=RESUMES, behavior="refund", idempotency_key="k")


async def test_a_pause_set_for_the_term_end_starts_then_and_a_cancel_at_the_term_end_removes_it(
    fake: FakeChargebee, billing: Any
) -> None:
    fake.subscriptions["sub_2"] = make_subscription("sub_2")
    for sub_id in ("sub_1", "sub_2"):
        await billing.pause(sub_id, resumes_at=RESUMES, behavior="void", idempotency_key=sub_id, at_period_end=True)
    cancelled = await billing.cancel("sub_2", at_period_end=True, reason=None, comment=None, idempotency_key="c")
    assert fake.writes()[2:] == [
        Recorded("post", "/subscriptions/sub_2/remove_scheduled_pause", {}, "c:unpause"),
        Recorded("post", "/subscriptions/sub_2/cancel_for_items", {"cancel_option": "end_of_term"}, "c"),
    ]
    assert (cancelled.paused_until, cancelled.cancel_at_period_end) == (None, True)
    fake.advance(12 * DAY)  # the term ends: Chargebee pauses sub_1 as set
    snap = await billing.get_subscription("sub_1")
    assert (snap.status, snap.paused_until, fake.subscriptions["sub_1"]["status"]) == ("active", RESUMES, "paused")


async def test_a_pause_set_for_another_date_is_set_again_from_that_date(fake: FakeChargebee, billing: Any) -> None:
    fake.subscriptions["sub_1"].update(pause_date=NOW + 5 * DAY, resume_date=NOW + 40 * DAY)  # from the dashboard
    snap = await billing.pause("sub_1", resumes_at=RESUMES, behavior="void", idempotency_key="k2")
    body = {"pause_option": "specific_date", "pause_date": str(NOW + 5 * DAY), "resume_date": str(NOW + 61 * DAY)}
    assert fake.writes() == [UNSCHEDULE, Recorded("post", f"{SUB_1}/pause", body, "k2")]
    assert (snap.paused_until, fake.subscriptions["sub_1"]["pause_date"]) == (RESUMES, NOW + 5 * DAY)


async def test_trial_extension_moves_the_term_end_of_a_trial_only(fake: FakeChargebee, billing: Any) -> None:
    snap = await billing.extend_trial("sub_trial", trial_end=START + timedelta(days=17), idempotency_key="k")
    body = {"term_ends_at": str(NOW + 17 * DAY), "prorate": "false"}
    assert fake.writes() == [Recorded("post", "/subscriptions/sub_trial/change_term_end", body, "k")]
    assert (snap.status, snap.trial_end) == (SubscriptionStatus.TRIALING, START + timedelta(days=17))
    with pytest.raises(OfferNotApplicable):  # on an active subscription it would move the renewal date
        await billing.extend_trial("sub_1", trial_end=START + timedelta(days=9), idempotency_key="k2")
    assert len(fake.writes()) == 1


async def test_discount_adds_the_coupon_next_to_the_others(fake: FakeChargebee, billing: Any) -> None:
    snap = await billing.get_subscription("sub_1")
    done = await billing.apply_discount("sub_1", coupon_id="save30_3m", snapshot=snap, idempotency_key="k")
    body = {"coupon_ids[0]": "save30_3m"}
    assert fake.writes() == [Recorded("post", "/subscriptions/sub_1/update_for_items", body, "k")]
    assert done.discount_coupon_ids == ("loyal10", "save30_3m")


async def test_no_update_is_sent_over_a_scheduled_change(fake: FakeChargebee, billing: Any) -> None:
    """Any update_for_items deletes the existing scheduled change (docs: Update subscription for items)."""
    fake.add_foreign_schedule("sub_1")
    snap = await billing.get_subscription("sub_1")
    with pytest.raises(OfferNotApplicable):
        await billing.apply_discount("sub_1", coupon_id="save30_3m", snapshot=snap, idempotency_key="k1")
    for at_period_end in (False, True):
        with pytest.raises(OfferNotApplicable):
            await billing.change_price(
                "sub_1", price_id=STARTER, at_period_end=at_period_end, snapshot=snap, idempotency_key="k2"
            )
    with pytest.raises(OfferNotApplicable):
        await billing.cancel_scheduled_change("sub_1", idempotency_key="k3")
    assert fake.writes() == [] and fake.has_schedule("sub_1")


async def test_downgrade_now_replaces_the_plan_item_with_proration(fake: FakeChargebee, billing: Any) -> None:
    snap = await billing.get_subscription("sub_1")
    done = await billing.change_price(
        "sub_1", price_id=STARTER, at_period_end=False, snapshot=snap, idempotency_key="k"
    )
    body = {
        "subscription_items[item_price_id][0]": STARTER,
        "subscription_items[quantity][0]": "1",
        "change_option": "immediately",
        "prorate": "true",
    }
    assert fake.writes() == [Recorded("post", "/subscriptions/sub_1/update_for_items", body, "k")]
    assert (done.price_id, done.amount_cents, done.discount_coupon_ids) == (STARTER, 1900, ("loyal10",))


async def test_downgrade_at_term_end_is_marked_ours_keeping_the_sites_meta_data(
    fake: FakeChargebee, billing: Any
) -> None:
    fake.subscriptions["sub_1"]["meta_data"] = {"crm_id": "42"}
    snap = await billing.get_subscription("sub_1")
    fake.requests.clear()
    done = await billing.change_price("sub_1", price_id=STARTER, at_period_end=True, snapshot=snap, idempotency_key="k")
    (write,) = fake.writes()
    assert (write.path, write.idempotency_key, write.params["change_option"]) == (
        "/subscriptions/sub_1/update_for_items",
        "k",
        "end_of_term",
    )
    assert json.loads(write.params["meta_data"]) == {"crm_id": "42", SCHEDULE_MARKER: STARTER}
    assert (done.price_id, done.scheduled_price_id) == ("price_pro_monthly", STARTER)
    assert ("get", "/subscriptions/sub_1/retrieve_with_scheduled_changes") in paths(fake)


async def test_someone_elses_price_change_is_never_reported_as_ours(fake: FakeChargebee) -> None:
    fake.scheduled["sub_1"] = {"items": [{"item_price_id": STARTER}], "meta": {"crm_id": "42"}, "coupons": []}
    fake.subscriptions["sub_1"]["has_scheduled_changes"] = True
    scheduled = fake.route("get", "/subscriptions/sub_1/retrieve_with_scheduled_changes", {})[1]["subscription"]
    assert snapshot_from_chargebee(fake.subscriptions["sub_1"], scheduled=scheduled).scheduled_price_id is None


async def test_cancel_removes_the_scheduled_change_leaves_the_comment_then_cancels(
    fake: FakeChargebee, billing: Any
) -> None:
    snap = await billing.get_subscription("sub_1")
    await billing.change_price("sub_1", price_id=STARTER, at_period_end=True, snapshot=snap, idempotency_key="d")
    fake.requests.clear()
    done = await billing.cancel(
        "sub_1", at_period_end=True, reason="competitor", comment="Moving to X", idempotency_key="k"
    )
    release, comment, cancel = fake.writes()
    assert release == Recorded("post", "/subscriptions/sub_1/remove_scheduled_changes", {}, "k:release")
    notes = "Cancellation feedback (competitor): Moving to X"
    assert comment == Recorded(
        "post", "/comments", {"entity_type": "subscription", "entity_id": "sub_1", "notes": notes}, "k:comment"
    )
    body = {"cancel_option": "end_of_term", "cancel_reason_code": "competitor"}
    assert cancel == Recorded("post", "/subscriptions/sub_1/cancel_for_items", body, "k")
    assert (done.cancel_at_period_end, done.scheduled_price_id, done.status) == (True, None, SubscriptionStatus.ACTIVE)


async def test_a_reason_the_site_does_not_list_never_blocks_the_cancel(fake: FakeChargebee, billing: Any) -> None:
    done = await billing.cancel("sub_1", at_period_end=False, reason="my_reason", comment=None, idempotency_key="k")
    first, second = fake.writes()
    assert first.params == {"cancel_option": "immediately", "cancel_reason_code": "my_reason"}
    assert (second.params, second.idempotency_key) == ({"cancel_option": "immediately"}, "k:uncoded")
    assert done.status is SubscriptionStatus.CANCELED and done.canceled_at == START


async def test_a_cancel_whose_answer_was_lost_is_found_done_on_retry(fake: FakeChargebee, billing: Any) -> None:
    fake.failures.append(Failure(0, applied=True))
    with pytest.raises(ProviderUnavailable):
        await billing.cancel("sub_1", at_period_end=False, reason=None, comment=None, idempotency_key="k")
    fake.advance(3600)  # long after Chargebee forgot the key: the read finds the cancel done
    snap = await billing.cancel("sub_1", at_period_end=False, reason=None, comment=None, idempotency_key="k")
    assert snap.status is SubscriptionStatus.CANCELED and fake.executed == 1


async def test_reactivating_removes_the_scheduled_cancellation(fake: FakeChargebee, billing: Any) -> None:
    await billing.cancel("sub_trial", at_period_end=True, reason=None, comment=None, idempotency_key="k-c")
    assert fake.subscriptions["sub_trial"]["status"] == "in_trial"  # Chargebee keeps a trial in_trial
    snap = await billing.reactivate("sub_trial", idempotency_key="k-r")
    assert fake.writes()[-1] == Recorded("post", "/subscriptions/sub_trial/remove_scheduled_cancellation", {}, "k-r")
    assert (snap.status, snap.cancel_at_period_end) == (SubscriptionStatus.TRIALING, False)


async def test_resubscribing_creates_a_charged_subscription_once_even_after_the_key_expired(
    fake: FakeChargebee, billing: Any
) -> None:
    snap = await billing.resubscribe(
        "cus_1", price_id="price_pro_monthly", coupon_id="save30_3m", trial_days=0, idempotency_key="sf:wb:1"
    )
    new_id = subscription_id_for("sf:wb:1")
    body = {
        "id": new_id,
        "subscription_items[item_price_id][0]": "price_pro_monthly",
        "subscription_items[quantity][0]": "1",
        "trial_end": "0",
        "coupon_ids[0]": "save30_3m",
    }
    assert fake.writes() == [Recorded("post", "/customers/cus_1/subscription_for_items", body, "sf:wb:1")]
    assert (snap.id, snap.discount_coupon_ids, snap.last_paid_at) == (new_id, ("save30_3m",), START)  # paid now
    fake.advance(3600)
    again = await billing.resubscribe(
        "cus_1", price_id="price_pro_monthly", coupon_id="save30_3m", trial_days=0, idempotency_key="sf:wb:1"
    )
    assert again.id == new_id and len(fake.writes()) == 1


async def test_resubscribing_with_free_days_starts_a_trial(fake: FakeChargebee, billing: Any) -> None:
    snap = await billing.resubscribe("cus_1", price_id=STARTER, coupon_id="", trial_days=30, idempotency_key="k")
    (sent,) = fake.writes()
    assert abs(int(sent.params["trial_end"]) - (datetime.now(UTC) + timedelta(days=30)).timestamp()) < 60
    assert not any(k.startswith("coupon_ids") for k in sent.params)
    assert snap.status is SubscriptionStatus.TRIALING and snap.last_paid_at is None


@pytest.mark.parametrize(
    ("customer", "price", "expected"),
    [
        ("cus_1", "price_gone", OfferNotApplicable),
        ("cus_nope", STARTER, OfferNotApplicable),
        ("cus_1", STARTER, ProviderRejected),
    ],
    ids=["unknown-price", "unknown-customer", "card-declined"],
)
async def test_resubscribing_refusals(
    fake: FakeChargebee, billing: Any, customer: str, price: str, expected: type[BillingError]
) -> None:
    fake.declines.add("cus_1")  # charged at creation: a declined card fails the request
    with pytest.raises(expected):
        await billing.resubscribe(customer, price_id=price, coupon_id="", trial_days=0, idempotency_key="k")
