"""The server API (/api/v1, JSON, bearer API key): customer status for access gating, sessions to export."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any, Literal

import msgspec
from litestar import Controller, get
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, NotFoundException
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.spec import Components, SecurityScheme
from litestar.params import FromPath, FromQuery

from offers import SubscriptionNotFound
from service.db import repositories as repo
from service.deps import BillingDep, ClockDep
from service.settings import Settings
from service.use_cases.customer_status import UnknownCustomer, customer_status

BEARER_SCHEME = Components(security_schemes={"apiKey": SecurityScheme(type="http", scheme="bearer")})


def api_key_only(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    settings: Settings = connection.app.state.settings
    scheme, _, key = connection.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secrets.compare_digest(key.strip().encode(), settings.api_key.encode()):
        raise NotAuthorizedException("Send the API key as 'Authorization: Bearer <key>'.")


class CustomerStatusOut(msgspec.Struct):
    customer_id: str
    subscription_id: str
    status: Literal["active", "trialing", "paused", "cancel_scheduled", "cancelled", "past_due", "unpaid", "incomplete"]
    current_period_end: datetime
    paused_until: datetime | None = None
    cancel_at: datetime | None = None
    trial_end: datetime | None = None


class EventOut(msgspec.Struct):
    type: str
    at: datetime


class SessionOut(msgspec.Struct):
    id: str
    customer_id: str
    subscription_id: str
    step: str
    outcome: Literal["saved", "cancelled", "abandoned"] | None
    reason: str | None
    comment: str | None
    offers_shown: list[str]
    accepted_offer: str | None
    result: str | None
    test_mode: bool
    flow_version_id: int
    experiment_id: str | None
    arm_id: str | None
    started_at: datetime
    events: list[EventOut]


class ApiController(Controller):
    path = "/api/v1"
    guards = [api_key_only]
    tags = ["api"]
    security = [{"apiKey": []}]

    @get("/customers/{customer_id:str}/status", name="api:customer_status")
    async def get_customer_status(
        self,
        customer_id: FromPath[str],
        billing: BillingDep,
        clock: ClockDep,
        subscription_id: FromQuery[str | None] = None,
    ) -> CustomerStatusOut:
        """Whether the host should gate access: active, trialing, paused (until when) or cancelling."""
        try:
            status = await customer_status(customer_id, subscription_id=subscription_id, billing=billing, now=clock())
        except (UnknownCustomer, SubscriptionNotFound) as exc:
            raise NotFoundException("No subscription is known for this customer.") from exc
        return msgspec.convert(status, CustomerStatusOut, from_attributes=True)

    @get("/sessions/{session_id:str}", name="api:session")
    async def get_session(self, session_id: FromPath[str]) -> SessionOut:
        """One cancellation session: answers, offers, outcome and its event timeline."""
        session = await repo.get_session(session_id)
        if session is None:
            raise NotFoundException("No such session.")
        events = await repo.events_of(session_id)
        state = session.state
        return SessionOut(
            id=session.id,
            customer_id=session.customer_id,
            subscription_id=session.subscription_id,
            step=state.step.value,
            outcome=state.outcome.value if state.outcome else None,
            reason=state.reason,
            comment=state.comment,
            offers_shown=list(state.offers_shown),
            accepted_offer=state.accepted_offer if state.outcome and state.outcome.value == "saved" else None,
            result=state.result_summary,
            test_mode=session.test_mode,
            flow_version_id=session.flow_version_id,
            experiment_id=session.experiment_id,
            arm_id=session.arm_id,
            started_at=session.started_at,
            events=[EventOut(type=type(e).__name__, at=e.at) for e in events],
        )
