"""The `host` provider of the contract suite: HostBillingProvider over HTTP to the reference host, in front of
the in-memory billing that stands for the host's own (the reference host keeps every idempotency rule)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from offers.providers.host import HostBillingProvider
from tests.contract.harness import MemoryHarness
from tests.support.host_billing import BASE_URL, SECRET, HostNetwork, host


@dataclass
class HostHarness:
    provider: HostBillingProvider
    network: HostNetwork
    billing: MemoryHarness  # the host's own billing behind the reference host
    unheld: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def build(cls) -> HostHarness:
        billing = MemoryHarness.build()
        _, network = host(billing.provider, lambda: billing.now)
        return cls(HostBillingProvider(BASE_URL, SECRET, transport=network), network, billing)

    def effects(self) -> int:
        return self.billing.effects()

    def advance(self, seconds: int) -> None:
        self.billing.advance(seconds)

    def hold_next(self, seconds: float) -> None:
        self.billing.hold_next(seconds)

    def fail_next_with_server_error(self, *, applied: bool = False) -> None:
        self.billing.fail_next_with_server_error(applied=applied)

    def fail_next_with_auth_error(self) -> None:
        self.network.refuse_next = True

    def lose_next_response(self) -> None:
        self.network.lose_next = True

    def add_foreign_schedule(self, subscription_id: str) -> None:
        self.billing.add_foreign_schedule(subscription_id)

    def has_schedule(self, subscription_id: str) -> bool:
        return self.billing.has_schedule(subscription_id)

    def next_phase_coupons(self, subscription_id: str) -> tuple[str, ...] | None:
        return self.billing.next_phase_coupons(subscription_id)
