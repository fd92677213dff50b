"""Inputs to the flow machine: what the user did, or what the billing effect reported back.

Rules: standard library and `offers.model` only. Every event carries `at` (the core reads no clock).
Events are stored verbatim in the session's event log; `EVENT_TYPES` names them for storage.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flows.model import ReasonId
from offers.model import OfferId


@dataclass(frozen=True, slots=True, kw_only=True)
class Started:
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Continued:
    """Moved on from the loss-aversion step ("I still want to cancel")."""

    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ReasonChosen:
    at: datetime
    reason: ReasonId
    comment: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class OfferAccepted:
    """`length`: the pause length picked on the card, as its form value ("2-weeks"); "" takes the first."""

    at: datetime
    offer_id: OfferId
    length: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class OfferDeclined:
    at: datetime
    offer_id: OfferId


@dataclass(frozen=True, slots=True, kw_only=True)
class OfferApplied:
    at: datetime
    offer_id: OfferId
    summary: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class OfferFailed:
    """`definitive` failures (rejected, not applicable) need a new idempotency key to retry."""

    at: datetime
    offer_id: OfferId
    definitive: bool
    error: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedbackGiven:
    at: datetime
    text: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelRequested:
    """The always-visible "Cancel my subscription" link: jump to the confirm step."""

    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelConfirmed:
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelApplied:
    at: datetime
    effective_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelFailed:
    at: datetime
    definitive: bool
    error: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class WentBack:
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Closed:
    """The user closed the widget without finishing."""

    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Kept:
    """The user chose "Keep my subscription": nothing changes, and the session ends as kept."""

    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class TimedOut:
    """No activity for the configured time (the shell's sweep): the session ends as abandoned."""

    at: datetime


Event = (
    Started
    | Continued
    | ReasonChosen
    | OfferAccepted
    | OfferDeclined
    | OfferApplied
    | OfferFailed
    | FeedbackGiven
    | CancelRequested
    | CancelConfirmed
    | CancelApplied
    | CancelFailed
    | WentBack
    | Closed
    | Kept
    | TimedOut
)

EVENT_TYPES: dict[str, type[Event]] = {
    cls.__name__: cls
    for cls in (
        Started,
        Continued,
        ReasonChosen,
        OfferAccepted,
        OfferDeclined,
        OfferApplied,
        OfferFailed,
        FeedbackGiven,
        CancelRequested,
        CancelConfirmed,
        CancelApplied,
        CancelFailed,
        WentBack,
        Closed,
        Kept,
        TimedOut,
    )
}
