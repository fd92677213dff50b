"""The `harness` fixture: every contract test runs once per billing provider (memory, Stripe over FakeStripe)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.contract.harness import PROVIDERS, Harness


@pytest.fixture(params=sorted(PROVIDERS), name="harness")
def fx_harness(request: pytest.FixtureRequest) -> Harness:
    factory: Callable[[], Harness] = PROVIDERS[str(request.param)]
    return factory()
