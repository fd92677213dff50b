"""InMemoryBillingProvider: the embedded default billing system and a stateful double that keeps Stripe's rules.

Rules: standard library and `offers.ports` only. It follows Stripe's documented idempotency semantics for API
v1 (https://docs.stripe.com/api/idempotent_requests, https://docs.stripe.com/error-low-level#idempotency):

- Once a request starts executing, its result is stored under its key, errors included (a 500 too);
  the same key with the same parameters replays it without executing again.
- The same key with other parameters (or for another operation or subscription) is refused:
  `IdempotencyConflict`, Stripe's 400 `idempotency_error`. Nothing is stored for it.
- A request whose key is still executing is refused at once, never queued and never applied twice:
  `ProviderUnavailable`, Stripe's 409 `idempotency_key_in_use`. Nothing is stored for it.
- What fails before execution is not stored, so the same key may later succeed: a request that never
  arrived (network), and 401/403, because authentication runs before the idempotency layer.
- Keys are forgotten 24 hours after their first use, by this provider's clock. A request the caller stops
  waiting for (timeout, cancellation) still finishes on the provider's side.

The idempotency memory lives in the `SubscriptionStore` that holds the subscriptions: a second provider
built over the same `subscriptions` (a restarted process in tests) shares it.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import cast

from offers.ports import (
    ALL_CAPABILITIES,
    BillingError,
    Capability,
    Catalogue,
    IdempotencyConflict,
    OfferNotApplicable,
    ProviderAuthFailed,
    ProviderFailed,
    ProviderUnavailable,
    SubscriptionNotFound,
    SubscriptionSnapshot,
    SubscriptionStatus,
)
from offers.providers.memory_new_subscriptions import new_subscription, refused_unless
from offers.providers.memory_store import Fingerprint, Params, Schedule, SubscriptionStore, _Stored

UTC_NOW = partial(datetime.now, UTC)  # the default clock
OURS = "saveflow"  # the owner of the subscription schedules this service creates


@dataclass(frozen=True, slots=True)
class Price:
    id: str
    amount_cents: int
    currency: str = "usd"
    interval: str = "month"


@dataclass(frozen=True, slots=True)
class BillingCall:
    """One write that executed at the provider (replays and refusals of a key are not recorded)."""

    method: str
    subscription_id: str
    params: Params
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class _Fault:
    error: BillingError
    applied: bool  # the provider executed the request before answering `error`


@dataclass
class InMemoryBillingProvider:
    """Subscriptions, prices and coupons in dictionaries; a recorded call log; injectable failures and delays."""

    clock: Callable[[], datetime] = UTC_NOW
    subscriptions: dict[str, SubscriptionSnapshot] = field(default_factory=SubscriptionStore)
    prices: dict[str, Price] = field(default_factory=dict)
    coupons: set[str] = field(default_factory=set)
    calls: list[BillingCall] = field(default_factory=list)
    _faults: list[_Fault] = field(default_factory=list)
    _next_read_failures: list[Exception] = field(default_factory=list)
    _next_delay: float = 0.0
    capabilities: frozenset[Capability] = ALL_CAPABILITIES

    def __post_init__(self) -> None:
        if not isinstance(self.subscriptions, SubscriptionStore):  # a plain dict is copied into a store
            self.subscriptions = SubscriptionStore(self.subscriptions)

    @property
    def store(self) -> SubscriptionStore:
        """The subscriptions with the idempotency memory and schedules kept beside them."""
        return cast("SubscriptionStore", self.subscriptions)  # guaranteed by __post_init__

    # ------------------------------------------------------------------ set-up and fault injection
    def add_price(self, price: Price) -> None:
        self.prices[price.id] = price

    def add_subscription(self, snapshot: SubscriptionSnapshot) -> None:
        self.subscriptions[snapshot.id] = snapshot

    def add_foreign_schedule(self, subscription_id: str) -> None:
        """Put the subscription under a schedule someone else created (the dashboard, another tool)."""
        self.store.schedules[subscription_id] = Schedule(owner="dashboard")

    def fail_next(self, error: BillingError, *, applied: bool = False) -> None:
        """The next write answers `error` (queued; one per call), after executing it if `applied`.

        By type, as Stripe: `ProviderUnavailable` never arrived (`applied`: it executed and the response
        was lost) and `ProviderAuthFailed` was refused before the idempotency layer, so neither is
        stored; any other error is stored under the key and replayed, and `ProviderFailed` with
        `applied` is a 500 answered after the change was made.
        """
        self._faults.append(_Fault(error, applied))

    def fail_next_with_server_error(self, *, applied: bool = False) -> None:
        """The next write answers 500 (stored and replayed for its key); `applied`: after making the change."""
        self.fail_next(ProviderFailed("500 api_error (injected)"), applied=applied)

    def fail_next_with_auth_error(self) -> None:
        """The next write answers 401: our API key is wrong (not stored: the same key may succeed later)."""
        self.fail_next(ProviderAuthFailed("401 authentication_error (injected)"))

    def lose_next_response(self) -> None:
        """The next write executes and stores its result, but the caller sees a network failure."""
        self.fail_next(ProviderUnavailable("connection reset after the request was sent (injected)"), applied=True)

    def fail_next_read(self, error: Exception) -> None:
        """The next `get_subscription` raises `error` (any exception, to exercise callers' failure paths)."""
        self._next_read_failures.append(error)

    def delay_next(self, seconds: float) -> None:
        """The next write takes `seconds` to execute, its key in flight meanwhile (a retry gets 409)."""
        self._next_delay = seconds

    def calls_for(self, subscription_id: str) -> list[BillingCall]:
        return [c for c in self.calls if c.subscription_id == subscription_id]

    # ------------------------------------------------------------------ the port
    async def catalogue(self) -> Catalogue:
        return Catalogue(frozenset(self.prices), frozenset(self.coupons))

    async def get_subscription(self, subscription_id: str) -> SubscriptionSnapshot:
        if self._next_read_failures:
            raise self._next_read_failures.pop(0)
        return self._get(subscription_id)

    async def pause(
        self,
        subscription_id: str,
        *,
        resumes_at: datetime,
        behavior: str,
        idempotency_key: str,
        at_period_end: bool = False,
    ) -> SubscriptionSnapshot:
        def change(sub: SubscriptionSnapshot) -> SubscriptionSnapshot:
            if sub.status is SubscriptionStatus.TRIALING:
                raise OfferNotApplicable("a trialing subscription cannot be paused")
            return dataclasses.replace(sub, paused_until=resumes_at)

        later = (("at_period_end", True),) if at_period_end else ()  # recorded only when it says something
        params = (("resumes_at", resumes_at), ("behavior", behavior), *later)
        return await self._write("pause", subscription_id, params, idempotency_key, change)

    async def resume(self, subscription_id: str, *, idempotency_key: str) -> SubscriptionSnapshot:
        def change(sub: SubscriptionSnapshot) -> SubscriptionSnapshot:
            return dataclasses.replace(sub, paused_until=None)

        return await self._write("resume", subscription_id, (), idempotency_key, change)

    async def change_price(
        self,
        subscription_id: str,
        *,
        price_id: str,
        at_period_end: bool,
        snapshot: SubscriptionSnapshot,
        idempotency_key: str,
    ) -> SubscriptionSnapshot:
        def change(sub: SubscriptionSnapshot) -> SubscriptionSnapshot:
            price = self.prices.get(price_id)
            if price is None:
                raise OfferNotApplicable(f"no such price {price_id}")
            if not at_period_end:
                return dataclasses.replace(
                    sub, price_id=price.id, amount_cents=price.amount_cents, interval=price.interval
                )
            schedule = self.store.schedules.get(sub.id)
            if schedule is not None and schedule.owner != OURS:
                raise OfferNotApplicable(f"{sub.id} follows a subscription schedule we did not create")
            # The next phase keeps the discounts the subscription had (from the frozen snapshot).
            self.store.schedules[sub.id] = Schedule(OURS, price_id, snapshot.discount_coupon_ids)
            return dataclasses.replace(sub, scheduled_price_id=price_id)

        params = (("price_id", price_id), ("at_period_end", at_period_end))
        basis = (("keep", snapshot.discount_coupon_ids),) if at_period_end else ()
        return await self._write("change_price", subscription_id, params, idempotency_key, change, basis)

    async def extend_trial(
        self, subscription_id: str, *, trial_end: datetime, idempotency_key: str
    ) -> SubscriptionSnapshot:
        def change(sub: SubscriptionSnapshot) -> SubscriptionSnapshot:
            if sub.status is not SubscriptionStatus.TRIALING:
                raise OfferNotApplicable("only a trialing subscription can have its trial extended")
            return dataclasses.replace(sub, trial_end=trial_end)

        return await self._write("extend_trial", subscription_id, (("trial_end", trial_end),), idempotency_key, change)

    async def apply_discount(
        self, subscription_id: str, *, coupon_id: str, snapshot: SubscriptionSnapshot, idempotency_key: str
    ) -> SubscriptionSnapshot:
        kept = snapshot.discount_coupon_ids

        def change(sub: SubscriptionSnapshot) -> SubscriptionSnapshot:
            if coupon_id not in self.coupons:
                raise OfferNotApplicable(f"no such coupon {coupon_id}")
            # Like Stripe's `discounts`, the list is replaced: the snapshot's discounts, then the coupon.
            return dataclasses.replace(sub, discount_coupon_ids=(*kept, coupon_id), discount_ids=())

        params = (("coupon_id", coupon_id),)
        return await self._write("apply_discount", subscription_id, params, idempotency_key, change, (("keep", kept),))

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
            self.store.schedules.pop(sub.id, None)  # released first, whoever created it
            sub = dataclasses.replace(sub, scheduled_price_id=None)
            if at_period_end:
                return dataclasses.replace(sub, cancel_at_period_end=True)
            return dataclasses.replace(sub, status=SubscriptionStatus.CANCELED, canceled_at=self.clock())

        params = (("at_period_end", at_period_end), ("reason", reason), ("comment", comment))
        return await self._write("cancel", subscription_id, params, idempotency_key, change)

    async def reactivate(self, subscription_id: str, *, idempotency_key: str) -> SubscriptionSnapshot:
        def change(sub: SubscriptionSnapshot) -> SubscriptionSnapshot:
            if sub.status is SubscriptionStatus.CANCELED:
                raise OfferNotApplicable(f"{sub.id} has ended: only a scheduled cancellation can be undone")
            return dataclasses.replace(sub, cancel_at_period_end=False)

        return await self._write("reactivate", subscription_id, (), idempotency_key, change)

    async def cancel_scheduled_change(self, subscription_id: str, *, idempotency_key: str) -> SubscriptionSnapshot:
        def change(sub: SubscriptionSnapshot) -> SubscriptionSnapshot:
            schedule = self.store.schedules.get(sub.id)
            if schedule is None:
                return sub
            if schedule.owner != OURS:
                raise OfferNotApplicable(f"{sub.id} follows a subscription schedule we did not create")
            del self.store.schedules[sub.id]  # released: the subscription stays on its current price
            return dataclasses.replace(sub, scheduled_price_id=None)

        return await self._write("cancel_scheduled_change", subscription_id, (), idempotency_key, change)

    async def resubscribe(
        self, customer_id: str, *, price_id: str, coupon_id: str, trial_days: int, idempotency_key: str
    ) -> SubscriptionSnapshot:
        p = self.prices.get(price_id) or Price(price_id, 0)  # an unknown price is refused when it executes
        terms = (price_id, p.amount_cents, p.currency, p.interval, coupon_id, trial_days)
        starts = new_subscription(idempotency_key, customer_id, terms, self.clock())
        known = any(s.customer_id == customer_id for s in self.subscriptions.values()) and price_id in self.prices
        change = refused_unless(known and (not coupon_id or coupon_id in self.coupons), f"{customer_id} {terms}")
        params = (("customer", customer_id), ("terms", terms))  # Stripe compares the whole body under the key
        return await self._write("resubscribe", starts.id, params, idempotency_key, change, creating=starts)

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
        params: Params,
        key: str,
        change: Callable[[SubscriptionSnapshot], SubscriptionSnapshot],
        basis: Params = (),
        creating: SubscriptionSnapshot | None = None,
    ) -> SubscriptionSnapshot:
        """Stripe's idempotency layer in front of `change` (from `creating` for a new subscription); `basis` is
        compared like params, not logged."""
        fingerprint: Fingerprint = (method, subscription_id, params, basis)
        fault = self._faults.pop(0) if self._faults else None
        if fault is not None and _before_idempotency(fault):
            raise fault.error
        store = self.store
        stored = store.recall(key, self.clock())
        if stored is not None or key in store.in_flight:
            if fault is not None:
                self._faults.insert(0, fault)  # nothing executes: the fault waits for the next request that does
            if stored is None:
                raise ProviderUnavailable(f"409 idempotency_key_in_use: another request with key {key} is in flight")
            if stored.fingerprint != fingerprint:
                raise IdempotencyConflict(f"400 idempotency_error: key {key} was used with other parameters")
            return stored.replay()
        store.in_flight.add(key)
        delay, self._next_delay = self._next_delay, 0.0
        execution = asyncio.ensure_future(self._execute(fingerprint, key, change, fault, delay, creating))
        execution.add_done_callback(_retrieve_outcome)
        return await asyncio.shield(execution)  # a caller giving up does not stop the provider

    async def _execute(
        self,
        fingerprint: Fingerprint,
        key: str,
        change: Callable[[SubscriptionSnapshot], SubscriptionSnapshot],
        fault: _Fault | None,
        delay: float,
        creating: SubscriptionSnapshot | None = None,
    ) -> SubscriptionSnapshot:
        method, subscription_id, params, _ = fingerprint
        store = self.store
        try:
            if delay:
                await asyncio.sleep(delay)
            now = self.clock()
            if fault is not None and not fault.applied:
                store.results[key] = _Stored(fingerprint, now, error=fault.error)
                raise fault.error
            self.calls.append(BillingCall(method, subscription_id, params, key))
            try:
                updated = change(creating or self._get(subscription_id))
            except BillingError as error:
                store.results[key] = _Stored(fingerprint, now, error=error)
                raise
            store[subscription_id] = updated
            if fault is not None and isinstance(fault.error, ProviderFailed):
                store.results[key] = _Stored(fingerprint, now, error=fault.error)  # applied, answered 500
                raise fault.error
            store.results[key] = _Stored(fingerprint, now, result=updated)
            if fault is not None:
                raise fault.error  # applied and stored; the answer got lost on the way
            return updated
        finally:
            store.in_flight.discard(key)


def _before_idempotency(fault: _Fault) -> bool:
    """Failures that happen before Stripe's idempotency layer: nothing is stored under the key."""
    if isinstance(fault.error, ProviderAuthFailed):
        return True
    return isinstance(fault.error, ProviderUnavailable) and not fault.applied


def _retrieve_outcome(execution: asyncio.Future[SubscriptionSnapshot]) -> None:
    """Mark the outcome seen, so a caller that gave up leaves no 'exception never retrieved' behind."""
    if not execution.cancelled():
        execution.exception()
