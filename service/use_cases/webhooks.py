"""Inbound billing webhooks (a ledger after dj-stripe) and reconciliation into verified saves.

Rules: may import offers (ports), service.db.engine and service.repositories. Order: verify the
signature → store → dedupe → process. Nothing is stored before the signature checks out, so a
stranger cannot fill the ledger; a signed body that is not an event is stored as failed with its
reason and answered 400. Only a *processed* delivery makes a later one a duplicate: when Stripe
redelivers an event whose processing failed, it is processed again, and the failed row is marked
superseded (at most one failed row per event, so `replay-webhooks` never runs an event twice).
Processing never trusts the payload's state: it re-fetches the subscription and reconciles, so event
order, duplicates and API-version skew do not matter.
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from offers import (
    BillingEvent,
    BillingProvider,
    BillingWebhooks,
    SubscriptionNotFound,
    SubscriptionSnapshot,
    SubscriptionStatus,
    WebhookMalformed,
    WebhookRejected,
)
from service.db.engine import unit_of_work
from service.repositories import sessions as session_repo
from service.repositories import stripe_events as ledger

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
MAX_PAYLOAD_BYTES = 512 * 1024  # also the route's request_max_body_size: a longer body is refused unread
MAX_ID_LENGTH = 255  # the ledger's event and subscription id columns


@dataclass(frozen=True, slots=True)
class WebhookOutcome:
    status_code: int
    message: str


class _Unsigned(Exception):
    """The signature, its timestamp or the header was refused: nothing in the body may be trusted."""


class _Malformed(Exception):
    """The signature checked out, but the body is not a usable event."""


def _verified_event(webhooks: BillingWebhooks, payload: bytes, signature: str) -> BillingEvent:
    """The signed event in `payload`.

    Raises:
        _Unsigned: the signature does not check out (or the body cannot have been signed).
        _Malformed: signed, but not an event; the message says why.
    """
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError as exc:  # Stripe signs UTF-8 text: these bytes cannot carry its signature
        raise _Unsigned("the body is not UTF-8") from exc
    try:
        event = webhooks.parse(payload, signature)
    except WebhookMalformed as exc:  # the signature checked out; the body is not an event
        raise _Malformed(str(exc)) from exc
    except WebhookRejected as exc:
        raise _Unsigned(str(exc)) from exc
    for what, value, limit in (
        ("event's id", event.id, MAX_ID_LENGTH),
        ("event's type", event.type, 100),
        ("subscription id", event.subscription_id or "", MAX_ID_LENGTH),
    ):
        if len(value) > limit:
            raise _Malformed(f"the {what} is too long")
    return event


def _text(raw: bytes | str) -> str:
    """Storable text: Postgres text holds no NUL."""
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    return text.replace("\x00", "\ufffd")


async def receive_webhook(
    payload: bytes,
    signature: str | None,
    *,
    webhooks: BillingWebhooks | None,
    billing: BillingProvider,
    clock: Clock,
    verify_after: timedelta,
    vendor: str = "Stripe",
    header: str = "Stripe-Signature",
    setting: str = "STRIPE_WEBHOOK_SECRET",
) -> WebhookOutcome:
    """A delivery from the configured billing system (`vendor` names it in answers; `header` carries its proof)."""
    if webhooks is None:
        return WebhookOutcome(404, f"{vendor} webhooks are not configured here (set BILLING_PROVIDER and {setting}).")
    if not signature:
        return WebhookOutcome(400 if header != "Authorization" else 401, f"Missing {header} header.")
    if len(payload) > MAX_PAYLOAD_BYTES:
        return WebhookOutcome(413, "Payload too large.")
    try:
        event = _verified_event(webhooks, payload, signature)
    except _Unsigned as exc:
        log.warning("%s webhook refused: %s", vendor, exc)
        return WebhookOutcome(400, "Invalid signature.")
    except _Malformed as exc:
        row_id = await ledger.add_malformed(_text(payload), _text(signature[:2000]), clock(), f"malformed: {exc}")
        log.warning("%s webhook %s is signed but not an event: %s", vendor, row_id, exc)
        return WebhookOutcome(400, f"Not a {vendor} event: {exc}.")
    async with unit_of_work():
        seen = await ledger.already_processed(event.id)
        row_id = await ledger.add_identified(
            _text(payload),
            _text(signature[:2000]),
            clock(),
            event_id=event.id,
            type=event.type,
            subscription_id=event.subscription_id,
            duplicate=seen,
        )
    if seen:
        return WebhookOutcome(200, "Duplicate ignored.")
    return await process_webhook(row_id, billing=billing, clock=clock, verify_after=verify_after, paid_at=event.paid_at)


async def process_webhook(
    row_id: int,
    *,
    billing: BillingProvider,
    clock: Clock,
    verify_after: timedelta,
    paid_at: datetime | None = None,
) -> WebhookOutcome:
    """Reconcile a stored delivery's subscription. `paid_at` is what its provider read from it on arrival; a
    replay (of a failed delivery) finds it again only in a Stripe payload, and otherwise waits for the next
    paid invoice's event."""
    row = await ledger.get(row_id)
    if row is None:
        return WebhookOutcome(404, "No such webhook.")
    if row["event_id"] is None:
        return WebhookOutcome(400, "This delivery is not an event; there is nothing to process.")
    try:
        if row["subscription_id"]:
            try:
                snapshot: SubscriptionSnapshot | None = await billing.get_subscription(row["subscription_id"])
            except SubscriptionNotFound:
                snapshot = None
            if snapshot is not None:
                paid = paid_at or invoice_paid_at(row.get("type") or "", row.get("payload") or "")
                await reconcile_subscription(snapshot, now=clock(), verify_after=verify_after, paid_at=paid)
    except Exception as exc:
        # Stored with its traceback for `python -m service replay-webhooks`; 500 makes Stripe retry too.
        async with unit_of_work():
            await ledger.mark_failed(row_id, "".join(traceback.format_exception(exc))[-4000:])
            await ledger.supersede_other_failures(row["event_id"], row_id)
        log.exception("webhook %s failed", row["event_id"])
        return WebhookOutcome(500, "Processing failed; it is recorded and will be retried.")
    async with unit_of_work():
        await ledger.mark_processed(row_id, clock())
        await ledger.supersede_other_failures(row["event_id"], row_id)
    return WebhookOutcome(200, "Processed.")


async def replay_failed_webhooks(*, billing: BillingProvider, clock: Clock, verify_after: timedelta) -> int:
    ids = await ledger.failed_ids()
    for row_id in ids:
        await process_webhook(row_id, billing=billing, clock=clock, verify_after=verify_after)
    return len(ids)


def invoice_paid_at(event_type: str, payload: str) -> datetime | None:
    """When an `invoice.paid` event's invoice was paid (its own paid_at, else the event's time)."""
    if event_type != "invoice.paid":
        return None
    try:
        data = json.loads(payload)
        invoice = data["data"]["object"]
        stamp = (invoice.get("status_transitions") or {}).get("paid_at") or data.get("created")
        return datetime.fromtimestamp(int(stamp), tz=UTC) if stamp else None
    except (ValueError, KeyError, TypeError, AttributeError, OverflowError):
        return None


async def reconcile_subscription(
    snapshot: SubscriptionSnapshot, *, now: datetime, verify_after: timedelta, paid_at: datetime | None = None
) -> None:
    """Update our saved sessions for this subscription from billing's current truth.

    A save is *verified* once an invoice was paid after it (an `invoice.paid` webhook's `paid_at`, or
    the snapshot's `last_paid_at`) and the subscription is `active` (paying: not trialing, not paused,
    not behind) and not set to end, `verify_after` after the save; it *lapsed* if the subscription
    ended, is set to end, or went unpaid. `past_due` is neither yet: Stripe is still retrying.
    """
    for paid in sorted({p for p in (paid_at, snapshot.last_paid_at) if p is not None}):  # earliest first
        async with unit_of_work():
            await session_repo.record_paid_invoice(snapshot.id, paid)
    ended = snapshot.status in (SubscriptionStatus.CANCELED, SubscriptionStatus.UNPAID, SubscriptionStatus.INCOMPLETE)
    if ended or snapshot.cancel_at_period_end:
        async with unit_of_work():
            await session_repo.mark_saves_lapsed(snapshot.id, now)
        return
    paused = snapshot.paused_until is not None and snapshot.paused_until > now
    if snapshot.status is not SubscriptionStatus.ACTIVE or paused:
        return  # trialing, paused or past_due: not paying (yet), so nothing is verified
    async with unit_of_work():
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
