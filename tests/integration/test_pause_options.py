"""Pause options through the widget: the length picked on the card (or to extend a pause) is what billing gets."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime, timedelta

import httpx
import pytest

from flows import default_definition
from offers import ProviderUnavailable
from offers.apply import add_length, add_months
from offers.model import EXTEND_PAUSE, PauseLength, PauseOffer, PauseStart, PauseUnit
from offers.providers.memory import InMemoryBillingProvider
from service.db.tables import FlowSession
from service.repositories.flows import publish_version
from service.settings import Settings
from tests.conftest import FakeClock
from tests.integration.widget_client import start, step_of

SUB = "sub_demo_ada"
PAUSE_URL = "offers/pause-2-months/accept"


def radios(html: str, offer_id: str) -> list[tuple[str, bool]]:
    """The length radios of a card: (value, checked) in order."""
    found = re.findall(
        rf'<input type="radio" name="length" value="([^"]+)"( checked)? data-testid="pause-length-{offer_id}-\d"', html
    )
    return [(value, bool(checked)) for value, checked in found]


async def _retained_from(session_id: str) -> datetime | None:
    row = (
        await FlowSession.select(FlowSession.retained_cents, FlowSession.retained_from)
        .where(FlowSession.id == session_id)
        .first()
    )
    assert row is not None and row["retained_cents"] == 0  # nothing is billed while paused
    value = row["retained_from"]
    assert value is None or isinstance(value, datetime)
    return value


@pytest.mark.parametrize("htmx", [True, False])  # a plain form post (no JS) sends the radio the same way
async def test_the_picked_length_is_the_one_billing_pauses_for(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider, htmx: bool
) -> None:
    _, flow = await start(client, settings, clock)
    started = clock()
    await flow.post("continue")
    offer = await flow.post("reason", {"reason": "too_expensive"})
    assert radios(offer.text, "pause-2-months") == [("2-months", True), ("3-months", False)]
    await flow.post(PAUSE_URL, {"length": "3-months"}, htmx=htmx)
    resumes = add_months(started, 3)
    assert billing.subscriptions[SUB].paused_until == resumes
    assert [c.method for c in billing.calls] == ["pause"]
    page = await client.get(f"/w/s/{flow.session_id}", params={"flow_token": flow.flow_token})
    assert 'data-outcome="saved"' in page.text
    assert f"Billing resumes on {resumes:%B} {resumes.day}, {resumes.year}" in page.text
    assert await _retained_from(flow.session_id) == resumes  # Net MRR counts 0 until the chosen date


async def test_after_an_unknown_outcome_the_card_and_the_retry_keep_the_first_length(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    """The first try timed out after billing applied it: the retry is the same request under the same key."""
    _, flow = await start(client, settings, clock)
    started = clock()
    await flow.post("continue")
    await flow.post("reason", {"reason": "too_expensive"})
    billing.fail_next(ProviderUnavailable("timed out"), applied=True)
    back = await flow.post(PAUSE_URL, {"length": "3-months"})
    assert step_of(back.text) == "offer"
    assert radios(back.text, "pause-2-months") == []  # one length left on the card: the one tried
    assert f"No charges until {add_months(started, 3):%B}" in back.text
    # A stale page's other radio changes nothing: the same key with another length would be refused as a
    # reused key (IdempotencyConflict), and the customer told the pause is unavailable.
    done = await flow.post(PAUSE_URL, {"length": "2-months"})
    assert step_of(done.text) == "done" and 'data-outcome="saved"' in done.text
    assert [c.method for c in billing.calls] == ["pause"]  # applied once: the retry was answered from the key
    assert billing.subscriptions[SUB].paused_until == add_months(started, 3)


async def test_a_length_the_card_does_not_offer_is_refused_in_place_and_billing_is_untouched(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    _, flow = await start(client, settings, clock)
    await flow.post("continue")
    await flow.post("reason", {"reason": "too_expensive"})
    refused = await flow.post(PAUSE_URL, {"length": "12-months"})
    assert refused.status_code == 422 and step_of(refused.text) == "offer"
    assert 'data-testid="field-error-length"' in refused.text and "Please choose one of the lengths." in refused.text
    assert billing.calls == []


async def test_a_pause_from_the_period_end_counts_its_length_from_there(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    shipped = default_definition()
    pause = shipped.offers[0]
    assert isinstance(pause, PauseOffer)
    weeks = (PauseLength(2, PauseUnit.WEEKS), PauseLength(1, PauseUnit.MONTHS))
    later = dataclasses.replace(pause, lengths=weeks, starts=PauseStart.PERIOD_END)
    await publish_version(dataclasses.replace(shipped, offers=(later, *shipped.offers[1:])), clock(), note="later")
    period_end = billing.subscriptions[SUB].current_period_end
    _, flow = await start(client, settings, clock)
    await flow.post("continue")
    offer = await flow.post("reason", {"reason": "too_expensive"})
    assert "Your paid period runs to" in offer.text and "then no charges while paused" in offer.text
    done = await flow.post(PAUSE_URL, {"length": "1-months"})
    resumes = add_months(period_end, 1)
    assert billing.subscriptions[SUB].paused_until == resumes
    ends = f"{period_end:%B} {period_end.day}, {period_end.year}"
    resumed = f"billing resumes on {resumes:%B} {resumes.day}, {resumes.year}"
    assert f"Your paid period runs to {ends}. Then your subscription pauses, and {resumed}" in done.text


async def test_a_paused_customer_extends_the_pause_by_a_length_of_the_flows_pause_offer(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    paused_until = clock() + timedelta(days=20)
    billing.subscriptions[SUB] = dataclasses.replace(billing.subscriptions[SUB], paused_until=paused_until)
    page, flow = await start(client, settings, clock)
    assert step_of(page.text) == "paused"
    assert radios(page.text, EXTEND_PAUSE.id) == [("2-months", True), ("3-months", False)]
    done = await flow.post(f"offers/{EXTEND_PAUSE.id}/accept", {"length": "3-months"})
    extended = add_length(paused_until, PauseLength(3, PauseUnit.MONTHS))
    assert billing.subscriptions[SUB].paused_until == extended
    assert [c.method for c in billing.calls] == ["pause"]
    assert 'data-outcome="saved"' in done.text and "Your pause is extended." in done.text
    assert f"{extended:%B} {extended.day}, {extended.year}" in done.text
    assert await _retained_from(flow.session_id) == extended


async def test_no_extension_is_offered_past_six_months_from_today(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    long_pause = add_months(clock(), 5)  # + 2 months would end 7 months from today
    billing.subscriptions[SUB] = dataclasses.replace(billing.subscriptions[SUB], paused_until=long_pause)
    page, flow = await start(client, settings, clock)
    assert step_of(page.text) == "paused" and 'data-testid="extend-pause-form"' not in page.text
    refused = await flow.post(f"offers/{EXTEND_PAUSE.id}/accept", {"length": "2-months"})
    assert step_of(refused.text) == "paused" and billing.calls == []  # not on screen: nothing to take
