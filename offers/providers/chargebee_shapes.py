"""Chargebee's object shapes ↔ ours, without the SDK: subscriptions to snapshots, our marks, ids out of events.

Rules: standard library and `offers.ports` only (pure functions over Chargebee's API v2 JSON, Product Catalog 2.0,
as plain dicts, and over its errors' attributes), so `offers.providers.chargebee` stays the one module importing
`chargebee`. Chargebee leaves an attribute out of its JSON when it has no value, so every optional field is read
with `.get`.

A pause (https://apidocs.chargebee.com/docs/api/subscriptions/subscription-object#pause_date): `paused` with
`pause_date` (when it paused) and `resume_date` (absent: paused indefinitely); a pause scheduled (`end_of_term` or
`specific_date`) leaves the status `active`/`non_renewing` with `pause_date` ahead ("the date/time of scheduled
pause") and `resume_date`; it is read from those dates, not from `has_scheduled_changes` (documented for changes
an update schedules). A resume or `remove_scheduled_pause` clears both dates (Chargebee's sample answers show neither
after them). Paused or set to pause, the snapshot's `paused_until` is the resume date.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from offers.ports import (
    BillingError,
    BillingEvent,
    IdempotencyConflict,
    OfferNotApplicable,
    ProviderAuthFailed,
    ProviderFailed,
    ProviderRejected,
    ProviderUnavailable,
    SubscriptionNotFound,
    SubscriptionSnapshot,
    SubscriptionStatus,
)

# meta_data key on the scheduled (end-of-term) change we make; its value is the item price it moves to.
SCHEDULE_MARKER = "saveflow_scheduled_price"
# Stripe's `pause_collection.behavior` values, accepted so one pause offer fits both providers. Chargebee has no
# equivalent: a paused subscription does not renew and Chargebee issues no renewal invoice for it, so there is no
# invoice to void or keep (https://apidocs.chargebee.com/docs/api/subscriptions/pause-a-subscription).
PAUSE_BEHAVIORS = ("void", "keep_as_draft", "mark_uncollectible")
COMMENT_LIMIT = 500  # characters of the customer's comment kept on the subscription's comment
FOREVER = datetime.max.replace(tzinfo=UTC)  # a pause with no resume date: paused "until further notice"

STATUSES = {
    "in_trial": SubscriptionStatus.TRIALING,
    "active": SubscriptionStatus.ACTIVE,
    "non_renewing": SubscriptionStatus.ACTIVE,  # renews no more: cancel_at_period_end
    "paused": SubscriptionStatus.ACTIVE,  # subscribed, not billed until resume_date: paused_until
    "cancelled": SubscriptionStatus.CANCELED,
    "transferred": SubscriptionStatus.CANCELED,  # moved to another site: ended here
    "future": SubscriptionStatus.INCOMPLETE,  # starts later: not live yet
}
ENDED = ("cancelled", "transferred")
Step = tuple[str, dict[str, Any] | None, str]  # a subscription operation of the SDK, its params, its key's suffix


def translate(exc: Any) -> BillingError:
    """Chargebee's error (https://apidocs.chargebee.com/docs/api/error-handling) → our hierarchy."""
    status = int(getattr(exc, "http_status_code", 0) or 0)
    text = str(exc)
    message = f"{type(exc).__name__} {status} {getattr(exc, 'api_error_code', '')}: {text}"
    if status in (401, 403):  # api_authentication_failed, basic_authentication_failed, api_authorization_failed
        return ProviderAuthFailed(message)
    if status == 429 or (status == 409 and "in progress" in text.lower()):
        # 429: rate limits. 409 "The previous request is still in progress": the key's first request still runs
        # (not in Chargebee's docs; the answer a production integration records). Retry later, same key.
        return ProviderUnavailable(message)
    if "idempotency" in text.lower():  # a key reused for another path or body; Chargebee publishes no code for it
        return IdempotencyConflict(message)
    if status >= 500:
        return ProviderFailed(message)
    if getattr(exc, "api_error_code", None) == "resource_not_found" and getattr(exc, "param", None) in (None, ""):
        return SubscriptionNotFound(message)  # the path's resource; a missing parameter's is the offer's problem
    if getattr(exc, "type", None) == "payment":
        return ProviderRejected(message)
    if getattr(exc, "type", None) in ("invalid_request", "operation_failed") or 400 <= status < 500:
        return OfferNotApplicable(message)
    return ProviderRejected(message)


def transport_failure(exc: Exception) -> bool:
    """No usable answer: the HTTP client's errors (network, timeouts) or a body that is not Chargebee's JSON (the
    SDK raises a bare Exception for it). The pure core may not import httpx, so its errors are known by module."""
    return type(exc).__module__.split(".")[0] == "httpx" or type(exc) is Exception


def ts(moment: datetime) -> int:
    return int(moment.timestamp())


def dt(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), tz=UTC) if value else None


def plan_item(sub: dict[str, Any]) -> dict[str, Any]:
    """The subscription's plan item (a subscription has exactly one; addons and charges are the others)."""
    items: list[dict[str, Any]] = list(sub.get("subscription_items") or [])
    return next((i for i in items if i.get("item_type") == "plan"), items[0] if items else {})


def meta_data(sub: dict[str, Any]) -> dict[str, Any]:
    """The subscription's meta_data as an object (the API answers an object; tolerate the JSON text it takes)."""
    meta = sub.get("meta_data") or {}
    if isinstance(meta, str):
        meta = json.loads(meta or "{}")
    return dict(meta) if isinstance(meta, dict) else {}


def marked_meta(sub: dict[str, Any], price_id: str) -> str:
    """meta_data for our end-of-term change: the subscription's own keys kept (Chargebee replaces the whole object),
    our marker added, serialised the same way every time so a retry sends the same body."""
    return json.dumps({**meta_data(sub), SCHEDULE_MARKER: price_id}, sort_keys=True, separators=(",", ":"))


def scheduled_price(scheduled: dict[str, Any] | None) -> str | None:
    """The item price our own scheduled change moves to, from `retrieve_with_scheduled_changes` (the subscription
    as it will be). Someone else's scheduled change (no marker, or a marker for another price) is None."""
    if not scheduled:
        return None
    price = plan_item(scheduled).get("item_price_id")
    marker = meta_data(scheduled).get(SCHEDULE_MARKER)
    return str(price) if price and marker == price else None


def cancel_scheduled(sub: dict[str, Any]) -> bool:
    """Set to end at the term end: `non_renewing`, or a trial or pause with a cancellation date (Chargebee keeps
    `in_trial` until the trial ends: https://apidocs.chargebee.com/docs/api/v2/pcv-1/subscriptions/cancel-a-subscription)."""
    status = sub.get("status")
    return status == "non_renewing" or (status in ("in_trial", "active", "paused") and bool(sub.get("cancelled_at")))


def pause_state(sub: dict[str, Any]) -> str | None:
    """`paused`, `scheduled` (still active or non-renewing, a `pause_date` set: it pauses then), or None."""
    if sub.get("status") == "paused":
        return "paused"
    return "scheduled" if sub.get("status") in ("active", "non_renewing") and sub.get("pause_date") else None


def paused_until(sub: dict[str, Any]) -> datetime | None:
    """When billing resumes for a subscription paused or set to pause (FOREVER: no resume date); None: neither."""
    return (dt(sub.get("resume_date")) or FOREVER) if pause_state(sub) else None


def pause_steps(sub: dict[str, Any], resume_date: int, *, at_period_end: bool) -> list[Step]:
    """The requests that leave `sub` paused, or set to pause, until `resume_date`. A paused one gets the date
    through `resume` (`specific_date`); Chargebee moves a resume date on nothing else, so a scheduled pause is
    removed and scheduled again from its own start. Otherwise a pause now, or at the term end (`end_of_term`)."""
    state, start = pause_state(sub), sub.get("pause_date")
    if state == "paused":
        return [("resume", {"resume_option": "specific_date", "resume_date": resume_date}, "")]
    if state == "scheduled" and start == sub.get("current_term_end"):
        option: dict[str, Any] = {"pause_option": "end_of_term"}
    elif state == "scheduled":
        option = {"pause_option": "specific_date", "pause_date": start}
    else:
        option = {"pause_option": "end_of_term" if at_period_end else "immediately"}
    unschedule: list[Step] = [("remove_scheduled_pause", None, ":unschedule")] if state else []
    return [*unschedule, ("pause", {**option, "resume_date": resume_date}, "")]


def amount_cents(item: dict[str, Any]) -> int:
    if item.get("amount") is not None:
        return int(item["amount"])
    return int(item.get("unit_price") or 0) * int(item.get("quantity") or 1)


def snapshot_from_chargebee(
    sub: dict[str, Any], *, scheduled: dict[str, Any] | None = None, last_paid_at: datetime | None = None
) -> SubscriptionSnapshot:
    """Map a Chargebee subscription (and, when it has scheduled changes, the subscription as they will leave it)."""
    raw_status = str(sub.get("status") or "")
    status = STATUSES.get(raw_status, SubscriptionStatus.INCOMPLETE)
    if raw_status in ("active", "non_renewing") and int(sub.get("due_invoices_count") or 0) > 0:
        status = SubscriptionStatus.PAST_DUE  # in dunning: invoices are due (Stripe's past_due)
    item = plan_item(sub)
    period_end = sub.get("current_term_end") or sub.get("next_billing_at") or sub.get("cancelled_at")
    return SubscriptionSnapshot(
        id=str(sub["id"]),
        customer_id=str(sub["customer_id"]),
        status=status,
        price_id=str(item.get("item_price_id") or ""),
        amount_cents=amount_cents(item),
        currency=str(sub.get("currency_code") or "usd").lower(),
        interval=str(sub.get("billing_period_unit") or item.get("billing_period_unit") or "month"),
        interval_count=int(sub.get("billing_period") or item.get("billing_period") or 1),
        current_period_end=dt(period_end) or datetime.now(UTC),
        trial_end=dt(sub.get("trial_end")) if status is SubscriptionStatus.TRIALING else None,
        paused_until=paused_until(sub),
        discount_coupon_ids=tuple(str(c["coupon_id"]) for c in sub.get("coupons") or []),
        cancel_at_period_end=cancel_scheduled(sub),
        canceled_at=dt(sub.get("cancelled_at")) if status is SubscriptionStatus.CANCELED else None,
        scheduled_price_id=scheduled_price(scheduled) if sub.get("has_scheduled_changes") else None,
        last_paid_at=last_paid_at,
    )


def subscription_id_for(idempotency_key: str) -> str:
    """The id we give a subscription we create: derived from the key, so a retry after Chargebee forgot the key
    (30 minutes) finds the subscription instead of creating a second one (ids are up to 50 characters)."""
    return "sf-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]


def subscription_of(content: dict[str, Any]) -> str | None:
    """Which subscription an event's content concerns (subscription events carry it, invoice and credit note
    events name it by id)."""
    sub = content.get("subscription")
    if isinstance(sub, dict) and sub.get("id"):
        return str(sub["id"])
    for kind in ("invoice", "credit_note"):
        obj = content.get(kind)
        if isinstance(obj, dict) and obj.get("subscription_id"):
            return str(obj["subscription_id"])
    return None


def event_paid_at(kind: str, content: dict[str, Any], occurred: datetime) -> datetime | None:
    """When a `payment_succeeded` event's invoice was paid, if money changed hands (a trial's $0 invoice did not)."""
    invoice = content.get("invoice")
    if kind != "payment_succeeded" or not isinstance(invoice, dict) or not int(invoice.get("amount_paid") or 0):
        return None
    return dt(invoice.get("paid_at")) or occurred


def event_from(data: Any) -> BillingEvent:
    """A Chargebee event (API v2) as a BillingEvent; anything else raises ValueError, KeyError or TypeError."""
    if (
        not isinstance(data, dict)
        or data.get("object", "event") != "event"
        or not isinstance(data.get("content"), dict)
    ):
        raise TypeError("not a Chargebee event object")
    if data.get("api_version", "v2") != "v2":  # v1 content has other shapes: configure the webhook for API v2
        raise ValueError(f"event for API {data.get('api_version')!r}, expected v2")
    if not all(isinstance(data.get(k), str) and data[k].strip() for k in ("id", "event_type")):
        raise ValueError("the event has no id or event_type")
    kind, content = str(data["event_type"]), data["content"]
    occurred = datetime.fromtimestamp(int(data.get("occurred_at") or 0), tz=UTC)
    return BillingEvent(
        str(data["id"]), kind, subscription_of(content), occurred, event_paid_at(kind, content, occurred)
    )
