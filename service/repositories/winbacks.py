"""Win-backs: cancelled sessions due a win-back email, and the winback ledger (one row per reactivation).

Rules: may import piccolo, service.db and flows/offers types. No business decisions here (the use case
service.use_cases.winback decides, with offers.winback); writes belong inside the caller's
`unit_of_work()`. A winback row is committed `pending` before any billing call and settled after; the
sweep takes only rows whose lease (`claimed_until`) ran out, so a live request is never raced.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import msgspec

from offers.ports import SubscriptionSnapshot
from offers.winback import WinbackOffer
from service.db import codec
from service.db.engine import lock_rows_if_postgres
from service.db.tables import FlowSession, OutboundEmail, Winback

LEASE = timedelta(minutes=2)  # longer than the billing client's timeout, as the billing ledger's lease


def _cancelled() -> Any:
    return (FlowSession.outcome == "cancelled") & (FlowSession.test_mode == False)  # noqa: E712


async def cancelled_between(start: datetime, end: datetime) -> list[str]:
    """Ids of real (not test) sessions that ended cancelled in [start, end), oldest first (ids only: the
    window is a couple of days, and the caller skips those already emailed without reading them)."""
    rows = (
        await FlowSession.select(FlowSession.id)
        .where(_cancelled() & (FlowSession.finished_at >= start) & (FlowSession.finished_at < end))
        .order_by(FlowSession.finished_at)
    )
    return [str(r["id"]) for r in rows]


async def access_may_end_between(start: datetime, end: datetime) -> list[str]:
    """Ids of cancelled sessions whose access may have ended in [start, end): at the period end they
    started in, or at once when the cancel was immediate. The caller reads the session's own end."""
    in_window = ((FlowSession.period_end >= start) & (FlowSession.period_end < end)) | (
        (FlowSession.finished_at >= start) & (FlowSession.finished_at < end)
    )
    rows = await FlowSession.select(FlowSession.id).where(_cancelled() & in_window).order_by(FlowSession.id)
    return [str(r["id"]) for r in rows]


async def queued_keys(since: datetime) -> set[str]:
    """The dedupe keys of win-back emails queued since `since` (one read, so a round skips them unread)."""
    rows = await OutboundEmail.select(OutboundEmail.dedupe_key).where(
        (OutboundEmail.kind == "winback") & (OutboundEmail.created_at >= since)
    )
    return {r["dedupe_key"] for r in rows}


def first_name(attrs_json: str) -> str:
    try:
        value = json.loads(attrs_json or "{}").get("first_name", "")
    except (ValueError, AttributeError):
        return ""
    return value if isinstance(value, str) else ""


@dataclass(frozen=True, slots=True)
class WinbackRow:
    session_id: str
    customer_id: str
    subscription_id: str
    idempotency_key: str
    offer: WinbackOffer
    snapshot: SubscriptionSnapshot
    decided_at: datetime
    status: str
    new_subscription_id: str
    currency: str
    won_back_cents: int


_ROW = (
    Winback.session,
    Winback.customer_id,
    Winback.subscription_id,
    Winback.idempotency_key,
    Winback.offer,
    Winback.snapshot,
    Winback.decided_at,
    Winback.status,
    Winback.new_subscription_id,
    Winback.currency,
    Winback.won_back_cents,
)


def _row(r: dict[str, Any]) -> WinbackRow:
    return WinbackRow(
        session_id=r["session"],
        customer_id=r["customer_id"],
        subscription_id=r["subscription_id"],
        idempotency_key=r["idempotency_key"],
        offer=msgspec.json.decode(r["offer"], type=WinbackOffer),
        snapshot=msgspec.json.decode(r["snapshot"], type=SubscriptionSnapshot),
        decided_at=r["decided_at"],
        status=r["status"],
        new_subscription_id=r["new_subscription_id"],
        currency=r["currency"],
        won_back_cents=r["won_back_cents"],
    )


async def of_session(session_id: str) -> WinbackRow | None:
    row = await Winback.select(*_ROW).where(Winback.session == session_id).first()
    return None if row is None else _row(row)


async def add_pending(row: WinbackRow, *, list_cents: int, now: datetime) -> bool:
    """Record the win-back as pending, its lease running, before any billing call; False when the session
    already has one (a second click, or another tab): that one decides."""
    if await Winback.exists().where(Winback.session == row.session_id):
        return False
    await Winback.insert(
        Winback(
            session=row.session_id,
            customer_id=row.customer_id,
            subscription_id=row.subscription_id,
            idempotency_key=row.idempotency_key,
            offer=codec.dumps(row.offer),
            snapshot=codec.dumps(row.snapshot),
            decided_at=row.decided_at,
            status="pending",
            currency=row.currency,
            list_cents=list_cents,
            won_back_cents=row.won_back_cents,
            claimed_until=now + LEASE,
            created_at=now,
        )
    )
    return True


async def settle(key: str, *, status: str, error: str, new_subscription_id: str, now: datetime) -> bool:
    """Settle a pending win-back; False when it was settled already (the request and the sweep raced)."""
    settled = (
        await Winback.update(
            {
                Winback.status: status,
                Winback.error: error,
                Winback.new_subscription_id: new_subscription_id,
                Winback.settled_at: now,
            }
        )
        .where((Winback.idempotency_key == key) & (Winback.status == "pending"))
        .returning(Winback.id)
    )
    return bool(settled)


async def note_error(key: str, error: str) -> None:
    """Why an attempt did not finish; the row stays pending for the sweep, under the same keys."""
    await Winback.update({Winback.error: error}).where((Winback.idempotency_key == key) & (Winback.status == "pending"))


async def claim_expired(now: datetime, limit: int = 20) -> list[WinbackRow]:
    """Pending win-backs whose lease ran out (a crash, a timeout), each under a new lease for this sweep."""
    query = lock_rows_if_postgres(
        Winback.select(Winback.id)
        .where((Winback.status == "pending") & (Winback.claimed_until.is_null() | (Winback.claimed_until <= now)))
        .order_by(Winback.id)
        .limit(limit),
        skip_locked=True,
    )
    ids = [r["id"] for r in await query]
    if not ids:
        return []
    rows = await Winback.update({Winback.claimed_until: now + LEASE}).where(Winback.id.is_in(ids)).returning(*_ROW)
    return [_row(r) for r in rows]


@dataclass(frozen=True, slots=True)
class WonBack:
    """Applied win-backs settled in a range: how many, and monthly money per currency."""

    count: int
    won_back_cents: dict[str, int]  # currency → monthly price once billing restarts, summed
    list_cents: dict[str, int]  # currency → monthly list price, summed


async def won_back_between(start: datetime, end: datetime) -> WonBack:
    rows = await Winback.select(Winback.currency, Winback.won_back_cents, Winback.list_cents).where(
        (Winback.status == "applied") & (Winback.settled_at >= start) & (Winback.settled_at < end)
    )
    money: dict[str, int] = {}
    listed: dict[str, int] = {}
    for r in rows:
        money[r["currency"]] = money.get(r["currency"], 0) + int(r["won_back_cents"])
        listed[r["currency"]] = listed.get(r["currency"], 0) + int(r["list_cents"])
    return WonBack(len(rows), dict(sorted(money.items())), dict(sorted(listed.items())))
