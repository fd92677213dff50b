"""The admin's read side: session lists and (later) every metric definition, in one place.

Rules: may import service.db.tables and piccolo; returns frozen rows, never Piccolo objects.
Definitions: a session is *saved* when an offer was accepted AND applied by billing (outcome
"saved"); *cancelled* when the cancellation reached billing; *abandoned* when closed without either;
*open* while none of those happened yet.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec

from service.db.flow_drafts import PREVIEW_SUBSCRIPTION
from service.db.tables import BillingOperation, FlowEvent, FlowSession, WebhookDelivery
from service.db.uow import is_postgres


@dataclass(frozen=True, slots=True)
class SessionRow:
    id: str
    customer_id: str
    email: str | None
    plan: str
    mrr_cents: int
    outcome: str  # saved | cancelled | abandoned | open
    step: str
    reason: str | None
    offer_id: str | None
    offer_kind: str | None
    test_mode: bool
    started_at: datetime


@dataclass(frozen=True, slots=True)
class SessionsPage:
    rows: tuple[SessionRow, ...]
    page: int
    has_next: bool


PAGE_SIZE = 50


def _contains(column: Any, text: str) -> Any:
    """Case-insensitive substring match: ILIKE on Postgres, LIKE (already case-insensitive) on SQLite."""
    term = f"%{text.replace('%', '').replace('_', '')}%"
    return column.ilike(term) if is_postgres() else column.like(term)


_ROW_COLUMNS = (
    FlowSession.id,
    FlowSession.customer_id,
    FlowSession.email,
    FlowSession.plan,
    FlowSession.mrr_cents,
    FlowSession.outcome,
    FlowSession.step,
    FlowSession.reason,
    FlowSession.offer_id,
    FlowSession.offer_kind,
    FlowSession.test_mode,
    FlowSession.started_at,
)


def _session_row(r: dict[str, Any]) -> SessionRow:
    saved = r["outcome"] == "saved"
    return SessionRow(
        id=r["id"],
        customer_id=r["customer_id"],
        email=r["email"],
        plan=r["plan"],
        mrr_cents=r["mrr_cents"],
        outcome=r["outcome"] or "open",
        step=r["step"],
        reason=r["reason"],
        offer_id=r["offer_id"] if saved else None,
        offer_kind=r["offer_kind"] if saved else None,
        test_mode=r["test_mode"],
        started_at=r["started_at"],
    )


def _customers_only() -> Any:
    """Leaves out the flow editor's previews: an admin's scratch runs, not a customer's session."""
    return FlowSession.subscription_id != PREVIEW_SUBSCRIPTION


async def sessions_page(page: int = 1, outcome: str | None = None, search: str = "") -> SessionsPage:
    page = max(page, 1)
    query = FlowSession.select(*_ROW_COLUMNS).where(_customers_only())
    if outcome == "open":
        query = query.where(FlowSession.outcome.is_null())
    elif outcome:
        query = query.where(FlowSession.outcome == outcome)
    if search:
        query = query.where(
            _contains(FlowSession.customer_id, search)
            | _contains(FlowSession.email, search)
            | _contains(FlowSession.id, search)
        )
    rows = (
        await query.order_by(FlowSession.started_at, ascending=False)
        .limit(PAGE_SIZE + 1)
        .offset((page - 1) * PAGE_SIZE)
    )
    return SessionsPage(
        rows=tuple(_session_row(r) for r in rows[:PAGE_SIZE]), page=page, has_next=len(rows) > PAGE_SIZE
    )


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    at: datetime
    kind: str  # event | billing | webhook
    title: str
    detail: str


@dataclass(frozen=True, slots=True)
class SessionDetail:
    row: SessionRow
    state: dict[str, Any]
    timeline: tuple[TimelineEntry, ...]
    steps_taken: tuple[str, ...]
    flow_version_id: int
    experiment: str | None
    verified_at: datetime | None
    lapsed_at: datetime | None


async def session_detail(session_id: str) -> SessionDetail | None:
    """The session replayed from its event log, with its billing calls and the webhooks it caused."""
    row = await FlowSession.select().where(FlowSession.id == session_id).first()
    if row is None:
        return None
    events = await FlowEvent.select().where(FlowEvent.session == session_id).order_by(FlowEvent.seq)
    ops = await BillingOperation.select().where(BillingOperation.session == session_id).order_by(BillingOperation.id)
    deliveries = await WebhookDelivery.select(
        WebhookDelivery.event_type,
        WebhookDelivery.status,
        WebhookDelivery.attempts,
        WebhookDelivery.created_at,
        WebhookDelivery.endpoint.url,
    ).where(WebhookDelivery.payload.like(f'%"session_id": "{session_id}"%'))
    timeline: list[TimelineEntry] = []
    for e in events:
        payload = msgspec.json.decode(e["payload"])
        shown = {k: v for k, v in payload.items() if k != "at" and v not in ("", None)}
        detail = ", ".join(f"{k}: {v}" for k, v in shown.items())
        timeline.append(TimelineEntry(e["at"], "event", e["type"], detail))
    for op in ops:
        what = f"{op['action']} {op['offer_id'] or ''}".strip()
        detail = f"status {op['status']}, attempt {op['attempt']}, key {op['idempotency_key']}"
        if op["error"]:
            detail += f", error: {op['error']}"
        timeline.append(TimelineEntry(op["created_at"], "billing", f"Billing: {what}", detail))
    for d in deliveries:
        detail = f"{d['status']} after {d['attempts']} attempt(s) to {d['endpoint.url']}"
        timeline.append(TimelineEntry(d["created_at"], "webhook", f"Webhook {d['event_type']}", detail))
    timeline.sort(key=lambda entry: entry.at)
    state = msgspec.json.decode(row["state"])
    steps = _steps_taken(state, [e["type"] for e in events])
    experiment = f"{row['experiment_id']} / {row['arm_id']}" if row["experiment_id"] else None
    return SessionDetail(
        row=_session_row(row),
        state=state,
        timeline=tuple(timeline),
        steps_taken=steps,
        flow_version_id=row["flow_version"],
        experiment=experiment,
        verified_at=row["verified_at"],
        lapsed_at=row["save_lapsed_at"],
    )


_EVENT_STEP = {
    "Started": "loss_aversion",
    "Continued": "survey",
    "ReasonChosen": "offer",
    "OfferAccepted": "offer_pending",
    "FeedbackGiven": "confirm",
    "CancelRequested": "confirm",
    "CancelConfirmed": "cancel_pending",
    "OfferApplied": "done",
    "CancelApplied": "done",
    "Closed": "done",
}


def _steps_taken(state: dict[str, Any], event_types: list[str]) -> tuple[str, ...]:
    steps: list[str] = []
    for name in event_types:
        step = _EVENT_STEP.get(name)
        if step and step not in steps:
            steps.append(step)
    return tuple(steps)


@dataclass(frozen=True, slots=True)
class FeedbackRow:
    session_id: str
    started_at: datetime
    customer: str
    plan: str
    mrr_cents: int
    reason: str | None
    outcome: str
    text: str
    tags: tuple[str, ...] = ()
    reviewed: bool = False


def normalise_tags(raw: str) -> str:
    """'Pricing, onboarding,, pricing' → 'onboarding,pricing' (lower-case, unique, sorted, short)."""
    tags = {t.strip().lower()[:30] for t in raw.split(",") if t.strip()}
    return ",".join(sorted(tags))[:255]


async def feedback(
    search: str = "", limit: int = 200, *, tag: str = "", unreviewed_only: bool = False
) -> tuple[FeedbackRow, ...]:
    """Every free-text answer (the reason's follow-up and the feedback step), newest first."""
    query = FlowSession.select(
        FlowSession.id,
        FlowSession.started_at,
        FlowSession.customer_id,
        FlowSession.email,
        FlowSession.plan,
        FlowSession.mrr_cents,
        FlowSession.reason,
        FlowSession.outcome,
        FlowSession.state,
        FlowSession.feedback_tags,
        FlowSession.feedback_reviewed_at,
    ).where((FlowSession.state.like('%"comment":"%') | FlowSession.state.like('%"feedback":"%')) & _customers_only())
    if search:
        query = query.where(_contains(FlowSession.state, search))
    if tag:
        query = query.where(_contains(FlowSession.feedback_tags, normalise_tags(tag)))
    if unreviewed_only:
        query = query.where(FlowSession.feedback_reviewed_at.is_null())
    rows = await query.order_by(FlowSession.started_at, ascending=False).limit(limit)
    result = []
    for r in rows:
        state = msgspec.json.decode(r["state"])
        text = " / ".join(t for t in (state.get("comment"), state.get("feedback")) if t)
        if text and (not search or search.lower() in text.lower()):
            result.append(
                FeedbackRow(
                    r["id"],
                    r["started_at"],
                    r["email"] or r["customer_id"],
                    r["plan"],
                    r["mrr_cents"],
                    r["reason"],
                    r["outcome"] or "open",
                    text,
                    tuple(t for t in (r["feedback_tags"] or "").split(",") if t),
                    r["feedback_reviewed_at"] is not None,
                )
            )
    return tuple(result)


async def export_rows(outcome: str | None, batch: int = 500) -> AsyncIterator[SessionRow]:
    """All sessions (optionally of one outcome), oldest first, fetched in batches for streaming."""
    offset = 0
    while True:
        query = FlowSession.select(*_ROW_COLUMNS).where(_customers_only())
        if outcome == "open":
            query = query.where(FlowSession.outcome.is_null())
        elif outcome:
            query = query.where(FlowSession.outcome == outcome)
        rows = await query.order_by(FlowSession.started_at).order_by(FlowSession.id).limit(batch).offset(offset)
        for row in rows:
            yield _session_row(row)
        if len(rows) < batch:
            return
        offset += batch
