"""The webhooks the service sends to the host app, as OpenAPI 3.1 `webhooks`: JSON Schemas, headers, examples.

Rules: documentation only; nothing here sends anything. The payloads are built by flows.notifications (a
session's events, wrapped by service.use_cases.outbound.queue_deliveries) and service.use_cases.lifecycle
(`subscription.pause_ending`); tests/integration/test_openapi.py validates real deliveries against these
schemas. Every type in flows.notifications.EVENT_TYPES must be documented here, or the app does not start.
"""

from __future__ import annotations

from typing import Any

from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Parameter,
    PathItem,
    Reference,
    RequestBody,
    Schema,
)

from flows import Outcome
from flows.notifications import EVENT_TYPES
from offers import OfferKind
from service.http.api_examples import example
from service.use_cases.outbound import BACKOFF, TIMEOUT_SECONDS

STRING, NULL = OpenAPIType.STRING, OpenAPIType.NULL


def _text(description: str, *, nullable: bool = False, format: OpenAPIFormat | None = None) -> Schema:
    return Schema(type=[STRING, NULL] if nullable else STRING, format=format, description=description)


def _object(properties: dict[str, Schema], *, description: str, nullable: bool = False) -> Schema:
    kind = [OpenAPIType.OBJECT, NULL] if nullable else OpenAPIType.OBJECT
    return Schema(type=kind, required=list(properties), properties=dict(properties), description=description)


CUSTOMER_ID = _text("The host app's customer id (the embed token's `sub`).")
SUBSCRIPTION_ID = _text("The billing subscription the session was about (the token's `subscription_id`).")
SESSION_ID = _text("The session, as `GET /api/v1/sessions/{session_id}` and the admin name it.")

SESSION_DATA = _object(
    {
        "customer_id": CUSTOMER_ID,
        "subscription_id": SUBSCRIPTION_ID,
        "test_mode": Schema(
            type=OpenAPIType.BOOLEAN, description="A test session (the token's `test`): billing was not changed."
        ),
        "session_id": SESSION_ID,
        "outcome": Schema(type=STRING, enum=[o.value for o in Outcome], description="How the session ended."),
        "reason": _text("The reason id the customer chose (say `too_expensive`), if they chose one.", nullable=True),
        "offer": _object(
            {
                "id": _text("The offer's id in the flow."),
                "kind": Schema(type=STRING, enum=[k.value for k in OfferKind], description="What the offer does."),
            },
            description="The offer the customer took (outcome `saved` or `kept`); null otherwise.",
            nullable=True,
        ),
        "result": _text("What the applied change did, in a sentence (the done screen's).", nullable=True),
        "cancel_effective_at": _text(
            "When access ends, for a cancellation; null when it is not one.",
            nullable=True,
            format=OpenAPIFormat.DATE_TIME,
        ),
    },
    description="The session and how it ended.",
)

PAUSE_ENDING_DATA = _object(
    {
        "customer_id": CUSTOMER_ID,
        "subscription_id": SUBSCRIPTION_ID,
        "session_id": _text("The session in which the customer chose the pause."),
        "resumes_at": _text("When billing resumes.", format=OpenAPIFormat.DATE_TIME),
        "resume_url": _text(
            "A signed link that opens the widget on this pause (resume now, extend it, or cancel).",
            format=OpenAPIFormat.URI,
        ),
    },
    description="The pause that is ending.",
)

# The same example customer throughout; `data` as the service sends it (session fields first, then the outcome).
_CUSTOMER = {"customer_id": "cus_4821", "subscription_id": "sub_1PqX8b2eZvKYlo2C"}
_SESSION = {**_CUSTOMER, "test_mode": False, "session_id": "ses_hA8zkKLiNTHseuOS1XQHtLr3"}
_SAVED_BY_PAUSE = {
    **_SESSION,
    "outcome": "saved",
    "reason": "too_expensive",
    "offer": {"id": "pause-2-months", "kind": "pause"},
    "result": "Paused for 2 months, resumes 2026-03-14",
    "cancel_effective_at": None,
}
_CANCELLED = {
    **_SESSION,
    "outcome": "cancelled",
    "reason": "not_using",
    "offer": None,
    "result": None,
    "cancel_effective_at": "2026-02-14T09:30:00+00:00",
}
_REACTIVATED = {
    **_SESSION,
    "outcome": "reactivated",
    "reason": None,
    "offer": None,
    "result": "Cancellation undone: renews 2026-02-14",
    "cancel_effective_at": None,
}
_PAUSE_ENDING = {
    **_CUSTOMER,
    "session_id": "ses_hA8zkKLiNTHseuOS1XQHtLr3",
    "resumes_at": "2026-03-14T00:00:00+00:00",
    "resume_url": "https://saveflow.example.com/w/link?token=.eJxNy7sKwzAMheF30ZzB0dCavIxRbA0G.AH07U-5EYMrp2u6xUpeT",
}

# type → (summary, description, data schema, example data)
EVENTS: dict[str, tuple[str, str, Schema, dict[str, Any]]] = {
    "session.completed": (
        "A cancellation session finished",
        "Sent once for every session that finishes, whatever its outcome (`saved`, `kept`, `cancelled`, "
        "`abandoned`, `reactivated`). A more specific event below may follow with the same data.",
        SESSION_DATA,
        _SAVED_BY_PAUSE,
    ),
    "offer.applied": (
        "The customer took an offer",
        "The customer accepted an offer and billing applied it (outcome `saved`), or took one that changes no "
        "billing, such as a training session (outcome `kept`). `offer` names it and `result` says what changed.",
        SESSION_DATA,
        _SAVED_BY_PAUSE,
    ),
    "subscription.paused": (
        "The subscription was paused instead of cancelled",
        "A pause offer was applied by billing; sent beside `offer.applied`. `result` gives the pause's end.",
        SESSION_DATA,
        _SAVED_BY_PAUSE,
    ),
    "subscription.cancelled": (
        "The subscription was cancelled",
        "Billing confirmed the cancellation. Access ends at `cancel_effective_at` (now, or the end of the paid "
        "period): gate access from then on. A cancellation undone later is announced as `subscription.reactivated`.",
        SESSION_DATA,
        _CANCELLED,
    ),
    "subscription.pause_ending": (
        "A pause ends soon",
        "Sent `SAVEFLOW_PAUSE_REMINDER_DAYS` (default 3) days before billing resumes after a pause, beside the "
        "reminder email: once per pause, and again for its new end if it is extended. `resume_url` is the email's "
        "signed link, for a reminder of your own.",
        PAUSE_ENDING_DATA,
        _PAUSE_ENDING,
    ),
    "subscription.reactivated": (
        "A scheduled cancellation was undone",
        "A customer whose subscription was set to end kept it (in the widget, or from the cancelled done screen's "
        "*Keep my subscription*): restore full access.",
        SESSION_DATA,
        _REACTIVATED,
    ),
}

HEADERS = (
    ("webhook-id", "The message id (`msg_…`). The same on every retry and replay: deduplicate on it."),
    ("webhook-timestamp", "When this attempt was signed, in Unix seconds. Refuse old ones (say, over 5 minutes)."),
    (
        "webhook-signature",
        "`v1,<base64 HMAC-SHA256>` of `{webhook-id}.{webhook-timestamp}.{body}`, keyed with the endpoint's "
        "`whsec_…` secret, per the Standard Webhooks specification. Verify it over the raw body before parsing.",
    ),
)


def _retries() -> str:
    def span(seconds: float) -> str:
        for unit, size in (("h", 3600), ("min", 60)):
            if seconds >= size:
                return f"{seconds / size:g} {unit}"
        return f"{seconds:g} s"

    waits = ", ".join(span(wait.total_seconds()) for wait in BACKOFF)
    return (
        f"Any 2xx status acknowledges the delivery. Any other status, or no answer within {TIMEOUT_SECONDS:g} s, "
        f"is retried after {waits}; then the delivery is marked failed, and an admin can replay it from the "
        "Operations page."
    )


def _webhook(event_type: str) -> PathItem:
    summary, description, data, sample = EVENTS[event_type]
    envelope = Schema(
        type=OpenAPIType.OBJECT,
        required=["type", "timestamp", "data"],
        properties={
            "type": Schema(type=STRING, const=event_type, description="The event type."),
            "timestamp": _text("When the event happened.", format=OpenAPIFormat.DATE_TIME),
            "data": data,
        },
    )
    body = {"type": event_type, "timestamp": "2026-01-14T09:30:12+00:00", "data": sample}
    return PathItem(
        post=Operation(
            summary=summary,
            description=description + "\n\nA JSON `POST` to each endpoint registered for this event type.",
            operation_id="webhook_" + event_type.replace(".", "_"),
            parameters=[
                Parameter(name=name, param_in="header", required=True, schema=Schema(type=STRING), description=text)
                for name, text in HEADERS
            ],
            request_body=RequestBody(
                required=True,
                content={
                    "application/json": OpenAPIMediaType(
                        schema=envelope, examples={event_type: example(event_type, summary, body)}
                    )
                },
            ),
            responses={"2XX": OpenAPIResponse(description=_retries())},
        )
    )


def outbound_webhooks() -> dict[str, PathItem | Reference]:
    """OpenAPIConfig's `webhooks`: one entry per outbound event type, in EVENT_TYPES's order."""
    missing = sorted(set(EVENT_TYPES) - set(EVENTS))
    if missing:
        raise RuntimeError(f"document these outbound webhook events in {__name__}: {', '.join(missing)}")
    return {event_type: _webhook(event_type) for event_type in EVENT_TYPES}
