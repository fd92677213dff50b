"""The server API's reads: filtered pages of sessions and feedback behind an opaque cursor, and the export.

Rules: may import flows, service.repositories and msgspec. Reads only. A cursor is the (started_at, id)
of the last item a page returned, base64url-encoded JSON: callers pass it back unchanged, so the
order can never shift under them, and a malformed one is a `BadFilter` (the HTTP layer's 400).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Generic, TypeVar

import msgspec

from flows import FlowState, Outcome
from service.repositories import session_pages
from service.repositories.session_lists import SessionQuery
from service.repositories.session_pages import PagedSession, StoredEvent

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

__all__ = ["BadFilter", "ExportedSession", "FeedbackItem", "Filters", "Page", "SessionItem", "StoredEvent"]
EXPORT_BATCH = 500  # sessions read per query while an export streams
_TOOK_OFFER = (Outcome.SAVED, Outcome.KEPT)

T = TypeVar("T")


class BadFilter(ValueError):
    """A filter or cursor the API cannot use; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Filters:
    """What the API's lists filter on; empty values match everything."""

    outcome: str = ""  # an outcome, or "open" for sessions without one yet
    reason: str = ""
    offer: str = ""  # shown or accepted
    customer_id: str = ""
    started_from: date | None = None  # UTC day, inclusive
    started_to: date | None = None  # UTC day, inclusive


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: tuple[T, ...]
    next_cursor: str | None  # None on the last page


@dataclass(frozen=True, slots=True)
class SessionItem:
    id: str
    customer_id: str
    subscription_id: str
    started_at: datetime
    finished_at: datetime | None
    step: str
    outcome: str | None
    reason: str | None
    offers_shown: tuple[str, ...]
    accepted_offer: str | None  # the offer that saved (or kept) the customer
    test_mode: bool
    plan: str
    currency: str
    monthly_cents: int
    locale: str
    flow_version_id: int
    experiment_id: str | None
    arm_id: str | None


@dataclass(frozen=True, slots=True)
class FeedbackItem:
    session_id: str
    customer_id: str
    started_at: datetime
    comment: str | None
    feedback: str | None
    reason: str | None
    outcome: str | None
    offers_shown: tuple[str, ...]
    accepted_offer: str | None
    tags: tuple[str, ...]
    reviewed: bool


@dataclass(frozen=True, slots=True)
class ExportedSession(SessionItem):
    comment: str | None
    feedback: str | None
    result: str | None
    segment_id: str | None
    billing_interval: str
    events: tuple[StoredEvent, ...]


def accepted_offer(state: FlowState) -> str | None:
    """The offer the session ended on: only a saved or kept session took one."""
    return state.accepted_offer if state.outcome in _TOOK_OFFER else None


def _item(s: PagedSession) -> SessionItem:
    state = s.state
    return SessionItem(
        id=s.id,
        customer_id=s.customer_id,
        subscription_id=s.subscription_id,
        started_at=s.started_at,
        finished_at=s.finished_at,
        step=state.step.value,
        outcome=state.outcome.value if state.outcome else None,
        reason=state.reason,
        offers_shown=state.offers_shown,
        accepted_offer=accepted_offer(state),
        test_mode=s.test_mode,
        plan=s.plan,
        currency=s.currency,
        monthly_cents=s.monthly_cents,
        locale=s.locale,
        flow_version_id=s.flow_version_id,
        experiment_id=s.experiment_id,
        arm_id=s.arm_id,
    )


def _feedback(s: PagedSession) -> FeedbackItem:
    state = s.state
    return FeedbackItem(
        session_id=s.id,
        customer_id=s.customer_id,
        started_at=s.started_at,
        comment=state.comment,
        feedback=state.feedback,
        reason=state.reason,
        outcome=state.outcome.value if state.outcome else None,
        offers_shown=state.offers_shown,
        accepted_offer=accepted_offer(state),
        tags=tuple(t for t in s.feedback_tags.split(",") if t),
        reviewed=s.feedback_reviewed_at is not None,
    )


def _exported(s: PagedSession, events: tuple[StoredEvent, ...]) -> ExportedSession:
    state = s.state
    return ExportedSession(
        **{name: getattr(_item(s), name) for name in SessionItem.__dataclass_fields__},
        comment=state.comment,
        feedback=state.feedback,
        result=state.result_summary,
        segment_id=s.segment_id,
        billing_interval=s.billing_interval,
        events=events,
    )


# ------------------------------------------------------------------------------------ cursors and filters
def encode_cursor(position: session_pages.Position) -> str:
    started_at, session_id = position
    raw = msgspec.json.encode([started_at.isoformat(), session_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> session_pages.Position:
    """The position a cursor names. Raises BadFilter for anything `encode_cursor` did not make."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        started_at, session_id = msgspec.json.decode(raw, type=tuple[str, str])
        moment = datetime.fromisoformat(started_at)
    except (binascii.Error, ValueError, msgspec.DecodeError) as exc:
        raise BadFilter("Invalid cursor: pass a page's next_cursor back unchanged.") from exc
    if moment.tzinfo is None or not 0 < len(session_id) <= 255 or "\x00" in session_id:
        raise BadFilter("Invalid cursor: pass a page's next_cursor back unchanged.")
    return moment, session_id


def _query(f: Filters, *, with_text: bool = False) -> SessionQuery:
    if f.started_from and f.started_to and f.started_from > f.started_to:
        raise BadFilter(f"Invalid date range: from ({f.started_from}) is after to ({f.started_to}).")
    start = datetime.combine(f.started_from, time(), UTC) if f.started_from else None
    end = None
    if f.started_to and f.started_to < date.max:  # `to` is inclusive: up to the next day's start
        end = datetime.combine(f.started_to + timedelta(days=1), time(), UTC)
    return SessionQuery(
        outcome=f.outcome,
        reason=f.reason,
        offer=f.offer,
        customer=f.customer_id,
        start=start,
        end=end,
        with_text=with_text,
    )


async def _page(q: SessionQuery, cursor: str | None, limit: int) -> tuple[tuple[PagedSession, ...], str | None]:
    after = decode_cursor(cursor) if cursor else None
    found = await session_pages.page(q, after=after, limit=limit + 1)
    shown = found[:limit]
    more = len(found) > limit
    return shown, encode_cursor((shown[-1].started_at, shown[-1].id)) if more else None


# ------------------------------------------------------------------------------------ the reads
async def list_sessions(filters: Filters, *, cursor: str | None, limit: int) -> Page[SessionItem]:
    """Customer sessions matching `filters`, newest first, `limit` per page.

    Raises:
        BadFilter: the cursor is not one a page gave, or the date range is backwards.
    """
    found, next_cursor = await _page(_query(filters), cursor, limit)
    return Page(tuple(_item(s) for s in found), next_cursor)


async def list_feedback(filters: Filters, *, cursor: str | None, limit: int) -> Page[FeedbackItem]:
    """Sessions with a written answer (a reason's comment, the feedback step), newest first.

    Raises:
        BadFilter: as `list_sessions`.
    """
    found, next_cursor = await _page(_query(filters, with_text=True), cursor, limit)
    return Page(tuple(_feedback(s) for s in found), next_cursor)


def export_query(filters: Filters) -> SessionQuery:
    """The export's query, checked before the response starts (a stream cannot answer 400 any more).

    Raises:
        BadFilter: as `list_sessions`.
    """
    return _query(filters)


async def export_sessions(query: SessionQuery, *, batch: int | None = None) -> AsyncIterator[ExportedSession]:
    """Every customer session `query` matches, oldest first, with its event log, read `batch` at a time."""
    size = batch or EXPORT_BATCH
    after: session_pages.Position | None = None
    while True:
        found = await session_pages.page(query, after=after, limit=size, newest_first=False)
        logs = await session_pages.events_of([s.id for s in found])
        for s in found:
            yield _exported(s, logs[s.id])
        if len(found) < size:
            return
        after = (found[-1].started_at, found[-1].id)
