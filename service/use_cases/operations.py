"""Operations an admin runs: webhook replays (out and in), follow-up tasks, and webhook endpoints.

Rules: may import service.repositories, service.db.engine, offers (ports) and the outbound and
webhooks use cases. Each change and its audit entry commit in one unit of work; reprocessing an
inbound webhook calls billing, so it runs first and is audited afterwards.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from service.db.engine import unit_of_work
from service.repositories import follow_ups, outbox
from service.use_cases.outbound import add_endpoint, replay_delivery
from service.use_cases.staff import record_audit
from service.use_cases.webhooks import WebhookOutcome, process_webhook

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime, timedelta

    from offers import BillingProvider


async def replay_outbound(actor: str, delivery_id: int, now: datetime) -> bool:
    """Queue a delivery again (same webhook-id, so receivers can dedupe); False if no such delivery."""
    async with unit_of_work():
        if not await replay_delivery(delivery_id, now):
            return False
        await record_audit(actor, "webhook.replay", f"delivery {delivery_id}", now=now)
    return True


async def replay_inbound(
    actor: str,
    row_id: int,
    *,
    billing: BillingProvider,
    clock: Callable[[], datetime],
    verify_after: timedelta,
) -> WebhookOutcome:
    """Process a stored Stripe webhook again (the same path as its first delivery)."""
    outcome = await process_webhook(row_id, billing=billing, clock=clock, verify_after=verify_after)
    await record_audit(actor, "stripe_webhook.replay", f"ledger row {row_id}", now=clock())
    return outcome


async def update_task(actor: str, task_id: int, *, done: bool, assignee: str, now: datetime) -> bool:
    """Close a follow-up task, or hand it to `assignee`; False if no such task."""
    async with unit_of_work():
        changed = await follow_ups.close_task(task_id, now) if done else await follow_ups.assign_task(task_id, assignee)
        if changed:
            after = "done" if done else f"assignee: {assignee}"
            await record_audit(actor, "task.update", f"task {task_id}", after=after, now=now)
    return changed


async def add_webhook_endpoint(
    actor: str, url: str, *, event_types: tuple[str, ...], description: str, now: datetime
) -> str:
    """Register an endpoint; returns its signing secret (shown once). Raises ValueError for a bad URL."""
    async with unit_of_work():
        secret = await add_endpoint(url, event_types=event_types, description=description, now=now)
        await record_audit(actor, "webhook.create", url, after=",".join(event_types) or "*", now=now)
    return secret


async def disable_webhook_endpoint(actor: str, endpoint_id: int, now: datetime) -> bool:
    """Stop sending to an endpoint; False if no such endpoint."""
    async with unit_of_work():
        if not await outbox.deactivate_endpoint(endpoint_id):
            return False
        await record_audit(actor, "webhook.disable", f"endpoint {endpoint_id}", now=now)
    return True
