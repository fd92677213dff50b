"""The win-back offer's pure decisions: which billing calls bring a customer back, under which keys, what
the offer is worth per month, when the second email is due, and what the editor may not save."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from offers import SubscriptionSnapshot, SubscriptionStatus
from offers.winback import (
    BillingCall,
    Standing,
    WinbackKind,
    WinbackOffer,
    billing_calls,
    second_email_due,
    standing,
    winback_problems,
    winback_value,
)

NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)
END = NOW + timedelta(days=12)
DISCOUNT = WinbackOffer(WinbackKind.DISCOUNT, coupon_id="save30_3m", percent_off=30, duration_months=3)
FREE = WinbackOffer(WinbackKind.FREE_DAYS, free_days=30)
LIVE = SubscriptionSnapshot("sub_1", "cus_1", SubscriptionStatus.ACTIVE, "price_pro", 4900, "usd", "month", END)
CANCELLING = dataclasses.replace(LIVE, cancel_at_period_end=True)
ENDED = dataclasses.replace(LIVE, status=SubscriptionStatus.CANCELED, canceled_at=NOW - timedelta(days=1))


def test_where_the_subscription_stands() -> None:
    assert standing(CANCELLING, NOW) is Standing.CANCELLING
    assert standing(ENDED, NOW) is Standing.ENDED
    assert standing(CANCELLING, END) is Standing.ENDED  # the period ran out: billing may not have said so yet
    assert standing(LIVE, NOW) is Standing.LIVE


def test_still_cancelling_undoes_the_cancel_then_applies_the_coupon_under_two_derived_keys() -> None:
    assert billing_calls(DISCOUNT, CANCELLING, NOW, "sf:wb:s1") == (
        BillingCall("reactivate", "sf:wb:s1:reactivate"),
        BillingCall("apply_discount", "sf:wb:s1:discount", coupon_id="save30_3m"),
    )


def test_still_cancelling_with_free_days_pauses_collection_until_the_period_end_plus_the_days() -> None:
    calls = billing_calls(FREE, CANCELLING, NOW, "k")
    assert calls == (
        BillingCall("reactivate", "k:reactivate"),
        BillingCall("pause", "k:free", resumes_at=END + timedelta(days=30)),
    )


def test_ended_resubscribes_once_with_the_coupon_or_a_trial() -> None:
    assert billing_calls(DISCOUNT, ENDED, NOW, "k") == (
        BillingCall("resubscribe", "k:resubscribe", coupon_id="save30_3m"),
    )
    assert billing_calls(FREE, ENDED, NOW, "k") == (BillingCall("resubscribe", "k:resubscribe", trial_days=30),)
    assert billing_calls(DISCOUNT, LIVE, NOW, "k") == ()  # nothing to win back


def test_the_calls_depend_only_on_what_was_recorded_so_a_retry_repeats_them() -> None:
    assert billing_calls(DISCOUNT, CANCELLING, NOW, "k") == billing_calls(DISCOUNT, CANCELLING, NOW, "k")
    assert billing_calls(DISCOUNT, CANCELLING, NOW + timedelta(days=30), "k")[0].method == "resubscribe"


@pytest.mark.parametrize(
    ("offer", "snapshot", "expected"),
    [
        (DISCOUNT, LIVE, (4900, 3430)),  # 30% off $49
        (FREE, LIVE, (4900, 4900)),  # free time, then the list price
        (DISCOUNT, dataclasses.replace(LIVE, amount_cents=58800, interval="year"), (4900, 3430)),  # yearly ÷ 12
        (dataclasses.replace(DISCOUNT, percent_off=100), LIVE, (4900, 0)),
    ],
)
def test_the_offers_money_is_monthly_in_the_subscriptions_currency(
    offer: WinbackOffer, snapshot: SubscriptionSnapshot, expected: tuple[int, int]
) -> None:
    value = winback_value(offer, snapshot)
    assert (value.list_cents, value.won_back_cents) == expected
    assert value.currency == "usd"


def test_the_second_email_is_due_exactly_n_days_after_access_ends() -> None:
    assert not second_email_due(END, 7, END + timedelta(days=7) - timedelta(seconds=1))
    assert second_email_due(END, 7, END + timedelta(days=7))


def test_problems_in_plain_words() -> None:
    assert winback_problems(None) == []
    assert winback_problems(DISCOUNT) == []
    assert winback_problems(FREE) == []
    assert winback_problems(WinbackOffer(WinbackKind.DISCOUNT, percent_off=30, duration_months=40)) == [
        "The win-back discount needs the billing coupon id.",
        "The win-back discount lasts 1 to 36 months.",
    ]
    assert winback_problems(WinbackOffer(WinbackKind.FREE_DAYS, free_days=0)) == [
        "The win-back free time is 1 to 90 days."
    ]
