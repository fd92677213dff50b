"""Issue 23, item 8 (dashboard half): a test that cannot be fooled."""

# Randomised customers (USD and EUR, monthly and yearly, pro and team, trialing or paying, routed by
# segments, two experiments with a holdout arm) walk through the REAL use cases (`start_session`,
# `handle_event`) on the in-memory billing provider: saves by pause, downgrade, discount and trial
# extension, an accept billing refuses, training/contact and "Keep my subscription", cancels (after
# offers and by the cancel link), closes, walks left idle, repeat flows on subscriptions already set
# to cancel, test-mode sessions. A scripted tour walks every path once; the seed draws the rest.
#
# Then time passes on the FakeClock: the idle sweep times sessions out; billing renews, fails, cancels,
# resumes pauses and ends discounts (the provider's subscriptions changed through its public API and
# announced by signed Stripe webhooks to POST /webhooks/stripe); the verification poll runs. At each
# checkpoint every dashboard figure is compared with `tests.support.recount.recount`, which
# knows only what this test did (its ledger) and applies the definitions literally. All mismatches
# of a run are reported together. SQLite by default; Postgres with tests/support/with-postgres.sh.

from __future__ import annotations

from datetime import time, timedelta

import httpx
import pytest

from admin import queries
from offers import OfferId
from offers.providers.memory import InMemoryBillingProvider
from service.settings import Settings
from service.use_cases import sessions
from tests.conftest import FakeClock, make_settings
from tests.support import ledger as lg
from tests.support import random_sessions as rs
from tests.support import recount as rc
from tests.support.recount_checkpoints import WEBHOOK_SECRET, compare, pass_time, window
from tests.support.recount_harness import Harness, add_subscription, drive, holdout_of, segment_id, set_up, walk_all

SEEDS = (11, 23, 47)


@pytest.fixture(name="settings")
def fx_settings() -> Settings:
    return make_settings(stripe_webhook_secret=WEBHOOK_SECRET)


def assert_covered(h: Harness, seen: dict[str, rc.Figures]) -> None:
    """The run walked every path the comparison is meant to judge (else a seed could pass vacuously)."""
    records = h.ledger.records
    counted = [r for r in records if not r.walk.test_mode and not r.repeat]
    assert {r.walk.intent for r in records} == set(rs.Intent)
    assert {r.accepted for r in counted if r.terminal in ("saved", "kept")} - {None} == set(rs.ALL_OFFERS)
    assert {(r.currency, r.price.interval) for r in counted} == set(rs.AMOUNTS)
    assert {f"{r.started_at:%Y-%m-%d}" for r in counted} == set(seen["after the flows"].trend), "two UTC days"
    assert len(seen["after the flows"].trend) == 2
    assert any(r.holdout for r in counted) and any(r.walk.test_mode for r in records)
    assert any(r.walk.fail_first for r in counted)
    first, idle = seen["after the flows"].totals, seen["after the idle timeout"].totals
    assert first.open > 0 and idle.open == 0 and idle.abandoned > first.abandoned, "idle walks time out"
    assert all(len(f.totals.money) == 2 for f in seen.values()), "both currencies carry money"
    day33, day75, day110 = seen["day 33"], seen["day 75"], seen["day 110"]
    assert day33.verified.verified > 0 and day33.verified.lapsed > 0
    assert day33.verified.verified < day33.verified.mature_saved, "some saves are not verified"
    assert any(f.kind == "payment_failed" and f.status == "past_due" for f in h.ledger.facts)
    assert day75.offers[rs.PAUSE].verified > day33.offers[rs.PAUSE].verified == 0, "a pause bills after resuming"
    for a, b in ((day33, day75), (day75, day110)):
        assert any(a.totals.money[c].retained < b.totals.money[c].retained for c in a.totals.money)


# ------------------------------------------------------------------------------------ the test
@pytest.mark.parametrize("seed", SEEDS)
async def test_dashboard_matches_an_independent_recount(
    client: httpx.AsyncClient, billing: InMemoryBillingProvider, clock: FakeClock, settings: Settings, seed: int
) -> None:
    # Starting at 22:30 UTC, the walks cross midnight: day buckets and the date window are exercised.
    h = await set_up(seed, client, billing, clock, settings, start=time(22, 30))
    await walk_all(h)

    # 1. Right after the flows: the main batch's idle walks time out, the fresh batch's stay open.
    await sessions.abandon_idle_sessions(idle_after=h.idle_after, billing=billing, clock=clock)
    seen = {"after the flows": await compare(h, "after the flows")}
    for where in (
        rc.Filter(plan="pro"),
        rc.Filter(interval="year"),
        rc.Filter(segment=segment_id(rs.flow_key("eur", "month"))),
        rc.Filter(arm="hold"),
        rc.Filter(day=f"{h.start + timedelta(days=1):%Y-%m-%d}"),
    ):
        await compare(h, f"after the flows, {where}", where)
    await compare(h, "after the flows, test sessions included", include_test=True)

    # 2. Past the idle timeout: nothing is open any more.
    clock.advance(minutes=40)
    await sessions.abandon_idle_sessions(idle_after=h.idle_after, billing=billing, clock=clock)
    seen["after the idle timeout"] = await compare(h, "after the idle timeout")

    # 3. Billing runs on: renewals, failed payments, cancellations taking effect, pauses resuming,
    # discounts ending; checked once every save is old enough to verify, at noon on the day the
    # tour's pause resumes (late that evening: billing has not resumed yet), and twice later.
    h.ledger.facts = lg.billing_facts(h.ledger, h.rng, horizon=h.start + timedelta(days=120))
    resumes = next(f.at for f in h.ledger.facts if f.kind == "pause_resumed")
    assert resumes.hour >= 22, resumes
    checkpoints = {
        "day 33": h.start + h.verify_after + timedelta(days=3),
        "the day a pause resumes, before it does": resumes.replace(hour=12, minute=0, second=0),
        "day 75": h.start + timedelta(days=75),
        "day 110": h.start + timedelta(days=110),
    }
    for label, at in checkpoints.items():
        await pass_time(h, at)
        seen[label] = await compare(h, label)
    assert_covered(h, seen)
    assert not h.mismatches, "\n".join(h.mismatches)


RETURNING: tuple[tuple[rs.Intent, OfferId | None, rs.Intent, OfferId | None], ...] = (
    # (first flow, offer it takes; second flow in the same billing period, offer it takes)
    (rs.Intent.CLOSE, None, rs.Intent.CANCEL, None),
    (rs.Intent.IDLE, None, rs.Intent.CANCEL_LINK, None),
    (rs.Intent.SAVE, rs.DISCOUNT, rs.Intent.CANCEL, None),
    (rs.Intent.KEEP_BUTTON, None, rs.Intent.SAVE, rs.PAUSE),
    (rs.Intent.SAVE, rs.PAUSE, rs.Intent.KEEP_OFFER, rs.CONTACT),
)


async def test_a_subscription_counts_at_most_once_per_billing_period(
    client: httpx.AsyncClient, billing: InMemoryBillingProvider, clock: FakeClock, settings: Settings
) -> None:
    """Customers who come back within the period (after closing, idling, a save or a keep) count once: as
    their strongest outcome (cancelled, saved, kept, abandoned), with one list price per subscription."""
    h = await set_up(5, client, billing, clock, settings, start=time(9, 0))
    subs: list[rs.Subscription] = []
    for first, first_offer, second, second_offer in RETURNING:
        sub = h.gen.subscription(trialing=False)
        while holdout_of(h, sub):
            sub = h.gen.subscription(trialing=False)
        add_subscription(h, sub)
        subs.append(sub)
        stop = "survey" if first in (rs.Intent.CLOSE, rs.Intent.IDLE) else ""
        await drive(h, h.gen.planned(sub, first, first_offer, stop_at=stop, reason=None if first_offer else rs.OTHER))
        clock.advance(minutes=40)
        await sessions.abandon_idle_sessions(idle_after=h.idle_after, billing=billing, clock=clock)
        # "Other" leads to no offer: the second walk never meets the eligibility history of the first.
        await drive(h, h.gen.planned(sub, second, second_offer, reason=None if second_offer else rs.OTHER))
    assert [r.terminal for r in h.ledger.records] == [
        "abandoned", "cancelled", None, "cancelled", "saved", "cancelled", "kept", "saved", "saved", "kept"
    ]  # fmt: skip
    board = await queries.dashboard(window(h), bucket="day", now=clock(), verify_after=h.verify_after)
    totals = board.totals
    # close → cancel, idle → cancel link, discount → cancel: cancelled; keep → pause, pause → contact: saved.
    assert (totals.cancelled, totals.saved, totals.kept, totals.abandoned, totals.open) == (3, 2, 0, 0, 0)
    assert totals.repeat == len(RETURNING) and totals.sessions == 2 * len(RETURNING)
    for money in totals.money:
        listed = sum(s.price.monthly_cents for s in subs if s.price.currency == money.currency)
        lost = sum(s.price.monthly_cents for s in subs[:3] if s.price.currency == money.currency)
        saved = sum(s.price.monthly_cents for s in subs[3:] if s.price.currency == money.currency)
        assert (money.at_risk_cents, money.lost_cents, money.saved_list_cents) == (listed, lost, saved), money.currency
