"""Offer cards over HTTP: every card on screen posts to its own accept route (with and without htmx), every card
counts as shown in the metrics, the one taken as accepted, and "No thanks" declines them all."""

from __future__ import annotations

import re

import httpx

from offers.providers.memory import InMemoryBillingProvider
from service.db.tables import FlowSession
from service.settings import Settings
from tests.conftest import FakeClock
from tests.integration.widget_client import start, step_of

CARDS = ("training-call", "pause-2-months", "discount-30-3-months")  # "I didn't get the value I expected"


async def _metrics(session_id: str) -> dict[str, object]:
    row = (
        await FlowSession.select(FlowSession.offers_shown, FlowSession.offer_id, FlowSession.outcome)
        .where(FlowSession.id == session_id)
        .first()
    )
    assert row is not None
    return row


async def test_three_cards_each_with_its_value_line_and_its_own_accept_form(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    _, flow = await start(client, settings, clock)
    await flow.post("continue")
    page = await flow.post("reason", {"reason": "no_value"})
    assert step_of(page.text) == "offer"
    assert re.findall(r'<article class="sf-offer" [^>]*data-offer-id="([^"]+)"', page.text) == list(CARDS)
    actions = re.findall(r'<form method="post" action="([^"]+/accept)"', page.text)
    assert actions == [f"/w/s/{flow.session_id}/offers/{o}/accept" for o in CARDS]
    assert "$49/month → $34.30/month for 3 months" in page.text
    assert "No charges while paused" in page.text and "Free of charge" in page.text  # the pause's radios name dates
    assert "2 months: no charges until" in page.text and "3 months: no charges until" in page.text
    assert 'data-testid="decline-offer"' in page.text and 'data-testid="cancel-now"' in page.text
    assert (await _metrics(flow.session_id))["offers_shown"] == ",".join(CARDS)  # every card counts as shown

    done = await flow.post("offers/discount-30-3-months/accept")  # the third card, in one click
    assert step_of(done.text) == "done" and 'data-outcome="saved"' in done.text
    assert [c.method for c in billing.calls] == ["apply_discount"]
    row = await _metrics(flow.session_id)
    assert (row["offers_shown"], row["offer_id"], row["outcome"]) == (",".join(CARDS), "discount-30-3-months", "saved")

    stale = await flow.post("offers/pause-2-months/accept")  # a second card from a stale tab changes nothing
    assert step_of(stale.text) == "done"
    assert [c.method for c in billing.calls] == ["apply_discount"]


async def test_a_card_works_as_a_plain_form_without_javascript(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    _, flow = await start(client, settings, clock)
    await flow.post("continue", htmx=False)
    await flow.post("reason", {"reason": "no_value"}, htmx=False)
    taken = await flow.post("offers/pause-2-months/accept", htmx=False)
    assert taken.status_code == 303  # post/redirect/get
    page = await client.get(taken.headers["location"])
    assert step_of(page.text) == "done" and 'data-offer-id="pause-2-months"' in page.text
    assert [c.method for c in billing.calls] == ["pause"]


async def test_no_thanks_declines_every_card_and_a_card_not_on_screen_is_refused(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    _, flow = await start(client, settings, clock)
    await flow.post("continue")
    await flow.post("reason", {"reason": "no_value"})
    elsewhere = await flow.post("offers/downgrade-starter/accept")  # routed to another reason, not on screen
    assert step_of(elsewhere.text) == "offer"
    confirm = await flow.post("offers/training-call/decline")
    assert step_of(confirm.text) == "confirm"
    assert billing.calls == []
    assert (await _metrics(flow.session_id))["offers_shown"] == ",".join(CARDS)
