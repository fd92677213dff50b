"""The admin's read side: session lists and (later) every metric definition, in one place.

Rules: may import service.db.tables and piccolo; returns frozen rows, never Piccolo objects.
Definitions: a session is *saved* when an offer was accepted AND applied by billing (outcome
"saved"); *cancelled* when the cancellation reached billing; *abandoned* when closed without either;
*open* while none of those happened yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from service.db.tables import FlowSession


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


async def sessions_page(page: int = 1, outcome: str | None = None) -> SessionsPage:
    page = max(page, 1)
    query = FlowSession.select(
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
    if outcome == "open":
        query = query.where(FlowSession.outcome.is_null())
    elif outcome:
        query = query.where(FlowSession.outcome == outcome)
    rows = (
        await query.order_by(FlowSession.started_at, ascending=False)
        .limit(PAGE_SIZE + 1)
        .offset((page - 1) * PAGE_SIZE)
    )
    return SessionsPage(
        rows=tuple(
            SessionRow(
                id=r["id"],
                customer_id=r["customer_id"],
                email=r["email"],
                plan=r["plan"],
                mrr_cents=r["mrr_cents"],
                outcome=r["outcome"] or "open",
                step=r["step"],
                reason=r["reason"],
                offer_id=r["offer_id"] if r["outcome"] == "saved" else None,
                offer_kind=r["offer_kind"] if r["outcome"] == "saved" else None,
                test_mode=r["test_mode"],
                started_at=r["started_at"],
            )
            for r in rows[:PAGE_SIZE]
        ),
        page=page,
        has_next=len(rows) > PAGE_SIZE,
    )
