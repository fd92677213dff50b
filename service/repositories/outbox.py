"""The outbox: webhook endpoints of the host app (`webhook_endpoint`) and each event's delivery to them
(`webhook_delivery`), written with the state change that caused it and delivered afterwards.

Rules: may import piccolo and service.db. Writes belong inside the caller's unit of work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from service.db.engine import lock_rows_if_postgres
from service.db.tables import WebhookDelivery, WebhookEndpoint

if TYPE_CHECKING:
    from datetime import timedelta


@dataclass(frozen=True, slots=True)
class Endpoint:
    id: int
    event_types: str  # "*" or a comma-separated list

    def wants(self, event_type: str) -> bool:
        return self.event_types == "*" or event_type in self.event_types.split(",")


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    msg_id: str
    payload: str
    attempts: int
    url: str
    secret: str


async def add_endpoint(url: str, *, secret: str, event_types: str, description: str, now: datetime) -> None:
    await WebhookEndpoint.insert(
        WebhookEndpoint(url=url, secret=secret, event_types=event_types, description=description, created_at=now)
    )


async def active_endpoints() -> list[Endpoint]:
    rows = await WebhookEndpoint.select(WebhookEndpoint.id, WebhookEndpoint.event_types).where(
        WebhookEndpoint.active == True  # noqa: E712 - Piccolo column comparison
    )
    return [Endpoint(r["id"], r["event_types"]) for r in rows]


async def add_delivery(endpoint_id: int, *, msg_id: str, event_type: str, payload: str, now: datetime) -> None:
    await WebhookDelivery.insert(
        WebhookDelivery(
            endpoint=endpoint_id,
            msg_id=msg_id,
            event_type=event_type,
            payload=payload,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )


async def claim_due(now: datetime, *, lease: timedelta, limit: int) -> list[int]:
    """Lease due deliveries to this process (Postgres skips rows another process is claiming)."""
    query = (
        WebhookDelivery.select(WebhookDelivery.id)
        .where(
            (WebhookDelivery.status == "pending")
            & (WebhookDelivery.next_attempt_at <= now)
            & (WebhookDelivery.claimed_until.is_null() | (WebhookDelivery.claimed_until < now))
        )
        .order_by(WebhookDelivery.id)
        .limit(limit)
    )
    query = lock_rows_if_postgres(query, skip_locked=True)
    ids = [int(r["id"]) for r in await query]
    if ids:
        await WebhookDelivery.update({WebhookDelivery.claimed_until: now + lease}).where(WebhookDelivery.id.is_in(ids))
    return ids


async def get_delivery(delivery_id: int) -> Delivery | None:
    row = (
        await WebhookDelivery.select(
            WebhookDelivery.id,
            WebhookDelivery.msg_id,
            WebhookDelivery.payload,
            WebhookDelivery.attempts,
            WebhookDelivery.endpoint.url,
            WebhookDelivery.endpoint.secret,
        )
        .where(WebhookDelivery.id == delivery_id)
        .first()
    )
    if row is None:
        return None
    return Delivery(
        row["id"], row["msg_id"], row["payload"], row["attempts"], row["endpoint.url"], row["endpoint.secret"]
    )


async def record_attempt(
    delivery_id: int,
    *,
    attempts: int,
    status_code: int | None,
    error: str,
    delivered_at: datetime | None = None,
    failed: bool = False,
    next_attempt_at: datetime | None = None,
) -> None:
    changes: dict[Any, Any] = {
        WebhookDelivery.attempts: attempts,
        WebhookDelivery.last_status: status_code,
        WebhookDelivery.last_error: error,
        WebhookDelivery.claimed_until: None,
    }
    if delivered_at is not None:
        changes |= {WebhookDelivery.status: "delivered", WebhookDelivery.delivered_at: delivered_at}
    elif failed:
        changes[WebhookDelivery.status] = "failed"
    elif next_attempt_at is not None:
        changes[WebhookDelivery.next_attempt_at] = next_attempt_at
    await WebhookDelivery.update(changes).where(WebhookDelivery.id == delivery_id)


async def reopen_delivery(delivery_id: int, now: datetime) -> bool:
    """Queue a delivery again (same webhook-id); False when there is no such delivery."""
    updated = (
        await WebhookDelivery.update(
            {
                WebhookDelivery.status: "pending",
                WebhookDelivery.next_attempt_at: now,
                WebhookDelivery.claimed_until: None,
            }
        )
        .where(WebhookDelivery.id == delivery_id)
        .returning(WebhookDelivery.id)
    )
    return bool(updated)


# admin
@dataclass(frozen=True, slots=True)
class EndpointSummary:
    id: int
    url: str
    event_types: str
    description: str
    active: bool


@dataclass(frozen=True, slots=True)
class DeliveryStatus:
    id: int
    event_type: str
    url: str
    status: str
    attempts: int
    last_status: int | None
    last_error: str
    created_at: datetime


async def endpoints() -> tuple[EndpointSummary, ...]:
    rows = await WebhookEndpoint.select(
        WebhookEndpoint.id,
        WebhookEndpoint.url,
        WebhookEndpoint.event_types,
        WebhookEndpoint.description,
        WebhookEndpoint.active,
    ).order_by(WebhookEndpoint.id)
    return tuple(EndpointSummary(r["id"], r["url"], r["event_types"], r["description"], r["active"]) for r in rows)


async def deactivate_endpoint(endpoint_id: int) -> bool:
    """Stop sending to an endpoint (its past deliveries stay); False when there is no such endpoint."""
    rows = (
        await WebhookEndpoint.update({WebhookEndpoint.active: False})
        .where(WebhookEndpoint.id == endpoint_id)
        .returning(WebhookEndpoint.id)
    )
    return bool(rows)


_STATUS_COLUMNS = (
    WebhookDelivery.id,
    WebhookDelivery.event_type,
    WebhookDelivery.endpoint.url,
    WebhookDelivery.status,
    WebhookDelivery.attempts,
    WebhookDelivery.last_status,
    WebhookDelivery.last_error,
    WebhookDelivery.created_at,
)


def _to_status(r: dict[str, Any]) -> DeliveryStatus:
    return DeliveryStatus(
        id=r["id"],
        event_type=r["event_type"],
        url=r["endpoint.url"],
        status=r["status"],
        attempts=r["attempts"],
        last_status=r["last_status"],
        last_error=r["last_error"],
        created_at=r["created_at"],
    )


async def recent_deliveries(limit: int = 50) -> tuple[DeliveryStatus, ...]:
    rows = await WebhookDelivery.select(*_STATUS_COLUMNS).order_by(WebhookDelivery.id, ascending=False).limit(limit)
    return tuple(_to_status(r) for r in rows)


async def session_deliveries(session_id: str) -> tuple[DeliveryStatus, ...]:
    """Deliveries whose payload names this session (payloads are JSON written by the outbound use case)."""
    rows = await WebhookDelivery.select(*_STATUS_COLUMNS).where(
        WebhookDelivery.payload.like(f'%"session_id": "{session_id}"%')
    )
    return tuple(_to_status(r) for r in rows)
