"""Inbound billing webhooks (a ledger after dj-stripe) and reconciliation into verified saves.

Rules: may import offers (ports), service.db.engine and service.repositories. Order: store raw →
verify → dedupe → process in a transaction. Processing never trusts the payload's state: it re-fetches
the subscription and reconciles, so event order, duplicates and API-version skew do not matter.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from offers import BillingProvider, BillingWebhooks, SubscriptionNotFound, SubscriptionSnapshot, WebhookRejected
from service.db.engine import unit_of_work
from service.repositories import sessions as session_repo
from service.repositories import stripe_events as ledger

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
MAX_PAYLOAD_BYTES = 512 * 1024


@dataclass(frozen=True, slots=True)
class WebhookOutcome:
    status_code: int
    message: str


async def receive_webhook(
    payload: bytes,
    signature: str | None,
    *,
    webhooks: BillingWebhooks | None,
    billing: BillingProvider,
    clock: Clock,
    verify_after: timedelta,
) -> WebhookOutcome:
    if webhooks is None:
        return WebhookOutcome(404, "Stripe webhooks are not configured (set STRIPE_WEBHOOK_SECRET).")
    if not signature:
        return WebhookOutcome(400, "Missing Stripe-Signature header.")
    if len(payload) > MAX_PAYLOAD_BYTES:
        return WebhookOutcome(413, "Payload too large.")
    row_id = await ledger.add_received(payload.decode("utf-8", errors="replace"), signature[:2000], clock())
    try:
        event = webhooks.parse(payload, signature)
    except WebhookRejected as exc:
        await ledger.mark_invalid(row_id, str(exc))
        return WebhookOutcome(400, "Invalid signature.")
    seen = await ledger.already_handled(event.id)
    await ledger.identify(
        row_id, event_id=event.id, type=event.type, subscription_id=event.subscription_id, duplicate=seen
    )
    if seen:
        return WebhookOutcome(200, "Duplicate ignored.")
    return await process_webhook(row_id, billing=billing, clock=clock, verify_after=verify_after)


async def process_webhook(
    row_id: int, *, billing: BillingProvider, clock: Clock, verify_after: timedelta
) -> WebhookOutcome:
    row = await ledger.get(row_id)
    if row is None:
        return WebhookOutcome(404, "No such webhook.")
    try:
        if row["subscription_id"]:
            try:
                snapshot: SubscriptionSnapshot | None = await billing.get_subscription(row["subscription_id"])
            except SubscriptionNotFound:
                snapshot = None
            if snapshot is not None:
                await reconcile_subscription(snapshot, now=clock(), verify_after=verify_after)
    except Exception as exc:
        # Stored with its traceback for `python -m service replay-webhooks`; 500 makes Stripe retry too.
        await ledger.mark_failed(row_id, "".join(traceback.format_exception(exc))[-4000:])
        log.exception("webhook %s failed", row["event_id"])
        return WebhookOutcome(500, "Processing failed; it is recorded and will be retried.")
    await ledger.mark_processed(row_id, clock())
    return WebhookOutcome(200, "Processed.")


async def replay_failed_webhooks(*, billing: BillingProvider, clock: Clock, verify_after: timedelta) -> int:
    ids = await ledger.failed_ids()
    for row_id in ids:
        await process_webhook(row_id, billing=billing, clock=clock, verify_after=verify_after)
    return len(ids)


async def reconcile_subscription(snapshot: SubscriptionSnapshot, *, now: datetime, verify_after: timedelta) -> None:
    """Update our saved sessions for this subscription from billing's current truth.

    A save is *verified* once the customer is still subscribed and not leaving `verify_after` after
    it; it *lapsed* if the subscription ended or is set to end before then.
    """
    leaving = not snapshot.is_live or snapshot.cancel_at_period_end
    if not leaving and snapshot.paused_until is not None and snapshot.paused_until > now:
        return  # not paying yet: a pause is verified only once billing has resumed
    async with unit_of_work():
        if leaving:
            await session_repo.mark_saves_lapsed(snapshot.id, now)
        else:
            await session_repo.mark_saves_verified(snapshot.id, now, finished_before=now - verify_after)


async def verify_due_saves(*, billing: BillingProvider, clock: Clock, verify_after: timedelta, limit: int = 100) -> int:
    """Poll billing for saves old enough to verify (works without webhooks, e.g. the in-memory provider)."""
    now = clock()
    subscription_ids = await session_repo.subscriptions_with_saves_to_verify(now - verify_after, limit)
    for subscription_id in subscription_ids:
        try:
            snapshot = await billing.get_subscription(subscription_id)
        except SubscriptionNotFound:
            continue
        await reconcile_subscription(snapshot, now=now, verify_after=verify_after)
    return len(subscription_ids)
