"""What the loss-aversion and done steps state concretely: loss tiles and the done screen's dates and prices.

Rules: presentation only, in the customer's language (Babel through service.i18n). Facts come from what
billing said where the session holds it (the frozen snapshot, the cancellation's effective date) and
otherwise from the pure facts the offer's card promised and its billing call carried (offers.value_lines,
counted from the session start like the applied offer), so the screen repeats what billing confirmed.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from flows import Outcome
from offers import DowngradeOffer, TrainingOffer
from offers.value_lines import Price, value_line
from service.http._offer_cards import price_text
from service.i18n import date_text, in_language, number_text, plural_category
from service.security import Loss
from service.use_cases.sessions import SessionView


@dataclass(frozen=True, slots=True)
class LossTile:
    """One tile of the loss-aversion step: the number (or the host's text) and its label."""

    value: str
    label: str


def loss_tiles(losses_json: str, locale: str) -> list[LossTile]:
    """The session's `losses` (stored as the token sent them) in `locale`: counts formatted by Babel, the
    label in the locale's language (else English, else the first given) and, for a count, its plural form."""
    tiles = []
    for loss in msgspec.json.decode(losses_json, type=list[Loss]):
        text = in_language(loss.label, locale) if isinstance(loss.label, dict) else loss.label
        if isinstance(text, dict):  # plural forms; validation guarantees a count and an "other" form
            category = plural_category(loss.count or 0, locale)
            text = next((form for key, form in text.items() if key == category), text["other"])
        value = number_text(loss.count, locale) if loss.count is not None else loss.value or ""
        tiles.append(LossTile(value, text))
    return tiles


@dataclass(frozen=True, slots=True)
class DoneFacts:
    """The specifics of the done screen. `kind` picks its wording: an offer kind, "cancelled" or "unchanged".

    `date`: pause → billing resumes; trial extension → the trial's new end; discount → when the reduced
    price ends; downgrade → when the new plan starts ("" = today); cancelled → when the subscription ends.
    `price`: what is charged after `date` (or the new plan's price); `reduced`: the discounted price.
    """

    kind: str
    date: str = ""
    price: str = ""
    reduced: str = ""
    access_until_end: bool = False  # cancelled at the period's end: everything stays usable until `date`
    booking_url: str = ""
    paid_until: str = ""  # a pause from the period end: the paid period runs to here, then the pause


@dataclass(frozen=True, slots=True)
class ScheduledChange:
    """The downgrade-scheduled step's facts: the plan and price the flow's downgrade offer for the scheduled
    price names ("" when no offer names it, e.g. a since-edited flow), and the day it takes effect."""

    plan: str
    price: str
    date: str


def scheduled_change(view: SessionView, locale: str) -> ScheduledChange | None:
    snap = view.session.context.snapshot
    if snap.scheduled_price_id is None:
        return None
    date = date_text(snap.current_period_end, locale)
    named = (o for o in view.definition.offers if isinstance(o, DowngradeOffer))
    offer = next((o for o in named if o.price_id == snap.scheduled_price_id), None)
    if offer is None:
        return ScheduledChange("", "", date)
    price = Price(offer.amount_cents, snap.currency, snap.interval, snap.interval_count)
    return ScheduledChange(offer.plan_name, price_text(price, locale), date)


def done_facts(view: SessionView, locale: str) -> DoneFacts:
    state, session, definition = view.state, view.session, view.definition
    snap, started = session.context.snapshot, session.started_at
    if state.outcome is Outcome.CANCELLED:
        # Billing's own answer; a test session asked no billing, so it shows what billing would have done.
        ends = state.cancel_effective_at
        if session.test_mode or ends is None:
            ends = snap.current_period_end if definition.cancel_at_period_end else started
        return DoneFacts("cancelled", date_text(ends, locale), access_until_end=ends.date() > started.date())
    offer = definition.accepted(state)  # a pause as taken: pinned to the length the customer picked
    if offer is None or state.outcome not in (Outcome.SAVED, Outcome.KEPT):
        return DoneFacts("unchanged")
    if isinstance(offer, TrainingOffer):
        return DoneFacts(offer.kind, booking_url=offer.booking_url)
    # The very facts the offer's card promised and its billing call carried (offers.value_lines).
    line = value_line(offer, snap, started_at=started)
    date = date_text(line.until, locale) if line.until else ""
    after = price_text(line.after, locale) if line.after else ""
    if isinstance(offer, DowngradeOffer):
        return DoneFacts(offer.kind, date, after)
    paid_until = date_text(line.paid_until, locale) if line.paid_until else ""
    return DoneFacts(offer.kind, date, price_text(line.before, locale), after, paid_until=paid_until)
