"""The flow editor's vocabulary: field names, a new offer row's values, the form and result types, and the
small text codecs (amounts, dates, textarea text) the form mapping in `admin.flow_form` is built from.

Rules: pure (standard library, flows, offers); no HTTP.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import ClassVar

from flows import FlowDefinition
from offers import PauseBehavior
from offers.eligibility import EligibilityPolicy, default_cooldown_days
from offers.model import OFFER_TYPES, PauseLength, PauseStart, PauseUnit

Row = dict[str, str]
LOCALES = ("en", "de", "fr", "es")
# The definition's on/off switches, each a checkbox (absent = off).
STEP_FLAGS = ("loss_aversion", "survey", "feedback", "confirm")
RULE_FLAGS = ("cancel_always_available", "cancel_at_period_end", "randomize_reasons")
FLAGS = STEP_FLAGS + RULE_FLAGS
NUMBERS = ("max_offers", "offers_per_step")  # whole-number flow settings
# The win-back offer (offers.winback): its kind ("" = none) and every kind's parameters, all kept as typed.
WINBACK_NUMBERS = ("winback_percent_off", "winback_duration_months", "winback_free_days")
WINBACK_FIELDS = ("winback_kind", "winback_coupon_id", *WINBACK_NUMBERS)
SETTINGS: tuple[str, ...] = ("key", "final_offer_id", *NUMBERS, "countries", "copy_extra", "new_offer_kind", "note")
SETTINGS += (*FLAGS, *WINBACK_FIELDS)
REASON_TEXTS = {"label": "reason.{}", "prompt": "reason.{}.prompt"}
OFFER_TEXTS = {
    "title": "offer.{}.title",
    "body": "offer.{}.body",
    "accept": "offer.{}.accept",
    "incentive": "offer.{}.incentive",  # a paid exit interview's only
}
LIMITS = {"cooldown_days": ("the cooldown in days", 3650), "max_redemptions": ("the redemptions per customer", 1000)}
# Every kind's parameters sit on every offer row (only the chosen kind's are read), so switching the
# kind back and forth keeps what was typed. These are a new row's starting values.
PARAM_DEFAULTS: Row = {
    "lengths": "1 month",
    "starts": PauseStart.NOW.value,
    "behavior": PauseBehavior.VOID.value,
    "until": "",
    "price_id": "",
    "plan_name": "",
    "amount": "",
    "days": "14",
    "booking_url": "https://",
    "incentive": "",
    "call_minutes": "15",
    "coupon_id": "",
    "percent_off": "20",
    "duration_months": "3",
    **dict.fromkeys(LIMITS, ""),  # empty: the default for the offer's kind (offers.eligibility)
}
DEFAULT_PROMPT = "Anything you'd like to add?"
MAX_ROWS = 50
MAX_VALUE = 20_000
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True, slots=True)
class EditorForm:
    """What the editor shows: flow settings plus reason and offer rows, as the strings the user typed."""

    settings: Row
    reasons: tuple[Row, ...]
    offers: tuple[Row, ...]
    default_cooldowns: ClassVar[dict[str, int]] = {kind.value: default_cooldown_days(kind) for kind in OFFER_TYPES}
    default_max_redemptions: ClassVar[int] = EligibilityPolicy().max_redemptions_per_offer

    def offer_choices(self) -> list[tuple[str, str]]:
        """(id, title) of every offer row with an id: the options of the routing selects."""
        return [(o["id"].strip(), o.get("title", "")) for o in self.offers if o.get("id", "").strip()]

    @staticmethod
    def ranked(reason: Row) -> list[str]:
        """A reason's routed offer ids, best first (empty slots dropped)."""
        slots = sorted((int(k[6:]), v) for k, v in reason.items() if k.startswith("offer-") and k[6:].isdigit())
        return [v.strip() for _, v in slots if v.strip()]


@dataclass(frozen=True, slots=True)
class Parsed:
    """A definition, or the problems (plain sentences) and the names of the fields they are about."""

    definition: FlowDefinition | None
    problems: tuple[str, ...] = ()
    invalid: frozenset[str] = frozenset()


# ------------------------------------------------------------------------------------ small codecs
def amount_text(cents: int) -> str:
    return f"{'-' if cents < 0 else ''}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def parse_amount(text: str) -> int | None:
    """Cents from "19", "19.5", "19.00" or "19,00"; None if it is not an amount."""
    found = re.fullmatch(r"(-?)(\d{1,9})(?:[.,](\d{1,2}))?", text.strip())
    if not found:
        return None
    cents = int(found.group(2)) * 100 + int((found.group(3) or "0").ljust(2, "0"))
    return -cents if found.group(1) else cents


def date_field(value: datetime | None) -> str:
    midnight = value is not None and value.utcoffset() == timedelta(0) and value.time() == time(0)
    return "" if value is None else f"{value:%Y-%m-%d}" if midnight else value.isoformat()


def parse_date_field(text: str) -> datetime | None:
    value = datetime.fromisoformat(text.strip()) if text.strip() else None  # ValueError for anything else
    return value.replace(tzinfo=UTC) if value is not None and len(text.strip()) == 10 else value


def form_text(value: str) -> str:
    return value.replace("\r\n", "\n")  # browsers send textarea line breaks as CRLF


def lengths_text(lengths: tuple[PauseLength, ...]) -> str:
    """ "2 weeks, 1 month, 3 months": a pause's lengths as the editor's one text field shows them."""
    return ", ".join(str(length) for length in lengths)


_LENGTH = re.compile(r"(\d{1,4}) *(day|week|month)s?", re.IGNORECASE)


def parse_lengths(text: str) -> tuple[PauseLength, ...] | None:
    """The lengths `lengths_text` shows, read back strictly (commas between, a unit on each); None if any part
    is not one. How many and how long is `flows.validation`'s to judge."""
    parts = [part.strip() for part in text.split(",")]
    found = [_LENGTH.fullmatch(part) for part in parts]
    if not text.strip() or not all(found):
        return None
    return tuple(PauseLength(int(m.group(1)), PauseUnit(f"{m.group(2).lower()}s")) for m in found if m)
