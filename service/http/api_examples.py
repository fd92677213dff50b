"""Example answers of the server API, shown in its OpenAPI document (service.http.api's `responses=`).

Rules: data only. Each value is what the handler really answers for such a case (checked against the
operation's schema by tests/integration/test_openapi.py), with one example customer throughout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
from litestar.openapi.spec import Example


@dataclass
class _Keyed(Example):
    """An Example whose `id` keys it in the document and is not written into it (`id` is no OpenAPI field)."""

    @property
    def _exclude_fields(self) -> set[str]:
        return {"id"}


def example(key: str, summary: str, value: Any) -> Example:
    """An example keyed `key`; its value is kept as JSON, because Litestar's document drops null fields."""
    return _Keyed(id=key, summary=summary, value=msgspec.Raw(msgspec.json.encode(value)))


_CUSTOMER = {"customer_id": "cus_4821", "subscription_id": "sub_1PqX8b2eZvKYlo2C"}
_NO_DATES = {"paused_until": None, "cancel_at": None, "trial_end": None}
_PERIOD_END = "2026-02-14T09:30:00Z"

_ACTIVE = {**_CUSTOMER, "status": "active", "current_period_end": _PERIOD_END, **_NO_DATES}
CUSTOMER_STATUS = [
    example("active", "Active: full access", _ACTIVE),
    example(
        "paused",
        summary="Paused until a date: billing and access resume then",
        value={**_ACTIVE, "status": "paused", "paused_until": "2026-04-14T09:30:00Z"},
    ),
    example(
        "cancel_scheduled",
        summary="Cancelling: access until cancel_at",
        value={**_ACTIVE, "status": "cancel_scheduled", "cancel_at": _PERIOD_END},
    ),
]
RESUMED = [example("resumed", "Resumed: active again, billed from today", _ACTIVE)]


def _at(second: int) -> str:
    return f"2026-01-14T09:30:{second:02d}Z"


SESSION = [
    example(
        "saved_by_pause",
        summary="Saved: the customer took a two-month pause",
        value={
            "id": "ses_hA8zkKLiNTHseuOS1XQHtLr3",
            **_CUSTOMER,
            "step": "done",
            "outcome": "saved",
            "reason": "too_expensive",
            "comment": "Too pricey for our team right now.",
            "offers_shown": ["pause-2-months", "downgrade-starter"],
            "accepted_offer": "pause-2-months",
            "result": "Paused for 2 months, resumes 2026-03-14",
            "test_mode": False,
            "flow_version_id": 3,
            "experiment_id": None,
            "arm_id": None,
            "started_at": _at(0),
            "events": [
                {"type": kind, "at": _at(second)}
                for second, kind in enumerate(("Started", "Continued", "ReasonChosen", "OfferAccepted", "OfferApplied"))
            ],
        },
    ),
    example(
        "open",
        summary="Still open, in an experiment: the customer is choosing a reason",
        value={
            "id": "ses_JYDNmyEJIZEnckEL0t2OPwrF",
            **_CUSTOMER,
            "step": "survey",
            "outcome": None,
            "reason": None,
            "comment": None,
            "offers_shown": [],
            "accepted_offer": None,
            "result": None,
            "test_mode": False,
            "flow_version_id": 3,
            "experiment_id": "exp_5f0c2a9e",
            "arm_id": "variant",
            "started_at": _at(0),
            "events": [{"type": "Started", "at": _at(0)}, {"type": "Continued", "at": _at(4)}],
        },
    ),
]
