"""The offer cards' value lines in the customer's words: money and dates per locale, prices per their own
billing interval, and a card for every offer on screen with its own accept link."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from flows import FlowState, ReasonChosen, ReasonId, StepKind, decide, default_definition, initial_state
from flows.defaults import DISCOUNT, DOWNGRADE, PAUSE, TRAINING, TRIAL
from offers import Offer, OfferId, PauseOffer
from offers.model import with_length
from offers.value_lines import Price, value_line
from service.http._offer_cards import offer_cards, price_text, value_words
from tests.factories import NOW, SID, make_context, make_snapshot, make_trialing_snapshot

DEFINITION = default_definition()


def offer(offer_id: str) -> Offer:
    found = DEFINITION.offer(OfferId(offer_id))
    assert found is not None
    return found


def words(offer_id: str, locale: str = "en", /, **snapshot: Any) -> tuple[str, str | None]:
    chosen = offer(offer_id)
    if isinstance(chosen, PauseOffer):  # one length (as taken): its value line names the date
        chosen = with_length(chosen, chosen.lengths[0])
    base = make_trialing_snapshot() if offer_id == TRIAL else make_snapshot()
    line = value_line(chosen, replace(base, **snapshot), started_at=NOW)
    return value_words(line, chosen, locale)


@pytest.mark.parametrize(
    ("offer_id", "expected"),
    [
        (DISCOUNT, ("$49/month → $34.30/month for 3 months", "Then $49/month again")),
        (PAUSE, ("No charges until January 23, 2027", "Then $49/month again, unless you cancel")),
        (DOWNGRADE, ("$49/month → $19/month", "Starter plan, starting today")),
        (TRIAL, ("Free until December 10, 2026", "Then $49/month, unless you cancel")),
        (TRAINING, ("Free of charge", "Your plan stays at $49/month")),
    ],
)
def test_every_kind_says_concretely_what_the_customer_pays(offer_id: str, expected: tuple[str, str]) -> None:
    assert words(offer_id) == expected


def test_money_and_dates_follow_the_locale() -> None:
    assert words(DISCOUNT, "de", currency="eur") == (
        "49\xa0€/Monat → 34,30\xa0€/Monat für 3 Monate",
        "Danach wieder 49\xa0€/Monat",
    )
    assert words(PAUSE, "fr")[0] == "Aucun prélèvement jusqu'au 23 janvier 2027"
    assert words(TRAINING, "es") == ("Sin coste", "Su plan se mantiene en 49\xa0US$/mes")


def test_a_yearly_price_is_shown_per_year_with_the_invoices_the_discount_reaches() -> None:
    soon = NOW + timedelta(days=30)
    yearly = {"amount_cents": 120_000, "interval": "year", "current_period_end": soon}
    assert words(DISCOUNT, **yearly)[0] == "$1,200/year → $840/year on your next invoice"
    later = {**yearly, "current_period_end": NOW + timedelta(days=200)}
    assert words(DISCOUNT, **later)[0] == "$1,200/year → $840/year on invoices until February 23, 2027"


@pytest.mark.parametrize(
    ("price", "text"),
    [
        (Price(4900, "usd", "month"), "$49/month"),
        (Price(49000, "usd", "year"), "$490/year"),
        (Price(12000, "usd", "month", 3), "$120 every 3 months"),
        (Price(900, "usd", "week"), "$9/week"),
        (Price(900, "usd", "week", 2), "$9 every 2 weeks"),
    ],
)
def test_prices_are_shown_per_their_own_interval(price: Price, text: str) -> None:
    assert price_text(price, "en") == text


def test_each_card_on_screen_gets_its_copy_its_value_and_its_own_accept_link() -> None:
    ctx = make_context()
    state = decide(
        DEFINITION,
        replace(initial_state(SID), step=StepKind.SURVEY),
        ReasonChosen(at=NOW, reason=ReasonId("no_value")),
        ctx,
    ).state

    def text(key: str, fallback: str) -> str:
        return DEFINITION.text("de", key, fallback)

    cards = offer_cards(DEFINITION, state, ctx.snapshot, started_at=NOW, locale="de", text=text, base_url="/w/s/ses_1")
    assert [(c.id, c.kind) for c in cards] == [(TRAINING, "training"), (PAUSE, "pause"), (DISCOUNT, "discount")]
    assert [c.accept_url for c in cards] == [f"/w/s/ses_1/offers/{o}/accept" for o in (TRAINING, PAUSE, DISCOUNT)]
    assert cards[1].title == "Pausieren statt kündigen"
    assert cards[2].value == "49\xa0$/Monat → 34,30\xa0$/Monat für 3 Monate"
    assert (
        offer_cards(
            DEFINITION, FlowState(session_id=SID), ctx.snapshot, started_at=NOW, locale="en", text=text, base_url=""
        )
        == ()
    )
