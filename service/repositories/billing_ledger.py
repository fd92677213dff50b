"""The billing operation ledger: billing work recorded as pending before it runs, its outcome, and the
sweeper's leases on work a crash left pending.

Rules: may import piccolo, service.db and flows/offers types. No business decisions here. Every
function belongs inside the caller's unit of work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flows import Effect, SessionId
from flows.effects import ApplyOffer
from service.db import codec
from service.db.engine import lock_rows_if_postgres
from service.db.tables import BillingOperation


@dataclass(frozen=True, slots=True)
class PendingOperation:
    session_id: SessionId
    idempotency_key: str
    effect: Effect
    created_at: datetime


async def add_pending(session_id: str, effect: Effect, now: datetime) -> None:
    """Record billing work as pending before it runs.

    A retry after an unknown outcome (a timeout) reuses the same idempotency key on purpose; its row is
    then reopened rather than duplicated, so the key stays unique and the history stays on it. The
    session's row lock (or SQLite's write lock) is held, and a key belongs to one session, so the
    look-up and the write cannot race.
    """
    reopened = (
        await BillingOperation.update(
            {BillingOperation.status: "pending", BillingOperation.claimed_until: None, BillingOperation.updated_at: now}
        )
        .where(BillingOperation.idempotency_key == effect.idempotency_key)
        .returning(BillingOperation.id)
    )
    if reopened:
        return
    offer = effect.offer if isinstance(effect, ApplyOffer) else None
    await BillingOperation.insert(
        BillingOperation(
            session=session_id,
            action="offer" if offer else "cancel",
            offer_id=offer.id if offer else None,
            offer_kind=offer.kind.value if offer else None,
            idempotency_key=effect.idempotency_key,
            attempt=effect.attempt,
            status="pending",
            effect=codec.dumps(effect),
            created_at=now,
            updated_at=now,
        )
    )


async def finish(key: str, *, status: str, summary: str, error: str, now: datetime) -> bool:
    """Settle a pending operation; False when it was no longer pending (someone else settled it)."""
    settled = (
        await BillingOperation.update(
            {
                BillingOperation.status: status,
                BillingOperation.summary: summary,
                BillingOperation.error: error,
                BillingOperation.updated_at: now,
            }
        )
        .where((BillingOperation.idempotency_key == key) & (BillingOperation.status == "pending"))
        .returning(BillingOperation.id)
    )
    return bool(settled)


async def claim_pending(
    now: datetime, *, older_than: datetime, lease_seconds: int, limit: int = 50
) -> list[PendingOperation]:
    """Lease pending operations to this sweeper, so several app instances can sweep at once.

    On Postgres the SELECT skips rows another sweeper has locked (FOR UPDATE SKIP LOCKED); on SQLite the
    unit of work serialises sweepers. A sweeper that dies simply lets its lease run out.
    """
    query = (
        BillingOperation.select(BillingOperation.id)
        .where(
            (BillingOperation.status == "pending")
            & (BillingOperation.created_at < older_than)
            & (BillingOperation.claimed_until.is_null() | (BillingOperation.claimed_until < now))
        )
        .order_by(BillingOperation.id)
        .limit(limit)
    )
    query = lock_rows_if_postgres(query, skip_locked=True)
    ids = [r["id"] for r in await query]
    if not ids:
        return []
    rows = (
        await BillingOperation.update({BillingOperation.claimed_until: now + timedelta(seconds=lease_seconds)})
        .where(BillingOperation.id.is_in(ids))
        .returning(
            BillingOperation.session,
            BillingOperation.idempotency_key,
            BillingOperation.effect,
            BillingOperation.created_at,
        )
    )
    return [
        PendingOperation(
            SessionId(r["session"]), r["idempotency_key"], codec.effect_from_json(r["effect"]), r["created_at"]
        )
        for r in rows
    ]
