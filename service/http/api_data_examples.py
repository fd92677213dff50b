"""Example answers of the server API's lists, export and customer-data operations, for the OpenAPI document.

Rules: data only, in the shape the handlers really answer (tests/integration/test_openapi.py checks them
against each operation's schema); the example customer is service.http.api_examples' own.
"""

from __future__ import annotations

from typing import Any

from service.http.api_examples import example

_CUSTOMER = {"customer_id": "cus_4821", "subscription_id": "sub_1PqX8b2eZvKYlo2C"}
_CURSOR = "WyIyMDI2LTAxLTE0VDA5OjMwOjAwKzAwOjAwIiwic2VzX2hBOHprS0xpTlRIc2V1T1MxWFFIdExyMyJd"
_SAVED_ID = "ses_hA8zkKLiNTHseuOS1XQHtLr3"


def _at(second: int) -> str:
    return f"2026-01-14T09:30:{second:02d}Z"


_SAVED: dict[str, Any] = {
    "id": _SAVED_ID,
    **_CUSTOMER,
    "started_at": _at(0),
    "finished_at": _at(9),
    "step": "done",
    "outcome": "saved",
    "reason": "too_expensive",
    "offers_shown": ["pause-2-months", "downgrade-starter"],
    "accepted_offer": "pause-2-months",
    "test_mode": False,
    "plan": "Team",
    "currency": "usd",
    "monthly_cents": 4900,
    "locale": "en",
    "flow_version_id": 3,
    "experiment_id": None,
    "arm_id": None,
}
_EVENTS = [
    {"seq": 1, "type": "Started", "at": _at(0), "data": {"at": _at(0)}},
    {"seq": 2, "type": "Continued", "at": _at(3), "data": {"at": _at(3)}},
    {
        "seq": 3,
        "type": "ReasonChosen",
        "at": _at(6),
        "data": {"at": _at(6), "reason": "too_expensive", "comment": "Too pricey for our team right now."},
    },
    {"seq": 4, "type": "OfferAccepted", "at": _at(8), "data": {"at": _at(8), "offer_id": "pause-2-months"}},
    {
        "seq": 5,
        "type": "OfferApplied",
        "at": _at(9),
        "data": {"at": _at(9), "offer_id": "pause-2-months", "summary": "Paused for 2 months, resumes 2026-03-14"},
    },
]

SESSIONS = [
    example("page", "A page of sessions, with more to come", {"sessions": [_SAVED], "next_cursor": _CURSOR}),
    example("last", "The last page", {"sessions": [], "next_cursor": None}),
]

FEEDBACK = [
    example(
        "page",
        "A comment, with its session's reason, offers and outcome",
        {
            "feedback": [
                {
                    "session_id": _SAVED_ID,
                    "customer_id": _CUSTOMER["customer_id"],
                    "started_at": _at(0),
                    "comment": "Too pricey for our team right now.",
                    "feedback": None,
                    "reason": "too_expensive",
                    "outcome": "saved",
                    "offers_shown": ["pause-2-months", "downgrade-starter"],
                    "accepted_offer": "pause-2-months",
                    "tags": ["pricing"],
                    "reviewed": True,
                }
            ],
            "next_cursor": None,
        },
    )
]

_EXPORTED = {
    **_SAVED,
    "comment": "Too pricey for our team right now.",
    "feedback": None,
    "result": "Paused for 2 months, resumes 2026-03-14",
    "segment_id": None,
    "billing_interval": "month",
    "events": _EVENTS,
}
EXPORT_LINE = [example("line", "One line of the export: a session with its event log", _EXPORTED)]

_HELD_SESSION = {
    "id": _SAVED_ID,
    "subscription_id": _CUSTOMER["subscription_id"],
    "email": "dana@example.com",
    "locale": "en",
    "test_mode": False,
    "started_at": _at(0),
    "opened_at": _at(0),
    "finished_at": _at(9),
    "step": "done",
    "outcome": "saved",
    "reason": "too_expensive",
    "comment": "Too pricey for our team right now.",
    "feedback": None,
    "feedback_tags": ["pricing"],
    "offers_shown": ["pause-2-months", "downgrade-starter"],
    "accepted_offer": "pause-2-months",
    "result": "Paused for 2 months, resumes 2026-03-14",
    "plan": "Team",
    "billing_interval": "month",
    "currency": "usd",
    "monthly_cents": 4900,
    "flow_version_id": 3,
    "segment_id": None,
    "experiment_id": None,
    "arm_id": None,
    "attributes": {"first_name": "Dana", "plan": "team"},
    "losses": [{"label": "projects", "count": 12}],
    "context": {"snapshot": {"id": _CUSTOMER["subscription_id"], "customer_id": _CUSTOMER["customer_id"]}},
    "events": _EVENTS,
    "billing_operations": [
        {
            "action": "offer",
            "offer_id": "pause-2-months",
            "status": "applied",
            "attempt": 1,
            "idempotency_key": f"sf:{_SAVED_ID}:offer:pause-2-months:1",
            "summary": "Paused for 2 months, resumes 2026-03-14",
            "error": "",
            "created_at": _at(8),
            "updated_at": _at(9),
        }
    ],
}
_NOTHING_ELSE: dict[str, Any] = {
    "follow_up_tasks": [],
    "emails": [],
    "email_unsubscribes": [],
    "winbacks": [],
    "billing_webhook_events": [],
}
_DELIVERY = {
    "msg_id": "msg_2b9kQ0mY4yGx7rVb1cTzAa",
    "event_type": "offer.applied",
    "status": "delivered",
    "attempts": 1,
    "payload": {
        "type": "offer.applied",
        "timestamp": "2026-01-14T09:30:09+00:00",
        "data": {**_CUSTOMER, "session_id": _SAVED_ID, "test_mode": False, "outcome": "saved"},
    },
    "created_at": _at(9),
    "delivered_at": _at(10),
}
CUSTOMER_DATA = [
    example(
        "held",
        "A customer saved by a pause",
        {
            "customer_id": _CUSTOMER["customer_id"],
            "erased_at": None,
            "sessions": [_HELD_SESSION],
            **_NOTHING_ELSE,
            "webhook_deliveries": [_DELIVERY],
            "audit": [],
        },
    ),
    example(
        "erased",
        "The same customer after an erasure: the facts stay, the personal data is gone",
        {
            "customer_id": _CUSTOMER["customer_id"],
            "erased_at": "2026-02-01T08:00:00Z",
            "sessions": [{**_HELD_SESSION, "email": None, "comment": None, "attributes": {}, "losses": []}],
            **_NOTHING_ELSE,
            "webhook_deliveries": [_DELIVERY],
            "audit": [
                {
                    "actor": "api",
                    "action": "customer.erase",
                    "target": _CUSTOMER["customer_id"],
                    "before": "",
                    "after": "sessions=1 events=1 follow_up_tasks=0 emails=0 email_unsubscribes=0"
                    " billing_webhook_events=0",
                    "at": "2026-02-01T08:00:00Z",
                }
            ],
        },
    ),
]
_COUNTS = ("sessions", "events", "follow_up_tasks", "emails", "email_unsubscribes", "billing_webhook_events")
ERASED = [
    example(
        "erased",
        "Erased: what changed, by kind of row",
        {
            "customer_id": _CUSTOMER["customer_id"],
            "erased_at": "2026-02-01T08:00:00Z",
            **dict(zip(_COUNTS, (1, 1, 0, 0, 0, 0), strict=True)),
        },
    ),
    example(
        "again",
        "Erased before: nothing left to change",
        {"customer_id": _CUSTOMER["customer_id"], "erased_at": "2026-02-01T08:05:00Z", **dict.fromkeys(_COUNTS, 0)},
    ),
]
