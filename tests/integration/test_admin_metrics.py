"""Every dashboard metric on a crafted set of sessions with known answers (SQLite and Postgres)."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable
from datetime import timedelta

import pytest
from litestar import Litestar

from admin import metrics, queries
from flows import (
    CancelConfirmed,
    CancelRequested,
    Closed,
    Continued,
    Event,
    OfferAccepted,
    OfferDeclined,
    ReasonChosen,
    ReasonId,
)
from offers import OfferId
from offers.providers.memory import InMemoryBillingProvider
from service import demo
from service.db.tables import FlowSession
from service.security import EmbedClaims
from service.use_cases import sessions
from tests.conftest import FakeClock

PAUSE, DOWNGRADE = OfferId("pause-2-months"), OfferId("downgrade-starter")


async def walk(
    billing: InMemoryBillingProvider, clock: FakeClock, customer: str, *script: str, test: bool = False
) -> str:
    subscription = customer.replace("cus_", "sub_")
    claims = EmbedClaims(sub=customer, subscription_id=subscription, jti=secrets.token_hex(8), exp=0, iat=0, test=test)
    sid = (await sessions.start_session(claims, billing=billing, clock=clock)).session.id
    events: dict[str, Callable[[], Event]] = {
        "continue": lambda: Continued(at=clock()),
        "expensive": lambda: ReasonChosen(at=clock(), reason=ReasonId("too_expensive")),
        "competitor": lambda: ReasonChosen(at=clock(), reason=ReasonId("competitor")),
        "accept-pause": lambda: OfferAccepted(at=clock(), offer_id=PAUSE),
        "decline-pause": lambda: OfferDeclined(at=clock(), offer_id=PAUSE),
        "decline-downgrade": lambda: OfferDeclined(at=clock(), offer_id=DOWNGRADE),
        "cancel": lambda: CancelRequested(at=clock()),
        "confirm": lambda: CancelConfirmed(at=clock()),
        "close": lambda: Closed(at=clock()),
    }
    for step in script:
        await sessions.handle_event(sid, events[step](), billing=billing, clock=clock)
    return sid


@pytest.fixture(name="crafted")
async def fx_crafted(app: Litestar, billing: InMemoryBillingProvider, clock: FakeClock) -> dict[str, str]:
    extra = demo.subscription_of(demo.customer("cus_demo_ada"), clock())
    billing.add_subscription(dataclasses.replace(extra, id="sub_extra", customer_id="cus_extra"))
    return {
        "saved": await walk(billing, clock, "cus_demo_ada", "continue", "expensive", "accept-pause"),
        "cancelled": await walk(
            billing, clock, "cus_demo_grace", "continue", "expensive", "decline-pause", "decline-downgrade", "confirm"
        ),
        "abandoned": await walk(billing, clock, "cus_demo_linus", "continue", "competitor", "close"),
        "open": await walk(billing, clock, "cus_demo_linus", "continue"),
        "test": await walk(billing, clock, "cus_extra", "continue", "expensive", "accept-pause", test=True),
    }


def window(clock: FakeClock, **kwargs: object) -> metrics.Filters:
    today = clock().date()
    return metrics.Filters(start=today - timedelta(days=1), end=today + timedelta(days=1), **kwargs)  # type: ignore[arg-type]


async def test_totals_rates_and_money(crafted: dict[str, str], clock: FakeClock) -> None:
    totals = metrics.count(await queries.cells(window(clock)))
    assert (totals.sessions, totals.saved, totals.cancelled, totals.abandoned, totals.open) == (4, 1, 1, 1, 1)
    assert totals.save_rate == 0.5  # 1 saved ÷ (1 saved + 1 cancelled): abandons are not "saves"
    assert totals.deflection_rate == pytest.approx(2 / 3)
    assert (totals.mrr_saved_cents, totals.mrr_lost_cents) == (4900, 9900)


async def test_test_mode_is_excluded_unless_asked_for(crafted: dict[str, str], clock: FakeClock) -> None:
    with_tests = metrics.count(await queries.cells(window(clock, include_test=True)))
    assert (with_tests.sessions, with_tests.saved) == (5, 2)


async def test_filters_narrow_every_figure(crafted: dict[str, str], clock: FakeClock) -> None:
    # no plan attribute: the plan is the price id
    team = metrics.count(await queries.cells(window(clock, plan="price_team_monthly")))
    assert (team.sessions, team.cancelled) == (1, 1)
    today = clock().date()
    before = metrics.count(await queries.cells(metrics.Filters(start=today - timedelta(days=9), end=today)))
    assert before.sessions == 0


async def test_breakdowns_by_reason_offer_and_trend(crafted: dict[str, str], clock: FakeClock) -> None:
    by_reason = {b.key: b.counts for b in metrics.breakdown_of(await queries.cells(window(clock)), "reason")}
    assert (by_reason["too_expensive"].saved, by_reason["too_expensive"].cancelled) == (1, 1)
    assert by_reason["competitor"].abandoned == 1
    assert by_reason[""].open == 1  # no reason given yet
    by_offer = {
        b.key: b.counts.saved
        for b in metrics.breakdown_of(await queries.cells(window(clock)), "offer_kind", saved_only=True)
    }
    assert by_offer == {"pause": 1}
    (day,) = metrics.trend_of(await queries.cells(window(clock)), "day")
    assert (day.key, day.counts.sessions, day.counts.saved) == (f"{clock():%Y-%m-%d}", 4, 1)


async def test_funnel_counts_sessions_reaching_each_step(crafted: dict[str, str], clock: FakeClock) -> None:
    funnel = dict(metrics.funnel_of(await queries.cells(window(clock))))
    assert funnel["Opened the flow"] == 4
    assert funnel["Went past what they would lose"] == 4
    assert funnel["Gave a reason"] == 3
    assert funnel["Answered an offer"] == 2
    assert funnel["Accepted an offer"] == 1
    assert funnel["Confirmed the cancellation"] == 1


async def test_verified_rate_counts_only_mature_sessions(crafted: dict[str, str], clock: FakeClock) -> None:
    young = metrics.verified_of(
        await queries.cells(window(clock)), metrics.maturity_cutoff(clock(), timedelta(days=30))
    )
    assert young.mature_decided == 0 and young.rate is None  # too early to say: not 0 %
    await FlowSession.update({FlowSession.verified_at: clock()}).where(FlowSession.id == crafted["saved"])
    later = clock() + timedelta(days=31)
    mature = metrics.verified_of(await queries.cells(window(clock)), metrics.maturity_cutoff(later, timedelta(days=30)))
    assert (mature.mature_decided, mature.verified, mature.rate) == (2, 1, 0.5)


async def test_interval_filter_uses_the_subscription_billing_interval(
    crafted: dict[str, str], clock: FakeClock
) -> None:
    monthly = metrics.count(await queries.cells(window(clock, interval="month")))
    assert monthly.sessions == 4  # the demo subscriptions are all billed monthly
    assert metrics.count(await queries.cells(window(clock, interval="year"))).sessions == 0


async def test_holdout_compares_cancel_rates_within_the_same_experiments(
    crafted: dict[str, str], clock: FakeClock
) -> None:
    assert metrics.holdout_of(await queries.cells(window(clock))) is None  # no experiment, no holdout figure
    held = (FlowSession.id == crafted["cancelled"]) | (FlowSession.id == crafted["abandoned"])
    await FlowSession.update(
        {FlowSession.experiment_id: "exp", FlowSession.arm_id: "holdout", FlowSession.holdout: True}
    ).where(held)
    await FlowSession.update({FlowSession.experiment_id: "exp", FlowSession.arm_id: "a"}).where(
        FlowSession.id == crafted["saved"]
    )
    result = metrics.holdout_of(await queries.cells(window(clock)))
    assert result is not None
    assert (result.holdout.sessions, result.treated.sessions) == (2, 1)  # the open session is in no experiment
    assert (result.holdout_cancel_rate, result.treated_cancel_rate) == (0.5, 0.0)
    assert result.prevented == 0.5
