"""Keyset-paged reads of customer sessions for the server API: its lists, its feedback and the NDJSON export.

Rules: may import piccolo, msgspec, flows types and service.db. Reads only. Filters are the admin's
(`session_lists.SessionQuery`, its SQL condition and exact check); pages are keyed on
(started_at, id), so a page never repeats or skips a session however many are added meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec

from flows import FlowState
from service.db import codec
from service.db.tables import FlowEvent, FlowSession
from service.repositories.session_lists import SessionQuery, condition, exact_match

Position = tuple[datetime, str]  # (started_at, id) of the last session a page returned
_MAX_BATCH = 500


@dataclass(frozen=True, slots=True)
class PagedSession:
    id: str
    customer_id: str
    subscription_id: str
    email: str | None
    plan: str
    billing_interval: str
    currency: str
    monthly_cents: int
    locale: str
    test_mode: bool
    flow_version_id: int
    segment_id: str | None
    experiment_id: str | None
    arm_id: str | None
    started_at: datetime
    opened_at: datetime | None
    finished_at: datetime | None
    state: FlowState
    feedback_tags: str
    feedback_reviewed_at: datetime | None


@dataclass(frozen=True, slots=True)
class StoredEvent:
    seq: int
    type: str
    at: datetime
    data: dict[str, Any]  # the event as stored (its fields, `at` included)


COLUMNS = (
    FlowSession.id,
    FlowSession.customer_id,
    FlowSession.subscription_id,
    FlowSession.email,
    FlowSession.plan,
    FlowSession.billing_interval,
    FlowSession.currency,
    FlowSession.monthly_cents,
    FlowSession.locale,
    FlowSession.test_mode,
    FlowSession.flow_version,
    FlowSession.segment_id,
    FlowSession.experiment_id,
    FlowSession.arm_id,
    FlowSession.started_at,
    FlowSession.opened_at,
    FlowSession.finished_at,
    FlowSession.state,
    FlowSession.feedback_tags,
    FlowSession.feedback_reviewed_at,
)


def paged_session(r: dict[str, Any]) -> PagedSession:
    return PagedSession(
        id=r["id"],
        customer_id=r["customer_id"],
        subscription_id=r["subscription_id"],
        email=r["email"],
        plan=r["plan"],
        billing_interval=r["billing_interval"],
        currency=r["currency"],
        monthly_cents=r["monthly_cents"],
        locale=r["locale"],
        test_mode=bool(r["test_mode"]),
        flow_version_id=int(r["flow_version"]),
        segment_id=r["segment_id"],
        experiment_id=r["experiment_id"],
        arm_id=r["arm_id"],
        started_at=r["started_at"],
        opened_at=r["opened_at"],
        finished_at=r["finished_at"],
        state=codec.state_from_json(r["state"]),
        feedback_tags=r["feedback_tags"],
        feedback_reviewed_at=r["feedback_reviewed_at"],
    )


def _beyond(position: Position, *, newest_first: bool) -> Any:
    """Sessions strictly after `position` in the page order."""
    started_at, session_id = position
    if newest_first:
        return (FlowSession.started_at < started_at) | (
            (FlowSession.started_at == started_at) & (FlowSession.id < session_id)
        )
    return (FlowSession.started_at > started_at) | (
        (FlowSession.started_at == started_at) & (FlowSession.id > session_id)
    )


async def page(
    q: SessionQuery, *, after: Position | None, limit: int, newest_first: bool = True
) -> tuple[PagedSession, ...]:
    """Up to `limit` customer sessions matching `q` exactly, after `after`, ordered by (started_at, id)
    descending (or ascending). The SQL condition may match a little more than `q` (an offer id inside the
    state), so rows are read in batches until `limit` exact matches are found or none are left."""
    found: list[PagedSession] = []
    batch = min(max(limit, 50), _MAX_BATCH)
    position = after
    while len(found) < limit:
        where = condition(q)
        if position is not None:
            where &= _beyond(position, newest_first=newest_first)
        ascending = not newest_first
        query = FlowSession.select(*COLUMNS).where(where).order_by(FlowSession.started_at, ascending=ascending)
        rows = await query.order_by(FlowSession.id, ascending=ascending).limit(batch)
        for row in rows:
            session = paged_session(row)
            position = (session.started_at, session.id)
            if exact_match(q, session.state) and (not q.with_text or session.state.comment or session.state.feedback):
                found.append(session)
                if len(found) == limit:
                    break
        if len(rows) < batch:
            break
    return tuple(found)


async def events_of(session_ids: list[str]) -> dict[str, tuple[StoredEvent, ...]]:
    """The event logs of these sessions (each oldest first), in one read."""
    if not session_ids:
        return {}
    rows = (
        await FlowEvent.select(FlowEvent.session, FlowEvent.seq, FlowEvent.type, FlowEvent.payload, FlowEvent.at)
        .where(FlowEvent.session.is_in(session_ids))
        .order_by(FlowEvent.session)
        .order_by(FlowEvent.seq)
    )
    logs: dict[str, list[StoredEvent]] = {sid: [] for sid in session_ids}
    for r in rows:
        logs[r["session"]].append(StoredEvent(r["seq"], r["type"], r["at"], msgspec.json.decode(r["payload"])))
    return {sid: tuple(events) for sid, events in logs.items()}
