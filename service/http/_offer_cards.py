"""The offer step's cards: each offer on screen with its copy, its value line in the customer's words, and its
accept link.

Rules: presentation only. What an offer promises is `offers.value_lines` (pure facts); this module words those
facts (catalog strings, extracted from `tr(...)`) and formats money and dates for the locale with Babel.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flows import FlowDefinition, FlowState
from offers import DowngradeOffer, Offer, SubscriptionSnapshot
from offers.model import ExitInterviewOffer, PauseOffer, with_length
from offers.value_lines import Price, ValueKind, ValueLine, value_line
from service.http._pause_lengths import LengthChoice, length_choices, pause_value
from service.i18n import date_text, money_text, translations


@dataclass(frozen=True, slots=True)
class OfferCard:
    """One card: what the customer reads, and where its one button posts."""

    id: str
    kind: str
    title: str
    body: str
    accept_label: str
    value: str  # the concrete promise: "$49/month → $34.30/month for 3 months"
    detail: str | None  # what follows it ("Then $49/month again"), or None
    accept_url: str
    lengths: tuple[LengthChoice, ...] = ()  # a pause with several lengths: a radio each, the first preselected


def price_text(price: Price, locale: str) -> str:
    """A price per its own billing interval: "$49/month", "€490/year", "$120 every 3 months"."""
    tr = translations(locale).gettext
    amount = money_text(price.cents, price.currency, locale)
    if price.interval_count > 1:
        every = {
            "year": tr("%(price)s every %(count)s years"),
            "week": tr("%(price)s every %(count)s weeks"),
            "day": tr("%(price)s every %(count)s days"),
        }.get(price.interval, tr("%(price)s every %(count)s months"))
        return every % {"price": amount, "count": price.interval_count}
    per = {
        "year": tr("%(price)s/year"),
        "week": tr("%(price)s/week"),
        "day": tr("%(price)s/day"),
    }.get(price.interval, tr("%(price)s/month"))
    return per % {"price": amount}


def value_words(line: ValueLine, offer: Offer, locale: str) -> tuple[str, str | None]:
    """The card's value line and the detail under it, in `locale`."""
    tr = translations(locale).gettext
    before = price_text(line.before, locale)
    after = price_text(line.after, locale) if line.after else ""
    until = date_text(line.until, locale) if line.until else ""
    if isinstance(offer, ExitInterviewOffer):  # a thank-you for a call; the cancellation still goes ahead
        words = {"incentive": offer.incentive, "count": offer.call_minutes}
        return tr("%(incentive)s for a %(count)s-minute call") % words, tr("Your cancellation still goes ahead")
    if line.kind is ValueKind.PRICE_CHANGE and isinstance(offer, DowngradeOffer) and offer.amount_cents == 0:
        return tr("Free forever — your account and data stay"), tr("%(plan)s plan instead of %(price)s") % {
            "plan": offer.plan_name,
            "price": before,
        }
    if line.kind is ValueKind.PRICE_CHANGE and isinstance(offer, DowngradeOffer):
        if line.until:
            plan = tr("%(plan)s plan from %(date)s") % {"plan": offer.plan_name, "date": until}
        else:
            plan = tr("%(plan)s plan, starting today") % {"plan": offer.plan_name}
        return f"{before} → {after}", plan
    if line.kind is ValueKind.DISCOUNT:
        words = {"before": before, "after": after, "count": line.months, "date": until}
        if line.before.monthly and line.months == 1:
            value = tr("%(before)s → %(after)s for 1 month") % words
        elif line.before.monthly:
            value = tr("%(before)s → %(after)s for %(count)s months") % words
        elif line.invoices == 1:
            value = tr("%(before)s → %(after)s on your next invoice") % words
        elif line.invoices:
            value = tr("%(before)s → %(after)s on your next %(count)s invoices") % {**words, "count": line.invoices}
        else:  # no invoice falls inside the discount's months: say so rather than promise a saving
            value = tr("%(before)s → %(after)s on invoices until %(date)s") % words
        return value, tr("Then %(price)s again") % {"price": before}
    if line.kind is ValueKind.NO_CHARGE_UNTIL:
        then = tr("Then %(price)s again, unless you cancel") % {"price": before}
        return pause_value(line, locale), then
    if line.kind is ValueKind.FREE_UNTIL:
        return tr("Free until %(date)s") % {"date": until}, tr("Then %(price)s, unless you cancel") % {"price": before}
    return tr("Free of charge"), tr("Your plan stays at %(price)s") % {"price": before}


def in_language(offer: Offer, text: Callable[[str, str], str]) -> Offer:
    """`offer` with the words it shows the customer that the flow's copy has in their language (a paid exit
    interview's incentive: "25 € Gutschein"); CS's follow-up keeps the flow's own words."""
    if isinstance(offer, ExitInterviewOffer):
        return dataclasses.replace(offer, incentive=text(f"offer.{offer.id}.incentive", offer.incentive))
    return offer


def offer_cards(
    definition: FlowDefinition,
    state: FlowState,
    snapshot: SubscriptionSnapshot,
    *,
    started_at: datetime,
    locale: str,
    text: Callable[[str, str], str],
    base_url: str,
) -> tuple[OfferCard, ...]:
    """The cards of the offers on screen, best first; `text` gives the flow's copy in the customer's language."""
    cards = []
    for offer in (definition.offer(offer_id) for offer_id in state.on_screen):
        if offer is None:  # a definition never loses an offer a running session shows; skip rather than crash
            continue
        if offer.id == state.unsettled_offer:  # its retry can only send the length of the first try
            offer = with_length(offer, state.chosen_length, definition.offers)
        offer = in_language(offer, text)
        line = value_line(offer, snapshot, started_at=started_at)
        value, detail = value_words(line, offer, locale)
        lengths = length_choices(offer.lengths, line.choices, locale) if isinstance(offer, PauseOffer) else ()
        cards.append(
            OfferCard(
                id=offer.id,
                kind=offer.kind.value,
                title=text(f"offer.{offer.id}.title", offer.copy.title),
                body=text(f"offer.{offer.id}.body", offer.copy.body),
                accept_label=text(f"offer.{offer.id}.accept", offer.copy.accept_label),
                value=value,
                detail=detail,
                accept_url=f"{base_url}/offers/{offer.id}/accept",
                lengths=lengths,
            )
        )
    return tuple(cards)
