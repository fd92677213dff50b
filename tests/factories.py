"""Plain builders for domain objects used across the unit tests (snapshots, contexts, definitions, walks, billing)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from flows import (
    CustomerContext,
    Decision,
    Event,
    FlowDefinition,
    FlowState,
    SessionId,
    decide,
    default_definition,
    initial_state,
)
from offers import SubscriptionSnapshot, SubscriptionStatus
from offers.providers.memory import InMemoryBillingProvider, Price

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SID = SessionId("ses_test")
COUPON = "save30_3m"


def make_snapshot(**overrides: Any) -> SubscriptionSnapshot:
    """An active $49/month Pro subscription renewing in 12 days; any field can be overridden."""
    values: dict[str, Any] = {
        "id": "sub_1",
        "customer_id": "cus_1",
        "status": SubscriptionStatus.ACTIVE,
        "price_id": "price_pro_monthly",
        "amount_cents": 4900,
        "currency": "usd",
        "interval": "month",
        "current_period_end": NOW + timedelta(days=12),
    }
    values.update(overrides)
    return SubscriptionSnapshot(**values)


def make_trialing_snapshot(**overrides: Any) -> SubscriptionSnapshot:
    """`sub_trial` (cus_2): a Pro trial that ends in 3 days."""
    values: dict[str, Any] = {
        "id": "sub_trial",
        "customer_id": "cus_2",
        "status": SubscriptionStatus.TRIALING,
        "trial_end": NOW + timedelta(days=3),
        "current_period_end": NOW + timedelta(days=3),
    }
    values.update(overrides)
    return make_snapshot(**values)


def make_context(**overrides: Any) -> CustomerContext:
    """A context around `make_snapshot()` (or the given snapshot), no history, the default policy."""
    snapshot = overrides.pop("snapshot", None) or make_snapshot()
    return CustomerContext(snapshot=snapshot, **overrides)


def make_definition(**overrides: Any) -> FlowDefinition:
    """The shipped default definition with some fields replaced."""
    return dataclasses.replace(default_definition(), **overrides)


def walk(
    definition: FlowDefinition, ctx: CustomerContext, events: Iterable[Event], state: FlowState | None = None
) -> list[Decision]:
    """Apply events one by one from a fresh (or given) state; returns every decision (raises like `decide`)."""
    current = state or initial_state(SID)
    decisions: list[Decision] = []
    for event in events:
        decision = decide(definition, current, event, ctx)
        decisions.append(decision)
        current = decision.state
    return decisions


def fixed_clock() -> datetime:
    return NOW


def make_provider() -> InMemoryBillingProvider:
    """Pro (4900) and Starter (1900) prices, the save30_3m coupon, active `sub_1` and trialing `sub_trial`."""
    provider = InMemoryBillingProvider(clock=fixed_clock)
    provider.add_price(Price("price_pro_monthly", 4900))
    provider.add_price(Price("price_starter_monthly", 1900))
    provider.coupons.add(COUPON)
    provider.add_subscription(make_snapshot())
    provider.add_subscription(make_trialing_snapshot())
    return provider
