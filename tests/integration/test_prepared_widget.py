"""A widget the host prepares before the click is a flow only once the user opens it."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx

from admin import queries
from admin.metrics import Filters
from offers.providers.memory import InMemoryBillingProvider
from service.db.tables import FlowSession
from service.security import FLOW_TOKEN_LIFETIME
from service.settings import Settings
from service.use_cases import sessions
from tests.conftest import FakeClock
from tests.integration.widget_client import HOST_ORIGIN, WidgetSession, embed_token, step_of

IDLE = timedelta(minutes=30)


async def prepare(client: httpx.AsyncClient, settings: Settings, clock: FakeClock) -> tuple[WidgetSession, str]:
    token = embed_token(settings, clock)
    page = await client.get("/w/start", params={"token": token, "origin": HOST_ORIGIN, "prepared": "1"})
    assert page.status_code == 200, page.text
    sid = re.search(r'data-session-id="([^"]+)"', page.text)
    opened_url = re.search(r'data-opened-url="([^"]+)"', page.text)
    assert sid and opened_url, "a prepared page names the URL that opens it"
    session = WidgetSession(client, sid.group(1), "")
    session._refresh_token(page.text)
    return session, opened_url.group(1)


async def counted_sessions(clock: FakeClock) -> int:
    today = clock().date()
    board = await queries.dashboard(
        Filters(start=today - timedelta(days=1), end=today + timedelta(days=1)),
        bucket="day",
        now=clock(),
        verify_after=timedelta(days=30),
    )
    return board.totals.sessions


async def test_a_prepared_widget_counts_only_once_opened(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    session, opened_url = await prepare(client, settings, clock)
    assert await counted_sessions(clock) == 0
    listed = await client.get("/api/v1/sessions", headers={"Authorization": f"Bearer {settings.api_key}"})
    assert session.session_id not in listed.text

    # Left unopened past the idle time, it does not time out: the user may still open it.
    clock.advance(minutes=45)
    await sessions.abandon_idle_sessions(idle_after=IDLE, billing=billing, clock=clock)
    assert (await FlowSession.select(FlowSession.outcome).where(FlowSession.id == session.session_id).first()) == {
        "outcome": None
    }

    # Without the flow token, opening is refused; with it, the flow counts from now.
    assert (await client.post(opened_url)).status_code in (401, 403)
    opened = await client.post(opened_url, headers={"X-Flow-Token": session.flow_token})
    assert opened.status_code == 204
    assert (await client.post(opened_url, headers={"X-Flow-Token": session.flow_token})).status_code == 204
    assert await counted_sessions(clock) == 1
    # …and its idle clock starts at the opening, not at the prepare.
    clock.advance(minutes=20)
    await sessions.abandon_idle_sessions(idle_after=IDLE, billing=billing, clock=clock)
    row = await FlowSession.select(FlowSession.outcome).where(FlowSession.id == session.session_id).first()
    assert row == {"outcome": None}
    clock.advance(minutes=20)
    await sessions.abandon_idle_sessions(idle_after=IDLE, billing=billing, clock=clock)
    row = await FlowSession.select(FlowSession.outcome).where(FlowSession.id == session.session_id).first()
    assert row == {"outcome": "abandoned"}


async def test_acting_in_a_prepared_widget_opens_it_even_without_the_ping(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    session, _ = await prepare(client, settings, clock)
    response = await session.post("continue")
    assert step_of(response.text) == "survey"
    assert await counted_sessions(clock) == 1


async def test_a_prepared_widget_nobody_opens_is_forgotten_once_it_no_longer_can_be(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    session, _ = await prepare(client, settings, clock)
    opened_session, opened_url = await prepare(client, settings, clock)
    await client.post(opened_url, headers={"X-Flow-Token": opened_session.flow_token})
    clock.advance(seconds=(FLOW_TOKEN_LIFETIME - timedelta(minutes=1)).total_seconds())
    await sessions.abandon_idle_sessions(idle_after=IDLE, billing=billing, clock=clock)
    assert await FlowSession.exists().where(FlowSession.id == session.session_id)
    clock.advance(minutes=2)
    await sessions.abandon_idle_sessions(idle_after=IDLE, billing=billing, clock=clock)
    assert not await FlowSession.exists().where(FlowSession.id == session.session_id)
    assert await FlowSession.exists().where(FlowSession.id == opened_session.session_id)


async def test_opening_without_prepare_counts_at_once_and_names_no_opened_url(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    page = await client.get("/w/start", params={"token": embed_token(settings, clock), "origin": HOST_ORIGIN})
    assert "data-opened-url" not in page.text
    assert await counted_sessions(clock) == 1


async def test_the_same_token_opened_after_prepare_is_one_counted_flow(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    token = embed_token(settings, clock)
    await client.get("/w/start", params={"token": token, "origin": HOST_ORIGIN, "prepared": "1"})
    assert await counted_sessions(clock) == 0
    page = await client.get("/w/start", params={"token": token, "origin": HOST_ORIGIN})  # the no-JS fallback
    assert "data-opened-url" not in page.text
    assert await counted_sessions(clock) == 1
