"""The recount test's checkpoints: billing via signed Stripe webhooks, then the dashboard against the recount."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
from datetime import date, datetime, timedelta
from time import time as wall_clock
from typing import Any

from admin import metrics, queries
from offers import SubscriptionStatus
from offers.apply import add_months
from service.use_cases.webhooks import verify_due_saves
from tests.support import ledger as lg
from tests.support import recount as rc
from tests.support.recount_harness import Harness

# ------------------------------------------------------------------------------------ billing after the flows
WEBHOOK_SECRET = "whsec_recount"


def stripe_event(h: Harness, kind: str, obj: dict[str, Any]) -> tuple[bytes, str]:
    """A signed Stripe event (signed at the wall clock's time: Stripe's tolerance is checked against it)."""
    h.events += 1
    body = {
        "id": f"evt_rs_{h.seed}_{h.events:04d}",
        "object": "event",
        "type": kind,
        "created": int(h.clock().timestamp()),
        "data": {"object": obj},
        "api_version": "2026-10-28.endive",
    }
    payload = json.dumps(body).encode()
    stamp = int(wall_clock())
    digest = hmac.new(WEBHOOK_SECRET.encode(), f"{stamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return payload, f"t={stamp},v1={digest}"


async def apply_fact(h: Harness, fact: lg.BillingFact) -> None:
    """Change the subscription at the provider as billing would, then tell the service the way Stripe
    does: a signed webhook to POST /webhooks/stripe, which re-fetches and reconciles.

    A paid invoice reaches the service either as `invoice.paid` (its `paid_at` in the payload) or as
    the subscription's own `last_paid_at` with a `customer.subscription.updated`, chosen at random.
    """
    h.move_to(fact.at)
    snap = await h.billing.get_subscription(fact.subscription_id)
    changes: dict[str, Any]
    kind = "customer.subscription.updated"
    obj: dict[str, Any] = {"id": snap.id, "object": "subscription"}
    if fact.kind == "invoice_paid":
        months = 12 if snap.interval == "year" else 1
        changes = {"status": SubscriptionStatus.ACTIVE, "current_period_end": add_months(fact.at, months)}
        if h.rng.random() < 0.5:
            changes["last_paid_at"] = fact.at
        else:
            kind = "invoice.paid"
            obj = {
                "id": f"in_rs_{h.events}",
                "object": "invoice",
                "status": "paid",
                "status_transitions": {"paid_at": int(fact.at.timestamp())},
                "parent": {"subscription_details": {"subscription": snap.id}},
            }
    elif fact.kind == "payment_failed":
        changes = {"status": SubscriptionStatus(fact.status)}
    elif fact.kind == "cancel_effective":
        changes = {"status": SubscriptionStatus.CANCELED, "canceled_at": fact.at}
        kind = "customer.subscription.deleted"
    elif fact.kind == "pause_resumed":
        changes = {"paused_until": None}
    elif fact.kind == "discount_ended":
        changes = {"discount_coupon_ids": (), "discount_ids": ()}
    else:  # pragma: no cover - the generator makes no other kinds
        raise AssertionError(fact)
    h.billing.add_subscription(dataclasses.replace(snap, **changes))
    payload, signature = stripe_event(h, kind, obj)
    response = await h.client.post(
        "/webhooks/stripe", content=payload, headers={"Content-Type": "application/json", "Stripe-Signature": signature}
    )
    assert response.status_code == 200, (fact, response.text)


async def pass_time(h: Harness, until: datetime) -> None:
    for fact in [f for f in h.ledger.facts if h.clock() <= f.at <= until]:
        await apply_fact(h, fact)
    h.move_to(until)
    await verify_due_saves(billing=h.billing, clock=h.clock, verify_after=h.verify_after)


# ------------------------------------------------------------------------------------ comparing
def window(h: Harness, day: str = "") -> metrics.Filters:
    """Every session's start day (they cross one UTC midnight), or just `day`."""
    if day:
        first = date.fromisoformat(day)
        return metrics.Filters(start=first, end=first + timedelta(days=1))
    return metrics.Filters(start=h.start.date() - timedelta(days=1), end=h.start.date() + timedelta(days=3))


def _money(money: tuple[metrics.Money, ...]) -> dict[str, rc.MoneyRow]:
    return {
        m.currency: rc.MoneyRow(m.at_risk_cents, m.retained_cents, m.saved_list_cents, m.kept_cents, m.lost_cents)
        for m in money
    }


def _counts(c: metrics.Counts) -> rc.Counts:
    return rc.Counts(c.sessions, c.saved, c.kept, c.cancelled, c.abandoned, c.open, c.repeat, _money(c.money))


def observe(board: metrics.Dashboard) -> rc.Figures:
    """The dashboard's figures in the recount's terms (field names from admin.metrics)."""
    v = board.verified
    return rc.Figures(
        currencies=board.currencies,
        totals=_counts(board.totals),
        verified=rc.VerifiedRow(v.mature_decided, v.mature_saved, v.verified, v.lapsed),
        offers={o.offer_id: rc.OfferRow(o.shown, o.accepted, o.saved, o.verified) for o in board.offers},
        by_reason={b.key: _counts(b.counts) for b in board.by_reason},
        by_segment={b.key: _counts(b.counts) for b in board.by_segment},
        trend={b.key: _counts(b.counts) for b in board.trend},
        reasons_over_time={p.period: dict(p.sessions) for p in board.reasons_over_time},
        funnel=dict(board.funnel),
    )


async def compare(h: Harness, label: str, where: rc.Filter | None = None, *, include_test: bool = False) -> rc.Figures:
    """Compare the dashboard with the recount; a difference is recorded (every checkpoint still runs)."""
    where = where or rc.Filter()
    filters = dataclasses.replace(
        window(h, where.day),
        plan=where.plan,
        interval=where.interval,
        segment=where.segment,
        arm=where.arm,
        include_test=include_test,
    )
    board = await queries.dashboard(filters, bucket="day", now=h.clock(), verify_after=h.verify_after)
    expected = rc.recount(h.ledger, h.clock(), verify_after=h.verify_after, where=where, include_test=include_test)
    got = observe(board)
    if got != expected:
        h.mismatches.append(f"{label} (seed {h.seed}):{rc.diff(expected, got)}")
    return expected
