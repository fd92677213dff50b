"""The billing operation ledger: billing work recorded as pending before it runs, its outcome, and the
sweeper's leases on work a crash left pending.

Rules: may import piccolo, service.db.* and flows/offers types. No business decisions here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flows import Effect, SessionId
from flows.effects import ApplyOffer
from service.db import codec
from service.db.tables import BillingOperation
from service.db.uow import Insert, Statement, is_postgres


@dataclass(frozen=True, slots=True)
class PendingOperation:
    session_id: SessionId
    idempotency_key: str
    effect: Effect
    created_at: datetime


# A retry after an unknown outcome (timeout) reuses the same idempotency key on purpose; its ledger
# row is then reopened rather than duplicated, so the key stays unique and the history stays on it.
_ADD_PENDING_OPERATION = Insert.into(
    BillingOperation,
    (
        "session",
        "action",
        "offer_id",
        "offer_kind",
        "idempotency_key",
        "attempt",
        "status",
        "effect",
        "summary",
        "error",
        "created_at",
        "updated_at",
    ),
    " ON CONFLICT (idempotency_key) DO UPDATE SET status = 'pending', claimed_until = NULL,"
    " updated_at = excluded.updated_at",
)


def pending_operation_statement(session_id: str, effect: Effect, now: datetime) -> Statement:
    """Record billing work as pending before it runs (or reopen the ledger row of a retried key)."""
    offer = effect.offer if isinstance(effect, ApplyOffer) else None
    return _ADD_PENDING_OPERATION.statement(
        session_id,
        "offer" if offer else "cancel",
        offer.id if offer else None,
        offer.kind.value if offer else None,
        effect.idempotency_key,
        effect.attempt,
        "pending",
        codec.dumps(effect),
        "",
        "",
        now,
        now,
    )


async def finish_operation(key: str, *, status: str, summary: str, error: str, now: datetime) -> None:
    await BillingOperation.update(
        {
            BillingOperation.status: status,
            BillingOperation.summary: summary,
            BillingOperation.error: error,
            BillingOperation.updated_at: now,
        }
    ).where(BillingOperation.idempotency_key == key)


async def operation_status(key: str) -> str | None:
    row = await BillingOperation.select(BillingOperation.status).where(BillingOperation.idempotency_key == key).first()
    return str(row["status"]) if row else None


async def claim_pending_operations(
    now: datetime, *, older_than: datetime, lease_seconds: int, limit: int = 50
) -> list[PendingOperation]:
    """Atomically lease pending operations to this sweeper; several app instances can sweep at once.

    One UPDATE … RETURNING claims the rows. On Postgres the inner SELECT skips rows another sweeper
    has locked (FOR UPDATE SKIP LOCKED); on SQLite the IMMEDIATE transaction serialises sweepers.
    A sweeper that dies simply lets its lease run out.
    """
    lock = " FOR UPDATE SKIP LOCKED" if is_postgres() else ""
    lease_end = now + timedelta(seconds=lease_seconds)
    sql = (
        "UPDATE billing_operation SET claimed_until = {} WHERE id IN ("  # noqa: S608 - constant SQL, values bound
        " SELECT id FROM billing_operation WHERE status = 'pending' AND created_at < {}"
        f" AND (claimed_until IS NULL OR claimed_until < {{}}) ORDER BY id LIMIT {{}}{lock})"
        " RETURNING session, idempotency_key, effect, created_at"
    )
    rows = await BillingOperation.raw(
        sql,
        lease_end,
        older_than,
        now,
        limit,
    )
    return [
        PendingOperation(
            SessionId(r["session"]), r["idempotency_key"], codec.effect_from_json(r["effect"]), r["created_at"]
        )
        for r in rows
    ]
