"""The server API's GDPR endpoints: GET and DELETE /api/v1/customers/{id}/data (export, erase).

Rules: same bearer key and error shapes as service.http.api. A customer nothing is stored about is a
404 for both; a second DELETE answers 200 with nothing left to change, and is audited like the first.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from litestar import Controller, delete, get
from litestar.exceptions import HTTPException, ValidationException

from service.deps import ClockDep
from service.http import api_data_examples as examples
from service.http.api import ERROR_RESPONSES, CustomerIdPath, ErrorOut, _bad_parameter, _error, api_key_only
from service.http.api_data import LoggedEventOut, OutcomeName, ok_response
from service.use_cases.api_reads import accepted_offer
from service.use_cases.customer_data import (
    CustomerRecords,
    HeldSession,
    NoCustomerData,
    customer_data,
    erase_customer_data,
    erased_at,
)

NOTHING_HELD = "Nothing is stored about this customer."
NOT_FOUND = _error("No row names this customer id.", ErrorOut(404, NOTHING_HELD))


class BillingOperationOut(msgspec.Struct):
    action: str
    offer_id: str | None
    status: str
    attempt: int
    idempotency_key: str
    summary: str
    error: str
    created_at: datetime
    updated_at: datetime


class CustomerSessionOut(msgspec.Struct):
    id: str
    subscription_id: str
    email: str | None
    locale: str
    test_mode: bool
    started_at: datetime
    opened_at: datetime | None
    finished_at: datetime | None
    step: str
    outcome: OutcomeName | None
    reason: str | None
    comment: str | None
    feedback: str | None
    feedback_tags: list[str]
    offers_shown: list[str]
    accepted_offer: str | None
    result: str | None
    plan: str
    billing_interval: str
    currency: str
    monthly_cents: int
    flow_version_id: int
    segment_id: str | None
    experiment_id: str | None
    arm_id: str | None
    attributes: dict[str, Any]
    losses: list[Any]
    context: dict[str, Any]
    events: list[LoggedEventOut]
    billing_operations: list[BillingOperationOut]


class FollowUpTaskOut(msgspec.Struct):
    session_id: str
    email: str | None
    offer_id: str
    note: str
    status: str
    assignee: str
    created_at: datetime
    done_at: datetime | None


class EmailAttemptOut(msgspec.Struct):
    at: datetime
    ok: bool
    detail: str


class EmailOut(msgspec.Struct):
    kind: str
    to_address: str
    locale: str
    subject: str
    text_body: str
    html_body: str
    status: str
    note: str
    created_at: datetime
    sent_at: datetime | None
    attempts: list[EmailAttemptOut]


class UnsubscribeOut(msgspec.Struct):
    address: str
    source: str
    at: datetime


class WinbackOut(msgspec.Struct):
    session_id: str
    subscription_id: str
    new_subscription_id: str
    status: str
    error: str
    currency: str
    list_cents: int
    won_back_cents: int
    offer: Any
    created_at: datetime
    settled_at: datetime | None


class WebhookDeliveryOut(msgspec.Struct):
    msg_id: str
    event_type: str
    status: str
    attempts: int
    payload: dict[str, Any]
    created_at: datetime
    delivered_at: datetime | None


class BillingWebhookOut(msgspec.Struct):
    provider: str
    event_id: str | None
    type: str
    subscription_id: str | None
    status: str
    payload: Any
    received_at: datetime


class AuditOut(msgspec.Struct):
    actor: str
    action: str
    target: str
    before: str
    after: str
    at: datetime


class CustomerDataOut(msgspec.Struct):
    customer_id: str
    erased_at: datetime | None  # the last erasure, if any
    sessions: list[CustomerSessionOut]
    follow_up_tasks: list[FollowUpTaskOut]
    emails: list[EmailOut]
    email_unsubscribes: list[UnsubscribeOut]
    winbacks: list[WinbackOut]
    webhook_deliveries: list[WebhookDeliveryOut]
    billing_webhook_events: list[BillingWebhookOut]
    audit: list[AuditOut]


class ErasureOut(msgspec.Struct):
    """How many rows of each kind this erasure changed (all zero when they had been erased already)."""

    customer_id: str
    erased_at: datetime
    sessions: int
    events: int
    follow_up_tasks: int
    emails: int
    email_unsubscribes: int
    billing_webhook_events: int


def _session_out(held: HeldSession) -> CustomerSessionOut:
    s, state = held.session, held.session.state
    fields: dict[str, Any] = {name: getattr(s, name) for name in _SESSION_COLUMNS}
    fields |= {
        "step": state.step.value,
        "outcome": state.outcome.value if state.outcome else None,
        "reason": state.reason,
        "comment": state.comment,
        "feedback": state.feedback,
        "feedback_tags": [t for t in s.feedback_tags.split(",") if t],
        "offers_shown": state.offers_shown,
        "accepted_offer": accepted_offer(state),
        "result": state.result_summary,
        "attributes": held.attributes,
        "losses": held.losses,
        "context": held.context,
        "events": held.events,
        "billing_operations": held.billing_operations,
    }
    return msgspec.convert(fields, CustomerSessionOut, from_attributes=True)


_SESSION_COLUMNS = (
    "id", "subscription_id", "email", "locale", "test_mode", "started_at", "opened_at", "finished_at", "plan",
    "billing_interval", "currency", "monthly_cents", "flow_version_id", "segment_id", "experiment_id", "arm_id",
)  # fmt: skip


def _data_out(found: CustomerRecords) -> CustomerDataOut:
    fields: dict[str, Any] = {
        field: getattr(found, field) for field in CustomerDataOut.__struct_fields__ if hasattr(found, field)
    }
    fields |= {"erased_at": erased_at(found), "sessions": [_session_out(held) for held in found.sessions]}
    return msgspec.convert(fields, CustomerDataOut, from_attributes=True)


def _not_found() -> HTTPException:
    return HTTPException(status_code=404, detail=NOTHING_HELD)


class CustomerDataController(Controller):
    path = "/api/v1/customers/{customer_id:str}/data"
    guards = [api_key_only]
    tags = ["api"]
    security = [{"apiKey": []}]
    exception_handlers = {ValidationException: _bad_parameter}

    @get(
        name="api:customer_data",
        summary="Export everything stored about a customer",
        responses={
            200: ok_response(
                CustomerDataOut, "Every row about the customer, each list oldest first.", examples.CUSTOMER_DATA
            ),
            404: NOT_FOUND,
            **ERROR_RESPONSES,
        },
    )
    async def get_customer_data(self, customer_id: CustomerIdPath) -> CustomerDataOut:
        """Everything stored about the customer (a GDPR access request): sessions with their events and
        billing calls, follow-up tasks, emails, unsubscribes, win-backs, webhooks and audit entries."""
        try:
            found = await customer_data(customer_id)
        except NoCustomerData as exc:
            raise _not_found() from exc
        return _data_out(found)

    @delete(
        name="api:erase_customer_data",
        summary="Erase a customer's personal data",
        status_code=200,
        responses={
            200: ok_response(ErasureOut, "Erased: how many rows of each kind changed.", examples.ERASED),
            404: NOT_FOUND,
            **ERROR_RESPONSES,
        },
    )
    async def erase_customer_data(self, customer_id: CustomerIdPath, clock: ClockDep) -> ErasureOut:
        """Erase the customer's personal data (a GDPR erasure request), in one transaction, audited.

        Erased: email addresses, names and other token attributes, losses, written answers, follow-up
        notes, email subjects, bodies and addresses, and settled billing webhook payloads. Kept, so the
        dashboard's figures do not change: ids, outcomes, reasons, offers, money and times. Safe to repeat:
        a second request changes nothing (every count 0).
        """
        try:
            erasure = await erase_customer_data(customer_id, now=clock())
        except NoCustomerData as exc:
            raise _not_found() from exc
        return msgspec.convert(erasure, ErasureOut, from_attributes=True)
