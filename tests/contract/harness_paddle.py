"""The `paddle` provider of the contract suite: PaddleBillingProvider over the SDK's requests, answered by FakePaddle.

The starting data is the suite's (`sub_1` active Pro with `loyal10`, `sub_trial` a Pro trial ending in 3
days, customer `cus_1`), in Paddle's shapes: a trial's billing period is the trial itself. What Paddle's
platform cannot hold is named in UNHELD, each with its reason and doc page; `foreign_schedule` is held: a
pause scheduled in Paddle's dashboard is another party's scheduled change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from offers.providers.paddle import PaddleBillingProvider
from tests.contract.harness import START
from tests.support.paddle_http import Failure, FakePaddle

_NO_KEYS = (
    "Paddle's API takes no idempotency key (https://developer.paddle.com/api-reference/about/ documents none, "
    "its SDKs send none); the adapter is exactly-once by effect (it reads first), which "
)
UNHELD: Mapping[str, str] = MappingProxyType(
    {
        "key_conflict": _NO_KEYS + "cannot tell a reused key with other parameters from a new request: it applies it",
        "key_in_flight": _NO_KEYS + "cannot see a request still running: a concurrent retry executes (or is "
        "refused by Paddle and then found done)",
        "stored_server_error": _NO_KEYS + "finds a change a 5xx made and answers it; Paddle stores no error to "
        "replay (https://developer.paddle.com/errors/shared/internal_error)",
        "key_expiry": _NO_KEYS + "has no stored key that could expire",
        "discount_stacking": "A Paddle subscription holds one `discount`, an object, not a list "
        "(https://developer.paddle.com/api-reference/subscriptions/update-subscription); replacing it would end "
        "the customer's discount, so the adapter refuses a second one",
    }
)


@dataclass
class PaddleHarness:
    provider: PaddleBillingProvider
    fake: FakePaddle
    unheld: Mapping[str, str] = field(default_factory=lambda: UNHELD)

    @classmethod
    def build(cls) -> PaddleHarness:
        fake = FakePaddle(now=START)
        fake.add("sub_1", discount="loyal10")
        fake.add("sub_trial", status="trialing")
        return cls(PaddleBillingProvider("pdl_sdbx_apikey_fake", sandbox=True, transport=fake.adapter), fake)

    def effects(self) -> int:
        return self.fake.executed

    def advance(self, seconds: int) -> None:
        self.fake.advance(seconds)

    def hold_next(self, seconds: float) -> None:
        self.fake.delay_next(seconds)

    def fail_next_with_server_error(self, *, applied: bool = False) -> None:
        self.fake.failures.append(Failure(500, "internal_error", applied=applied))

    def fail_next_with_auth_error(self) -> None:
        self.fake.failures.append(Failure(403, "invalid_token"))  # Paddle's answer to a revoked or wrong key

    def lose_next_response(self) -> None:
        self.fake.failures.append(Failure(0, applied=True))

    def add_foreign_schedule(self, subscription_id: str) -> None:
        self.fake.schedule_pause(subscription_id)

    def has_schedule(self, subscription_id: str) -> bool:
        """A scheduled pause or resume: Paddle's only scheduled changes besides the cancellation itself."""
        change = self.fake.subscriptions[subscription_id]["scheduled_change"] or {}
        return change.get("action") in ("pause", "resume")

    def next_phase_coupons(self, subscription_id: str) -> tuple[str, ...] | None:
        return None  # Paddle has no schedule phases
