"""Pause reminders: saved pause sessions whose billing resumes soon, and the mark that they were handled.

Rules: may import piccolo and service.db. No business decisions (service.use_cases.lifecycle decides
from a fresh billing read); writes belong inside the caller's `unit_of_work()`. A saved pause session's
`retained_from` is the moment billing resumes (offers.value.retained_after); `pause_reminded_at` says
its reminder went out, or that none was needed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from service.db.tables import FlowSession

# Billing stores whole seconds (Stripe's timestamps), our column may keep a fraction: compare with slack.
SAME_MOMENT = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class PauseSession:
    """A saved pause not yet reminded: who, which subscription, and how to reach them."""

    session_id: str
    customer_id: str
    subscription_id: str
    resumes_at: datetime  # as the session recorded it; billing may say otherwise since
    email: str | None
    locale: str
    first_name: str


def _saved_pauses() -> Any:
    return (
        (FlowSession.outcome == "saved")
        & (FlowSession.offer_kind == "pause")
        & (FlowSession.test_mode == False)  # noqa: E712 - test mode paused nothing in billing
        & FlowSession.retained_from.is_not_null()
        & FlowSession.pause_reminded_at.is_null()
    )


def _first_name(attrs: str) -> str:
    try:
        value = json.loads(attrs or "{}").get("first_name", "")
    except (ValueError, AttributeError):
        return ""
    return value if isinstance(value, str) else ""


async def pauses_ending(before: datetime, limit: int) -> list[PauseSession]:
    """Unreminded saved pauses that resume before `before` (ended ones too: billing tells what happened),
    soonest first."""
    rows = (
        await FlowSession.select(
            FlowSession.id,
            FlowSession.customer_id,
            FlowSession.subscription_id,
            FlowSession.retained_from,
            FlowSession.email,
            FlowSession.locale,
            FlowSession.attrs,
        )
        .where(_saved_pauses() & (FlowSession.retained_from <= before))
        .order_by(FlowSession.retained_from)
        .limit(limit)
    )
    return [
        PauseSession(
            session_id=str(r["id"]),
            customer_id=r["customer_id"],
            subscription_id=r["subscription_id"],
            resumes_at=r["retained_from"],
            email=r["email"],
            locale=r["locale"],
            first_name=_first_name(r["attrs"]),
        )
        for r in rows
    ]


async def claim_reminder(session_id: str, subscription_id: str, resumes_at: datetime, now: datetime) -> list[str]:
    """Mark the session reminded, with every other unreminded pause of its subscription that ends by
    `resumes_at` (one reminder per pause, however many sessions paused it); returns the ids marked.
    Empty: another sweep marked them first, so this one must not remind."""
    rows = (
        await FlowSession.update({FlowSession.pause_reminded_at: now})
        .where(
            _saved_pauses()
            & (FlowSession.subscription_id == subscription_id)
            & ((FlowSession.id == session_id) | (FlowSession.retained_from <= resumes_at + SAME_MOMENT))
        )
        .returning(FlowSession.id)
    )
    return [str(r["id"]) for r in rows]
