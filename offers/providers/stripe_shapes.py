"""Stripe's object shapes ↔ ours, without the SDK: subscriptions to snapshots, reasons to feedback, ids out of events.

Rules: standard library and `offers.ports` only (pure functions over Stripe's JSON as plain dicts), so
`offers.providers.stripe` stays the one module importing `stripe` and under the size limit.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from offers.ports import SubscriptionSnapshot, SubscriptionStatus

SCHEDULE_MARKER = "saveflow_scheduled_price"  # metadata key on the subscription schedules we create

Feedback = Literal[
    "customer_service",
    "low_quality",
    "missing_features",
    "other",
    "switched_service",
    "too_complex",
    "too_expensive",
    "unused",
]
# Our reason ids (defaults) → Stripe's cancellation_details.feedback enum; anything else is "other".
STRIPE_FEEDBACK: dict[str, Feedback] = {
    "too_expensive": "too_expensive",
    "not_using": "unused",
    "temporary": "unused",
    "no_value": "low_quality",
    "missing_features": "missing_features",
    "competitor": "switched_service",
    "technical": "low_quality",
    "too_complex": "too_complex",
    "customer_service": "customer_service",
}
PAUSE_BEHAVIORS = ("void", "keep_as_draft", "mark_uncollectible")


def ts(moment: datetime) -> int:
    return int(moment.timestamp())


def dt(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), tz=UTC) if value else None


def scheduled_price(schedule: Any) -> str | None:
    """The price our own active schedule moves to (an unexpanded id or someone else's schedule: None)."""
    if not isinstance(schedule, dict) or schedule.get("status") not in ("active", "not_started"):
        return None
    price = (schedule.get("metadata") or {}).get(SCHEDULE_MARKER)
    return str(price) if price else None


def paid_at(invoice: Any) -> datetime | None:
    """When an expanded invoice was paid, if it was and money changed hands: a trial's $0 invoice is
    `paid` too, and a trial extension counts nothing until the first real payment."""
    if not isinstance(invoice, dict) or invoice.get("status") != "paid" or not invoice.get("amount_paid"):
        return None
    return dt((invoice.get("status_transitions") or {}).get("paid_at"))


def snapshot_from_stripe(sub: dict[str, Any]) -> SubscriptionSnapshot:
    """Map a Stripe subscription (as a plain dict, `discounts`, `schedule` and `latest_invoice` expanded or
    not) to our snapshot."""
    item = sub["items"]["data"][0]
    price = item["price"]
    period_end = item.get("current_period_end") or sub.get("current_period_end")
    pause = sub.get("pause_collection") or None
    coupons: list[str] = []
    discount_ids: list[str] = []
    for discount in sub.get("discounts") or []:
        if isinstance(discount, dict):
            coupon = (discount.get("source") or {}).get("coupon") or discount.get("coupon")
            coupons.append(coupon["id"] if isinstance(coupon, dict) else str(coupon or discount["id"]))
            discount_ids.append(str(discount["id"]))
        else:
            coupons.append(str(discount))
            discount_ids.append(str(discount))
    try:
        status = SubscriptionStatus(sub["status"])
    except ValueError:
        status = SubscriptionStatus.INCOMPLETE  # incomplete_expired, paused (trial without payment method)
    return SubscriptionSnapshot(
        id=sub["id"],
        customer_id=sub["customer"] if isinstance(sub["customer"], str) else sub["customer"]["id"],
        status=status,
        price_id=price["id"],
        amount_cents=int(price.get("unit_amount") or 0) * int(item.get("quantity") or 1),
        currency=price.get("currency") or sub.get("currency") or "usd",
        interval=(price.get("recurring") or {}).get("interval", "month"),
        interval_count=int((price.get("recurring") or {}).get("interval_count") or 1),
        current_period_end=dt(period_end) or datetime.now(UTC),
        trial_end=dt(sub.get("trial_end")) if status is SubscriptionStatus.TRIALING else None,
        # A pause with no resume date is open-ended: report it as paused "until further notice".
        paused_until=(dt(pause.get("resumes_at")) or datetime.max.replace(tzinfo=UTC)) if pause else None,
        discount_coupon_ids=tuple(coupons),
        # Set to end either way: at the period end, or on a date (`cancel_at`, e.g. from the dashboard).
        cancel_at_period_end=bool(sub.get("cancel_at_period_end") or sub.get("cancel_at")),
        canceled_at=dt(sub.get("canceled_at")) if status is SubscriptionStatus.CANCELED else None,
        scheduled_price_id=scheduled_price(sub.get("schedule")),
        discount_ids=tuple(discount_ids),
        last_paid_at=paid_at(sub.get("latest_invoice")),
    )


def discount_entries(snapshot: SubscriptionSnapshot) -> list[tuple[Literal["discount", "coupon"], str]]:
    """The snapshot's discounts for a `discounts` list: by discount id, so Stripe keeps each as it is."""
    if len(snapshot.discount_ids) == len(snapshot.discount_coupon_ids):
        return [("discount", d) for d in snapshot.discount_ids]
    return [("coupon", c) for c in snapshot.discount_coupon_ids]  # a snapshot stored before ids were kept


def subscription_of(obj: dict[str, Any]) -> str | None:
    """Which subscription a webhook's object concerns (invoices moved the field under `parent` in 2025)."""
    kind = obj.get("object")
    if kind == "subscription":
        return str(obj["id"])
    candidates = [
        obj.get("subscription"),
        ((obj.get("parent") or {}).get("subscription_details") or {}).get("subscription"),
    ]
    for candidate in candidates:
        if isinstance(candidate, dict):
            return str(candidate["id"])
        if candidate:
            return str(candidate)
    return None


def event_problem(data: Any) -> str | None:
    """Why a signed body is not a Stripe event (an object with an id, a type and a data object), or None."""
    if not isinstance(data, dict):
        return "the body is not a JSON object"
    if data.get("object", "event") != "event":
        return "the object is not an event"
    for field in ("id", "type"):
        value = data.get(field)
        if not isinstance(value, str) or not value.strip():
            return f"the event has no {field}"
    inner = data.get("data")
    if not isinstance(inner, dict) or not isinstance(inner.get("object"), dict):
        return "the event has no data object"
    return None


def event_paid_at(data: dict[str, Any]) -> datetime | None:
    """When an `invoice.paid` event's invoice was paid (its own paid_at, else the event's time)."""
    if data.get("type") != "invoice.paid":
        return None
    invoice = data["data"]["object"]
    return dt((invoice.get("status_transitions") or {}).get("paid_at") or data.get("created"))
