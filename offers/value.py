"""What a subscription is worth per month, before and after an offer: the money behind every metric.

Rules: standard library and `offers.model` / `offers.apply` / `offers.ports` only; pure. Amounts are
integer minor units of the subscription's own currency; nothing here converts between currencies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from offers.apply import add_months, extended_until, pause_resumes_at
from offers.model import DiscountOffer, DowngradeOffer, ExtendPauseOffer, Offer, PauseOffer, TrialExtensionOffer
from offers.ports import SubscriptionSnapshot, SubscriptionStatus

# How many of each billing interval make a month (a year is 1/12 of a month's worth per month, etc.).
_PER_MONTH = {"day": 365 / 12, "week": 52 / 12, "month": 1.0, "year": 1 / 12}


def monthly_cents(amount_cents: int, interval: str, interval_count: int = 1) -> int:
    """The monthly equivalent of a price billed once every `interval_count` `interval`s (yearly ÷ 12,
    quarterly ÷ 3), rounded to the cent."""
    return round(amount_cents * _PER_MONTH.get(interval, 1.0) / max(interval_count, 1))


@dataclass(frozen=True, slots=True)
class Retained:
    """What the customer pays per month after an offer: `now_cents` until `later_from`, then `later_cents`.

    `later_from` None means "no change is scheduled": for a trial extension the change comes with the
    first paid invoice, which the shell records when billing reports it.
    """

    now_cents: int
    later_cents: int
    later_from: datetime | None = None


def retained_after(offer: Offer, snapshot: SubscriptionSnapshot, *, started_at: datetime) -> Retained:
    """Net monthly revenue kept by `offer`, from the session's frozen snapshot (offer dates count from the start).

    - downgrade: the new price (same currency and interval as the subscription);
    - discount: the discounted price while it lasts, then the list price;
    - pause: 0 until billing resumes, then the price it resumes at;
    - trial extension: 0 until the first paid invoice, then the price;
    - training / contact: no billing change, so the list price (a *kept* customer, not a save).
    """
    price = monthly_cents(snapshot.amount_cents, snapshot.interval, snapshot.interval_count)
    if isinstance(offer, DowngradeOffer):
        new = monthly_cents(offer.amount_cents, snapshot.interval, snapshot.interval_count)
        return Retained(new, new)
    if isinstance(offer, DiscountOffer):
        discounted = round(price * (100 - offer.percent_off) / 100)
        return Retained(discounted, price, add_months(started_at, offer.duration_months))
    if isinstance(offer, PauseOffer):  # `offer` as accepted: pinned to the chosen length (FlowDefinition.accepted)
        return Retained(0, price, pause_resumes_at(offer, snapshot, started_at))
    if isinstance(offer, ExtendPauseOffer):  # still nothing billed, now until the later date
        return Retained(0, price, extended_until(offer, snapshot, started_at))
    if isinstance(offer, TrialExtensionOffer):
        return Retained(0, price)
    return Retained(price, price)  # TrainingOffer: nothing in billing changes


def already_cancelling(snapshot: SubscriptionSnapshot) -> bool:
    """The subscription is set to end (or has ended) already: another flow for it is a *repeat*."""
    return snapshot.cancel_at_period_end or snapshot.status is SubscriptionStatus.CANCELED


@dataclass(frozen=True, slots=True)
class PeriodFlow:
    """One flow of a subscription in one billing period, as the count-once rule sees it."""

    id: str
    outcome: str | None  # saved, kept, cancelled, abandoned; None while open
    started_at: datetime
    cancelling_at_start: bool  # the subscription was already set to cancel when the flow began


# What a period's flows amount to, strongest first: a cancellation is what happened to the subscription
# whatever came before it; else a save (billing changed); else a keep; else a flow still being decided
# (it supersedes a closed widget: the customer came back); else a closed widget.
_STRENGTH = {"cancelled": 5, "saved": 4, "kept": 3, None: 2, "abandoned": 1}


def counted_flows(flows: list[PeriodFlow]) -> set[str]:
    """The flows of a billing period that count: the one `counted_flow` picks, plus every reactivation (a
    customer set to cancel who came back: a figure of its own, beside the cancellation it undid)."""
    picked = counted_flow([f for f in flows if f.outcome != "reactivated"])
    return {f.id for f in flows if f.outcome == "reactivated"} | ({picked} if picked else set())


def counted_flow(flows: list[PeriodFlow]) -> str | None:
    """The one flow of a subscription's billing period that counts; every other one is a *repeat*.

    The strongest outcome counts (cancelled, saved, kept, open, then abandoned), the latest among equals.
    A flow on a subscription already set to cancel never counts: its cancellation counted when it was
    made. None when no flow may count.
    """
    candidates = [f for f in flows if not f.cancelling_at_start]
    if not candidates:
        return None
    best = max(candidates, key=lambda f: (_STRENGTH.get(f.outcome, 0), f.started_at, f.id))
    return best.id
