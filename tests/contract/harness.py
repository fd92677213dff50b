"""The two billing providers of the contract suite behind one test-facing surface (set-up, faults, inspection)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from offers import BillingProvider, SubscriptionSnapshot, SubscriptionStatus
from offers.providers.memory import InMemoryBillingProvider, Price
from offers.providers.stripe import StripeBillingProvider
from tests.support.stripe_http import NOW, Failure, FakeStripe, make_subscription

START = datetime.fromtimestamp(NOW, tz=UTC)


class Harness(Protocol):
    """A provider with `sub_1` (active Pro, the `loyal10` discount) and `sub_trial` (a Pro trial ending in 3 days)."""

    @property
    def provider(self) -> BillingProvider: ...

    def effects(self) -> int:
        """How many writes executed at the provider (replays and refusals excluded)."""
        ...

    def advance(self, seconds: int) -> None: ...

    def hold_next(self, seconds: float) -> None:
        """The next write takes `seconds` to execute, its key in flight meanwhile."""
        ...

    def fail_next_with_server_error(self, *, applied: bool = False) -> None: ...

    def fail_next_with_auth_error(self) -> None: ...

    def lose_next_response(self) -> None:
        """The next write executes, but its answer never reaches the caller (a network failure)."""
        ...

    def add_foreign_schedule(self, subscription_id: str) -> None: ...

    def has_schedule(self, subscription_id: str) -> bool: ...

    def next_phase_coupons(self, subscription_id: str) -> tuple[str, ...] | None:
        """The coupons of the phase a schedule moves the subscription to next (None: no such phase)."""
        ...


@dataclass
class MemoryHarness:
    provider: InMemoryBillingProvider
    now: datetime = START

    @classmethod
    def build(cls) -> MemoryHarness:
        harness = cls(InMemoryBillingProvider())
        harness.provider = provider = InMemoryBillingProvider(clock=lambda: harness.now)
        provider.add_price(Price("price_pro_monthly", 4900))
        provider.add_price(Price("price_starter_monthly", 1900))
        provider.coupons.update({"save30_3m", "loyal10"})
        pro: dict[str, Any] = {
            "customer_id": "cus_1",
            "price_id": "price_pro_monthly",
            "amount_cents": 4900,
            "currency": "usd",
            "interval": "month",
            "current_period_end": START + timedelta(days=12),
        }
        provider.add_subscription(
            SubscriptionSnapshot("sub_1", status=SubscriptionStatus.ACTIVE, discount_coupon_ids=("loyal10",), **pro)
        )
        trial_end = START + timedelta(days=3)
        provider.add_subscription(
            SubscriptionSnapshot("sub_trial", status=SubscriptionStatus.TRIALING, trial_end=trial_end, **pro)
        )
        return harness

    def effects(self) -> int:
        return len(self.provider.calls)

    def advance(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)

    def hold_next(self, seconds: float) -> None:
        self.provider.delay_next(seconds)

    def fail_next_with_server_error(self, *, applied: bool = False) -> None:
        self.provider.fail_next_with_server_error(applied=applied)

    def fail_next_with_auth_error(self) -> None:
        self.provider.fail_next_with_auth_error()

    def lose_next_response(self) -> None:
        self.provider.lose_next_response()

    def add_foreign_schedule(self, subscription_id: str) -> None:
        self.provider.add_foreign_schedule(subscription_id)

    def has_schedule(self, subscription_id: str) -> bool:
        return subscription_id in self.provider.store.schedules

    def next_phase_coupons(self, subscription_id: str) -> tuple[str, ...] | None:
        schedule = self.provider.store.schedules.get(subscription_id)
        return schedule.discount_coupon_ids if schedule is not None and schedule.price_id else None


@dataclass
class StripeHarness:
    provider: StripeBillingProvider
    fake: FakeStripe

    @classmethod
    def build(cls) -> StripeHarness:
        fake = FakeStripe()
        fake.subscriptions["sub_1"] = make_subscription("sub_1", discounts=("loyal10",))
        fake.subscriptions["sub_trial"] = make_subscription("sub_trial", status="trialing")
        return cls(StripeBillingProvider("sk_test_fake", http_client=fake), fake)

    def effects(self) -> int:
        return self.fake.executed

    def advance(self, seconds: int) -> None:
        self.fake.advance(seconds)

    def hold_next(self, seconds: float) -> None:
        self.fake.delay_next(seconds)

    def fail_next_with_server_error(self, *, applied: bool = False) -> None:
        error = {"type": "api_error", "message": "An unknown error occurred (fake)."}
        self.fake.failures.append(Failure(500, error, applied=applied))

    def fail_next_with_auth_error(self) -> None:
        error = {"type": "invalid_request_error", "message": "Invalid API Key provided: sk_test_****fake"}
        self.fake.failures.append(Failure(401, error))

    def lose_next_response(self) -> None:
        self.fake.failures.append(Failure(0, applied=True))

    def add_foreign_schedule(self, subscription_id: str) -> None:
        self.fake.add_foreign_schedule(subscription_id)

    def has_schedule(self, subscription_id: str) -> bool:
        return bool(self.fake.subscriptions[subscription_id]["schedule"])

    def next_phase_coupons(self, subscription_id: str) -> tuple[str, ...] | None:
        return self.fake.next_phase_coupons(subscription_id)


PROVIDERS: dict[str, Callable[[], Harness]] = {"memory": MemoryHarness.build, "stripe": StripeHarness.build}
