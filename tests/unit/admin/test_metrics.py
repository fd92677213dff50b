"""The metric definitions as pure arithmetic: money per currency, net MRR retained, repeats, funnels."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from admin import metrics
from offers import OfferId, SubscriptionStatus
from offers.model import (
    DiscountOffer,
    DowngradeOffer,
    OfferCopy,
    PauseOffer,
    TrainingOffer,
    TrialExtensionOffer,
    months,
)
from offers.value import Retained, already_cancelling, monthly_cents, retained_after
from tests.factories import make_snapshot

COPY = OfferCopy("t", "b", "a")
START = datetime(2026, 3, 10, 9, tzinfo=UTC)


def cell(outcome: str, sessions: int = 1, **changes: object) -> metrics.Cell:
    base = metrics.Cell(
        day="2026-03-10",
        reason="too_expensive",
        offer_kind="",
        segment_id="",
        experiment_id="",
        holdout=False,
        outcome=outcome,
        finished_day="" if outcome == "open" else "2026-03-10",
        sessions=sessions,
        mrr_cents=0,
        verified=0,
        lapsed=0,
        reached=(0, 0, 0, 0, 0),
        currency="usd",
        monthly_cents=1000 * sessions,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("amount", "interval", "monthly"), [(4900, "month", 4900), (120_000, "year", 10_000), (1000, "week", 4333)]
)
def test_money_is_monthly(amount: int, interval: str, monthly: int) -> None:
    assert monthly_cents(amount, interval) == monthly


def test_a_price_billed_every_few_intervals_is_divided_by_their_count() -> None:
    assert monthly_cents(30_000, "month", 3) == 10_000  # quarterly
    assert monthly_cents(240_000, "year", 2) == 10_000  # every two years


def test_net_mrr_retained_is_what_the_customer_pays_after_the_offer() -> None:
    yearly = make_snapshot(amount_cents=120_000, interval="year", currency="eur")
    downgrade = DowngradeOffer(OfferId("d"), COPY, price_id="p", plan_name="Starter", amount_cents=24_000)
    assert retained_after(downgrade, yearly, started_at=START) == Retained(2000, 2000)
    discount = DiscountOffer(OfferId("c"), COPY, coupon_id="x", percent_off=30, duration_months=3)
    assert retained_after(discount, yearly, started_at=START) == Retained(7000, 10_000, START.replace(month=6))
    pause = PauseOffer(OfferId("p"), COPY, lengths=months(2))
    assert retained_after(pause, yearly, started_at=START) == Retained(0, 10_000, START.replace(month=5))
    trial = TrialExtensionOffer(OfferId("t"), COPY, days=14)
    assert retained_after(trial, yearly, started_at=START) == Retained(0, 10_000, None)  # until a paid invoice
    call = TrainingOffer(OfferId("k"), COPY, booking_url="https://example.com")
    assert retained_after(call, yearly, started_at=START) == Retained(10_000, 10_000)


def test_a_subscription_set_to_end_makes_a_repeat_flow() -> None:
    assert not already_cancelling(make_snapshot())
    assert already_cancelling(make_snapshot(cancel_at_period_end=True))
    assert already_cancelling(make_snapshot(status=SubscriptionStatus.CANCELED))


def test_statuses_add_up_and_repeats_count_nowhere_else() -> None:
    cells = [
        cell("saved"),
        cell("kept"),
        cell("cancelled", 2),
        cell("abandoned"),
        cell("open"),
        cell("cancelled", repeat=True),
    ]
    t = metrics.count(cells)
    assert (t.sessions, t.saved, t.kept, t.cancelled, t.abandoned, t.open, t.repeat) == (7, 1, 1, 2, 1, 1, 1)
    assert t.save_rate == 0.25 and t.retention_rate == 0.5
    (usd,) = t.money
    assert (usd.at_risk_cents, usd.lost_cents, usd.kept_cents) == (4000, 2000, 1000)  # the repeat's 1000 is not lost


def test_money_never_mixes_currencies_and_values_a_save_on_a_day() -> None:
    pause = cell("saved", currency="eur", retained_cents=0, retained_later_cents=900, retained_day="2026-05-10")
    t = metrics.count([pause, cell("cancelled")], as_of="2026-04-01")
    assert [(m.currency, m.retained_cents, m.lost_cents) for m in t.money] == [("eur", 0, 0), ("usd", 0, 1000)]
    assert metrics.count([pause], as_of="2026-05-10").money[0].retained_cents == 900


def test_the_offer_funnel_leaves_repeats_out() -> None:
    cells = [
        cell("saved", offers_shown="pause,discount", offer_id="pause", verified=1),
        cell("cancelled", offers_shown="pause"),
        cell("kept", offers_shown="call", offer_id="call"),
        cell("saved", offers_shown="pause", offer_id="pause", repeat=True),
    ]
    funnel = {o.offer_id: (o.shown, o.accepted, o.verified) for o in metrics.offers_of(cells)}
    assert funnel == {"pause": (2, 1, 1), "discount": (1, 0, 0), "call": (1, 1, 0)}


def test_verified_counts_only_mature_decided_flows() -> None:
    now = datetime(2026, 4, 20, tzinfo=UTC)
    cutoff = metrics.maturity_cutoff(now, timedelta(days=30))
    cells = [cell("saved", verified=1), cell("cancelled"), cell("saved", finished_day="2026-04-19"), cell("abandoned")]
    v = metrics.verified_of(cells, cutoff)
    assert (v.mature_decided, v.mature_saved, v.verified, v.rate) == (2, 1, 1, 0.5)


def test_the_dashboard_structure() -> None:
    now = datetime(2026, 3, 11, tzinfo=UTC)
    filters = metrics.Filters(start=now.date(), end=now.date())
    board = metrics.dashboard_of(
        [cell("saved"), cell("cancelled", day="2026-03-11", reason="")], filters, bucket="day", now=now,
        verify_after=timedelta(days=30),
    )  # fmt: skip
    assert board.currencies == ("usd",) and board.as_of == "2026-03-11" and board.verify_days == 30
    assert [b.key for b in board.trend] == ["2026-03-10", "2026-03-11"]
    assert [dict(p.sessions) for p in board.reasons_over_time] == [
        {"too_expensive": 1, "": 0},
        {"too_expensive": 0, "": 1},
    ]
    assert sum(b.counts.sessions for b in board.by_reason) == board.totals.sessions == 2
