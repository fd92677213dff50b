"""StripeBillingProvider: the BillingProvider port over Stripe's API (the only module importing `stripe`).

Rules: may import stripe and offers.ports only. It owns every Stripe-specific fact the rest of the
service must not know:
- a paused subscription stays `active` with `pause_collection`; resuming unsets it;
- trial extensions pass `proration_behavior=none`, or Stripe prorates them;
- `discounts` replaces the whole list, so existing discounts are re-sent with the new coupon;
- the period end moved onto subscription items (API 2025+);
- a downgrade at period end is a two-phase subscription schedule;
- retries reuse the same idempotency key; a multi-request operation derives one key per request.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import stripe

from offers.ports import (
    BillingError,
    BillingEvent,
    IdempotencyConflict,
    OfferNotApplicable,
    ProviderRejected,
    ProviderUnavailable,
    SubscriptionNotFound,
    SubscriptionSnapshot,
    SubscriptionStatus,
    WebhookRejected,
)

if TYPE_CHECKING:
    from stripe.params import (
        SubscriptionScheduleUpdateParams,
        SubscriptionUpdateParams,
        SubscriptionUpdateParamsDiscount,
    )

API_VERSION = "2026-10-28.endive"  # pinned: the shapes below are tested against this version's fixtures

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


def _ts(moment: datetime) -> int:
    return int(moment.timestamp())


def _dt(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), tz=UTC) if value else None


def snapshot_from_stripe(sub: dict[str, Any]) -> SubscriptionSnapshot:
    """Map a Stripe subscription (as a plain dict, `discounts` expanded or not) to our snapshot."""
    item = sub["items"]["data"][0]
    price = item["price"]
    period_end = item.get("current_period_end") or sub.get("current_period_end")
    pause = sub.get("pause_collection") or None
    coupons: list[str] = []
    for discount in sub.get("discounts") or []:
        if isinstance(discount, dict):
            coupon = (discount.get("source") or {}).get("coupon") or discount.get("coupon")
            coupons.append(coupon["id"] if isinstance(coupon, dict) else str(coupon or discount["id"]))
        else:
            coupons.append(str(discount))
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
        current_period_end=_dt(period_end) or datetime.now(UTC),
        trial_end=_dt(sub.get("trial_end")) if status is SubscriptionStatus.TRIALING else None,
        # A pause with no resume date is open-ended: report it as paused "until further notice".
        paused_until=(_dt(pause.get("resumes_at")) or datetime.max.replace(tzinfo=UTC)) if pause else None,
        discount_coupon_ids=tuple(coupons),
        cancel_at_period_end=bool(sub.get("cancel_at_period_end")),
        canceled_at=_dt(sub.get("canceled_at")) if status is SubscriptionStatus.CANCELED else None,
    )


def _translate(exc: stripe.StripeError) -> BillingError:
    """Stripe's exception → our hierarchy; the caller decides retry vs. new attempt from the type."""
    message = f"{type(exc).__name__}: {exc.user_message or exc}"
    if isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError):
        return ProviderUnavailable(message)
    if isinstance(exc, stripe.IdempotencyError):
        return IdempotencyConflict(message)
    if isinstance(exc, stripe.InvalidRequestError):
        if exc.code == "resource_missing" and exc.param in (None, "id", "subscription", "subscription_exposed_id"):
            return SubscriptionNotFound(message)
        return OfferNotApplicable(message)
    if isinstance(exc, stripe.APIError) and (exc.http_status or 500) >= 500:
        return ProviderUnavailable(message)
    return ProviderRejected(message)  # card errors, authentication and permission problems


class StripeBillingProvider:
    """Stripe through `StripeClient` (async, pinned API version), one idempotency key per write."""

    def __init__(self, api_key: str, *, http_client: stripe.HTTPClient | None = None, api_base: str | None = None):
        options: dict[str, Any] = {"stripe_version": API_VERSION, "max_network_retries": 0}
        if api_base:
            options["base_addresses"] = {"api": api_base}
        self._client = stripe.StripeClient(api_key, http_client=http_client or stripe.HTTPXClient(), **options)

    async def _call(self, request: Any) -> dict[str, Any]:
        try:
            result = await request
        except stripe.StripeError as exc:
            raise _translate(exc) from exc
        data: dict[str, Any] = result.to_dict()
        return data

    async def _retrieve(self, subscription_id: str) -> dict[str, Any]:
        subs = self._client.v1.subscriptions
        return await self._call(subs.retrieve_async(subscription_id, {"expand": ["discounts"]}))

    async def _update(self, subscription_id: str, params: SubscriptionUpdateParams, key: str) -> SubscriptionSnapshot:
        subs = self._client.v1.subscriptions
        params["expand"] = ["discounts"]
        request = subs.update_async(subscription_id, params, {"idempotency_key": key})
        return snapshot_from_stripe(await self._call(request))

    async def get_subscription(self, subscription_id: str) -> SubscriptionSnapshot:
        return snapshot_from_stripe(await self._retrieve(subscription_id))

    async def pause(
        self, subscription_id: str, *, resumes_at: datetime, behavior: str, idempotency_key: str
    ) -> SubscriptionSnapshot:
        if behavior not in PAUSE_BEHAVIORS:
            raise OfferNotApplicable(f"unknown pause behavior {behavior!r}")
        params: SubscriptionUpdateParams = {"pause_collection": {"behavior": behavior, "resumes_at": _ts(resumes_at)}}
        return await self._update(subscription_id, params, idempotency_key)

    async def resume(self, subscription_id: str, *, idempotency_key: str) -> SubscriptionSnapshot:
        return await self._update(subscription_id, {"pause_collection": ""}, idempotency_key)

    async def change_price(
        self, subscription_id: str, *, price_id: str, at_period_end: bool, idempotency_key: str
    ) -> SubscriptionSnapshot:
        current = await self._retrieve(subscription_id)
        item = current["items"]["data"][0]
        if not at_period_end:
            params: SubscriptionUpdateParams = {
                "items": [{"id": item["id"], "price": price_id}],
                "proration_behavior": "create_prorations",
            }
            return await self._update(subscription_id, params, idempotency_key)
        # At period end: a schedule whose first phase keeps today's price until the period ends and
        # whose second phase switches to the cheaper price; then the schedule releases the subscription.
        schedules = self._client.v1.subscription_schedules
        schedule_id = current.get("schedule")
        if isinstance(schedule_id, dict):
            schedule_id = schedule_id["id"]
        if not schedule_id:
            created = await self._call(
                schedules.create_async(
                    {"from_subscription": subscription_id}, {"idempotency_key": f"{idempotency_key}:schedule"}
                )
            )
            schedule_id = created["id"]
        period_end = int(item.get("current_period_end") or current["current_period_end"])
        phase_start = int(item.get("current_period_start") or current["current_period_start"])
        quantity = int(item.get("quantity") or 1)
        phases: SubscriptionScheduleUpdateParams = {
            "end_behavior": "release",
            "phases": [
                {
                    "items": [{"price": item["price"]["id"], "quantity": quantity}],
                    "start_date": phase_start,
                    "end_date": period_end,
                },
                {"items": [{"price": price_id, "quantity": quantity}], "proration_behavior": "none"},
            ],
            "metadata": {"saveflow_scheduled_price": price_id},
        }
        await self._call(
            schedules.update_async(str(schedule_id), phases, {"idempotency_key": f"{idempotency_key}:phases"})
        )
        snapshot = snapshot_from_stripe(await self._retrieve(subscription_id))
        return dataclasses.replace(snapshot, scheduled_price_id=price_id)

    async def extend_trial(
        self, subscription_id: str, *, trial_end: datetime, idempotency_key: str
    ) -> SubscriptionSnapshot:
        params: SubscriptionUpdateParams = {"trial_end": _ts(trial_end), "proration_behavior": "none"}
        return await self._update(subscription_id, params, idempotency_key)

    async def apply_discount(
        self, subscription_id: str, *, coupon_id: str, idempotency_key: str
    ) -> SubscriptionSnapshot:
        current = await self._retrieve(subscription_id)
        # `discounts` replaces the list: keep every existing discount, then add the coupon.
        existing = [d["id"] if isinstance(d, dict) else str(d) for d in current.get("discounts") or []]
        discounts: list[SubscriptionUpdateParamsDiscount] = [{"discount": d} for d in existing]
        discounts.append({"coupon": coupon_id})
        params: SubscriptionUpdateParams = {"discounts": discounts}
        return await self._update(subscription_id, params, idempotency_key)

    async def cancel(
        self,
        subscription_id: str,
        *,
        at_period_end: bool,
        reason: str | None,
        comment: str | None,
        idempotency_key: str,
    ) -> SubscriptionSnapshot:
        details: Any = {"feedback": STRIPE_FEEDBACK.get(reason or "", "other")}
        if comment:
            details["comment"] = comment[:500]
        if at_period_end:
            params: SubscriptionUpdateParams = {"cancel_at_period_end": True, "cancellation_details": details}
            return await self._update(subscription_id, params, idempotency_key)
        subs = self._client.v1.subscriptions
        request = subs.cancel_async(
            subscription_id,
            {"cancellation_details": details, "expand": ["discounts"]},
            {"idempotency_key": idempotency_key},
        )
        return snapshot_from_stripe(await self._call(request))


def _subscription_of(obj: dict[str, Any]) -> str | None:
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


class StripeWebhooks:
    """Verifies `Stripe-Signature` (HMAC over timestamp and raw body, 5-minute tolerance)."""

    def __init__(self, secret: str) -> None:
        self._secret = secret

    def parse(self, payload: bytes, signature_header: str) -> BillingEvent:
        try:
            event = stripe.Webhook.construct_event(payload, signature_header, self._secret)
        except (stripe.SignatureVerificationError, ValueError) as exc:
            raise WebhookRejected(f"{type(exc).__name__}: {exc}") from exc
        data = event.to_dict()
        obj = (data.get("data") or {}).get("object") or {}
        created = datetime.fromtimestamp(int(data.get("created") or 0), tz=UTC)
        return BillingEvent(
            id=str(data["id"]), type=str(data.get("type", "")), subscription_id=_subscription_of(obj), created=created
        )
