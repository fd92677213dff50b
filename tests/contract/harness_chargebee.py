"""The `chargebee` provider of the contract suite: ChargebeeBillingProvider over FakeChargebee (respx, no network)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from offers.providers.chargebee import ChargebeeBillingProvider
from tests.support.chargebee_api import make_subscription
from tests.support.chargebee_http import API_KEY, Failure, FakeChargebee

IDEMPOTENCY_DOC = "https://apidocs.chargebee.com/docs/api/idempotency"

# The port's rules Chargebee's platform does not hold, with why (the tests of these are skipped for Chargebee).
UNHELD: Mapping[str, str] = MappingProxyType(
    {
        "key_expiry": (
            "Chargebee keeps an idempotency key for 30 minutes, not 24 hours; after that the same key starts a new"
            " request. The adapter reads before every write and returns when the change is already made, so a late"
            f" retry does not apply it twice ({IDEMPOTENCY_DOC})"
        ),
        "stored_server_error": (
            "Chargebee does not document keeping a 5xx answer for its key, and its own SDK retries a 5xx under the"
            " same key (https://github.com/chargebee/chargebee-python#retry-handling), so a retry may execute: the"
            f" port's remedy (re-read, then a fresh key) stays safe either way ({IDEMPOTENCY_DOC})"
        ),
    }
)


@dataclass
class ChargebeeHarness:
    provider: ChargebeeBillingProvider
    fake: FakeChargebee
    unheld: Mapping[str, str] = field(default_factory=lambda: UNHELD)

    @classmethod
    def build(cls) -> ChargebeeHarness:
        """`sub_1` (active Pro, `loyal10`) and `sub_trial` (a Pro trial ending in 3 days: in Chargebee a trial's
        term is the trial, so its period also ends then), both `cus_1`'s, on a fresh site of its own."""
        fake = FakeChargebee()
        fake.subscriptions["sub_1"] = make_subscription("sub_1", coupons=("loyal10",))
        fake.subscriptions["sub_trial"] = make_subscription("sub_trial", status="in_trial")
        fake.start()  # routed until the fake is garbage: the suite's fixtures have no teardown hook
        return cls(ChargebeeBillingProvider(API_KEY, fake.site), fake)

    def effects(self) -> int:
        return self.fake.executed

    def advance(self, seconds: int) -> None:
        self.fake.advance(seconds)

    def hold_next(self, seconds: float) -> None:
        self.fake.delay_next(seconds)

    def fail_next_with_server_error(self, *, applied: bool = False) -> None:
        error = {"message": "Sorry, something went wrong (fake).", "api_error_code": "internal_error"}
        self.fake.failures.append(Failure(500, {**error, "error_code": "internal_error", "http_status_code": 500}))
        self.fake.failures[-1].applied = applied

    def fail_next_with_auth_error(self) -> None:
        error = {
            "message": "Sorry, authentication failed. Invalid api key",
            "api_error_code": "api_authentication_failed",
        }
        self.fake.failures.append(Failure(401, {**error, "error_code": "api_authentication_failed"}))

    def lose_next_response(self) -> None:
        self.fake.failures.append(Failure(0, applied=True))

    def add_foreign_schedule(self, subscription_id: str) -> None:
        self.fake.add_foreign_schedule(subscription_id)

    def has_schedule(self, subscription_id: str) -> bool:
        return self.fake.has_schedule(subscription_id)

    def next_phase_coupons(self, subscription_id: str) -> tuple[str, ...] | None:
        return self.fake.next_phase_coupons(subscription_id)
