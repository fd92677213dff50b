"""The server API (/api/v1, JSON, bearer API key): customer status for access gating, resume, sessions.

Rules: domain errors (unknown customer or session, billing down) are raised, and answered by
service.http.errors as documented here in ERROR_RESPONSES.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Components, Example, SecurityScheme
from litestar.params import PathParameter, QueryParameter

from flows import Outcome
from service.deps import BillingDep, ClockDep
from service.http import api_examples
from service.http.errors import BILLING_DOWN, BILLING_REFUSED, NO_SESSION, NO_SUBSCRIPTION, SERVICE_DOWN
from service.settings import Settings
from service.use_cases.customer_status import customer_status
from service.use_cases.lifecycle import NotPaused, resume_subscription
from service.use_cases.sessions import session_history

BEARER_SCHEME = Components(security_schemes={"apiKey": SecurityScheme(type="http", scheme="bearer")})
MISSING_KEY = "Send the API key as 'Authorization: Bearer <key>'."


def api_key_only(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    settings: Settings = connection.app.state.settings
    scheme, _, key = connection.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secrets.compare_digest(key.strip().encode(), settings.api_key.encode()):
        raise NotAuthorizedException(MISSING_KEY)


# An id as we store it: 1-255 characters (the embed token's limit for `sub` and `subscription_id`) and no NUL,
# which Postgres text cannot hold. Anything else is answered 400 before the database is asked.
ID_RULE = "an id is 1 to 255 characters long and has no NUL character"
ID_PATTERN = r"^[^\u0000]+$"


def _path_id(description: str) -> PathParameter:
    return PathParameter(description=f"{description}; {ID_RULE}.", min_length=1, max_length=255, pattern=ID_PATTERN)


CustomerIdPath = Annotated[str, _path_id("The host app's customer id (the embed token's `sub`)")]
SessionIdPath = Annotated[str, _path_id("A session id, as in webhooks and the admin (`ses_…`)")]
SubscriptionIdQuery = Annotated[
    str | None,
    QueryParameter(
        description=f"Read this billing subscription instead of the customer's latest session's; {ID_RULE}.",
        min_length=1,
        max_length=255,
        pattern=ID_PATTERN,
    ),
]
ID_PARAMETERS = frozenset({"customer_id", "session_id", "subscription_id"})


def _bad_parameter(request: Request[Any, Any, Any], exc: ValidationException) -> Response[dict[str, Any]]:
    """Litestar's 400 names the failed regex and echoes the URL; say instead which parameter and what is allowed."""
    problems = exc.extra if isinstance(exc.extra, list) else []
    reasons = []
    for problem in problems:
        key = str(problem.get("key", "")) if isinstance(problem, dict) else ""
        if key in ID_PARAMETERS:
            reasons.append(f"Invalid {key}: {ID_RULE}.")
        elif key:
            reasons.append(f"Invalid {key}: {problem.get('message', 'not an accepted value')}.")
    detail = " ".join(reasons) or str(exc.detail)
    return Response({"status_code": 400, "detail": detail, "extra": problems}, status_code=400)


class ErrorOut(msgspec.Struct):
    """Every error answer of the API: the status code again and a sentence for a person."""

    status_code: int
    detail: str


def _error(description: str, *examples: ErrorOut) -> ResponseSpec:
    """An error answer; `examples`: bodies it carries, word for word as the API sends them."""
    shown = [Example(summary=e.detail, value=msgspec.to_builtins(e)) for e in examples]
    return ResponseSpec(
        data_container=ErrorOut, description=description, generate_examples=False, examples=shown or None
    )


def _ok(data_container: Any, description: str, examples: list[Example]) -> ResponseSpec:
    """The success answer with named examples (service.http.api_examples), in place of Litestar's bare one."""
    return ResponseSpec(data_container=data_container, description=description, examples=examples)


# What any /api/v1 operation may answer besides its 200 (Litestar documents the 400 of bad parameters itself).
ERROR_RESPONSES: dict[int, ResponseSpec] = {
    401: _error(
        "The API key is missing or wrong: send 'Authorization: Bearer <key>'.",
        ErrorOut(401, MISSING_KEY),
    ),
    503: _error(
        "The database or the billing provider is briefly unavailable; retry after Retry-After seconds.",
        ErrorOut(503, BILLING_DOWN),
        ErrorOut(503, SERVICE_DOWN),
    ),
}


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
    outcome: Literal["saved", "kept", "cancelled", "abandoned", "reactivated"] | None
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
    exception_handlers = {ValidationException: _bad_parameter}

    @get(
        "/customers/{customer_id:str}/status",
        name="api:customer_status",
        summary="Read a customer's subscription status",
        responses={
            200: _ok(CustomerStatusOut, "The subscription as billing has it now.", api_examples.CUSTOMER_STATUS),
            404: _error(
                "No session names this customer (pass subscription_id), or billing has no such subscription.",
                ErrorOut(404, NO_SUBSCRIPTION),
            ),
            502: _error(
                "The billing provider refused to read the subscription (check the provider's API key).",
                ErrorOut(502, BILLING_REFUSED),
            ),
            **ERROR_RESPONSES,
        },
    )
    async def get_customer_status(
        self,
        customer_id: CustomerIdPath,
        billing: BillingDep,
        clock: ClockDep,
        subscription_id: SubscriptionIdQuery = None,
    ) -> CustomerStatusOut:
        """Whether the host should gate access: active, trialing, paused (until when) or cancelling."""
        status = await customer_status(customer_id, subscription_id=subscription_id, billing=billing, now=clock())
        return msgspec.convert(status, CustomerStatusOut, from_attributes=True)

    @post(
        "/customers/{customer_id:str}/resume",
        name="api:resume",
        summary="End a customer's pause now",
        status_code=200,
        responses={
            200: _ok(CustomerStatusOut, "Resumed: the subscription's new status.", api_examples.RESUMED),
            404: _error(
                "No session names this customer (pass subscription_id), or billing has no such subscription.",
                ErrorOut(404, NO_SUBSCRIPTION),
            ),
            409: _error(
                "The subscription is not paused, so there is nothing to resume (the detail says its status).",
                ErrorOut(409, "Subscription sub_1PqX8b2eZvKYlo2C is not paused (status: active)."),
            ),
            502: _error(
                "The billing provider refused the request (check the provider's API key).",
                ErrorOut(502, BILLING_REFUSED),
            ),
            **ERROR_RESPONSES,
        },
    )
    async def resume_customer(
        self,
        customer_id: CustomerIdPath,
        billing: BillingDep,
        clock: ClockDep,
        subscription_id: SubscriptionIdQuery = None,
    ) -> CustomerStatusOut:
        """End the customer's pause now: billing resumes today. Answers the new status, as GET …/status does.

        Safe to retry: the billing call's idempotency key names the pause being ended, so it resumes once,
        and never a later pause. A retry after it succeeded answers 409 (no longer paused). Each request
        and its result are written to the admin's audit log.
        """
        try:
            status = await resume_subscription(
                customer_id, subscription_id=subscription_id, billing=billing, clock=clock
            )
        except NotPaused as exc:
            raise HTTPException(
                status_code=409, detail=f"Subscription {exc.subscription_id} is not paused (status: {exc.status})."
            ) from exc
        return msgspec.convert(status, CustomerStatusOut, from_attributes=True)

    @get(
        "/sessions/{session_id:str}",
        name="api:session",
        summary="Read a cancellation session",
        responses={
            200: _ok(SessionOut, "The session, with its event timeline.", api_examples.SESSION),
            404: _error("No session has this id.", ErrorOut(404, NO_SESSION)),
            **ERROR_RESPONSES,
        },
    )
    async def get_session(self, session_id: SessionIdPath) -> SessionOut:
        """One cancellation session: answers, offers, outcome and its event timeline."""
        view, events = await session_history(session_id)
        session, state = view.session, view.state
        return SessionOut(
            id=session.id,
            customer_id=session.customer_id,
            subscription_id=session.subscription_id,
            step=state.step.value,
            outcome=state.outcome.value if state.outcome else None,
            reason=state.reason,
            comment=state.comment,
            offers_shown=list(state.offers_shown),
            accepted_offer=state.accepted_offer if state.outcome in (Outcome.SAVED, Outcome.KEPT) else None,
            result=state.result_summary,
            test_mode=session.test_mode,
            flow_version_id=session.flow_version_id,
            experiment_id=session.experiment_id,
            arm_id=session.arm_id,
            started_at=session.started_at,
            events=[EventOut(type=type(e).__name__, at=e.at) for e in events],
        )
