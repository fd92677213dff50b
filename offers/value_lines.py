"""What an offer card promises in money and dates: the facts behind its value line, before any wording.

Rules: standard library and `offers.model` / `offers.apply` / `offers.ports` only; pure. Prices stay per the
subscription's own billing interval (a yearly price is never shown as a monthly one), so a card states what
the customer will actually be charged. The shell words these facts in the customer's language and formats
money and dates for their locale. Dates count from the session start, as the applied offer does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from offers.apply import add_months, extended_until, pause_resumes_at, pause_starts_at, trial_end_after_extension
from offers.model import DiscountOffer, DowngradeOffer, ExtendPauseOffer, Offer, PauseOffer, TrialExtensionOffer

if TYPE_CHECKING:
    from offers.ports import SubscriptionSnapshot


class ValueKind(StrEnum):
    PRICE_CHANGE = "price_change"  # a cheaper plan: `before` → `after`, from `until` when it waits for renewal
    DISCOUNT = "discount"  # `before` → `after` for `months` months, i.e. on `invoices` invoices (ending `until`)
    NO_CHARGE_UNTIL = "no_charge_until"  # a pause: nothing billed until `until`, then `before` again
    FREE_UNTIL = "free_until"  # a longer trial: free until `until`, then `before`
    NO_CHANGE = "no_change"  # a call or training: free, and the price stays `before`


@dataclass(frozen=True, slots=True)
class Price:
    """An amount charged once every `interval_count` `interval`s, in minor units of `currency`."""

    cents: int
    currency: str
    interval: str
    interval_count: int = 1

    @property
    def monthly(self) -> bool:
        return self.interval == "month" and self.interval_count == 1


@dataclass(frozen=True, slots=True)
class ValueLine:
    kind: ValueKind
    before: Price  # what the customer pays today
    after: Price | None = None  # what they pay with the offer (price changes and discounts)
    until: datetime | None = None
    months: int | None = None
    invoices: int | None = None
    paid_until: datetime | None = None  # a pause from the period end: the paid period runs to here first
    choices: tuple[datetime, ...] = ()  # a pause with several lengths: when billing resumes after each


def _next_invoice(moment: datetime, price: Price) -> datetime:
    count = max(price.interval_count, 1)
    if price.interval == "year":
        return add_months(moment, 12 * count)
    if price.interval == "week":
        return moment + timedelta(weeks=count)
    if price.interval == "day":
        return moment + timedelta(days=count)
    return add_months(moment, count)


def discounted_invoices(price: Price, first_invoice: datetime, ends: datetime, *, limit: int = 400) -> int:
    """How many invoices, the first at `first_invoice` and one per billing period after it, fall before `ends`
    (a coupon that lasts some months discounts the invoices issued in those months: Stripe's `repeating`)."""
    count, moment = 0, first_invoice
    while moment < ends and count < limit:
        count, moment = count + 1, _next_invoice(moment, price)
    return count


def value_line(offer: Offer, snapshot: SubscriptionSnapshot, *, started_at: datetime) -> ValueLine:
    """The concrete promise of `offer` for the subscription in `snapshot`: what is charged, and until when.

    - downgrade: the new plan's price (same currency and interval), from the period end when it waits for it;
    - discount: the discounted price while the coupon lasts (the discount itself is rounded to the cent);
    - pause: nothing until billing resumes; trial extension: free until the new trial end;
    - training / contact: free, nothing in billing changes.
    """
    before = Price(snapshot.amount_cents, snapshot.currency, snapshot.interval, snapshot.interval_count)
    if isinstance(offer, DowngradeOffer):
        after = Price(offer.amount_cents, snapshot.currency, snapshot.interval, snapshot.interval_count)
        starts = snapshot.current_period_end if offer.at_period_end else None
        return ValueLine(ValueKind.PRICE_CHANGE, before, after, until=starts)
    if isinstance(offer, DiscountOffer):
        off = round(snapshot.amount_cents * offer.percent_off / 100)
        after = Price(snapshot.amount_cents - off, snapshot.currency, snapshot.interval, snapshot.interval_count)
        ends = add_months(started_at, offer.duration_months)
        first = max(snapshot.current_period_end, started_at)
        invoices = discounted_invoices(before, first, ends)
        return ValueLine(ValueKind.DISCOUNT, before, after, until=ends, months=offer.duration_months, invoices=invoices)
    if isinstance(offer, PauseOffer):
        # `until` is for the first (preselected) length; `choices` name every length's date when there are several.
        starts = pause_starts_at(offer, snapshot, started_at)
        dates = tuple(pause_resumes_at(offer, snapshot, started_at, length) for length in offer.lengths)
        return ValueLine(
            ValueKind.NO_CHARGE_UNTIL,
            before,
            until=dates[0],
            paid_until=starts if starts > started_at else None,
            choices=dates if len(dates) > 1 else (),
        )
    if isinstance(offer, ExtendPauseOffer):
        return ValueLine(ValueKind.NO_CHARGE_UNTIL, before, until=extended_until(offer, snapshot, started_at))
    if isinstance(offer, TrialExtensionOffer):
        return ValueLine(ValueKind.FREE_UNTIL, before, until=trial_end_after_extension(offer, snapshot, started_at))
    return ValueLine(ValueKind.NO_CHANGE, before)  # TrainingOffer: nothing in billing changes
