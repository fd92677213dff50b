"""Applying an accepted offer: exactly one idempotent billing call per kind, the right change, a readable summary."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.defaults import CONTACT, DEFAULT_OFFERS, DISCOUNT, DOWNGRADE, PAUSE, TRAINING, TRIAL
from offers import (
    DowngradeOffer,
    Offer,
    OfferId,
    OfferKind,
    OfferNotApplicable,
    PauseBehavior,
    PauseOffer,
    ProviderRejected,
    add_months,
    apply_offer,
)
from offers.apply import pause_resumes_at
from offers.model import PauseStart, months
from offers.providers.memory import BillingCall
from tests.factories import COUPON, NOW, make_provider

OFFERS = {o.id: o for o in DEFAULT_OFFERS}
KEY = "sf:ses_test:offer:x:1"


def _downgrade(at_period_end: bool) -> DowngradeOffer:
    offer = OFFERS[DOWNGRADE]
    assert isinstance(offer, DowngradeOffer)
    return replace(offer, at_period_end=at_period_end)


@pytest.mark.parametrize(
    ("offer", "sub", "method", "params", "summary"),
    [
        (
            OFFERS[PAUSE],
            "sub_1",
            "pause",
            (("resumes_at", datetime(2027, 1, 23, 12, tzinfo=UTC)), ("behavior", "void")),
            "Paused for 2 months, resumes 2027-01-23",
        ),
        (
            _downgrade(False),
            "sub_1",
            "change_price",
            (("price_id", "price_starter_monthly"), ("at_period_end", False)),
            "Moved to Starter now",
        ),
        (
            _downgrade(True),
            "sub_1",
            "change_price",
            (("price_id", "price_starter_monthly"), ("at_period_end", True)),
            "Moved to Starter from 2026-12-05",
        ),
        (
            OFFERS[TRIAL],
            "sub_trial",
            "extend_trial",
            (("trial_end", NOW + timedelta(days=3 + 14)),),
            "Trial extended to 2026-12-10",
        ),
        (OFFERS[DISCOUNT], "sub_1", "apply_discount", (("coupon_id", COUPON),), "30% off for 3 months"),
    ],
    ids=["pause", "downgrade-now", "downgrade-at-period-end", "trial-extension", "discount"],
)
async def test_each_billing_offer_makes_exactly_one_call(
    offer: Offer, sub: str, method: str, params: tuple[tuple[str, Any], ...], summary: str
) -> None:
    provider = make_provider()
    snapshot = await provider.get_subscription(sub)
    result = await apply_offer(provider, offer, snapshot, now=NOW, idempotency_key=KEY)
    assert provider.calls == [BillingCall(method, sub, params, KEY)]
    assert (result.offer_id, result.kind, result.summary, result.booking_url) == (offer.id, offer.kind, summary, None)


async def test_the_billing_change_lands_on_the_subscription() -> None:
    provider = make_provider()
    active = await provider.get_subscription("sub_1")
    await apply_offer(provider, _downgrade(False), active, now=NOW, idempotency_key="k1")
    moved = await provider.get_subscription("sub_1")
    assert (moved.price_id, moved.amount_cents) == ("price_starter_monthly", 1900)
    await apply_offer(provider, _downgrade(True), moved, now=NOW, idempotency_key="k2")
    assert (await provider.get_subscription("sub_1")).scheduled_price_id == "price_starter_monthly"
    await apply_offer(provider, OFFERS[PAUSE], moved, now=NOW, idempotency_key="k3")
    assert (await provider.get_subscription("sub_1")).paused_until == datetime(2027, 1, 23, 12, tzinfo=UTC)


@pytest.mark.parametrize("offer_id", [TRAINING, CONTACT])
async def test_a_training_offer_calls_no_billing_and_returns_the_booking_link(offer_id: OfferId) -> None:
    provider = make_provider()
    offer = OFFERS[offer_id]
    result = await apply_offer(provider, offer, await provider.get_subscription("sub_1"), now=NOW, idempotency_key=KEY)
    assert provider.calls == []
    assert result.kind is OfferKind.TRAINING
    assert result.booking_url is not None and result.booking_url.startswith("https://example.com/")


async def test_a_one_month_pause_is_singular() -> None:
    offer = OFFERS[PAUSE]
    assert isinstance(offer, PauseOffer)
    one = replace(offer, lengths=months(1), behavior=PauseBehavior.KEEP_AS_DRAFT)
    provider = make_provider()
    result = await apply_offer(provider, one, await provider.get_subscription("sub_1"), now=NOW, idempotency_key=KEY)
    assert result.summary == "Paused for 1 month, resumes 2026-12-23"
    assert provider.calls[0].params[1] == ("behavior", "keep_as_draft")


@pytest.mark.parametrize(
    ("trial_end", "expected"),
    [
        (NOW + timedelta(days=3), NOW + timedelta(days=17)),  # still in trial: add to the trial's end
        (NOW - timedelta(days=1), NOW + timedelta(days=14)),  # already over: add to now
        (NOW, NOW + timedelta(days=14)),
        (None, NOW + timedelta(days=14)),
    ],
)
async def test_a_trial_extension_counts_from_the_later_of_trial_end_and_now(
    trial_end: datetime | None, expected: datetime
) -> None:
    provider = make_provider()
    snapshot = replace(await provider.get_subscription("sub_trial"), trial_end=trial_end)
    await apply_offer(provider, OFFERS[TRIAL], snapshot, now=NOW, idempotency_key=KEY)
    assert provider.calls[0].params == (("trial_end", expected),)
    assert (await provider.get_subscription("sub_trial")).trial_end == expected


async def test_billing_errors_reach_the_caller_and_change_nothing() -> None:
    provider = make_provider()
    trialing = await provider.get_subscription("sub_trial")
    with pytest.raises(OfferNotApplicable):
        await apply_offer(provider, OFFERS[PAUSE], trialing, now=NOW, idempotency_key=KEY)
    assert (await provider.get_subscription("sub_trial")) == trialing
    provider.fail_next(ProviderRejected("card declined"))
    with pytest.raises(ProviderRejected):
        await apply_offer(
            provider, OFFERS[DISCOUNT], await provider.get_subscription("sub_1"), now=NOW, idempotency_key="k"
        )
    assert (await provider.get_subscription("sub_1")).discount_coupon_ids == ()


# ---------------------------------------------------------------------------- add_months
@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (datetime(2027, 1, 31, 9, 30, tzinfo=UTC), 1, datetime(2027, 2, 28, 9, 30, tzinfo=UTC)),
        (datetime(2028, 1, 31, tzinfo=UTC), 1, datetime(2028, 2, 29, tzinfo=UTC)),  # leap year
        (datetime(2026, 12, 15, tzinfo=UTC), 1, datetime(2027, 1, 15, tzinfo=UTC)),
        (datetime(2026, 12, 31, tzinfo=UTC), 2, datetime(2027, 2, 28, tzinfo=UTC)),
        (datetime(2026, 8, 31, tzinfo=UTC), 1, datetime(2026, 9, 30, tzinfo=UTC)),
        (datetime(2026, 11, 30, tzinfo=UTC), 14, datetime(2028, 1, 30, tzinfo=UTC)),
        (datetime(2026, 11, 23, tzinfo=UTC), 12, datetime(2027, 11, 23, tzinfo=UTC)),
        (datetime(2026, 11, 23, tzinfo=UTC), 0, datetime(2026, 11, 23, tzinfo=UTC)),
    ],
)
def test_add_months_keeps_the_day_and_clamps_to_the_month_end(start: datetime, months: int, expected: datetime) -> None:
    assert add_months(start, months) == expected


# hypothesis takes naive bounds and attaches the timezone itself
NAIVE_MIN, NAIVE_MAX = datetime(2000, 1, 1), datetime(2090, 12, 31)  # noqa: DTZ001


@settings(max_examples=200, deadline=None, database=None)
@given(
    start=st.datetimes(min_value=NAIVE_MIN, max_value=NAIVE_MAX, timezones=st.just(UTC)),
    months=st.integers(0, 36),
)
def test_add_months_moves_exactly_that_many_calendar_months(start: datetime, months: int) -> None:
    moved = add_months(start, months)
    assert (moved.year * 12 + moved.month) - (start.year * 12 + start.month) == months
    assert moved.day == start.day or (moved.day < start.day and (moved + timedelta(days=1)).day == 1)
    assert (moved.time(), moved.tzinfo) == (start.time(), start.tzinfo)


async def test_a_pause_until_a_date_resumes_on_that_date_while_it_is_ahead() -> None:
    offer = OFFERS[PAUSE]
    assert isinstance(offer, PauseOffer)
    spring = NOW.replace(year=NOW.year + 1, month=3, day=1)
    seasonal = replace(offer, until=spring)
    provider = make_provider()
    result = await apply_offer(
        provider, seasonal, await provider.get_subscription("sub_1"), now=NOW, idempotency_key=KEY
    )
    assert result.summary == f"Paused until {spring:%Y-%m-%d}"
    assert provider.subscriptions["sub_1"].paused_until == spring
    past = replace(offer, until=NOW.replace(year=NOW.year - 1))
    snapshot = await provider.get_subscription("sub_1")
    assert pause_resumes_at(past, snapshot, NOW) == add_months(NOW, 2)  # a stale date falls back to the length


@pytest.mark.parametrize("starts", list(PauseStart))
async def test_a_pause_tells_billing_whether_it_starts_at_the_period_end(starts: PauseStart) -> None:
    """Chargebee and Paddle pause access with billing: a pause from the period end must say so (#26)."""
    offer = OFFERS[PAUSE]
    assert isinstance(offer, PauseOffer)
    provider = make_provider()
    chosen = replace(offer, starts=starts)
    await apply_offer(provider, chosen, await provider.get_subscription("sub_1"), now=NOW, idempotency_key=KEY)
    later = ("at_period_end", True) in provider.calls[0].params
    assert later is (starts is PauseStart.PERIOD_END)
