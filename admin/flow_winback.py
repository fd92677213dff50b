"""The flow editor's win-back fields: a flow's `WinbackOffer` ↔ the settings fields `WINBACK_FIELDS`.

Rules: pure (standard library, offers.winback, admin.flow_fields); no HTTP. Every kind's numbers are kept
as typed whatever the kind, so switching it back and forth loses nothing; the kind "" means no win-back.
"""

from __future__ import annotations

import re

from admin.flow_fields import WINBACK_NUMBERS, Row
from offers.winback import WinbackKind, WinbackOffer

NO_OFFER_DEFAULTS = ("30", "3", "30")  # percent off, months, free days: a new win-back's starting values


def winback_fields(offer: WinbackOffer | None) -> Row:
    if offer is None:
        row = {"winback_kind": "", "winback_coupon_id": ""}
        return row | dict(zip(WINBACK_NUMBERS, NO_OFFER_DEFAULTS, strict=True))
    numbers = (offer.percent_off, offer.duration_months, offer.free_days)
    row = {"winback_kind": offer.kind.value, "winback_coupon_id": offer.coupon_id}
    return row | {name: str(value) for name, value in zip(WINBACK_NUMBERS, numbers, strict=True)}


def parse_winback(settings: Row) -> tuple[WinbackOffer | None, list[tuple[str, str]]]:
    """The form's win-back offer and the (field, sentence) problems reading it; whether it makes sense
    (ranges, a coupon id) is `flows.validate_definition`'s to check."""
    if not settings.get("winback_kind"):
        return None, []
    try:
        kind = WinbackKind(settings["winback_kind"])
    except ValueError:
        return None, [("winback_kind", "Choose what the win-back offers: a discount or free days.")]
    values, problems = [], []
    for name in WINBACK_NUMBERS:
        text = settings.get(name, "").strip() or "0"
        whole = re.fullmatch(r"-?\d{1,9}", text) is not None
        if not whole:
            problems.append((name, f"The win-back's {name[8:].replace('_', ' ')} must be a whole number, like 3."))
        values.append(int(text) if whole else 0)
    percent, months, days = values
    return WinbackOffer(kind, settings.get("winback_coupon_id", ""), percent, months, days), problems
