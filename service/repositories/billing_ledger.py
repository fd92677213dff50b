"""The billing operation ledger: billing work recorded as pending before it runs, its outcome, and the
attempt clock that keeps the sweep off work a request is still executing.

Rules: may import piccolo, service.db and flows/offers types. No business decisions here. Every
function belongs inside the caller's unit of work.

The attempt clock: whoever starts a billing attempt (a request, or the sweep) records
`attempt_started_at` and a lease, `claimed_until = start + lease`, in the same commit as the pending
row or the claim. The sweep claims only rows whose lease has run out; `created_at` never decides,
because a reopened retry row keeps its old one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flows import Effect, SessionId
from flows.effects import ApplyOffer
from service.db import codec
from service.db.engine import lock_rows_if_postgres
from service.db.tables import BillingOperation

# How long one attempt may run before the sweep may take it over: one billing call, the re-read after
# a server error, and the commits around them. It must exceed the billing HTTP client's timeout
# (tests assert it against the Stripe adapter's), so a live request is never swept.
ATTEMPT_LEASE_SECONDS = 120


@dataclass(frozen=True, slots=True)
class PendingOperation:
    session_id: SessionId
    idempotency_key: str
    effect: Effect
    created_at: datetime
    attempt_started_at: datetime  # the sweep's own claim: settling "abandoned" requires it unchanged
    error: str  # why the last attempt did not finish, if it said


async def add_pending(
    session_id: str, effect: Effect, now: datetime, *, lease_seconds: int = ATTEMPT_LEASE_SECONDS
) -> None:
    """Record billing work as pending, starting an attempt now, before it runs.

    A retry after an unknown outcome (a timeout) reuses the same idempotency key on purpose; its row is
    then reopened rather than duplicated, so the key stays unique and the history stays on it, and its
    attempt clock restarts. The session's row lock (or SQLite's write lock) is held, and a key belongs
    to one session, so the look-up and the write cannot race.
    """
    lease_end = now + timedelta(seconds=lease_seconds)
    reopened = (
        await BillingOperation.update(
            {
                BillingOperation.status: "pending",
                BillingOperation.attempt_started_at: now,
                BillingOperation.claimed_until: lease_end,
                BillingOperation.updated_at: now,
            }
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
            attempt_started_at=now,
            claimed_until=lease_end,
            created_at=now,
            updated_at=now,
        )
    )


async def finish(
    key: str,
    *,
    status: str,
    summary: str,
    error: str,
    now: datetime,
    attempt_started_at: datetime | None = None,
) -> bool:
    """Settle a pending operation; False when it was no longer pending (someone else settled it).

    With `attempt_started_at`, only if no attempt started since (a sweep settling work it did not send).
    """
    where = (BillingOperation.idempotency_key == key) & (BillingOperation.status == "pending")
    if attempt_started_at is not None:
        where &= BillingOperation.attempt_started_at == attempt_started_at
    settled = (
        await BillingOperation.update(
            {
                BillingOperation.status: status,
                BillingOperation.summary: summary,
                BillingOperation.error: error,
                BillingOperation.updated_at: now,
            }
        )
        .where(where)
        .returning(BillingOperation.id)
    )
    return bool(settled)


async def note_error(key: str, *, error: str, now: datetime) -> bool:
    """Record why an attempt did not finish, leaving the operation pending (and its lease running) for a
    retry with the same key; False when it was no longer pending."""
    noted = (
        await BillingOperation.update({BillingOperation.error: error, BillingOperation.updated_at: now})
        .where((BillingOperation.idempotency_key == key) & (BillingOperation.status == "pending"))
        .returning(BillingOperation.id)
    )
    return bool(noted)


async def claim_pending(now: datetime, *, lease_seconds: int, limit: int = 50) -> list[PendingOperation]:
    """Start a sweep attempt on pending operations whose lease has run out, with a lease of its own.

    On Postgres the SELECT skips rows another sweeper has locked (FOR UPDATE SKIP LOCKED); on SQLite the
    unit of work serialises sweepers. A sweeper that dies simply lets its lease run out.
    """
    query = (
        BillingOperation.select(BillingOperation.id)
        .where(
            (BillingOperation.status == "pending")
            & (BillingOperation.claimed_until.is_null() | (BillingOperation.claimed_until <= now))
        )
        .order_by(BillingOperation.id)
        .limit(limit)
    )
    query = lock_rows_if_postgres(query, skip_locked=True)
    ids = [r["id"] for r in await query]
    if not ids:
        return []
    rows = (
        await BillingOperation.update(
            {
                BillingOperation.attempt_started_at: now,
                BillingOperation.claimed_until: now + timedelta(seconds=lease_seconds),
            }
        )
        .where(BillingOperation.id.is_in(ids))
        .returning(
            BillingOperation.id,
            BillingOperation.session,
            BillingOperation.idempotency_key,
            BillingOperation.effect,
            BillingOperation.created_at,
            BillingOperation.error,
        )
    )
    return [
        PendingOperation(
            SessionId(r["session"]),
            r["idempotency_key"],
            codec.effect_from_json(r["effect"]),
            r["created_at"],
            now,
            r["error"],
        )
        for r in sorted(rows, key=lambda r: int(r["id"]))
    ]
