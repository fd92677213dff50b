"""The admin's filtered session lists (sessions, feedback, call queue) and what labels them.

Rules: may import piccolo, msgspec, flows types and service.db (tables, codec, engine). Reads only.
Rows come with their flow version's id so admin.queries can label them with that version's words,
and a session's log comes decoded, so its path is replayed rather than guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec

from flows import CustomerContext, Event, FlowDefinition, FlowState
from service.db import codec
from service.db.engine import is_postgres
from service.db.tables import FlowEvent, FlowSession, FlowVersion
from service.repositories.flows import PREVIEW_SUBSCRIPTION
from service.repositories.reports import SessionRecord


@dataclass(frozen=True, slots=True)
class SessionQuery:
    """Filters on customer sessions; empty values match everything."""

    outcome: str = ""  # "open": no outcome yet
    reason: str = ""
    offer: str = ""  # an offer the customer was shown, accepted or not
    plan: str = ""
    locale: str = ""
    start: datetime | None = None
    end: datetime | None = None  # exclusive
    search: str = ""  # customer id, email or session id
    customer: str = ""  # exactly this customer id
    text: str = ""  # within the written answers (comment, feedback)
    tag: str = ""
    unreviewed_only: bool = False
    with_text: bool = False  # only sessions with a comment or feedback


@dataclass(frozen=True, slots=True)
class ListedSession:
    record: SessionRecord
    locale: str
    flow_version: int
    state: FlowState
    tags: str
    reviewed_at: datetime | None


@dataclass(frozen=True, slots=True)
class FilterValues:
    """The values the filters can take, as found in customer sessions."""

    outcomes: tuple[str, ...]  # "open" for sessions without one
    reasons: tuple[str, ...]
    plans: tuple[str, ...]
    locales: tuple[str, ...]
    versions: tuple[int, ...]
    tags: tuple[str, ...]  # every tag CS has used


@dataclass(frozen=True, slots=True)
class SessionLog:
    definition: FlowDefinition
    context: CustomerContext
    events: tuple[Event, ...]
    times: tuple[datetime, ...]
    payloads: tuple[tuple[str, dict[str, Any]], ...]  # (type, payload) as stored, for the timeline


_COLUMNS = (
    FlowSession.id,
    FlowSession.customer_id,
    FlowSession.email,
    FlowSession.plan,
    FlowSession.monthly_cents.as_alias("mrr_cents"),
    FlowSession.currency,
    FlowSession.outcome,
    FlowSession.step,
    FlowSession.reason,
    FlowSession.offer_id,
    FlowSession.offer_kind,
    FlowSession.test_mode,
    FlowSession.started_at,
    FlowSession.locale,
    FlowSession.flow_version,
    FlowSession.state,
    FlowSession.feedback_tags,
    FlowSession.feedback_reviewed_at,
)


def _like(column: Any, text: str, *, exact_underscores: bool = False) -> Any:
    """Case-insensitive substring match (ILIKE on Postgres; SQLite's LIKE already ignores case)."""
    cleaned = text.replace("%", "") if exact_underscores else text.replace("%", "").replace("_", "")
    return column.ilike(f"%{cleaned}%") if is_postgres() else column.like(f"%{cleaned}%")


def condition(q: SessionQuery) -> Any:
    """The SQL condition for `q`, which may match a little more than `q`: `exact_match` checks the rest."""
    where: Any = (FlowSession.subscription_id != PREVIEW_SUBSCRIPTION) & FlowSession.opened_at.is_not_null()
    if q.outcome == "open":
        where &= FlowSession.outcome.is_null()
    elif q.outcome:
        where &= FlowSession.outcome == q.outcome
    for column, value in ((FlowSession.reason, q.reason), (FlowSession.plan, q.plan), (FlowSession.locale, q.locale)):
        if value:
            where &= column == value
    if q.offer:  # narrowed here, checked exactly against offers_shown in Python
        where &= _like(FlowSession.state, f'"{q.offer}"', exact_underscores=True)
    if q.customer:
        where &= FlowSession.customer_id == q.customer
    if q.start:
        where &= FlowSession.started_at >= q.start
    if q.end:
        where &= FlowSession.started_at < q.end
    if q.search:
        where &= (
            _like(FlowSession.customer_id, q.search)
            | _like(FlowSession.email, q.search)
            | _like(FlowSession.id, q.search)
        )
    if q.with_text:
        where &= FlowSession.state.like('%"comment":"%') | FlowSession.state.like('%"feedback":"%')
    if q.text:
        where &= _like(FlowSession.state, q.text)
    if q.tag:
        where &= _like(FlowSession.feedback_tags, q.tag)
    if q.unreviewed_only:
        where &= FlowSession.feedback_reviewed_at.is_null()
    return where


def _listed(r: dict[str, Any]) -> ListedSession:
    record = SessionRecord(
        id=r["id"],
        customer_id=r["customer_id"],
        email=r["email"],
        plan=r["plan"],
        mrr_cents=r["mrr_cents"],
        currency=r["currency"] or "usd",
        outcome=r["outcome"],
        step=r["step"],
        reason=r["reason"],
        offer_id=r["offer_id"],
        offer_kind=r["offer_kind"],
        test_mode=r["test_mode"],
        started_at=r["started_at"],
    )
    state = codec.state_from_json(r["state"])
    return ListedSession(record, r["locale"], r["flow_version"], state, r["feedback_tags"], r["feedback_reviewed_at"])


def exact_match(q: SessionQuery, state: FlowState) -> bool:
    """Whether a session that `condition(q)` found, in this state, really matches `q`."""
    if q.offer and q.offer not in state.offers_shown and q.offer != state.accepted_offer:
        return False
    if q.text:
        written = " ".join(t for t in (state.comment, state.feedback) if t).lower()
        return q.text.lower() in written
    return True


async def find(q: SessionQuery, *, limit: int, offset: int = 0, newest_first: bool = True) -> tuple[ListedSession, ...]:
    """Customer sessions matching `q` (newest first, or oldest first for exports read in batches)."""
    query = (
        FlowSession.select(*_COLUMNS).where(condition(q)).order_by(FlowSession.started_at, ascending=not newest_first)
    )
    rows = await query.order_by(FlowSession.id, ascending=not newest_first).limit(limit).offset(offset)
    return tuple(s for s in map(_listed, rows) if exact_match(q, s.state))


async def by_ids(session_ids: list[str]) -> dict[str, ListedSession]:
    if not session_ids:
        return {}
    rows = await FlowSession.select(*_COLUMNS).where(FlowSession.id.is_in(session_ids))
    return {r["id"]: _listed(r) for r in rows}


async def filter_values() -> FilterValues:
    """Distinct outcomes, reasons, plans, languages and flow versions of customer sessions."""
    customers = FlowSession.subscription_id != PREVIEW_SUBSCRIPTION

    async def distinct(column: Any) -> list[Any]:
        rows = await FlowSession.select(column.as_alias("value")).where(customers).distinct()
        return sorted(r["value"] for r in rows if r["value"] not in (None, ""))

    outcomes = await FlowSession.select(FlowSession.outcome).where(customers).distinct()
    return FilterValues(
        outcomes=tuple(sorted({r["outcome"] or "open" for r in outcomes})),
        reasons=tuple(await distinct(FlowSession.reason)),
        plans=tuple(await distinct(FlowSession.plan)),
        locales=tuple(await distinct(FlowSession.locale)),
        versions=tuple(sorted(await distinct(FlowSession.flow_version), reverse=True)),
        tags=tuple(sorted({t for joined in await distinct(FlowSession.feedback_tags) for t in joined.split(",") if t})),
    )


async def definitions(version_ids: list[int]) -> dict[int, FlowDefinition]:
    """The flow definitions of these versions (by version id)."""
    if not version_ids:
        return {}
    rows = await FlowVersion.select(FlowVersion.id, FlowVersion.definition).where(FlowVersion.id.is_in(version_ids))
    return {r["id"]: codec.definition_from_json(r["definition"]) for r in rows}


async def session_log(session_id: str) -> SessionLog | None:
    """One session's definition, frozen context and event log, decoded for an exact replay."""
    row = (
        await FlowSession.select(FlowSession.flow_version, FlowSession.context)
        .where(FlowSession.id == session_id)
        .first()
    )
    if row is None:
        return None
    found = await definitions([row["flow_version"]])
    events = (
        await FlowEvent.select(FlowEvent.type, FlowEvent.payload, FlowEvent.at)
        .where(FlowEvent.session == session_id)
        .order_by(FlowEvent.seq)
    )
    return SessionLog(
        definition=found[row["flow_version"]],
        context=codec.context_from_json(row["context"]),
        events=tuple(codec.event_from_json(e["type"], e["payload"]) for e in events),
        times=tuple(e["at"] for e in events),
        payloads=tuple((e["type"], msgspec.json.decode(e["payload"])) for e in events),
    )
