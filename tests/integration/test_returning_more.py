"""Issue 25: a scheduled plan change opens on undoing it; the forever-free downgrade and the paid exit interview."""

from __future__ import annotations

import dataclasses
import re

import httpx

from flows import default_definition
from flows.defaults import EXIT_INTERVIEW, FREE_PLAN
from offers.model import UNDO_DOWNGRADE
from offers.providers.memory import InMemoryBillingProvider
from service.repositories.flows import publish_version
from service.settings import Settings
from tests.conftest import FakeClock
from tests.integration.test_admin_pages import login_as
from tests.integration.widget_client import start, step_of

STARTER = "price_starter_monthly"


async def schedule_starter(billing: InMemoryBillingProvider) -> None:
    """The state a customer leaves behind by taking a downgrade at the period end."""
    snap = await billing.get_subscription("sub_demo_ada")
    await billing.change_price("sub_demo_ada", price_id=STARTER, at_period_end=True, snapshot=snap, idempotency_key="k")
    billing.calls.clear()


async def test_a_scheduled_downgrade_opens_on_undoing_it_and_undo_asks_billing_once(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    await schedule_starter(billing)
    page, flow = await start(client, settings, clock)
    assert step_of(page.text) == "downgrade_scheduled"
    assert re.search(r"Your plan changes to Starter \(\$19/month\) on \w+ \d+, \d{4}", page.text)
    assert 'data-testid="undo-downgrade"' in page.text and 'data-testid="cancel-now"' in page.text
    assert 'data-testid="reason-' not in page.text  # nobody is asked again why they leave
    done = await flow.post(f"offers/{UNDO_DOWNGRADE.id}/accept")
    assert 'data-outcome="kept"' in done.text
    assert "The scheduled plan change is cancelled. You stay on your current plan at $49/month." in done.text
    assert [c.method for c in billing.calls] == ["cancel_scheduled_change"]
    assert billing.subscriptions["sub_demo_ada"].scheduled_price_id is None
    assert billing.subscriptions["sub_demo_ada"].price_id == "price_pro_monthly"
    again = await flow.post(f"offers/{UNDO_DOWNGRADE.id}/accept")  # a double click asks billing nothing more
    assert 'data-outcome="kept"' in again.text and len(billing.calls) == 1


async def test_a_scheduled_downgrade_can_still_be_cancelled_in_two_clicks_or_walk_the_usual_flow(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    await schedule_starter(billing)
    page, flow = await start(client, settings, clock, locale="de")
    assert "Ihr Tarif wechselt am" in page.text and "Aktuellen Tarif behalten" in page.text
    usual = await flow.post("continue")
    assert step_of(usual.text) == "loss_aversion"
    _, again = await start(client, settings, clock)
    assert step_of((await again.post("cancel")).text) == "confirm"  # click 1
    cancelled = await again.post("confirm")  # click 2
    assert 'data-outcome="cancelled"' in cancelled.text and billing.calls[-1].method == "cancel"


async def test_the_free_plan_keeps_the_account_at_zero_on_the_memory_provider(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    _, flow = await start(client, settings, clock)
    await flow.post("continue")
    offers = await flow.post("reason", {"reason": "not_using"})
    assert f'data-testid="accept-offer-{FREE_PLAN}"' in offers.text
    assert "Free forever — your account and data stay" in offers.text
    done = await flow.post(f"offers/{FREE_PLAN}/accept")
    assert 'data-outcome="saved"' in done.text
    sub = billing.subscriptions["sub_demo_ada"]
    assert (sub.price_id, sub.amount_cents, sub.status.value) == ("price_free", 0, "active")  # the account stays
    assert [c.method for c in billing.calls] == ["change_price"]


async def test_a_free_plan_card_reads_in_german(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    _, flow = await start(client, settings, clock, locale="de")
    await flow.post("continue")
    offers = await flow.post("reason", {"reason": "not_using"})
    assert "Für immer kostenlos \u2013 Ihr Konto und Ihre Daten bleiben" in offers.text


async def test_an_exit_interview_queues_the_incentive_for_cs_and_the_cancellation_goes_ahead(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    _, flow = await start(client, settings, clock)
    await flow.post("continue")
    offers = await flow.post("reason", {"reason": "competitor", "comment": "Moving to X"})
    assert "$25 gift card for a 15-minute call" in offers.text and "Your cancellation still goes ahead" in offers.text
    confirm = await flow.post(f"offers/{EXIT_INTERVIEW}/accept")
    assert step_of(confirm.text) == "confirm"  # taking the call cancels nothing by itself
    assert 'data-testid="exit-interview-booking"' in confirm.text and billing.calls == []
    done = await flow.post("confirm")
    assert 'data-outcome="cancelled"' in done.text and 'data-testid="exit-interview-note"' in done.text
    assert billing.subscriptions["sub_demo_ada"].cancel_at_period_end
    assert [c.method for c in billing.calls] == ["cancel"]

    await login_as(client, "viewer", clock)
    queue = (await client.get("/admin/operations")).text
    table = queue[queue.index('data-testid="tasks"') :]
    assert "Send after the call: $25 gift card" in table and "Moving to X" in table
    dashboard = (await client.get("/admin")).text
    assert re.search(r'data-testid="kpi-save-rate"><strong>0\.0%</strong> save rate \(0 of 1 decided\)', dashboard)
    assert '<span data-testid="kpi-exit-interview">1 exit interview</span>' in dashboard
    assert re.search(r"\$49(\.00)? lost", dashboard)  # MRR lost: the subscription ends


async def test_the_incentive_reads_in_the_customers_language_and_cs_keeps_the_flows_own_words(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    shipped = default_definition()
    assert shipped.copy["de"][f"offer.{EXIT_INTERVIEW}.incentive"] == "25-$-Gutschein"  # the shipped German
    flow_copy = {**shipped.copy, "de": {**shipped.copy["de"], f"offer.{EXIT_INTERVIEW}.incentive": "25-€-Gutschein"}}
    await publish_version(dataclasses.replace(shipped, copy=flow_copy), clock(), note="incentive in euros")
    _, flow = await start(client, settings, clock, locale="de")
    await flow.post("continue")
    offers = await flow.post("reason", {"reason": "competitor", "comment": "Wechsel zu X"})
    assert f'data-testid="offer-value-{EXIT_INTERVIEW}">25-€-Gutschein für ein 15-minütiges Gespräch<' in offers.text
    assert "gift card" not in offers.text
    await flow.post(f"offers/{EXIT_INTERVIEW}/accept")
    done = await flow.post("confirm")
    note = done.text[done.text.index('data-testid="exit-interview-note"') :].split("</p>", 1)[0]
    assert "25-€-Gutschein" in note and "$25 gift card" not in note

    await login_as(client, "viewer", clock)
    queue = (await client.get("/admin/operations")).text
    assert "Send after the call: $25 gift card" in queue[queue.index('data-testid="tasks"') :]
