"""Inbound billing webhooks (a ledger after dj-stripe) and reconciliation into verified saves.

Rules: may import offers (ports), service.db. Order: store raw → verify → dedupe → process in a
transaction. Processing never trusts the payload's state: it re-fetches the subscription and
reconciles, so event order, duplicates and API-version skew do not matter.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from offers import BillingProvider, BillingWebhooks, SubscriptionNotFound, SubscriptionSnapshot, WebhookRejected
from service.db.tables import BillingWebhookEvent, FlowSession
from service.db.uow import unit_of_work

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
    rows = await BillingWebhookEvent.insert(
        BillingWebhookEvent(
            payload=payload.decode("utf-8", errors="replace"), signature=signature[:2000], received_at=clock()
        )
    ).returning(BillingWebhookEvent.id)
    row_id: int = rows[0]["id"]
    try:
        event = webhooks.parse(payload, signature)
    except WebhookRejected as exc:
        await BillingWebhookEvent.update(
            {BillingWebhookEvent.status: "invalid", BillingWebhookEvent.error: str(exc)}
        ).where(BillingWebhookEvent.id == row_id)
        return WebhookOutcome(400, "Invalid signature.")
    seen = await BillingWebhookEvent.exists().where(
        (BillingWebhookEvent.event_id == event.id) & (BillingWebhookEvent.status.is_in(["processed", "failed"]))
    )
    await BillingWebhookEvent.update(
        {
            BillingWebhookEvent.event_id: event.id,
            BillingWebhookEvent.type: event.type,
            BillingWebhookEvent.subscription_id: event.subscription_id,
            BillingWebhookEvent.status: "duplicate" if seen else "received",
        }
    ).where(BillingWebhookEvent.id == row_id)
    if seen:
        return WebhookOutcome(200, "Duplicate ignored.")
    return await process_webhook(row_id, billing=billing, clock=clock, verify_after=verify_after)


async def process_webhook(
    row_id: int, *, billing: BillingProvider, clock: Clock, verify_after: timedelta
) -> WebhookOutcome:
    row = await BillingWebhookEvent.select().where(BillingWebhookEvent.id == row_id).first()
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
        await BillingWebhookEvent.update(
            {
                BillingWebhookEvent.status: "failed",
                BillingWebhookEvent.error: "".join(traceback.format_exception(exc))[-4000:],
                BillingWebhookEvent.attempts: BillingWebhookEvent.attempts + 1,
            }
        ).where(BillingWebhookEvent.id == row_id)
        log.exception("webhook %s failed", row["event_id"])
        return WebhookOutcome(500, "Processing failed; it is recorded and will be retried.")
    await BillingWebhookEvent.update(
        {
            BillingWebhookEvent.status: "processed",
            BillingWebhookEvent.error: "",
            BillingWebhookEvent.processed_at: clock(),
            BillingWebhookEvent.attempts: BillingWebhookEvent.attempts + 1,
        }
    ).where(BillingWebhookEvent.id == row_id)
    return WebhookOutcome(200, "Processed.")


async def replay_failed_webhooks(*, billing: BillingProvider, clock: Clock, verify_after: timedelta) -> int:
    rows = await BillingWebhookEvent.select(BillingWebhookEvent.id).where(BillingWebhookEvent.status == "failed")
    for row in rows:
        await process_webhook(row["id"], billing=billing, clock=clock, verify_after=verify_after)
    return len(rows)


async def reconcile_subscription(snapshot: SubscriptionSnapshot, *, now: datetime, verify_after: timedelta) -> None:
    """Update our saved sessions for this subscription from billing's current truth.

    A save is *verified* once the customer is still subscribed and not leaving `verify_after` after
    it; it *lapsed* if the subscription ended or is set to end before then.
    """
    leaving = not snapshot.is_live or snapshot.cancel_at_period_end
    if not leaving and snapshot.paused_until is not None and snapshot.paused_until > now:
        return  # not paying yet: a pause is verified only once billing has resumed
    async with unit_of_work():
        saved = (FlowSession.subscription_id == snapshot.id) & (FlowSession.outcome == "saved")
        if leaving:
            await FlowSession.update({FlowSession.save_lapsed_at: now}).where(
                saved & FlowSession.save_lapsed_at.is_null() & FlowSession.verified_at.is_null()
            )
            return
        await FlowSession.update({FlowSession.verified_at: now}).where(
            saved
            & FlowSession.verified_at.is_null()
            & FlowSession.save_lapsed_at.is_null()
            & (FlowSession.finished_at <= now - verify_after)
        )


async def verify_due_saves(*, billing: BillingProvider, clock: Clock, verify_after: timedelta, limit: int = 100) -> int:
    """Poll billing for saves old enough to verify (works without webhooks, e.g. the in-memory provider)."""
    now = clock()
    rows = (
        await FlowSession.select(FlowSession.subscription_id)
        .where(
            (FlowSession.outcome == "saved")
            & (FlowSession.test_mode == False)  # noqa: E712 - Piccolo column comparison
            & FlowSession.verified_at.is_null()
            & FlowSession.save_lapsed_at.is_null()
            & (FlowSession.finished_at <= now - verify_after)
        )
        .distinct()
        .limit(limit)
    )
    for row in rows:
        try:
            snapshot = await billing.get_subscription(row["subscription_id"])
        except SubscriptionNotFound:
            continue
        await reconcile_subscription(snapshot, now=now, verify_after=verify_after)
    return len(rows)
