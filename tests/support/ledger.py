"""The ledger of what the test did (sessions, as driven) and the billing facts it applies after the flows."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flows.model import ReasonId
from offers.model import OfferId
from tests.support.random_sessions import DISCOUNT, DISCOUNT_MONTHS, PAUSE, PAUSE_MONTHS, TRIAL, PriceSpec, Walk


# ------------------------------------------------------------------------------------ the ledger
@dataclass
class Record:
    """What one session did, as the test drove it (never read back from the service)."""

    walk: Walk
    session_id: str
    segment: str
    arm: str
    holdout: bool
    repeat: bool  # the subscription was already set to cancel when this flow started
    started_at: datetime
    last_activity: datetime
    reason: ReasonId | None = None
    shown: list[OfferId] = field(default_factory=list)
    accepted: OfferId | None = None
    terminal: str | None = None  # saved | kept | cancelled | abandoned, when the walk ended it
    finished_at: datetime | None = None
    events: list[str] = field(default_factory=list)  # the event types this test sent, in order

    @property
    def price(self) -> PriceSpec:
        return self.walk.subscription.price

    @property
    def currency(self) -> str:
        return self.price.currency


@dataclass(frozen=True, slots=True)
class BillingFact:
    """Something billing did after the flows (the test applies it at the provider and sends the webhook)."""

    at: datetime
    subscription_id: str
    kind: str  # invoice_paid | payment_failed | cancel_effective | pause_resumed | discount_ended
    status: str = ""  # payment_failed: the status it left (past_due | unpaid)


@dataclass
class Ledger:
    records: list[Record] = field(default_factory=list)
    facts: list[BillingFact] = field(default_factory=list)

    def facts_of(self, subscription_id: str, until: datetime) -> list[BillingFact]:
        return [f for f in self.facts if f.subscription_id == subscription_id and f.at <= until]


# ------------------------------------------------------------------------------------ billing after the flows
def _add_months(moment: datetime, months: int) -> datetime:
    """Same day-of-month `months` later, clamped to the month's end (restated, not imported)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    last = (datetime(year + month // 12, month % 12 + 1, 1, tzinfo=moment.tzinfo) - timedelta(days=1)).day
    return moment.replace(year=year, month=month, day=min(moment.day, last))


def billing_facts(ledger: Ledger, rng: random.Random, *, horizon: datetime) -> list[BillingFact]:
    """What billing does to each counted subscription after its flow, up to `horizon`, oldest first.

    Cancellations take effect at period end. A save bills at its next invoice: period end for a
    downgrade or discount, the resumption for a pause (PAUSE_MONTHS after the start), the end of the
    extended trial; that invoice is paid or fails (past_due or unpaid), unless the customer cancelled
    outside the flow before. Discounts end after DISCOUNT_MONTHS. A status never changes back.
    """
    facts: list[BillingFact] = []
    for r in ledger.records:
        if r.walk.test_mode or r.repeat:
            continue
        sub = r.walk.subscription
        if r.terminal == "cancelled":
            facts.append(BillingFact(sub.period_end, sub.id, "cancel_effective"))
        if r.terminal != "saved":
            continue
        if r.accepted == PAUSE:
            invoice_at = _add_months(r.started_at, PAUSE_MONTHS)
            facts.append(BillingFact(invoice_at, sub.id, "pause_resumed"))
            invoice_at += timedelta(minutes=1)
        elif r.accepted == TRIAL:
            assert sub.trial_end is not None
            invoice_at = sub.trial_end + timedelta(days=14)
        else:
            invoice_at = sub.period_end
        if r.accepted == DISCOUNT:
            facts.append(BillingFact(_add_months(r.started_at, DISCOUNT_MONTHS), sub.id, "discount_ended"))
        draw = rng.random()
        then = r.walk.billing or (
            "cancelled" if draw < 0.1 else "paid" if draw < 0.8 else rng.choice(["past_due", "unpaid"])
        )
        if then == "cancelled":
            facts.append(BillingFact(r.started_at + timedelta(days=rng.randint(1, 20)), sub.id, "cancel_effective"))
        elif then == "paid":
            facts.append(BillingFact(invoice_at, sub.id, "invoice_paid"))
        else:
            facts.append(BillingFact(invoice_at, sub.id, "payment_failed", then))
    return sorted((f for f in facts if f.at <= horizon), key=lambda f: (f.at, f.subscription_id, f.kind))
