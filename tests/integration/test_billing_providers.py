"""The service end to end on every billing provider of the contract suite, on this run's database: a save and a
cancel through the widget, each billing change once, and a sweep that finds nothing left to do (#26)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from litestar import Litestar

from flows import default_definition
from offers import Capability, SubscriptionStatus
from service.app import create_app
from service.db.engine import close_engine, open_engine
from service.db.tables import FlowSession
from service.security import mint_embed_token
from service.settings import Settings
from service.use_cases.billing_effects import sweep_pending
from service.use_cases.flow_config import publish_flow
from tests.conftest import FakeClock
from tests.contract.harness import PROVIDERS, START, Harness
from tests.integration.conftest import _empty_tables, _migrate_once
from tests.integration.widget_client import WidgetSession, start, step_of


@pytest.fixture(params=sorted(PROVIDERS), name="harness")
def fx_harness(request: pytest.FixtureRequest) -> Harness:
    return PROVIDERS[str(request.param)]()


@pytest.fixture(name="app")
async def fx_app(settings: Settings, clock: FakeClock, harness: Harness) -> AsyncIterator[Litestar]:
    clock.now = START  # the providers' clock, so the frozen snapshots and the flow agree on today
    app = create_app(settings, clock=clock, billing=harness.provider)
    await open_engine(app.state.engine)
    try:
        await _migrate_once()
        await _empty_tables()
        await publish_flow(default_definition(), clock(), note="test default")
        yield app
    finally:
        await close_engine(app.state.engine)


async def _session(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, subscription_id: str
) -> WidgetSession:
    token = mint_embed_token(settings, customer_id="cus_1", subscription_id=subscription_id, now=clock())
    _, flow = await start(client, settings, clock, token=token)
    await flow.post("continue")
    return flow


async def test_a_save_changes_billing_once_and_the_sweep_finds_nothing_to_redo(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, harness: Harness
) -> None:
    flow = await _session(client, settings, clock, "sub_1")
    offers = await flow.post("reason", {"reason": "too_expensive"})
    if Capability.PAUSE not in harness.provider.capabilities:
        assert "pause-2-months" not in offers.text  # never shown
        pytest.skip("this billing system cannot pause")
    done = await flow.post("offers/pause-2-months/accept")
    assert step_of(done.text) == "done"
    assert harness.effects() == 1
    snapshot = await harness.provider.get_subscription("sub_1")
    assert snapshot.paused_until is not None and snapshot.status is SubscriptionStatus.ACTIVE
    assert await FlowSession.select(FlowSession.outcome).first() == {"outcome": "saved"}
    clock.advance(seconds=3600)
    await sweep_pending(billing=harness.provider, clock=clock)
    assert harness.effects() == 1


async def test_a_cancel_reaches_billing_once(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, harness: Harness
) -> None:
    flow = await _session(client, settings, clock, "sub_1")
    await flow.post("cancel")
    done = await flow.post("confirm")
    assert step_of(done.text) == "done"
    assert harness.effects() == 1
    assert (await harness.provider.get_subscription("sub_1")).cancel_at_period_end
    assert await FlowSession.select(FlowSession.outcome).first() == {"outcome": "cancelled"}
