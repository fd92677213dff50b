"""Every dashboard metric on crafted sessions with known answers, walked through the real use cases."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
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
from flows.events import Kept
from offers import OfferId, SubscriptionSnapshot, SubscriptionStatus
from offers.model import REACTIVATE
from offers.providers.memory import InMemoryBillingProvider
from service import demo
from service.db.tables import FlowSession
from service.security import EmbedClaims
from service.settings import Settings
from service.use_cases import sessions
from service.use_cases.webhooks import reconcile_subscription, verify_due_saves
from tests.conftest import FakeClock
from tests.integration.widget_client import start

PAUSE, DOWNGRADE, DISCOUNT = OfferId("pause-2-months"), OfferId("downgrade-starter"), OfferId("discount-30-3-months")
TRAINING, TRIAL = OfferId("training-call"), OfferId("extend-trial-14-days")
MONTH = timedelta(days=30)


async def walk(
    billing: InMemoryBillingProvider, clock: FakeClock, customer: str, *script: str, test: bool = False
) -> str:
    subscription = customer.replace("cus_", "sub_")
    claims = EmbedClaims(sub=customer, subscription_id=subscription, jti=secrets.token_hex(8), exp=0, iat=0, test=test)
    sid = (await sessions.start_session(claims, billing=billing, clock=clock)).session.id
    reason = {"expensive": "too_expensive", "competitor": "competitor", "no-value": "no_value", "unused": "not_using"}
    offer = {"pause": PAUSE, "downgrade": DOWNGRADE, "discount": DISCOUNT, "training": TRAINING, "trial": TRIAL}
    events: dict[str, Callable[[], Event]] = {
        "continue": lambda: Continued(at=clock()),
        "cancel": lambda: CancelRequested(at=clock()),
        "confirm": lambda: CancelConfirmed(at=clock()),
        "close": lambda: Closed(at=clock()),
        "keep": lambda: Kept(at=clock()),
        "reactivate": lambda: OfferAccepted(at=clock(), offer_id=REACTIVATE.id),
    }
    for step in script:
        verb, _, what = step.partition(":")
        if verb == "reason":
            event: Event = ReasonChosen(at=clock(), reason=ReasonId(reason[what]))
        elif verb == "accept":
            event = OfferAccepted(at=clock(), offer_id=offer[what])
        elif verb == "decline":
            event = OfferDeclined(at=clock(), offer_id=offer[what])
        else:
            event = events[step]()
        await sessions.handle_event(sid, event, billing=billing, clock=clock)
    return sid


def add_subscription(billing: InMemoryBillingProvider, clock: FakeClock, customer: str, **changes: object) -> None:
    base = demo.subscription_of(demo.customer("cus_demo_ada"), clock())
    billing.add_subscription(
        dataclasses.replace(base, id=customer.replace("cus_", "sub_"), customer_id=customer, **changes)  # type: ignore[arg-type]
    )


@pytest.fixture(name="crafted")
async def fx_crafted(app: Litestar, billing: InMemoryBillingProvider, clock: FakeClock) -> dict[str, str]:
    add_subscription(billing, clock, "cus_extra")
    add_subscription(billing, clock, "cus_open")
    return {
        "saved": await walk(billing, clock, "cus_demo_ada", "continue", "reason:expensive", "accept:pause"),
        "cancelled": await walk(
            billing, clock, "cus_demo_grace", "continue", "reason:expensive", "decline:pause",
            "confirm",
        ),
        "abandoned": await walk(billing, clock, "cus_demo_linus", "continue", "reason:competitor", "close"),
        "open": await walk(billing, clock, "cus_open", "continue"),
        "test": await walk(billing, clock, "cus_extra", "continue", "reason:expensive", "accept:pause", test=True),
    }  # fmt: skip


def window(clock: FakeClock, **kwargs: object) -> metrics.Filters:
    today = clock().date()
    return metrics.Filters(start=today - timedelta(days=1), end=today + timedelta(days=1), **kwargs)  # type: ignore[arg-type]


async def board(clock: FakeClock, now: datetime | None = None, **kwargs: object) -> metrics.Dashboard:
    return await queries.dashboard(
        window(clock, **kwargs), bucket="day", now=now or clock(), verify_after=timedelta(days=30)
    )


async def test_outcomes_add_up_and_rates_leave_abandons_out(crafted: dict[str, str], clock: FakeClock) -> None:
    t = (await board(clock)).totals
    assert (t.sessions, t.saved, t.kept, t.cancelled, t.abandoned, t.open, t.repeat) == (4, 1, 0, 1, 1, 1, 0)
    assert t.sessions == t.saved + t.kept + t.cancelled + t.abandoned + t.open + t.repeat
    assert t.save_rate == 0.5  # 1 saved ÷ (1 saved + 1 cancelled): abandons are not "saves"
    (usd,) = t.money
    assert (usd.currency, usd.at_risk_cents, usd.saved_list_cents, usd.lost_cents) == ("usd", 14800, 4900, 9900)
    assert usd.retained_cents == 0  # a pause pays nothing until billing resumes


async def test_a_pause_counts_its_price_once_billing_resumes(crafted: dict[str, str], clock: FakeClock) -> None:
    assert (await board(clock, clock() + MONTH)).totals.money[0].retained_cents == 0
    assert (await board(clock, clock() + 3 * MONTH)).totals.money[0].retained_cents == 4900


async def test_test_mode_is_excluded_unless_asked_for(crafted: dict[str, str], clock: FakeClock) -> None:
    with_tests = (await board(clock, include_test=True)).totals
    assert (with_tests.sessions, with_tests.saved) == (5, 2)


async def test_filters_narrow_every_figure(crafted: dict[str, str], clock: FakeClock) -> None:
    team = metrics.count(await queries.cells(window(clock, plan="price_team_monthly")))
    assert (team.sessions, team.cancelled) == (1, 1)
    today = clock().date()
    assert metrics.count(await queries.cells(metrics.Filters(start=today - timedelta(days=9), end=today))).sessions == 0
    assert metrics.count(await queries.cells(window(clock, interval="year"))).sessions == 0


async def test_reason_rows_add_up_to_the_totals(crafted: dict[str, str], clock: FakeClock) -> None:
    result = await board(clock)
    by_reason = {b.key: b.counts for b in result.by_reason}
    assert (by_reason["too_expensive"].saved, by_reason["too_expensive"].cancelled) == (1, 1)
    assert by_reason["competitor"].abandoned == 1
    assert by_reason[""].open == 1  # no reason given yet
    for name in ("sessions", "saved", "kept", "cancelled", "abandoned", "open", "repeat"):
        assert sum(getattr(b.counts, name) for b in result.by_reason) == getattr(result.totals, name), name
    (day,) = result.trend
    assert (day.key, day.counts.sessions, day.counts.saved) == (f"{clock():%Y-%m-%d}", 4, 1)
    (period,) = result.reasons_over_time
    assert dict(period.sessions) == {"too_expensive": 2, "competitor": 1, "": 1}


async def test_the_offer_funnel_counts_shown_accepted_and_verified(crafted: dict[str, str], clock: FakeClock) -> None:
    offers = {o.offer_id: o for o in (await board(clock)).offers}
    assert (offers[PAUSE].shown, offers[PAUSE].accepted, offers[PAUSE].accept_rate) == (2, 1, 0.5)
    assert (offers[DOWNGRADE].shown, offers[DOWNGRADE].accepted) == (3, 0)  # a card in every flow that saw offers
    assert offers[DISCOUNT].shown == 1  # the abandoned competitor flow saw it


async def test_step_funnel_counts_sessions_reaching_each_step(crafted: dict[str, str], clock: FakeClock) -> None:
    funnel = dict((await board(clock)).funnel)
    assert funnel["Opened the flow"] == 4
    assert funnel["Went past what they would lose"] == 4
    assert funnel["Gave a reason"] == 3
    assert funnel["Answered an offer"] == 2
    assert funnel["Accepted an offer"] == 1
    assert funnel["Confirmed the cancellation"] == 1


async def test_keeping_and_a_no_billing_offer_are_kept_not_saved(
    app: Litestar, billing: InMemoryBillingProvider, clock: FakeClock
) -> None:
    await walk(billing, clock, "cus_demo_ada", "keep")
    trained = await walk(billing, clock, "cus_demo_grace", "continue", "reason:no-value", "accept:training")
    assert (await FlowSession.select(FlowSession.outcome).where(FlowSession.id == trained).first() or {}).get(
        "outcome"
    ) == "kept"
    result = await board(clock)
    t = result.totals
    assert (t.saved, t.kept, t.abandoned, t.save_rate, t.retention_rate) == (0, 2, 0, 0.0, 1.0)
    assert t.money[0].retained_cents == 0  # a call changes no billing: it retains nothing by itself
    assert t.money[0].kept_cents == 4900 + 9900
    training = next(o for o in result.offers if o.offer_id == TRAINING)
    assert (training.shown, training.accepted, training.verified) == (1, 1, 0)


async def test_idle_sessions_time_out_as_abandoned(
    app: Litestar, billing: InMemoryBillingProvider, clock: FakeClock
) -> None:
    idle = await walk(billing, clock, "cus_demo_ada", "continue")
    clock.advance(minutes=20)
    busy = await walk(billing, clock, "cus_demo_grace", "continue")
    clock.advance(minutes=11)
    assert await sessions.abandon_idle_sessions(idle_after=timedelta(minutes=30), billing=billing, clock=clock) == 1
    outcomes = {r["id"]: r["outcome"] for r in await FlowSession.select(FlowSession.id, FlowSession.outcome)}
    assert outcomes == {idle: "abandoned", busy: None}
    events = [type(e).__name__ for e in (await sessions.session_history(idle))[1]]
    assert events[-1] == "TimedOut"


async def test_a_flow_for_a_subscription_already_cancelling_is_a_repeat(
    app: Litestar, billing: InMemoryBillingProvider, clock: FakeClock
) -> None:
    await walk(billing, clock, "cus_demo_grace", "continue", "reason:expensive", "decline:pause", "confirm")
    assert billing.subscriptions["sub_demo_grace"].cancel_at_period_end
    await walk(billing, clock, "cus_demo_grace", "close")  # back, and offered to keep it: left it to end
    t = (await board(clock)).totals
    assert (t.sessions, t.cancelled, t.repeat, t.reactivated) == (2, 1, 1, 0)
    assert t.money[0].lost_cents == 9900  # lost once, not twice
    # Back once more, and this time kept it: billing undoes the cancellation, a figure of its own.
    await walk(billing, clock, "cus_demo_grace", "reactivate")
    renewed = billing.subscriptions["sub_demo_grace"]
    assert not renewed.cancel_at_period_end
    t = (await board(clock)).totals
    assert (t.sessions, t.cancelled, t.repeat, t.reactivated) == (3, 1, 1, 1)
    assert (t.money[0].lost_cents, t.money[0].reactivated_cents) == (9900, 9900)


async def test_a_cancel_undone_on_its_done_screen_counts_as_a_reactivation_and_loses_nothing(
    app: Litestar, billing: InMemoryBillingProvider, clock: FakeClock
) -> None:
    """ "Changed your mind?" on the done screen: one flow cancelled, then kept the subscription (billing undid
    the cancel). It counts as a reactivation, as a returning customer's does; no MRR was lost, since nothing
    ends. The funnel still shows the cancellation it confirmed."""
    script = ("continue", "reason:expensive", "decline:pause", "confirm", "reactivate")
    await walk(billing, clock, "cus_demo_grace", *script)
    assert not billing.subscriptions["sub_demo_grace"].cancel_at_period_end
    board_now = await board(clock)
    t = board_now.totals
    assert (t.sessions, t.cancelled, t.reactivated, t.repeat) == (1, 0, 1, 0)
    assert (t.money[0].lost_cents, t.money[0].reactivated_cents) == (0, 9900)
    assert dict(board_now.funnel)["Confirmed the cancellation"] == 1


async def test_money_is_monthly_per_currency_and_net_of_the_offer(
    app: Litestar, billing: InMemoryBillingProvider, clock: FakeClock
) -> None:
    add_subscription(billing, clock, "cus_eur", currency="eur", interval="year", amount_cents=120_000)
    await walk(billing, clock, "cus_eur", "continue", "reason:competitor", "accept:discount")
    await walk(billing, clock, "cus_demo_ada", "continue", "reason:expensive", "accept:downgrade")
    money = {m.currency: m for m in (await board(clock)).totals.money}
    assert set(money) == {"eur", "usd"}  # never summed across currencies
    assert (money["eur"].at_risk_cents, money["eur"].retained_cents) == (10_000, 7_000)  # yearly ÷ 12, 30 % off
    assert (money["usd"].at_risk_cents, money["usd"].retained_cents) == (4900, 1900)  # the downgrade's new price
    later = {m.currency: m for m in (await board(clock, clock() + 4 * MONTH)).totals.money}
    assert later["eur"].retained_cents == 10_000  # the discount has run out


async def test_a_trial_extension_counts_nothing_until_the_first_paid_invoice(
    app: Litestar, billing: InMemoryBillingProvider, clock: FakeClock
) -> None:
    sid = await walk(billing, clock, "cus_demo_linus", "continue", "reason:unused", "accept:trial")
    assert (await board(clock)).totals.money[0].retained_cents == 0
    clock.advance(days=20)
    paid = dataclasses.replace(billing.subscriptions["sub_demo_linus"], last_paid_at=clock())
    await reconcile_subscription(paid, now=clock(), verify_after=timedelta(days=30))
    row = await FlowSession.select(FlowSession.paid_at, FlowSession.retained_from).where(FlowSession.id == sid).first()
    assert row is not None and row["paid_at"] == row["retained_from"] == clock()
    paid_day = clock().date()
    result = await queries.dashboard(
        metrics.Filters(start=paid_day - timedelta(days=21), end=paid_day),
        bucket="day",
        now=clock(),
        verify_after=MONTH,
    )
    assert result.totals.money[0].retained_cents == 0  # paid during the day: it counts from the next full day
    next_day = await queries.dashboard(
        metrics.Filters(start=paid_day - timedelta(days=21), end=paid_day + timedelta(days=1)),
        bucket="day",
        now=clock() + timedelta(days=1),
        verify_after=MONTH,
    )
    assert next_day.totals.money[0].retained_cents == 4900


def _paying(snapshot: SubscriptionSnapshot, **changes: object) -> SubscriptionSnapshot:
    return dataclasses.replace(snapshot, status=SubscriptionStatus.ACTIVE, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "paid", "verified"),
    [
        (SubscriptionStatus.ACTIVE, True, True),
        (SubscriptionStatus.ACTIVE, False, False),  # no paid invoice since the save
        (SubscriptionStatus.PAST_DUE, True, False),
    ],
)
async def test_a_verified_save_needs_a_paid_invoice_and_an_active_subscription(
    app: Litestar,
    billing: InMemoryBillingProvider,
    clock: FakeClock,
    status: SubscriptionStatus,
    paid: bool,
    verified: bool,
) -> None:
    saved_at = clock()
    await walk(billing, clock, "cus_demo_ada", "continue", "reason:expensive", "accept:downgrade")
    clock.advance(days=31)
    snapshot = billing.subscriptions["sub_demo_ada"]
    changes: dict[str, object] = {"last_paid_at": saved_at + timedelta(days=1)} if paid else {}
    billing.subscriptions["sub_demo_ada"] = dataclasses.replace(_paying(snapshot, **changes), status=status)
    await verify_due_saves(billing=billing, clock=clock, verify_after=timedelta(days=30))
    result = await queries.dashboard(
        metrics.Filters(start=saved_at.date(), end=saved_at.date() + timedelta(days=1)),
        bucket="day",
        now=clock(),
        verify_after=timedelta(days=30),
    )
    assert (result.verified.mature_decided, result.verified.verified) == (1, int(verified))
    assert next(o for o in result.offers if o.offer_id == DOWNGRADE).verified == int(verified)


@pytest.mark.parametrize("htmx", [True, False])
async def test_the_widgets_keep_button_records_kept_not_abandoned(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, htmx: bool
) -> None:
    first, flow = await start(client, settings, clock)
    assert f'action="/w/s/{flow.session_id}/keep?flow_token=' in first.text
    assert 'data-keep-url="http' in first.text  # what the host page posts when the embedded widget closes
    response = await flow.post("keep", htmx=htmx)
    assert response.status_code in (200, 303)
    row = await FlowSession.select(FlowSession.outcome).where(FlowSession.id == flow.session_id).first()
    assert row == {"outcome": "kept"}
    if htmx:
        assert '"outcome":"kept"' in response.headers.get("hx-trigger-after-settle", "").replace(" ", "")
