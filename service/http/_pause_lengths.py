"""Pause lengths in the customer's words: the radios of a pause card and of "Extend the pause", its value line.

Rules: presentation only. Which lengths may be picked, and the dates they lead to, are pure facts
(`offers.pause_choices`, `offers.value_lines`, `offers.apply`); this module words them in the locale with Babel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from offers.apply import add_length
from offers.model import EXTEND_PAUSE, Offer, PauseLength, PauseUnit
from offers.pause_choices import choosable_lengths
from service.i18n import date_text, translations

if TYPE_CHECKING:
    from datetime import datetime

    from offers.ports import SubscriptionSnapshot
    from offers.value_lines import ValueLine


@dataclass(frozen=True, slots=True)
class LengthChoice:
    """One radio: its form value ("2-weeks") and its label ("2 weeks: no charges until 21 Dec 2026")."""

    key: str
    label: str


def length_text(length: PauseLength, locale: str) -> str:
    """ "1 week", "3 months", in `locale`."""
    tr = translations(locale).gettext
    if length.count == 1:
        one = {PauseUnit.DAYS: tr("1 day"), PauseUnit.WEEKS: tr("1 week")}
        return one.get(length.unit, tr("1 month"))
    many = {PauseUnit.DAYS: tr("%(count)s days"), PauseUnit.WEEKS: tr("%(count)s weeks")}
    return many.get(length.unit, tr("%(count)s months")) % {"count": length.count}


def length_choices(
    lengths: tuple[PauseLength, ...], dates: tuple[datetime, ...], locale: str
) -> tuple[LengthChoice, ...]:
    """A radio per length, each naming the date billing resumes after it; none for a single length (nothing
    to pick: the card's value line names its date)."""
    if len(lengths) < 2 or len(dates) != len(lengths):
        return ()
    tr = translations(locale).gettext
    return tuple(
        LengthChoice(
            length.key,
            tr("%(length)s: no charges until %(date)s")
            % {"length": length_text(length, locale), "date": date_text(date, locale)},
        )
        for length, date in zip(lengths, dates, strict=True)
    )


def extension_choices(
    lengths: tuple[PauseLength, ...], paused_until: datetime | None, locale: str
) -> tuple[LengthChoice, ...]:
    """The paused step's "Extend the pause" radios: each length added to the current end (one radio even for
    a single length, since the step has no value line to name its date)."""
    if paused_until is None:
        return ()
    tr = translations(locale).gettext
    return tuple(
        LengthChoice(
            length.key,
            tr("%(length)s more: billing resumes %(date)s")
            % {"length": length_text(length, locale), "date": date_text(add_length(paused_until, length), locale)},
        )
        for length in lengths
    )


def pause_value(line: ValueLine, locale: str) -> str:
    """A pause card's value line: until when nothing is charged, counted from the paid period's end when the
    pause starts there; with several lengths the radios name the dates, so the line names none."""
    tr = translations(locale).gettext
    until = date_text(line.until, locale) if line.until else ""
    if line.paid_until is not None:
        end = date_text(line.paid_until, locale)
        if line.choices:
            return tr("Your paid period runs to %(end)s; then no charges while paused") % {"end": end}
        return tr("Your paid period runs to %(end)s; then no charges until %(date)s") % {"end": end, "date": until}
    if line.choices:
        return tr("No charges while paused")
    return tr("No charges until %(date)s") % {"date": until}


def extend_pause_choices(
    offers: tuple[Offer, ...], snapshot: SubscriptionSnapshot, *, now: datetime, locale: str
) -> tuple[LengthChoice, ...]:
    """The radios of the paused step's "Extend the pause" (none when no length fits: the card is not shown)."""
    lengths = choosable_lengths(EXTEND_PAUSE, offers, snapshot, now)
    return extension_choices(lengths, snapshot.paused_until, locale)
