"""The in-memory provider's store: subscriptions, and what Stripe keeps beside them (stored results, keys in flight).

Rules: standard library and `offers.ports` only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from offers.ports import BillingError, SubscriptionSnapshot

KEY_LIFETIME = timedelta(hours=24)

Params = tuple[tuple[str, Any], ...]
Fingerprint = tuple[str, str, Params, Params]


@dataclass(frozen=True, slots=True)
class Schedule:
    """A subscription schedule: who created it, and the price and discounts of its next phase."""

    owner: str
    price_id: str | None = None
    discount_coupon_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Stored:
    fingerprint: Fingerprint
    at: datetime
    result: SubscriptionSnapshot | None = None
    error: BillingError | None = None

    def replay(self) -> SubscriptionSnapshot:
        if self.result is not None:
            return self.result
        error = self.error or BillingError("stored result missing")
        raise type(error)(*error.args)  # a fresh exception each time, as a fresh HTTP response would be


class SubscriptionStore(dict[str, SubscriptionSnapshot]):
    """Subscriptions by id, plus what Stripe keeps beside them: stored results by key, keys in flight, schedules."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.results: dict[str, _Stored] = {}
        self.in_flight: set[str] = set()
        self.schedules: dict[str, Schedule] = {}

    def recall(self, key: str, now: datetime) -> _Stored | None:
        stored = self.results.get(key)
        if stored is not None and now - stored.at >= KEY_LIFETIME:
            del self.results[key]  # pruned: the key starts a new request
            return None
        return stored
