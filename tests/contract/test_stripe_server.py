"""The service's Stripe provider, built from STRIPE_API_BASE, over real HTTP to StripeServer (what the browser
tests on Stripe run against): requests arrive and are recorded as in-process, idempotency keys included."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from offers import BillingProvider, ProviderUnavailable, SubscriptionNotFound, SubscriptionStatus
from service.app import build_billing, utc_now
from service.settings import Settings
from tests.support.stripe_http import Failure
from tests.support.stripe_server import StripeServer, demo_stripe

# stripe-python's HTTPXClient hands httpx the form body as `data=<str>`, which httpx deprecates; the
# service's own process is not affected (it does not turn warnings into errors as pytest does here).
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>' to upload raw bytes:DeprecationWarning")


@pytest.fixture(name="server")
def fx_server() -> Iterator[StripeServer]:
    with StripeServer(demo_stripe()) as server:
        yield server


@pytest.fixture(name="billing")
def fx_billing(server: StripeServer, tmp_path: Path) -> BillingProvider:
    settings = Settings.from_env({"SAVEFLOW_SECRETS_FILE": str(tmp_path / "secrets.json"), **server.env()})
    return build_billing(settings, utc_now)


async def test_the_demo_customers_are_on_stripe_as_the_demo_expects(billing: BillingProvider) -> None:
    grace = await billing.get_subscription("sub_demo_grace")
    assert (grace.customer_id, grace.price_id, grace.amount_cents) == ("cus_demo_grace", "price_team_monthly", 9900)
    assert grace.current_period_end > datetime.now(UTC) + timedelta(days=11)  # on today's clock, not the fixtures'
    linus = await billing.get_subscription("sub_demo_linus")
    assert linus.status is SubscriptionStatus.TRIALING and linus.trial_end is not None


async def test_a_write_arrives_with_its_key_and_a_repeat_is_replayed(
    billing: BillingProvider, server: StripeServer
) -> None:
    until = datetime.now(UTC) + timedelta(days=60)
    first = await billing.pause("sub_demo_ada", resumes_at=until, behavior="void", idempotency_key="k-pause")
    again = await billing.pause("sub_demo_ada", resumes_at=until, behavior="void", idempotency_key="k-pause")
    assert first == again and first.paused_until is not None
    writes = server.fake.writes()
    sent = ("post", "/v1/subscriptions/sub_demo_ada", "k-pause")
    assert [(w.method, w.path, w.idempotency_key) for w in writes] == [sent, sent]
    assert writes[0].params["pause_collection[behavior]"] == "void"
    assert server.fake.executed == 1  # the repeat was Stripe's replay, not a second pause


async def test_errors_and_dropped_connections_reach_the_service_as_stripe_sends_them(
    billing: BillingProvider, server: StripeServer
) -> None:
    with pytest.raises(SubscriptionNotFound):
        await billing.get_subscription("sub_nobody")
    server.fake.failures.append(Failure(status=0))  # the connection drops before Stripe
    with pytest.raises(ProviderUnavailable):
        await billing.resume("sub_demo_ada", idempotency_key="k-resume")
    assert server.fake.executed == 0
