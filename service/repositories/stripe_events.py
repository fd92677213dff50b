"""The inbound billing webhook ledger (`billing_webhook_event`): every signed delivery, stored before it is processed.

Rules: may import piccolo and service.db. Only deliveries whose signature checked out are stored (an
unsigned body is a stranger's and never fills the ledger). Statuses: received → processed | failed,
or duplicate (the event was already processed), or superseded (a failed delivery of an event that a
later delivery or replay of the same event took over). A failed row without an event id is a signed
body that is not an event (its reason is in `error`); there is nothing in it to process again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from service.db.tables import BillingWebhookEvent

PROCESSED = "processed"
FAILED = "failed"
SUPERSEDED = "superseded"


async def add_identified(
    payload: str,
    signature: str,
    now: datetime,
    *,
    event_id: str,
    type: str,
    subscription_id: str | None,
    duplicate: bool,
) -> int:
    """Store a verified event; `duplicate` when an earlier delivery of it was processed."""
    rows = await BillingWebhookEvent.insert(
        BillingWebhookEvent(
            payload=payload,
            signature=signature,
            received_at=now,
            event_id=event_id,
            type=type[:100],
            subscription_id=subscription_id,
            status="duplicate" if duplicate else "received",
        )
    ).returning(BillingWebhookEvent.id)
    row_id: int = rows[0]["id"]
    return row_id


async def add_malformed(payload: str, signature: str, now: datetime, reason: str) -> int:
    """Store a signed body that is not a usable event, as failed with the reason."""
    rows = await BillingWebhookEvent.insert(
        BillingWebhookEvent(payload=payload, signature=signature, received_at=now, status=FAILED, error=reason)
    ).returning(BillingWebhookEvent.id)
    row_id: int = rows[0]["id"]
    return row_id


async def already_processed(event_id: str) -> bool:
    """Whether a delivery of this event was processed. A failed one does not count: a redelivery runs again."""
    return bool(
        await BillingWebhookEvent.exists().where(
            (BillingWebhookEvent.event_id == event_id) & (BillingWebhookEvent.status == PROCESSED)
        )
    )


async def get(row_id: int) -> dict[str, Any] | None:
    row: dict[str, Any] | None = (
        await BillingWebhookEvent.select(
            BillingWebhookEvent.id,
            BillingWebhookEvent.event_id,
            BillingWebhookEvent.subscription_id,
            BillingWebhookEvent.type,
            BillingWebhookEvent.payload,
        )
        .where(BillingWebhookEvent.id == row_id)
        .first()
    )
    return row


async def mark_failed(row_id: int, error: str) -> None:
    await BillingWebhookEvent.update(
        {
            BillingWebhookEvent.status: FAILED,
            BillingWebhookEvent.error: error,
            BillingWebhookEvent.attempts: BillingWebhookEvent.attempts + 1,
        }
    ).where(BillingWebhookEvent.id == row_id)


async def mark_processed(row_id: int, now: datetime) -> None:
    await BillingWebhookEvent.update(
        {
            BillingWebhookEvent.status: PROCESSED,
            BillingWebhookEvent.error: "",
            BillingWebhookEvent.processed_at: now,
            BillingWebhookEvent.attempts: BillingWebhookEvent.attempts + 1,
        }
    ).where(BillingWebhookEvent.id == row_id)


async def supersede_other_failures(event_id: str, row_id: int) -> None:
    """Row `row_id` now speaks for its event: any other failed delivery of the event is superseded.

    So there is at most one failed row per event, and a replay never processes an event twice.
    """
    await BillingWebhookEvent.update({BillingWebhookEvent.status: SUPERSEDED}).where(
        (BillingWebhookEvent.event_id == event_id)
        & (BillingWebhookEvent.status == FAILED)
        & (BillingWebhookEvent.id != row_id)
    )


async def failed_ids() -> list[int]:
    """Failed rows that hold an event (a malformed body has nothing to process again)."""
    rows = await BillingWebhookEvent.select(BillingWebhookEvent.id).where(
        (BillingWebhookEvent.status == FAILED) & BillingWebhookEvent.event_id.is_not_null()
    )
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
