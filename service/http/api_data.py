"""The server API's lists (/api/v1/sessions, /api/v1/feedback) and the NDJSON export for warehouses.

Rules: same bearer key and error shapes as service.http.api. Filters are query parameters, checked
before any read; a bad one is a 400 naming it. Lists are paged with an opaque cursor (`next_cursor`,
null on the last page); the export streams one JSON object per line, read from the database in batches.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, get
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import QueryParameter
from litestar.response import Stream

from service.http import api_data_examples as examples
from service.http.api import ERROR_RESPONSES, ID_PATTERN, ID_RULE, _bad_parameter, api_key_only
from service.use_cases.api_reads import (
    BadFilter,
    Filters,
    export_query,
    export_sessions,
    list_feedback,
    list_sessions,
)

NDJSON = "application/x-ndjson"
OutcomeName = Literal["saved", "kept", "cancelled", "abandoned", "reactivated"]

OutcomeQuery = Annotated[
    Literal["saved", "kept", "cancelled", "abandoned", "reactivated", "open"] | None,
    QueryParameter(description="Only sessions with this outcome; `open` for those still without one."),
]
ReasonQuery = Annotated[
    str | None,
    QueryParameter(
        description="Only sessions whose reason has this id.", min_length=1, max_length=64, pattern=ID_PATTERN
    ),
]
OfferQuery = Annotated[
    str | None,
    QueryParameter(
        description="Only sessions that showed (or accepted) the offer with this id.",
        min_length=1,
        max_length=64,
        pattern=ID_PATTERN,
    ),
]
CustomerQuery = Annotated[
    str | None,
    QueryParameter(
        description=f"Only this customer's sessions (the embed token's `sub`); {ID_RULE}.",
        min_length=1,
        max_length=255,
        pattern=ID_PATTERN,
    ),
]
FromQuery = Annotated[
    date | None, QueryParameter(name="from", description="Only sessions started on or after this UTC day.")
]
ToQuery = Annotated[
    date | None, QueryParameter(name="to", description="Only sessions started on or before this UTC day.")
]
LimitQuery = Annotated[int, QueryParameter(description="Items per page.", ge=1, le=100)]
CursorQuery = Annotated[
    str | None,
    QueryParameter(
        description="The `next_cursor` of the previous page, unchanged; omit it for the first page.",
        min_length=1,
        max_length=400,
        pattern=r"^[A-Za-z0-9_-]+$",
    ),
]


class SessionItemOut(msgspec.Struct):
    id: str
    customer_id: str
    subscription_id: str
    started_at: datetime
    finished_at: datetime | None
    step: str
    outcome: OutcomeName | None
    reason: str | None
    offers_shown: list[str]
    accepted_offer: str | None
    test_mode: bool
    plan: str
    currency: str
    monthly_cents: int
    locale: str
    flow_version_id: int
    experiment_id: str | None
    arm_id: str | None


class SessionListOut(msgspec.Struct):
    sessions: list[SessionItemOut]
    next_cursor: str | None


class FeedbackItemOut(msgspec.Struct):
    session_id: str
    customer_id: str
    started_at: datetime
    comment: str | None
    feedback: str | None
    reason: str | None
    outcome: OutcomeName | None
    offers_shown: list[str]
    accepted_offer: str | None
    tags: list[str]
    reviewed: bool


class FeedbackListOut(msgspec.Struct):
    feedback: list[FeedbackItemOut]
    next_cursor: str | None


class LoggedEventOut(msgspec.Struct):
    seq: int
    type: str
    at: datetime
    data: dict[str, Any]


class ExportedSessionOut(SessionItemOut):
    comment: str | None
    feedback: str | None
    result: str | None
    segment_id: str | None
    billing_interval: str
    events: list[LoggedEventOut]


def _filters(
    outcome: str | None,
    reason: str | None,
    offer: str | None,
    customer_id: str | None,
    start: date | None,
    end: date | None,
) -> Filters:
    return Filters(
        outcome=outcome or "",
        reason=reason or "",
        offer=offer or "",
        customer_id=customer_id or "",
        started_from=start,
        started_to=end,
    )


def ok_response(data_container: Any, description: str, shown: list[Example]) -> ResponseSpec:
    return ResponseSpec(data_container=data_container, description=description, examples=shown)


def _bad_request(exc: BadFilter) -> HTTPException:
    return HTTPException(status_code=400, detail=str(exc))


class ApiDataController(Controller):
    path = "/api/v1"
    guards = [api_key_only]
    tags = ["api"]
    security = [{"apiKey": []}]
    exception_handlers = {ValidationException: _bad_parameter}

    @get(
        "/sessions",
        name="api:sessions",
        summary="List cancellation sessions",
        responses={
            200: ok_response(SessionListOut, "A page of sessions, newest first.", examples.SESSIONS),
            **ERROR_RESPONSES,
        },
    )
    async def list_sessions(
        self,
        outcome: OutcomeQuery = None,
        reason: ReasonQuery = None,
        offer: OfferQuery = None,
        customer_id: CustomerQuery = None,
        started_from: FromQuery = None,
        started_to: ToQuery = None,
        limit: LimitQuery = 50,
        cursor: CursorQuery = None,
    ) -> SessionListOut:
        """Cancellation sessions, newest first, filtered and paged: pass `next_cursor` back for the next page."""
        filters = _filters(outcome, reason, offer, customer_id, started_from, started_to)
        try:
            page = await list_sessions(filters, cursor=cursor, limit=limit)
        except BadFilter as exc:
            raise _bad_request(exc) from exc
        return SessionListOut(
            sessions=[msgspec.convert(s, SessionItemOut, from_attributes=True) for s in page.items],
            next_cursor=page.next_cursor,
        )

    @get(
        "/feedback",
        name="api:feedback",
        summary="List what customers wrote",
        responses={
            200: ok_response(FeedbackListOut, "A page of written answers, newest first.", examples.FEEDBACK),
            **ERROR_RESPONSES,
        },
    )
    async def list_feedback(
        self,
        outcome: OutcomeQuery = None,
        reason: ReasonQuery = None,
        offer: OfferQuery = None,
        customer_id: CustomerQuery = None,
        started_from: FromQuery = None,
        started_to: ToQuery = None,
        limit: LimitQuery = 50,
        cursor: CursorQuery = None,
    ) -> FeedbackListOut:
        """What customers wrote (a reason's comment, the feedback step), with the session's reason, offers
        and outcome; newest first, filtered and paged like /sessions."""
        filters = _filters(outcome, reason, offer, customer_id, started_from, started_to)
        try:
            page = await list_feedback(filters, cursor=cursor, limit=limit)
        except BadFilter as exc:
            raise _bad_request(exc) from exc
        return FeedbackListOut(
            feedback=[msgspec.convert(f, FeedbackItemOut, from_attributes=True) for f in page.items],
            next_cursor=page.next_cursor,
        )

    @get(
        "/export/sessions.ndjson",
        name="api:export_sessions",
        summary="Export sessions with their events as NDJSON",
        media_type=NDJSON,
        responses={
            200: ResponseSpec(
                data_container=ExportedSessionOut,
                media_type=NDJSON,
                description="One session per line (oldest first), each with its event log; each line is this schema.",
                examples=examples.EXPORT_LINE,
            ),
            **ERROR_RESPONSES,
        },
    )
    async def export_sessions(self, started_from: FromQuery = None, started_to: ToQuery = None) -> Stream:
        """Every session started in the range, as newline-delimited JSON for a warehouse load, streamed."""
        try:
            query = export_query(_filters(None, None, None, None, started_from, started_to))
        except BadFilter as exc:
            raise _bad_request(exc) from exc

        async def lines() -> AsyncIterator[bytes]:
            async for session in export_sessions(query):
                yield msgspec.json.encode(msgspec.convert(session, ExportedSessionOut, from_attributes=True)) + b"\n"

        return Stream(lines(), media_type=NDJSON)
