"""Webhooks out to the host app: an outbox written with each state change, delivered with retries.

Rules: may import flows, service.db.engine, service.repositories, standardwebhooks and httpx.
Deliveries are claimed with a lease (like billing operations), signed per the Standard Webhooks spec,
retried with backoff, and every attempt's result is kept on the row so the admin can see and replay it.
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
from service.db.engine import unit_of_work
from service.repositories import outbox

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
    async with unit_of_work():
        await outbox.add_endpoint(
            url, secret=secret, event_types=",".join(event_types) or "*", description=description, now=now
        )
    return secret


async def queue_deliveries(
    definition: FlowDefinition,
    before: FlowState,
    after: FlowState,
    *,
    session: dict[str, Any],
    now: datetime,
) -> None:
    """Write the outbox rows this transition causes, in the state change's unit of work."""
    found = notifications(definition, before, after)
    if not found:
        return
    endpoints = await outbox.active_endpoints()
    for note in found:
        body = json.dumps({"type": note.type, "timestamp": now.isoformat(), "data": {**session, **note.data}})
        for endpoint in endpoints:
            if endpoint.wants(note.type):
                msg_id = "msg_" + secrets.token_urlsafe(18)
                await outbox.add_delivery(endpoint.id, msg_id=msg_id, event_type=note.type, payload=body, now=now)


async def queue_event(event_type: str, data: dict[str, Any], *, now: datetime) -> int:
    """Write one event that is not a session's transition (e.g. `subscription.pause_ending`) to every
    endpoint that wants it, in the caller's unit of work; returns how many deliveries were written."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"Unknown event type {event_type!r}. Known: {', '.join(EVENT_TYPES)}.")
    body = json.dumps({"type": event_type, "timestamp": now.isoformat(), "data": data})
    written = 0
    for endpoint in await outbox.active_endpoints():
        if endpoint.wants(event_type):
            msg_id = "msg_" + secrets.token_urlsafe(18)
            await outbox.add_delivery(endpoint.id, msg_id=msg_id, event_type=event_type, payload=body, now=now)
            written += 1
    return written


async def deliver_due(*, client: httpx.AsyncClient, clock: Clock, limit: int = 50) -> int:
    """Send every due delivery once; returns how many were attempted."""
    now = clock()
    async with unit_of_work():
        ids = await outbox.claim_due(now, lease=timedelta(minutes=2), limit=limit)
    for delivery_id in ids:
        await _deliver(delivery_id, client=client, clock=clock)
    return len(ids)


async def _deliver(delivery_id: int, *, client: httpx.AsyncClient, clock: Clock) -> None:
    delivery = await outbox.get_delivery(delivery_id)
    if delivery is None:
        return
    now = clock()
    signature = Webhook(delivery.secret).sign(delivery.msg_id, now, delivery.payload)
    headers = {
        "content-type": "application/json",
        "webhook-id": delivery.msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
        "user-agent": "saveflow-webhooks/1",
    }
    status: int | None = None
    error = ""
    try:
        response = await client.post(delivery.url, content=delivery.payload, headers=headers, timeout=TIMEOUT_SECONDS)
        status = response.status_code
        if not 200 <= status < 300:
            error = f"HTTP {status}: {response.text[:300]}"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    attempts = delivery.attempts + 1
    async with unit_of_work():
        if not error:
            await outbox.record_attempt(
                delivery_id, attempts=attempts, status_code=status, error=error, delivered_at=clock()
            )
        elif attempts >= MAX_ATTEMPTS:
            log.warning("webhook %s to %s failed for good: %s", delivery.msg_id, delivery.url, error)
            await outbox.record_attempt(delivery_id, attempts=attempts, status_code=status, error=error, failed=True)
        else:
            await outbox.record_attempt(
                delivery_id,
                attempts=attempts,
                status_code=status,
                error=error,
                next_attempt_at=clock() + BACKOFF[attempts - 1],
            )


async def replay_delivery(delivery_id: int, now: datetime) -> bool:
    """Send a delivery again (same webhook-id, so a receiver that already processed it can dedupe)."""
    async with unit_of_work():
        return await outbox.reopen_delivery(delivery_id, now)
