"""InMemoryBillingProvider: the embedded default billing system and the stateful test double.

Rules: standard library and `offers.ports` only. It mimics the parts of Stripe's contract the
service relies on: same idempotency key + same parameters returns the stored result, same key +
different parameters raises `IdempotencyConflict`, and definitive errors are replayed too.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from offers.ports import (
    BillingError,
    IdempotencyConflict,
    OfferNotApplicable,
    ProviderUnavailable,
    SubscriptionNotFound,
    SubscriptionSnapshot,
    SubscriptionStatus,
)


@dataclass(frozen=True, slots=True)
class Price:
    id: str
    amount_cents: int
    currency: str = "usd"
    interval: str = "month"


@dataclass(frozen=True, slots=True)
class BillingCall:
    """One write that reached the provider (replays of a stored key are not recorded)."""

    method: str
    subscription_id: str
    params: tuple[tuple[str, Any], ...]
    idempotency_key: str


@dataclass(slots=True)
class _Stored:
    fingerprint: tuple[str, str, tuple[tuple[str, Any], ...]]
    result: SubscriptionSnapshot | None = None
    error: BillingError | None = None


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class InMemoryBillingProvider:
    """Subscriptions, prices and coupons in dictionaries; a recorded call log; injectable failures."""

    clock: Callable[[], datetime] = _utcnow
    subscriptions: dict[str, SubscriptionSnapshot] = field(default_factory=dict)
    prices: dict[str, Price] = field(default_factory=dict)
    coupons: set[str] = field(default_factory=set)
    calls: list[BillingCall] = field(default_factory=list)
    _idempotency: dict[str, _Stored] = field(default_factory=dict)
    _next_failures: list[BillingError] = field(default_factory=list)
    _next_read_failures: list[Exception] = field(default_factory=list)
    _next_delay: float = 0.0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    # ------------------------------------------------------------------ set-up and fault injection
    def add_price(self, price: Price) -> None:
        self.prices[price.id] = price

    def add_subscription(self, snapshot: SubscriptionSnapshot) -> None:
        self.subscriptions[snapshot.id] = snapshot

    def fail_next(self, error: BillingError) -> None:
        """The next write raises `error` (queued; one error per call)."""
        self._next_failures.append(error)

    def fail_next_read(self, error: Exception) -> None:
        """The next `get_subscription` raises `error` (any exception, to exercise callers' failure paths)."""
        self._next_read_failures.append(error)

    def delay_next(self, seconds: float) -> None:
        """The next write sleeps first, so callers' timeouts can be exercised."""
        self._next_delay = seconds

    def calls_for(self, subscription_id: str) -> list[BillingCall]:
        return [c for c in self.calls if c.subscription_id == subscription_id]

    # ------------------------------------------------------------------ the port
    async def get_subscription(self, subscription_id: str) -> SubscriptionSnapshot:
        if self._next_read_failures:
            raise self._next_read_failures.pop(0)
        return self._get(subscription_id)

    async def pause(
        self, subscription_id: str, *, resumes_at: datetime, behavior: str, idempotency_key: str
    ) -> SubscriptionSnapshot:
        def change(sub: SubscriptionSnapshot) -> SubscriptionSnapshot:
            if sub.status is SubscriptionStatus.TRIALING:
                raise OfferNotApplicable("a trialing subscription cannot be paused")
            return dataclasses.replace(sub, paused_until=resumes_at)

        params = (("resumes_at", resumes_at), ("behavior", behavior))
        return await self._write("pause", subscription_id, params, idempotency_key, change)

    async def resume(self, subscription_id: str, *, idempotency_key: str) -> SubscriptionSnapshot:
        return await self._write(
            "resume",
            subscription_id,
            (),
            idempotency_key,
            lambda s: dataclasses.replace(s, paused_until=None),
        )

    async def change_price(
        self, subscription_id: str, *, price_id: str, at_period_end: bool, idempotency_key: str
    ) -> SubscriptionSnapshot:
        def change(sub: SubscriptionSnapshot) -> SubscriptionSnapshot:
            price = self.prices.get(price_id)
            if price is None:
                raise OfferNotApplicable(f"no such price {price_id}")
            if at_period_end:
                return dataclasses.replace(sub, scheduled_price_id=price_id)
            return dataclasses.replace(sub, price_id=price.id, amount_cents=price.amount_cents, interval=price.interval)

        params = (("price_id", price_id), ("at_period_end", at_period_end))
        return await self._write("change_price", subscription_id, params, idempotency_key, change)

    async def extend_trial(
        self, subscription_id: str, *, trial_end: datetime, idempotency_key: str
    ) -> SubscriptionSnapshot:
        def change(sub: SubscriptionSnapshot) -> SubscriptionSnapshot:
            if sub.status is not SubscriptionStatus.TRIALING:
                raise OfferNotApplicable("only a trialing subscription can have its trial extended")
            return dataclasses.replace(sub, trial_end=trial_end)

        return await self._write("extend_trial", subscription_id, (("trial_end", trial_end),), idempotency_key, change)

    async def apply_discount(
        self, subscription_id: str, *, coupon_id: str, idempotency_key: str
    ) -> SubscriptionSnapshot:
        def change(sub: SubscriptionSnapshot) -> SubscriptionSnapshot:
            if coupon_id not in self.coupons:
                raise OfferNotApplicable(f"no such coupon {coupon_id}")
            # Like Stripe's `discounts`, we append to the existing list and never wipe it.
            return dataclasses.replace(sub, discount_coupon_ids=(*sub.discount_coupon_ids, coupon_id))

        return await self._write(
            "apply_discount", subscription_id, (("coupon_id", coupon_id),), idempotency_key, change
        )

    async def cancel(
        self,
        subscription_id: str,
        *,
        at_period_end: bool,
        reason: str | None,
        comment: str | None,
        idempotency_key: str,
    ) -> SubscriptionSnapshot:
        def change(sub: SubscriptionSnapshot) -> SubscriptionSnapshot:
            if at_period_end:
                return dataclasses.replace(sub, cancel_at_period_end=True)
            return dataclasses.replace(sub, status=SubscriptionStatus.CANCELED, canceled_at=self.clock())

        params = (("at_period_end", at_period_end), ("reason", reason), ("comment", comment))
        return await self._write("cancel", subscription_id, params, idempotency_key, change)

    # ------------------------------------------------------------------ internals
    def _get(self, subscription_id: str) -> SubscriptionSnapshot:
        try:
            return self.subscriptions[subscription_id]
        except KeyError:
            raise SubscriptionNotFound(f"no subscription {subscription_id}") from None

    async def _write(
        self,
        method: str,
        subscription_id: str,
        params: tuple[tuple[str, Any], ...],
        idempotency_key: str,
        change: Callable[[SubscriptionSnapshot], SubscriptionSnapshot],
    ) -> SubscriptionSnapshot:
        if self._next_delay:
            delay, self._next_delay = self._next_delay, 0.0
            await asyncio.sleep(delay)
        async with self._lock:
            fingerprint = (method, subscription_id, params)
            stored = self._idempotency.get(idempotency_key)
            if stored is not None:
                if stored.fingerprint != fingerprint:
                    raise IdempotencyConflict(f"key {idempotency_key} was used with other parameters")
                if stored.result is None:
                    raise stored.error or BillingError("stored result missing")
                return stored.result
            if self._next_failures:
                error = self._next_failures.pop(0)
                # A transient failure stores nothing (the request "never arrived"); a definitive
                # one is stored and replayed, as Stripe does.
                if not isinstance(error, ProviderUnavailable):
                    self._idempotency[idempotency_key] = _Stored(fingerprint, error=error)
                raise error
            self.calls.append(BillingCall(method, subscription_id, params, idempotency_key))
            try:
                updated = change(self._get(subscription_id))
            except BillingError as error:
                self._idempotency[idempotency_key] = _Stored(fingerprint, error=error)
                raise
            self.subscriptions[subscription_id] = updated
            self._idempotency[idempotency_key] = _Stored(fingerprint, result=updated)
            return updated
