"""Which pause lengths a customer may pick: a pause offer's own, or those that extend a pause already running.

Rules: standard library and `offers.model` / `offers.apply` / `offers.ports` only; pure (time is passed in).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from offers.apply import add_length, add_months
from offers.model import (
    EXTEND_PAUSE,
    ExtendPauseOffer,
    Offer,
    OfferId,
    PauseLength,
    PauseOffer,
    PauseUnit,
    parse_length_key,
    with_length,
)

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

    from offers.ports import SubscriptionSnapshot

# An extension may carry a pause at most this far from today. Why a fixed bound: a pause is for a customer
# who means to come back; one pushed on and on is a cancellation in disguise that keeps counting as saved
# revenue (offers.value), and Stripe voids the invoices in between, so nothing would ever check it.
MAX_PAUSE_MONTHS = 6


class LengthNotOffered(ValueError):
    """The chosen length is not one the customer may pick for this offer now."""


def first_pause_offer(offers: Iterable[Offer]) -> PauseOffer | None:
    """The flow's first pause offer: the one whose lengths a paused customer may extend by."""
    return next((o for o in offers if isinstance(o, PauseOffer)), None)


def extension_lengths(
    pause: PauseOffer | None, snapshot: SubscriptionSnapshot, now: datetime
) -> tuple[PauseLength, ...]:
    """The lengths of `pause` that extend the running pause without carrying it past `MAX_PAUSE_MONTHS` from
    `now`; none when the subscription is not paused (or not live), or the flow has no pause offer."""
    paused_until = snapshot.paused_until
    if pause is None or paused_until is None or paused_until <= now or not snapshot.is_live:
        return ()
    limit = add_months(now, MAX_PAUSE_MONTHS)
    return tuple(length for length in pause.lengths if add_length(paused_until, length) <= limit)


def choosable_lengths(
    offer: Offer, offers: Iterable[Offer], snapshot: SubscriptionSnapshot, now: datetime
) -> tuple[PauseLength, ...]:
    """The lengths the customer picks from for `offer` (empty for an offer that has none to pick)."""
    if isinstance(offer, PauseOffer):
        return offer.lengths
    if isinstance(offer, ExtendPauseOffer):
        return extension_lengths(first_pause_offer(offers), snapshot, now)
    return ()


def pin_choice(
    offer: Offer, offers: Iterable[Offer], snapshot: SubscriptionSnapshot, now: datetime, key: str
) -> tuple[Offer, PauseLength | None]:
    """`offer` pinned to the length `key` names ("2-weeks"; empty: the first, preselected one), with that length.

    An extension also takes its invoice behaviour from the flow's pause offer (`with_length`). Offers
    without lengths come back unchanged, with None.

    Raises:
        LengthNotOffered: `key` names no length the customer may pick now (or there is none to pick).
    """
    offers = tuple(offers)
    lengths = choosable_lengths(offer, offers, snapshot, now)
    if not isinstance(offer, PauseOffer | ExtendPauseOffer):
        return offer, None
    chosen = parse_length_key(key) if key else (lengths[0] if lengths else None)
    if chosen is None or chosen not in lengths:
        raise LengthNotOffered(key)
    return with_length(offer, chosen, offers), chosen


def extension_offers(offers: Iterable[Offer], snapshot: SubscriptionSnapshot, now: datetime) -> tuple[OfferId, ...]:
    """The paused step's "Extend the pause" card, when the flow's pause offer has a length that still fits."""
    return (EXTEND_PAUSE.id,) if extension_lengths(first_pause_offer(offers), snapshot, now) else ()


MAX_LENGTHS = 4  # more radios than this on one card stop being a choice and start being a form
# The longest a length may be, per unit: 12 months (a pause longer than a year is a cancellation).
MAX_COUNT = {PauseUnit.DAYS: 365, PauseUnit.WEEKS: 52, PauseUnit.MONTHS: 12}


def length_problems(lengths: tuple[PauseLength, ...]) -> list[str]:
    """What is wrong with a pause offer's lengths, as sentences an admin can act on (empty: nothing)."""
    if not lengths:
        return ["a pause needs at least one length."]
    problems = []
    if len(lengths) > MAX_LENGTHS:
        problems.append(f"a pause offers at most {MAX_LENGTHS} lengths.")
    if len(set(lengths)) != len(lengths):
        problems.append("each pause length may appear once.")
    if any(length.count < 1 for length in lengths):
        problems.append("a pause length must be at least 1.")
    if any(length.count > MAX_COUNT[length.unit] for length in lengths):
        problems.append("a pause lasts at most 12 months (365 days, 52 weeks).")
    return problems
