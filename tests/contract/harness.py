"""The billing providers of the contract suite behind one test-facing surface (set-up, faults, inspection).

Every provider starts with the same two subscriptions and prices. Where a vendor's platform cannot hold one
of the port's rules (e.g. it has no idempotency keys), its harness names the rule in `unheld` with the
reason and the vendor's doc page; the test of that rule is then skipped for it, visibly, never passed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import import_module
from typing import Any, Protocol

import pytest

from offers import BillingProvider, Capability, SubscriptionSnapshot, SubscriptionStatus
from offers.providers.memory import InMemoryBillingProvider, Price
from offers.providers.stripe import StripeBillingProvider
from tests.support.stripe_http import NOW, Failure, FakeStripe, make_subscription

START = datetime.fromtimestamp(NOW, tz=UTC)


# The rules a harness may name in `unheld` (each is one test, or a group of them, in this suite).
RULES = frozenset(
    {
        "key_replay",  # a repeated key returns the stored result without a second effect
        "key_conflict",  # the same key with other parameters is refused
        "key_in_flight",  # a key whose first request still runs is refused at once (409)
        "stored_server_error",  # a 5xx is stored for its key and replayed
        "key_expiry",  # keys are forgotten after 24 hours
        "foreign_schedule",  # another party's scheduled change can exist and is never overwritten
        "discount_stacking",  # a discount is added next to the ones the subscription has
    }
)


class Harness(Protocol):
    """A provider with `sub_1` (active Pro, the `loyal10` discount) and `sub_trial` (a Pro trial ending in 3 days).

    Prices: `price_pro_monthly` (4900 usd/month) and `price_starter_monthly` (1900); coupons `loyal10` and
    `save30_3m`; customer `cus_1` owns both subscriptions.
    """

    unheld: Mapping[str, str]  # rule (from RULES) → why this vendor cannot hold it, with its doc page

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


def requires(harness: Harness, *rules: str) -> None:
    """Skip the calling test, with the vendor's reason, when this harness cannot hold one of `rules`."""
    for rule in rules:
        assert rule in RULES, rule
        if rule in harness.unheld:
            pytest.skip(f"{rule}: {harness.unheld[rule]}")


def capable(harness: Harness, *needed: Capability) -> None:
    """Skip the calling test for a provider that cannot make one of these changes (eligibility hides such
    offers; `test_a_change_the_provider_cannot_make_is_not_applicable` holds it to refusing them)."""
    missing = [c.value for c in needed if c not in harness.provider.capabilities]
    if missing:
        pytest.skip(f"this billing system cannot: {', '.join(missing)}")


@dataclass
class MemoryHarness:
    provider: InMemoryBillingProvider
    now: datetime = START
    unheld: Mapping[str, str] = field(default_factory=dict)

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
    unheld: Mapping[str, str] = field(default_factory=dict)

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


def _elsewhere(module: str, name: str) -> Callable[[], Harness]:
    """A harness built by `tests.contract.<module>.<name>.build`, imported only when its tests run."""

    def build() -> Harness:
        factory: Callable[[], Harness] = getattr(import_module(f"tests.contract.{module}"), name).build
        return factory()

    return build


PROVIDERS: dict[str, Callable[[], Harness]] = {
    "memory": MemoryHarness.build,
    "stripe": StripeHarness.build,
    "host": _elsewhere("harness_host", "HostHarness"),
    "chargebee": _elsewhere("harness_chargebee", "ChargebeeHarness"),
    "paddle": _elsewhere("harness_paddle", "PaddleHarness"),
}
