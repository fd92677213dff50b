"""An offer card's value line as facts: the price before and after per the subscription's own interval, the
dates that count from the session start, and how many invoices a discount of some months really reaches."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from flows import default_definition
from flows.defaults import CONTACT, DISCOUNT, DOWNGRADE, PAUSE, TRAINING, TRIAL
from offers import DowngradeOffer, Offer, OfferId, add_months
from offers.value_lines import Price, ValueKind, ValueLine, discounted_invoices, value_line
from tests.factories import NOW, make_snapshot, make_trialing_snapshot

MONTHLY = Price(4900, "usd", "month")


def offer(offer_id: str) -> Offer:
    found = default_definition().offer(OfferId(offer_id))
    assert found is not None
    return found


def test_a_discount_states_the_reduced_price_for_its_months() -> None:
    line = value_line(offer(DISCOUNT), make_snapshot(), started_at=NOW)
    assert line == ValueLine(
        ValueKind.DISCOUNT, MONTHLY, Price(3430, "usd", "month"), until=add_months(NOW, 3), months=3, invoices=3
    )


@pytest.mark.parametrize(("renews_in_days", "invoices"), [(30, 1), (200, 0)])
def test_a_yearly_price_stays_yearly_and_counts_the_invoices_the_discount_reaches(
    renews_in_days: int, invoices: int
) -> None:
    yearly = make_snapshot(
        amount_cents=120_000, currency="eur", interval="year", current_period_end=NOW + timedelta(days=renews_in_days)
    )
    line = value_line(offer(DISCOUNT), yearly, started_at=NOW)
    assert (line.before, line.after) == (Price(120_000, "eur", "year"), Price(84_000, "eur", "year"))
    assert line.invoices == invoices  # a 3-month coupon on a yearly plan only helps if it renews in time
    assert line.after is not None and not line.after.monthly


def test_the_discount_is_rounded_to_the_cent() -> None:
    odd = make_snapshot(amount_cents=4999)
    line = value_line(offer(DISCOUNT), odd, started_at=NOW)
    assert line.after == Price(3499, "usd", "month")  # 30 % of 49.99 is 15.00 (14.997 rounded)


def test_a_pause_charges_nothing_until_it_resumes() -> None:
    line = value_line(offer(PAUSE), make_snapshot(), started_at=NOW)
    # The shipped pause offers 2 or 3 months: `until` is the preselected first, `choices` name both dates.
    both = (add_months(NOW, 2), add_months(NOW, 3))
    assert line == ValueLine(ValueKind.NO_CHARGE_UNTIL, MONTHLY, until=add_months(NOW, 2), choices=both)


@pytest.mark.parametrize("at_period_end", [False, True])
def test_a_downgrade_states_the_new_price_and_when_it_starts(at_period_end: bool) -> None:
    snapshot = make_snapshot()
    downgrade = offer(DOWNGRADE)
    assert isinstance(downgrade, DowngradeOffer)
    cheaper = replace(downgrade, at_period_end=at_period_end)
    line = value_line(cheaper, snapshot, started_at=NOW)
    starts = snapshot.current_period_end if at_period_end else None
    assert line == ValueLine(ValueKind.PRICE_CHANGE, MONTHLY, Price(1900, "usd", "month"), until=starts)


def test_a_trial_extension_is_free_until_the_new_trial_end() -> None:
    line = value_line(offer(TRIAL), make_trialing_snapshot(), started_at=NOW)
    assert line == ValueLine(ValueKind.FREE_UNTIL, MONTHLY, until=NOW + timedelta(days=3 + 14))


@pytest.mark.parametrize("offer_id", [TRAINING, CONTACT])
def test_a_call_changes_nothing_in_billing(offer_id: str) -> None:
    assert value_line(offer(offer_id), make_snapshot(), started_at=NOW) == ValueLine(ValueKind.NO_CHANGE, MONTHLY)


@pytest.mark.parametrize(
    ("price", "months", "invoices"),
    [
        (MONTHLY, 3, 3),
        (Price(12_000, "usd", "month", interval_count=3), 3, 1),  # quarterly: one invoice in three months
        (Price(12_000, "usd", "month", interval_count=3), 4, 2),
        (Price(500, "usd", "week"), 1, 3),  # 5, 12 and 19 December fall before 23 December
        (Price(100, "usd", "day", interval_count=7), 1, 3),
    ],
)
def test_discounted_invoices_follow_the_billing_period(price: Price, months: int, invoices: int) -> None:
    first = NOW + timedelta(days=12)
    assert discounted_invoices(price, first, add_months(NOW, months)) == invoices
