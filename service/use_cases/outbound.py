"""Webhooks out to the host app: an outbox written with each state change, delivered with retries.

Rules: may import flows, service.db, standardwebhooks and httpx. Deliveries are claimed with a lease
(like billing operations), signed per the Standard Webhooks spec, retried with backoff, and every
attempt's result is kept on the row so the admin can see and replay it.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
from standardwebhooks import Webhook

from flows.notifications import EVENT_TYPES, notifications
from service.db.tables import WebhookDelivery, WebhookEndpoint
from service.db.uow import Insert, Statement, is_postgres, unit_of_work

if TYPE_CHECKING:
    from flows import FlowDefinition, FlowState

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
BACKOFF = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(hours=1),
    timedelta(hours=6),
    timedelta(hours=24),
)
MAX_ATTEMPTS = len(BACKOFF) + 1
TIMEOUT_SECONDS = 10.0


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


async def add_endpoint(url: str, *, event_types: tuple[str, ...] = (), description: str, now: datetime) -> str:
    """Register an endpoint; returns its signing secret (shown once to whoever set it up)."""
    if not url.startswith(("https://", "http://")):
        raise ValueError("The webhook URL must start with https:// (or http:// for local testing).")
    unknown = [t for t in event_types if t not in EVENT_TYPES]
    if unknown:
        raise ValueError(f"Unknown event types: {', '.join(unknown)}. Known: {', '.join(EVENT_TYPES)}.")
    secret = new_secret()
    await WebhookEndpoint.insert(
        WebhookEndpoint(
            url=url, secret=secret, event_types=",".join(event_types) or "*", description=description, created_at=now
        )
    )
    return secret


_ADD_DELIVERY = Insert.into(
    WebhookDelivery,
    (
        "endpoint",
        "msg_id",
        "event_type",
        "payload",
        "status",
        "attempts",
        "next_attempt_at",
        "last_error",
        "created_at",
    ),
)


async def deliveries(
    definition: FlowDefinition,
    before: FlowState,
    after: FlowState,
    *,
    session: dict[str, Any],
    now: datetime,
) -> list[Statement]:
    """The outbox rows this transition causes, to write in the state change's transaction."""
    found = notifications(definition, before, after)
    if not found:
        return []
    endpoints = await WebhookEndpoint.select(WebhookEndpoint.id, WebhookEndpoint.event_types).where(
        WebhookEndpoint.active == True  # noqa: E712 - Piccolo column comparison
    )
    rows = []
    for note in found:
        body = json.dumps({"type": note.type, "timestamp": now.isoformat(), "data": {**session, **note.data}})
        for endpoint in endpoints:
            wanted = endpoint["event_types"]
            if wanted != "*" and note.type not in wanted.split(","):
                continue
            msg_id = "msg_" + secrets.token_urlsafe(18)
            rows.append(_ADD_DELIVERY.statement(endpoint["id"], msg_id, note.type, body, "pending", 0, now, "", now))
    return rows


async def deliver_due(*, client: httpx.AsyncClient, clock: Clock, limit: int = 50) -> int:
    """Send every due delivery once; returns how many were attempted."""
    now = clock()
    lock = " FOR UPDATE SKIP LOCKED" if is_postgres() else ""
    async with unit_of_work():
        rows = await WebhookDelivery.raw(
            "UPDATE webhook_delivery SET claimed_until = {} WHERE id IN ("  # noqa: S608 - constant SQL, values bound
            " SELECT id FROM webhook_delivery WHERE status = 'pending' AND next_attempt_at <= {}"
            f" AND (claimed_until IS NULL OR claimed_until < {{}}) ORDER BY id LIMIT {{}}{lock})"
            " RETURNING id",
            now + timedelta(minutes=2),
            now,
            now,
            limit,
        )
    for row in rows:
        await _deliver(row["id"], client=client, clock=clock)
    return len(rows)


async def _deliver(delivery_id: int, *, client: httpx.AsyncClient, clock: Clock) -> None:
    row = (
        await WebhookDelivery.select(
            *WebhookDelivery.all_columns(), WebhookDelivery.endpoint.url, WebhookDelivery.endpoint.secret
        )
        .where(WebhookDelivery.id == delivery_id)
        .first()
    )
    if row is None:
        return
    now = clock()
    signature = Webhook(row["endpoint.secret"]).sign(row["msg_id"], now, row["payload"])
    headers = {
        "content-type": "application/json",
        "webhook-id": row["msg_id"],
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
        "user-agent": "saveflow-webhooks/1",
    }
    status: int | None = None
    error = ""
    try:
        response = await client.post(
            row["endpoint.url"], content=row["payload"], headers=headers, timeout=TIMEOUT_SECONDS
        )
        status = response.status_code
        if not 200 <= status < 300:
            error = f"HTTP {status}: {response.text[:300]}"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    attempts = row["attempts"] + 1
    changes: dict[Any, Any] = {
        WebhookDelivery.attempts: attempts,
        WebhookDelivery.last_status: status,
        WebhookDelivery.last_error: error,
        WebhookDelivery.claimed_until: None,
    }
    if not error:
        changes |= {WebhookDelivery.status: "delivered", WebhookDelivery.delivered_at: clock()}
    elif attempts >= MAX_ATTEMPTS:
        changes[WebhookDelivery.status] = "failed"
        log.warning("webhook %s to %s failed for good: %s", row["msg_id"], row["endpoint.url"], error)
    else:
        changes[WebhookDelivery.next_attempt_at] = clock() + BACKOFF[attempts - 1]
    await WebhookDelivery.update(changes).where(WebhookDelivery.id == delivery_id)


async def replay_delivery(delivery_id: int, now: datetime) -> bool:
    """Send a delivery again (same webhook-id, so a receiver that already processed it can dedupe)."""
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
