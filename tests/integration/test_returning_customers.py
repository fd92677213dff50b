"""Issue 25 item 1: a customer already set to cancel opens the widget on keeping the subscription."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import httpx

from offers.model import REACTIVATE, RESUME
from offers.providers.memory import InMemoryBillingProvider
from service.settings import Settings
from tests.conftest import FakeClock
from tests.integration.widget_client import start, step_of


def set_to_cancel(billing: InMemoryBillingProvider, subscription_id: str) -> None:
    sub = billing.subscriptions[subscription_id]
    billing.subscriptions[subscription_id] = dataclasses.replace(sub, cancel_at_period_end=True)


async def test_keep_my_subscription_undoes_the_cancellation_through_billing(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    set_to_cancel(billing, "sub_demo_ada")
    page, flow = await start(client, settings, clock)
    assert step_of(page.text) == "ending"
    assert "Your subscription ends on" in page.text and 'data-testid="reactivate"' in page.text
    assert 'data-testid="cancel-now"' not in page.text and 'data-testid="reason-' not in page.text
    done = await flow.post(f"offers/{REACTIVATE.id}/accept")
    assert 'data-outcome="reactivated"' in done.text and "Your subscription continues" in done.text
    assert [c.method for c in billing.calls] == ["reactivate"]
    assert not billing.subscriptions["sub_demo_ada"].cancel_at_period_end
    again = await flow.post(f"offers/{REACTIVATE.id}/accept")  # a double click changes nothing more
    assert 'data-outcome="reactivated"' in again.text and [c.method for c in billing.calls] == ["reactivate"]


async def test_closing_leaves_it_to_end_and_the_german_widget_says_so_in_german(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    set_to_cancel(billing, "sub_demo_ada")
    page, flow = await start(client, settings, clock, locale="de")
    assert "Ihr Abonnement endet am" in page.text
    done = await flow.post("close")
    assert 'data-outcome="abandoned"' in done.text
    assert billing.calls == [] and billing.subscriptions["sub_demo_ada"].cancel_at_period_end


async def test_a_paused_customer_resumes_now_or_cancels_in_two_clicks(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    sub = billing.subscriptions["sub_demo_ada"]
    billing.subscriptions["sub_demo_ada"] = dataclasses.replace(sub, paused_until=clock() + timedelta(days=40))
    page, flow = await start(client, settings, clock)
    assert step_of(page.text) == "paused" and "Your subscription is paused until" in page.text
    done = await flow.post(f"offers/{RESUME.id}/accept")
    assert 'data-outcome="kept"' in done.text and "Your subscription is active again" in done.text
    assert [c.method for c in billing.calls] == ["resume"] and billing.subscriptions[
        "sub_demo_ada"
    ].paused_until is None

    billing.subscriptions["sub_demo_ada"] = dataclasses.replace(sub, paused_until=clock() + timedelta(days=40))
    _, again = await start(client, settings, clock)
    confirm = await again.post("cancel")  # click 1
    assert step_of(confirm.text) == "confirm"
    cancelled = await again.post("confirm")  # click 2
    assert 'data-outcome="cancelled"' in cancelled.text
