"""StripeBillingProvider: the BillingProvider port over Stripe's API (it and stripe_webhooks import `stripe`).

Rules: may import stripe and offers.ports only. It owns every Stripe-specific fact the rest of the
service must not know:
- a paused subscription stays `active` with `pause_collection`; resuming unsets it;
- a trial is extended only while the subscription is trialing (Stripe itself accepts `trial_end` on an
  active subscription and starts a new trial), with `proration_behavior=none`, or Stripe prorates it;
- `discounts` replaces the whole list, so the snapshot's discounts are re-sent by id with the new coupon;
- the period end moved onto subscription items (API 2025+);
- a downgrade at period end is a two-phase subscription schedule marked as ours in its metadata; both
  phases keep the snapshot's discounts, and a schedule someone else created is never overwritten;
- Stripe refuses to change the cancellation of a subscription that a schedule manages, so a cancel
  releases the schedule first, under the cancel's key + ":release";
- cancelling now is a DELETE, on which Stripe ignores idempotency keys and answers a repeat with 404:
  a subscription already cancelled is that cancel's success.

Idempotency (https://docs.stripe.com/api/idempotent_requests): retries reuse the same key, and a
multi-request operation derives one key per request. Stripe replays a key's first answer and refuses
the key with other parameters, so every parameter comes from the arguments and the caller's frozen
snapshot; a read supplies only what a retry cannot change (the item's id, the schedule's id and the
start of its current phase). Errors map to the port's hierarchy in `_translate`.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

import stripe

from offers.ports import (
    ALL_CAPABILITIES,
    BillingError,
    Catalogue,
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
from offers.providers.stripe_shapes import (
    PAUSE_BEHAVIORS,
    SCHEDULE_MARKER,
    STRIPE_FEEDBACK,
    discount_entries,
    scheduled_price,
    snapshot_from_stripe,
    ts,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable
    from datetime import datetime

    from stripe import RequestOptions
    from stripe.params import (
        SubscriptionCancelParams,
        SubscriptionCreateParams,
        SubscriptionScheduleUpdateParams,
        SubscriptionScheduleUpdateParamsPhaseDiscount,
        SubscriptionUpdateParams,
        SubscriptionUpdateParamsCancellationDetails,
        SubscriptionUpdateParamsDiscount,
    )

API_VERSION = "2026-10-28.endive"  # pinned: the shapes below are tested against this version's fixtures
# Upper bound on one port call, all its HTTP requests included (and the HTTP client's own timeout). Past
# it the call raises ProviderUnavailable; Stripe may still be executing the request, and a retry under its
# key then gets 409 until that finishes. The sweep's minimum age must be longer than this.
REQUEST_TIMEOUT_SECONDS = 15.0
EXPAND = ["discounts", "schedule", "latest_invoice"]  # latest_invoice: verified saves need a paid invoice


def _translate(exc: stripe.StripeError) -> BillingError:
    """Stripe's exception → our hierarchy; the caller decides retry vs. new attempt from the type."""
    message = f"{type(exc).__name__}: {exc.user_message or exc}"
    status = exc.http_status
    if isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError):
        return ProviderUnavailable(message)
    if status == 409 or exc.code == "idempotency_key_in_use":  # the key's first request is still running
        return ProviderUnavailable(message)
    if isinstance(exc, stripe.AuthenticationError | stripe.PermissionError):
        return ProviderAuthFailed(message)
    if isinstance(exc, stripe.IdempotencyError):
        return IdempotencyConflict(message)
    if isinstance(exc, stripe.InvalidRequestError):
        if exc.code == "resource_missing" and exc.param in (None, "id", "subscription", "subscription_exposed_id"):
            return SubscriptionNotFound(message)
        return OfferNotApplicable(message)
    if isinstance(exc, stripe.APIError):
        # A 5xx is stored and replayed for its key; anything else unreadable is of unknown outcome.
        return ProviderFailed(message) if (status or 0) >= 500 else ProviderUnavailable(message)
    return ProviderRejected(message)  # card errors and other definitive refusals


class StripeBillingProvider:
    """Stripe through `StripeClient` (async, pinned API version), one idempotency key per write."""

    capabilities = ALL_CAPABILITIES  # every offer maps onto Stripe's API

    def __init__(
        self,
        api_key: str,
        *,
        http_client: stripe.HTTPClient | None = None,
        api_base: str | None = None,
        timeout: float = REQUEST_TIMEOUT_SECONDS,
    ) -> None:
        options: dict[str, Any] = {"stripe_version": API_VERSION, "max_network_retries": 0}
        if api_base:
            options["base_addresses"] = {"api": api_base}
        self.timeout = timeout
        http_client = http_client or stripe.HTTPXClient(timeout=timeout)
        self._client = stripe.StripeClient(api_key, http_client=http_client, **options)

    @contextlib.asynccontextmanager
    async def _deadline(self) -> AsyncIterator[None]:
        """The whole port call (every request it makes) within `timeout`; past it, unavailable."""
        try:
            async with asyncio.timeout(self.timeout):
                yield
        except TimeoutError as exc:
            raise ProviderUnavailable(f"no answer from Stripe within {self.timeout} s") from exc

    async def _call(self, request: Awaitable[Any]) -> dict[str, Any]:
        try:
            result = await request
        except stripe.StripeError as exc:
            raise _translate(exc) from exc
        data: dict[str, Any] = result.to_dict()
        return data

    async def _retrieve(self, subscription_id: str) -> dict[str, Any]:
        subs = self._client.v1.subscriptions
        return await self._call(subs.retrieve_async(subscription_id, {"expand": EXPAND}))

    async def _update(self, subscription_id: str, params: SubscriptionUpdateParams, key: str) -> SubscriptionSnapshot:
        subs = self._client.v1.subscriptions
        params["expand"] = EXPAND
        request = subs.update_async(subscription_id, params, {"idempotency_key": key})
        return snapshot_from_stripe(await self._call(request))

    async def get_subscription(self, subscription_id: str) -> SubscriptionSnapshot:
        async with self._deadline():
            return snapshot_from_stripe(await self._retrieve(subscription_id))

    async def catalogue(self) -> Catalogue:
        """Active prices and valid coupons, every page: the flow editor checks offers against them."""
        async with self._deadline():
            prices = await self._ids(self._client.v1.prices.list_async({"active": True, "limit": 100}))
            coupons = await self._ids(self._client.v1.coupons.list_async({"limit": 100}), valid_only=True)
        return Catalogue(frozenset(prices), frozenset(coupons))

    async def _ids(self, first_page: Awaitable[Any], *, valid_only: bool = False) -> list[str]:
        try:
            page = await first_page
            return [item.id async for item in page.auto_paging_iter() if not valid_only or getattr(item, "valid", True)]
        except stripe.StripeError as exc:
            raise _translate(exc) from exc

    async def pause(
        self,
        subscription_id: str,
        *,
        resumes_at: datetime,
        behavior: str,
        idempotency_key: str,
        at_period_end: bool = False,
    ) -> SubscriptionSnapshot:
        """`pause_collection` until `resumes_at`, for a pause starting now and one starting at the period end
        (`at_period_end` changes nothing in the request).

        Why one request serves both (https://docs.stripe.com/billing/subscriptions/pause-payment): the current
        period is already paid, and while collection is paused Stripe voids (`behavior`) every invoice it
        would issue before `resumes_at`. A pause "from the period end" therefore charges nothing more from
        that end until `resumes_at`, which the caller counts from the period end; a schedule would add state
        for no difference in what the customer pays. An extension is the same request with a later date.
        """
        if behavior not in PAUSE_BEHAVIORS:
            raise OfferNotApplicable(f"unknown pause behavior {behavior!r}")
        params: SubscriptionUpdateParams = {"pause_collection": {"behavior": behavior, "resumes_at": ts(resumes_at)}}
        async with self._deadline():
            return await self._update(subscription_id, params, idempotency_key)

    async def resume(self, subscription_id: str, *, idempotency_key: str) -> SubscriptionSnapshot:
        async with self._deadline():
            return await self._update(subscription_id, {"pause_collection": ""}, idempotency_key)

    async def change_price(
        self,
        subscription_id: str,
        *,
        price_id: str,
        at_period_end: bool,
        snapshot: SubscriptionSnapshot,
        idempotency_key: str,
    ) -> SubscriptionSnapshot:
        async with self._deadline():
            current = await self._retrieve(subscription_id)
            if not at_period_end:
                item_id = current["items"]["data"][0]["id"]  # an item keeps its id when its price changes
                params: SubscriptionUpdateParams = {
                    "items": [{"id": item_id, "price": price_id}],
                    "proration_behavior": "create_prorations",
                }
                return await self._update(subscription_id, params, idempotency_key)
            schedule = await self._own_schedule(current, idempotency_key)
            phases = _two_phases(schedule, snapshot, price_id)
            schedules = self._client.v1.subscription_schedules
            options: RequestOptions = {"idempotency_key": f"{idempotency_key}:phases"}
            await self._call(schedules.update_async(schedule["id"], phases, options))
            return snapshot_from_stripe(await self._retrieve(subscription_id))

    async def _own_schedule(self, current: dict[str, Any], key: str) -> dict[str, Any]:
        """The subscription's schedule if we created it, else a new one; someone else's: OfferNotApplicable.

        A schedule not (yet) marked may be the one this very operation created before it was interrupted:
        creating under the same key replays it (for 24 hours). For anyone else's, Stripe refuses the create.
        """
        existing = current.get("schedule")
        if isinstance(existing, dict) and scheduled_price(existing) is not None:
            return existing
        schedules = self._client.v1.subscription_schedules
        request = schedules.create_async({"from_subscription": current["id"]}, {"idempotency_key": f"{key}:schedule"})
        try:
            return await self._call(request)
        except OfferNotApplicable as exc:
            if existing:
                raise OfferNotApplicable(f"{current['id']} follows a schedule we did not create: {exc}") from exc
            raise

    async def extend_trial(
        self, subscription_id: str, *, trial_end: datetime, idempotency_key: str
    ) -> SubscriptionSnapshot:
        params: SubscriptionUpdateParams = {"trial_end": ts(trial_end), "proration_behavior": "none"}
        async with self._deadline():
            current = snapshot_from_stripe(await self._retrieve(subscription_id))
            if current.status is not SubscriptionStatus.TRIALING:
                raise OfferNotApplicable(f"{subscription_id} is {current.status.value}: only a trial can be extended")
            return await self._update(subscription_id, params, idempotency_key)

    async def apply_discount(
        self, subscription_id: str, *, coupon_id: str, snapshot: SubscriptionSnapshot, idempotency_key: str
    ) -> SubscriptionSnapshot:
        # `discounts` replaces the list: the snapshot's discounts (never a fresh read), then the coupon.
        discounts: list[SubscriptionUpdateParamsDiscount] = [
            {"discount": value} if kind == "discount" else {"coupon": value}
            for kind, value in discount_entries(snapshot)
        ]
        discounts.append({"coupon": coupon_id})
        async with self._deadline():
            return await self._update(subscription_id, {"discounts": discounts}, idempotency_key)

    async def cancel(
        self,
        subscription_id: str,
        *,
        at_period_end: bool,
        reason: str | None,
        comment: str | None,
        idempotency_key: str,
    ) -> SubscriptionSnapshot:
        details: SubscriptionUpdateParamsCancellationDetails = {"feedback": STRIPE_FEEDBACK.get(reason or "", "other")}
        if comment:
            details["comment"] = comment[:500]
        async with self._deadline():
            current = await self._retrieve(subscription_id)
            if current.get("status") == "canceled":
                return snapshot_from_stripe(current)  # nothing left to do (a retry after a lost answer)
            if schedule := current.get("schedule"):
                await self._release(schedule["id"] if isinstance(schedule, dict) else str(schedule), idempotency_key)
            if at_period_end:
                params: SubscriptionUpdateParams = {"cancel_at_period_end": True, "cancellation_details": details}
                return await self._update(subscription_id, params, idempotency_key)
            return await self._cancel_now(subscription_id, details, idempotency_key)

    async def reactivate(self, subscription_id: str, *, idempotency_key: str) -> SubscriptionSnapshot:
        async with self._deadline():
            current = await self._retrieve(subscription_id)
            if current.get("status") == "canceled":
                raise OfferNotApplicable(f"{subscription_id} has ended: only a scheduled cancellation can be undone")
            if current.get("cancel_at_period_end"):
                return await self._update(subscription_id, {"cancel_at_period_end": False}, idempotency_key)
            if current.get("cancel_at"):  # a cancellation on a date (set in the dashboard) is cleared with ""
                return await self._update(subscription_id, {"cancel_at": ""}, idempotency_key)
            return snapshot_from_stripe(current)

    async def cancel_scheduled_change(self, subscription_id: str, *, idempotency_key: str) -> SubscriptionSnapshot:
        async with self._deadline():
            current = await self._retrieve(subscription_id)
            schedule = current.get("schedule")
            if not schedule:
                return snapshot_from_stripe(current)
            if scheduled_price(schedule) is None:
                raise OfferNotApplicable(f"{subscription_id} follows a schedule we did not create")
            await self._release(schedule["id"], idempotency_key)
            return snapshot_from_stripe(await self._retrieve(subscription_id))

    async def resubscribe(
        self, customer_id: str, *, price_id: str, coupon_id: str, trial_days: int, idempotency_key: str
    ) -> SubscriptionSnapshot:
        # https://docs.stripe.com/api/subscriptions/create: `error_if_incomplete` makes an unpaid first
        # invoice a 402 (ProviderRejected) instead of an `incomplete` subscription the customer never paid.
        params: SubscriptionCreateParams = {
            "customer": customer_id,
            "items": [{"price": price_id}],
            "payment_behavior": "error_if_incomplete",
            "expand": EXPAND,
        }
        if coupon_id:
            params["discounts"] = [{"coupon": coupon_id}]
        if trial_days:
            params["trial_period_days"] = trial_days
        async with self._deadline():
            subs = self._client.v1.subscriptions
            request = subs.create_async(params, {"idempotency_key": idempotency_key})
            return snapshot_from_stripe(await self._call(request))

    async def _release(self, schedule_id: str, key: str) -> None:
        """Detach the subscription from its schedule (phases stop; the subscription stays as it is)."""
        schedules = self._client.v1.subscription_schedules
        await self._call(schedules.release_async(schedule_id, {}, {"idempotency_key": f"{key}:release"}))

    async def _cancel_now(
        self, subscription_id: str, details: SubscriptionUpdateParamsCancellationDetails, key: str
    ) -> SubscriptionSnapshot:
        subs = self._client.v1.subscriptions
        params: SubscriptionCancelParams = {"cancellation_details": details, "expand": EXPAND}
        # Stripe ignores idempotency keys on a DELETE (the key only shows in its request log), and answers a
        # repeat with 404: a subscription that reads as cancelled is that earlier request's success.
        request = subs.cancel_async(subscription_id, params, {"idempotency_key": key})
        try:
            return snapshot_from_stripe(await self._call(request))
        except SubscriptionNotFound:
            again = snapshot_from_stripe(await self._retrieve(subscription_id))  # a cancelled one is still readable
            if again.status is SubscriptionStatus.CANCELED:
                return again
            raise


def _two_phases(
    schedule: dict[str, Any], snapshot: SubscriptionSnapshot, price_id: str
) -> SubscriptionScheduleUpdateParams:
    """Today's price until the snapshot's period end, then `price_id`; both phases keep the snapshot's discounts."""
    phase = (schedule.get("phases") or [{}])[0]
    start = (schedule.get("current_phase") or {}).get("start_date") or phase["start_date"]
    quantity = int(((phase.get("items") or [{}])[0]).get("quantity") or 1)
    keep: list[SubscriptionScheduleUpdateParamsPhaseDiscount] = [
        {"discount": value} if kind == "discount" else {"coupon": value} for kind, value in discount_entries(snapshot)
    ]
    params: SubscriptionScheduleUpdateParams = {
        "end_behavior": "release",
        "phases": [
            {
                "items": [{"price": snapshot.price_id, "quantity": quantity}],
                "start_date": int(start),
                "end_date": ts(snapshot.current_period_end),
                "discounts": keep,
            },
            {"items": [{"price": price_id, "quantity": quantity}], "proration_behavior": "none", "discounts": keep},
        ],
        "metadata": {SCHEDULE_MARKER: price_id},
    }
    return params
