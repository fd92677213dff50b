"""Paddle Billing's JSON ↔ ours, without the SDK: subscriptions to snapshots, error codes to ours, notifications.

Rules: standard library and `offers.ports` only (pure functions over Paddle's JSON as plain dicts), so
`offers.providers.paddle` stays small and the one module importing `paddle_billing`.

Paddle's model (https://developer.paddle.com/api-reference/subscriptions/overview) mapped onto our
Stripe-shaped snapshot:
- `paused` is a status in Paddle; ours is a pause of collection on a live subscription, so a paused
  subscription reads as ACTIVE with `paused_until` (its scheduled resume, else "until further notice").
  A pause scheduled for the period end (`scheduled_change.action == "pause"`) charges nothing from that
  end until its `resume_at` either, exactly what `paused_until` means, so it reads the same way.
- `scheduled_change.action == "cancel"` is our `cancel_at_period_end`.
- amounts are strings in minor units, currency codes upper case, `billing_cycle` is {interval, frequency}.
- one `discount` per subscription (not a list); its id is both the "coupon" and the applied discount.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from offers.ports import (
    BillingError,
    OfferNotApplicable,
    ProviderAuthFailed,
    ProviderFailed,
    ProviderRejected,
    ProviderUnavailable,
    SubscriptionSnapshot,
    SubscriptionStatus,
)

UNTIL_FURTHER_NOTICE = datetime.max.replace(tzinfo=UTC)  # an open-ended pause
# The port's pause behaviours (Stripe's `pause_collection.behavior`). Paddle bills nothing while paused, so
# there is no invoice to void, keep as draft or mark uncollectible: every value means the same there.
PAUSE_BEHAVIORS = ("void", "keep_as_draft", "mark_uncollectible")
_STATUSES = {
    "active": SubscriptionStatus.ACTIVE,
    "trialing": SubscriptionStatus.TRIALING,
    "past_due": SubscriptionStatus.PAST_DUE,
    "paused": SubscriptionStatus.ACTIVE,  # a pause of collection, as in our model (see above)
    "canceled": SubscriptionStatus.CANCELED,
}
_PAID_EVENTS = ("transaction.completed", "transaction.paid")
# Request errors that say "not now" rather than "never": the subscription is locked while Paddle renews or
# processes it, another change raced ours, or its immediate-charge limit is reached (20 an hour, 100 a day:
# https://developer.paddle.com/api-reference/about/rate-limiting). A retry later can succeed.
_TRANSIENT = frozenset(
    {
        "subscription_locked_renewal",
        "subscription_locked_processing",
        "subscription_immediate_charge_hour_limit_exceeded",
        "subscription_immediate_charge_24_hour_limit_exceeded",
        "concurrent_modification",
        "conflict",
        "too_many_requests",
    }
)


def error_class(status: int | None, code: str, missing: type[BillingError]) -> type[BillingError]:
    """Which port error a Paddle answer is (https://developer.paddle.com/errors). `status` None: no readable
    answer (connection, timeout), so the outcome is unknown; `missing` is what a 404 means for the request."""
    if status is None or status in (409, 429) or code in _TRANSIENT:
        return ProviderUnavailable
    if status in (401, 403):
        return ProviderAuthFailed
    if status >= 500:
        return ProviderFailed  # nothing is stored for a retry to meet; the caller re-reads first either way
    if status == 404:
        return missing
    if "payment" in code:  # subscription_payment_declined, subscription_missing_payment_method_*, …
        return ProviderRejected
    return OfferNotApplicable  # subscription_locked_pending_changes, subscription_update_when_canceled, …


def translate(exc: Exception, missing: type[BillingError]) -> BillingError:
    """An SDK/requests failure → our hierarchy. `missing`: what a 404 means for this request (a read: the
    subscription; a write follows a read that found it, so a price or discount is what is missing)."""
    answers = [getattr(getattr(c, "response", None), "status_code", None) for c in (exc, exc.__context__)]
    status = next((s for s in answers if isinstance(s, int)), None)  # __context__: an unreadable body
    code = str(getattr(exc, "error_code", "") or "")
    kind = error_class(status, code, missing)
    return kind(f"{type(exc).__name__} {status or ''} {code}: {getattr(exc, 'detail', None) or exc}")


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 string from Paddle (`…Z`, 0 to 6 fraction digits) as an aware UTC datetime."""
    if not value:
        return None
    moment = datetime.fromisoformat(str(value))
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def rfc3339(moment: datetime) -> str:
    """How Paddle's SDK writes a datetime (microseconds, `Z`): also how our fake answers."""
    return f"{moment.astimezone(UTC):%Y-%m-%dT%H:%M:%S.%f}Z"


def scheduled(sub: dict[str, Any]) -> tuple[str | None, datetime | None, datetime | None]:
    """The subscription's scheduled change: (action, effective_at, resume_at), all None when there is none."""
    change = sub.get("scheduled_change") or {}
    return change.get("action"), parse_time(change.get("effective_at")), parse_time(change.get("resume_at"))


def paused_until(sub: dict[str, Any]) -> datetime | None:
    """When billing resumes for a paused subscription, or one scheduled to pause; None when neither."""
    action, effective_at, resume_at = scheduled(sub)
    if sub.get("status") == "paused":
        # A dated resume is a scheduled `resume` (Paddle fills `resume_at`, `effective_at` is the same date).
        return (resume_at or effective_at or UNTIL_FURTHER_NOTICE) if action == "resume" else UNTIL_FURTHER_NOTICE
    if action == "pause":
        return resume_at or UNTIL_FURTHER_NOTICE
    return None


def main_item(sub: dict[str, Any]) -> dict[str, Any]:
    """The item our snapshot describes: the first recurring one (add-ons follow it in Paddle's list)."""
    items: list[dict[str, Any]] = sub.get("items") or []
    recurring = [i for i in items if i.get("recurring", True)]
    return (recurring or items)[0]


def unit_amount(price: dict[str, Any], currency: str) -> int:
    """The price's amount in `currency`: its base price, or an override in that currency (country pricing)."""
    base = price.get("unit_price") or {}
    if str(base.get("currency_code", currency)).upper() != currency.upper():
        for override in price.get("unit_price_overrides") or []:
            money = override.get("unit_price") or {}
            if str(money.get("currency_code", "")).upper() == currency.upper():
                return int(money.get("amount") or 0)
    return int(base.get("amount") or 0)


def _period_end(sub: dict[str, Any]) -> datetime:
    """The current period's end; paused and canceled subscriptions may have none, so the nearest known date."""
    period = sub.get("current_billing_period") or {}
    for value in (period.get("ends_at"), sub.get("next_billed_at"), sub.get("canceled_at"), sub.get("paused_at")):
        if moment := parse_time(value):
            return moment
    return parse_time(sub.get("updated_at") or sub.get("created_at")) or datetime.now(UTC)


def _trial_end(sub: dict[str, Any], item: dict[str, Any]) -> datetime | None:
    """A trial ends when billing starts: `next_billed_at` (what an extension moves), else the item's trial dates."""
    if sub.get("status") != "trialing":
        return None
    return parse_time(sub.get("next_billed_at")) or parse_time((item.get("trial_dates") or {}).get("ends_at"))


def snapshot_from_paddle(sub: dict[str, Any]) -> SubscriptionSnapshot:
    """Map a Paddle subscription entity (the `data` of GET /subscriptions/{id}) to our snapshot."""
    item = main_item(sub)
    price = item.get("price") or {}
    currency = str(sub.get("currency_code") or (price.get("unit_price") or {}).get("currency_code") or "USD")
    cycle = sub.get("billing_cycle") or price.get("billing_cycle") or {}
    status = _STATUSES.get(str(sub.get("status")), SubscriptionStatus.INCOMPLETE)
    action, _, _ = scheduled(sub)
    discount = sub.get("discount") or {}
    discounts = (str(discount["id"]),) if discount.get("id") else ()
    return SubscriptionSnapshot(
        id=str(sub["id"]),
        customer_id=str(sub["customer_id"]),
        status=status,
        price_id=str(price["id"]),
        amount_cents=unit_amount(price, currency) * int(item.get("quantity") or 1),
        currency=currency.lower(),
        interval=str(cycle.get("interval") or "month"),
        interval_count=int(cycle.get("frequency") or 1),
        current_period_end=_period_end(sub),
        trial_end=_trial_end(sub, item),
        paused_until=paused_until(sub),
        discount_coupon_ids=discounts,
        discount_ids=discounts,  # Paddle applies a discount by its own id: nothing else names it
        cancel_at_period_end=action == "cancel",
        canceled_at=parse_time(sub.get("canceled_at")) if status is SubscriptionStatus.CANCELED else None,
        # Not on the subscription entity: paid transactions arrive as `transaction.completed` notifications.
        last_paid_at=None,
    )


def event_problem(data: Any) -> str | None:
    """Why a signed body is not a Paddle notification (event_id, event_type, occurred_at, data), or None."""
    if not isinstance(data, dict):
        return "the body is not a JSON object"
    for field in ("event_id", "event_type", "occurred_at"):
        value = data.get(field)
        if not isinstance(value, str) or not value.strip():
            return f"the event has no {field}"
    if not isinstance(data.get("data"), dict):
        return "the event has no data object"
    return None


def event_subscription(event_type: str, entity: dict[str, Any]) -> str | None:
    """Which subscription a notification concerns: the entity itself for subscription.*, else its
    `subscription_id` (transactions and adjustments carry one; a one-off transaction has none)."""
    if event_type.startswith("subscription."):
        return str(entity["id"])
    related = entity.get("subscription_id")
    return str(related) if related else None


def event_paid_at(event_type: str, entity: dict[str, Any], occurred_at: datetime) -> datetime | None:
    """When a transaction with money in it was paid: its captured payment, else the event's time. A trial's
    $0 transaction completes too, and is no payment (verified saves need a real one)."""
    if event_type not in _PAID_EVENTS or not entity.get("subscription_id"):
        return None
    totals = (entity.get("details") or {}).get("totals") or {}
    if int(totals.get("grand_total") or totals.get("total") or 0) <= 0:
        return None
    captured = [parse_time(p.get("captured_at")) for p in entity.get("payments") or [] if p.get("captured_at")]
    return max((c for c in captured if c), default=occurred_at)
