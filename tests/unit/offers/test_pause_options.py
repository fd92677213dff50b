"""Pause options: lengths in days, weeks or months, from now or from the period end, their limits and their words."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import msgspec
import pytest

from admin.flow_fields import lengths_text, parse_lengths
from offers.apply import add_length, extended_until, pause_resumes_at, pause_starts_at
from offers.model import (
    EXTEND_PAUSE,
    OfferCopy,
    OfferId,
    PauseLength,
    PauseOffer,
    PauseStart,
    PauseUnit,
    months,
    parse_length_key,
    with_length,
)
from offers.pause_choices import extension_lengths, length_problems
from offers.ports import OfferNotApplicable
from offers.value import Retained, retained_after
from offers.value_lines import ValueKind, value_line
from service.db import codec
from service.http._offer_cards import value_words
from service.http._pause_lengths import length_choices, length_text
from tests.factories import make_snapshot

JAN_31 = datetime(2027, 1, 31, 9, 30, tzinfo=UTC)
DAYS, WEEKS, MONTHS = PauseUnit.DAYS, PauseUnit.WEEKS, PauseUnit.MONTHS
COPY = OfferCopy("Pause", "b", "Pause")


def pause(*lengths: PauseLength, starts: PauseStart = PauseStart.NOW, until: datetime | None = None) -> PauseOffer:
    return PauseOffer(OfferId("p"), COPY, lengths, until=until, starts=starts)


@pytest.mark.parametrize(
    ("length", "expected"),
    [
        (PauseLength(1, MONTHS), datetime(2027, 2, 28, 9, 30, tzinfo=UTC)),  # clamped to February's last day
        (PauseLength(13, MONTHS), datetime(2028, 2, 29, 9, 30, tzinfo=UTC)),  # a leap year's
        (PauseLength(2, WEEKS), datetime(2027, 2, 14, 9, 30, tzinfo=UTC)),
        (PauseLength(10, DAYS), datetime(2027, 2, 10, 9, 30, tzinfo=UTC)),
    ],
)
def test_a_length_is_added_exactly_for_days_and_weeks_and_by_calendar_month(
    length: PauseLength, expected: datetime
) -> None:
    assert add_length(JAN_31, length) == expected


def test_a_pause_from_the_period_end_counts_from_the_end_of_what_was_paid() -> None:
    now = datetime(2026, 12, 7, 12, tzinfo=UTC)
    snapshot = make_snapshot(current_period_end=datetime(2026, 12, 19, 12, tzinfo=UTC))
    later = pause(PauseLength(1, MONTHS), PauseLength(2, WEEKS), starts=PauseStart.PERIOD_END)
    assert pause_starts_at(later, snapshot, now) == datetime(2026, 12, 19, 12, tzinfo=UTC)
    assert pause_resumes_at(later, snapshot, now) == datetime(2027, 1, 19, 12, tzinfo=UTC)  # the first length
    assert pause_resumes_at(later, snapshot, now, PauseLength(2, WEEKS)) == datetime(2027, 1, 2, 12, tzinfo=UTC)
    assert pause_resumes_at(dataclasses.replace(later, starts=PauseStart.NOW), snapshot, now) == datetime(
        2027, 1, 7, 12, tzinfo=UTC
    )
    # A period already over (a stale snapshot) starts the pause now rather than in the past.
    lapsed = make_snapshot(current_period_end=datetime(2026, 12, 1, tzinfo=UTC))
    assert pause_starts_at(later, lapsed, now) == now
    # A fixed date still ahead wins over any length.
    spring = datetime(2027, 3, 1, tzinfo=UTC)
    assert pause_resumes_at(dataclasses.replace(later, until=spring), snapshot, now) == spring


def test_the_value_line_and_the_money_count_from_the_chosen_length() -> None:
    now = datetime(2026, 12, 7, 12, tzinfo=UTC)
    snapshot = make_snapshot(current_period_end=datetime(2026, 12, 19, 12, tzinfo=UTC))
    later = pause(PauseLength(1, MONTHS), PauseLength(2, MONTHS), starts=PauseStart.PERIOD_END)
    line = value_line(later, snapshot, started_at=now)
    assert (line.kind, line.paid_until) == (ValueKind.NO_CHARGE_UNTIL, snapshot.current_period_end)
    assert line.until == datetime(2027, 1, 19, 12, tzinfo=UTC)  # the first, preselected length's
    assert line.choices == (datetime(2027, 1, 19, 12, tzinfo=UTC), datetime(2027, 2, 19, 12, tzinfo=UTC))
    taken = with_length(later, PauseLength(2, MONTHS))
    one = value_line(taken, snapshot, started_at=now)
    assert (one.until, one.choices) == (datetime(2027, 2, 19, 12, tzinfo=UTC), ())
    assert (
        value_words(one, taken, "en")[0]
        == "Your paid period runs to December 19, 2026; then no charges until February 19, 2027"
    )
    price = snapshot.amount_cents
    assert retained_after(taken, snapshot, started_at=now) == Retained(0, price, datetime(2027, 2, 19, 12, tzinfo=UTC))


def test_each_radio_names_its_length_and_date_in_the_customers_language() -> None:
    lengths = (PauseLength(1, WEEKS), PauseLength(3, MONTHS))
    dates = (datetime(2026, 12, 14, tzinfo=UTC), datetime(2027, 3, 7, tzinfo=UTC))
    en = length_choices(lengths, dates, "en")
    assert [(c.key, c.label) for c in en] == [
        ("1-weeks", "1 week: no charges until December 14, 2026"),
        ("3-months", "3 months: no charges until March 7, 2027"),
    ]
    assert length_choices(lengths[:1], dates[:1], "en") == ()  # one length: nothing to pick
    assert length_text(PauseLength(2, DAYS), "de") == "2 Tage"
    assert length_text(PauseLength(1, MONTHS), "fr") == "1 mois"


def test_an_extension_adds_to_the_running_pause_and_stops_at_six_months_from_today() -> None:
    now = datetime(2027, 1, 1, tzinfo=UTC)
    offer = pause(PauseLength(1, MONTHS), PauseLength(3, MONTHS), PauseLength(2, WEEKS))
    paused = make_snapshot(paused_until=datetime(2027, 4, 1, tzinfo=UTC))
    # 1 Apr + 1 month = 1 May and + 2 weeks fit within 1 Jul; + 3 months (1 Jul) is exactly the limit.
    assert extension_lengths(offer, paused, now) == offer.lengths
    later = make_snapshot(paused_until=datetime(2027, 4, 2, tzinfo=UTC))
    assert extension_lengths(offer, later, now) == (PauseLength(1, MONTHS), PauseLength(2, WEEKS))
    assert extension_lengths(offer, make_snapshot(), now) == ()  # not paused: nothing to extend
    assert extension_lengths(None, paused, now) == ()  # no pause offer in the flow
    pinned = with_length(EXTEND_PAUSE, PauseLength(2, WEEKS), (offer,))
    assert extended_until(pinned, paused, now) == datetime(2027, 4, 15, tzinfo=UTC)  # type: ignore[arg-type]
    with pytest.raises(OfferNotApplicable):
        extended_until(pinned, make_snapshot(), now)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("lengths", "problem"),
    [
        ((), "a pause needs at least one length."),
        ((PauseLength(0, DAYS),), "a pause length must be at least 1."),
        ((PauseLength(1, DAYS),) * 2, "each pause length may appear once."),
        (tuple(PauseLength(n, WEEKS) for n in range(1, 6)), "a pause offers at most 4 lengths."),
        ((PauseLength(13, MONTHS),), "a pause lasts at most 12 months (365 days, 52 weeks)."),
        ((PauseLength(53, WEEKS),), "a pause lasts at most 12 months (365 days, 52 weeks)."),
    ],
)
def test_absurd_lengths_are_refused(lengths: tuple[PauseLength, ...], problem: str) -> None:
    assert problem in length_problems(lengths)


def test_sensible_lengths_pass() -> None:
    assert length_problems((PauseLength(2, WEEKS), PauseLength(1, MONTHS), PauseLength(12, MONTHS))) == []


def test_the_editor_field_reads_lengths_strictly() -> None:
    assert parse_lengths(" 2 weeks, 1 Month ,3 months") == (
        PauseLength(2, WEEKS),
        PauseLength(1, MONTHS),
        PauseLength(3, MONTHS),
    )
    for bad in ("", "2 weeks,", "two weeks", "2 fortnights", "2 weeks; 1 month", "1.5 months", "2"):
        assert parse_lengths(bad) is None, bad
    assert lengths_text((PauseLength(1, DAYS), PauseLength(3, WEEKS))) == "1 day, 3 weeks"
    assert parse_length_key("3-weeks") == PauseLength(3, WEEKS)
    assert parse_length_key("3-fortnights") is None and parse_length_key("-months") is None


def test_a_pause_stored_with_only_months_still_loads_as_that_many_months_from_now() -> None:
    stored = {"id": "p", "kind": "pause", "copy": {"title": "t", "body": "b", "accept_label": "a"}, "months": 2}
    loaded = codec.offer_from_builtins(stored)
    assert loaded == PauseOffer(OfferId("p"), OfferCopy("t", "b", "a"), months(2))
    assert isinstance(loaded, PauseOffer) and loaded.starts is PauseStart.NOW
    again = codec.offer_from_builtins(msgspec.json.decode(codec.dumps(loaded)))
    assert again == loaded
    pinned = with_length(EXTEND_PAUSE, PauseLength(1, MONTHS))  # stored inside an effect
    assert codec.offer_from_builtins(msgspec.json.decode(codec.dumps(pinned))) == pinned
