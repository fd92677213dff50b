"""The inbound billing webhook ledger (`billing_webhook_event`): every signed delivery stored raw first.

Rules: may import piccolo and service.db. Statuses: received → processed | duplicate | invalid | failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from service.db.tables import BillingWebhookEvent


async def add_received(payload: str, signature: str, now: datetime) -> int:
    rows = await BillingWebhookEvent.insert(
        BillingWebhookEvent(payload=payload, signature=signature, received_at=now)
    ).returning(BillingWebhookEvent.id)
    row_id: int = rows[0]["id"]
    return row_id


async def mark_invalid(row_id: int, error: str) -> None:
    await BillingWebhookEvent.update({BillingWebhookEvent.status: "invalid", BillingWebhookEvent.error: error}).where(
        BillingWebhookEvent.id == row_id
    )


async def already_handled(event_id: str) -> bool:
    """Whether an earlier delivery of this event was processed (or failed, and is replayed from there)."""
    return bool(
        await BillingWebhookEvent.exists().where(
            (BillingWebhookEvent.event_id == event_id) & BillingWebhookEvent.status.is_in(["processed", "failed"])
        )
    )


async def identify(row_id: int, *, event_id: str, type: str, subscription_id: str | None, duplicate: bool) -> None:
    await BillingWebhookEvent.update(
        {
            BillingWebhookEvent.event_id: event_id,
            BillingWebhookEvent.type: type,
            BillingWebhookEvent.subscription_id: subscription_id,
            BillingWebhookEvent.status: "duplicate" if duplicate else "received",
        }
    ).where(BillingWebhookEvent.id == row_id)


async def get(row_id: int) -> dict[str, Any] | None:
    row: dict[str, Any] | None = (
        await BillingWebhookEvent.select(
            BillingWebhookEvent.id, BillingWebhookEvent.event_id, BillingWebhookEvent.subscription_id
        )
        .where(BillingWebhookEvent.id == row_id)
        .first()
    )
    return row


async def mark_failed(row_id: int, error: str) -> None:
    await BillingWebhookEvent.update(
        {
            BillingWebhookEvent.status: "failed",
            BillingWebhookEvent.error: error,
            BillingWebhookEvent.attempts: BillingWebhookEvent.attempts + 1,
        }
    ).where(BillingWebhookEvent.id == row_id)


async def mark_processed(row_id: int, now: datetime) -> None:
    await BillingWebhookEvent.update(
        {
            BillingWebhookEvent.status: "processed",
            BillingWebhookEvent.error: "",
            BillingWebhookEvent.processed_at: now,
            BillingWebhookEvent.attempts: BillingWebhookEvent.attempts + 1,
        }
    ).where(BillingWebhookEvent.id == row_id)


async def failed_ids() -> list[int]:
    rows = await BillingWebhookEvent.select(BillingWebhookEvent.id).where(BillingWebhookEvent.status == "failed")
    return [int(r["id"]) for r in rows]


# admin
@dataclass(frozen=True, slots=True)
class LedgerEntry:
    id: int
    event_id: str | None
    type: str
    status: str
    attempts: int
    error: str
    received_at: datetime


async def recent(limit: int = 50) -> tuple[LedgerEntry, ...]:
    """The newest received webhooks, whatever became of them."""
    rows = (
        await BillingWebhookEvent.select(
            BillingWebhookEvent.id,
            BillingWebhookEvent.event_id,
            BillingWebhookEvent.type,
            BillingWebhookEvent.status,
            BillingWebhookEvent.attempts,
            BillingWebhookEvent.error,
            BillingWebhookEvent.received_at,
        )
        .order_by(BillingWebhookEvent.id, ascending=False)
        .limit(limit)
    )
    return tuple(
        LedgerEntry(r["id"], r["event_id"], r["type"], r["status"], r["attempts"], r["error"], r["received_at"])
        for r in rows
    )
