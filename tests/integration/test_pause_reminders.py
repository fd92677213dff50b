"""The pause reminder sweep: the signed `subscription.pause_ending` webhook and the email with a working
resume link go out once, N days before billing resumes, and never for a pause resumed early; an extended
pause is reminded for its new date."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta
from html import unescape

import httpx
from litestar import Litestar
from standardwebhooks import Webhook

from offers import ProviderUnavailable
from offers.providers.memory import InMemoryBillingProvider
from service.db.tables import FlowSession
from service.i18n import date_text
from service.repositories import emails
from service.settings import Settings
from service.use_cases.lifecycle import remind_pauses_ending
from service.use_cases.outbound import add_endpoint, deliver_due
from tests.conftest import FakeClock, make_settings
from tests.integration.test_pause_resume import ADA, auth, save_with_pause
from tests.integration.widget_client import start


class Receiver:
    """The host's endpoint, checking each signature with the official library. Not `verify()`: that also
    compares the signed timestamp with the wall clock, and these tests move the app's clock by months."""

    def __init__(self, secret: str) -> None:
        self.webhook = Webhook(secret)
        self.received: list[dict[str, object]] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        signed_at = datetime.fromtimestamp(int(request.headers["webhook-timestamp"]), UTC)
        expected = self.webhook.sign(request.headers["webhook-id"], signed_at, request.content.decode())
        if expected not in request.headers["webhook-signature"].split(" "):
            return httpx.Response(400, text="bad signature")
        self.received.append(json.loads(request.content))
        return httpx.Response(204)


async def setup_receiver(clock: FakeClock, **kwargs: tuple[str, ...]) -> tuple[Receiver, httpx.AsyncClient]:
    secret = await add_endpoint("https://host.example/hooks", description="test", now=clock(), **kwargs)
    receiver = Receiver(secret)
    return receiver, httpx.AsyncClient(transport=httpx.MockTransport(receiver.handler))


async def sweep(app: Litestar, clock: FakeClock, settings: Settings | None = None) -> int:
    return await remind_pauses_ending(billing=app.state.billing, settings=settings or app.state.settings, clock=clock)


async def paused_until(billing: InMemoryBillingProvider) -> datetime:
    until = (await billing.get_subscription(ADA.subscription_id)).paused_until
    assert until is not None
    return until


async def reminded_at(session_id: str) -> datetime | None:
    row = await FlowSession.select(FlowSession.pause_reminded_at).where(FlowSession.id == session_id).first()
    assert row is not None
    moment: datetime | None = row["pause_reminded_at"]
    return moment


async def delivered(receiver: Receiver, http: httpx.AsyncClient, clock: FakeClock) -> list[dict[str, object]]:
    await deliver_due(client=http, clock=clock)
    return [r for r in receiver.received if r["type"] == "subscription.pause_ending"]


async def pause_emails() -> list[emails.StoredEmail]:
    found = [await emails.get(e.id) for e in await emails.recent() if e.kind == "pause_ending"]
    return [e for e in found if e is not None]


async def test_reminds_once_n_days_before_billing_resumes_with_webhook_and_email(
    app: Litestar, client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    receiver, http = await setup_receiver(clock, event_types=("subscription.pause_ending",))
    session_id = await save_with_pause(client, settings, clock)
    until = await paused_until(billing)
    assert await sweep(app, clock) == 0  # two months ahead
    clock.now = until - timedelta(days=3, minutes=1)
    assert await sweep(app, clock) == 0  # a minute before the default three days
    assert await delivered(receiver, http, clock) == [] and await pause_emails() == []
    clock.now = until - timedelta(days=3)
    assert await sweep(app, clock) == 1
    assert await reminded_at(session_id) == clock()
    events = await delivered(receiver, http, clock)  # the Receiver checks each signature
    assert len(events) == 1
    data = events[0]["data"]
    assert isinstance(data, dict)
    assert (data["customer_id"], data["subscription_id"], data["session_id"]) == (
        ADA.id,
        ADA.subscription_id,
        session_id,
    )
    assert datetime.fromisoformat(str(data["resumes_at"])) == until
    (email,) = await pause_emails()
    assert (email.to_address, email.customer_id, email.status) == ("ada@example.com", ADA.id, "pending")
    assert email.subject == f"Your pause ends on {date_text(until, 'en')}"
    found = re.search(r"http://testserver\.local/w/link\?token=\S+", email.text_body)
    assert found, email.text_body
    assert found.group(0) == data["resume_url"]
    assert found.group(0) in unescape(email.html_body)
    # The link opens the widget for Ada's subscription.
    page = await client.get(found.group(0).removeprefix("http://testserver.local"))
    assert page.status_code == 200, page.text
    sid = re.search(r'data-session-id="([^"]+)"', page.text)
    assert sid and sid.group(1) != session_id
    opened = (await client.get(f"/api/v1/sessions/{sid.group(1)}", headers=auth(settings))).json()
    assert (opened["customer_id"], opened["subscription_id"]) == (ADA.id, ADA.subscription_id)
    # Once: later rounds, up to and after the resume, send nothing more.
    for hours in (0, 1, 48, 80):
        clock.now = until - timedelta(days=3) + timedelta(hours=hours)
        assert await sweep(app, clock) == 0
    assert len(await delivered(receiver, http, clock)) == 1 and len(await pause_emails()) == 1


async def test_the_lead_time_is_configurable(
    app: Litestar, client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    await save_with_pause(client, settings, clock)
    until = await paused_until(billing)
    clock.now = until - timedelta(days=5)
    assert await sweep(app, clock) == 0
    assert await sweep(app, clock, make_settings(pause_reminder_days=7)) == 1


async def test_a_pause_resumed_early_is_not_reminded(
    app: Litestar, client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    receiver, http = await setup_receiver(clock)
    session_id = await save_with_pause(client, settings, clock)
    until = await paused_until(billing)
    assert (await client.post(f"/api/v1/customers/{ADA.id}/resume", headers=auth(settings))).status_code == 200
    clock.now = until - timedelta(days=2)
    assert await sweep(app, clock) == 0
    assert await reminded_at(session_id) == clock()  # settled: billing is not read for it again
    assert await delivered(receiver, http, clock) == [] and await pause_emails() == []


async def test_an_extended_pause_is_reminded_for_its_new_date_when_that_nears(
    app: Litestar, client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    receiver, http = await setup_receiver(clock)
    session_id = await save_with_pause(client, settings, clock)
    until = await paused_until(billing)
    later = until + timedelta(days=30)
    await billing.pause(ADA.subscription_id, resumes_at=later, behavior="void", idempotency_key="test-extend")
    clock.now = until - timedelta(days=2)
    assert await sweep(app, clock) == 0  # not with the stale date
    assert await reminded_at(session_id) is None
    clock.now = until + timedelta(days=1)
    assert await sweep(app, clock) == 0
    clock.now = later - timedelta(days=2)
    assert await sweep(app, clock) == 1
    (event,) = await delivered(receiver, http, clock)
    data = event["data"]
    assert isinstance(data, dict) and datetime.fromisoformat(str(data["resumes_at"])) == later
    (email,) = await pause_emails()
    assert email.subject == f"Your pause ends on {date_text(later, 'en')}"


async def test_a_cancelled_subscription_is_not_reminded(
    app: Litestar, client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    session_id = await save_with_pause(client, settings, clock)
    until = await paused_until(billing)
    await billing.cancel(
        ADA.subscription_id, at_period_end=False, reason=None, comment=None, idempotency_key="test-cancel"
    )
    clock.now = until - timedelta(days=1)
    assert await sweep(app, clock) == 0
    assert await reminded_at(session_id) is not None and await pause_emails() == []


async def test_two_sweeps_at_once_remind_once(
    app: Litestar, client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    receiver, http = await setup_receiver(clock)
    await save_with_pause(client, settings, clock)
    clock.now = await paused_until(billing) - timedelta(days=1)
    assert sum(await asyncio.gather(sweep(app, clock), sweep(app, clock))) == 1
    assert len(await delivered(receiver, http, clock)) == 1 and len(await pause_emails()) == 1


async def test_without_an_email_only_the_webhook_goes_out_and_test_mode_pauses_are_left_alone(
    app: Litestar, client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    receiver, http = await setup_receiver(clock)
    sessions = []
    for test_mode in (False, True):  # no email claim; the test-mode one paused nothing in billing
        _, flow = await start(client, settings, clock, test=test_mode)
        await flow.post("continue")
        await flow.post("reason", {"reason": "too_expensive"})
        await flow.post("offers/pause-2-months/accept")
        sessions.append(flow.session_id)
    clock.now = await paused_until(billing) - timedelta(days=1)
    assert await sweep(app, clock) == 1
    assert len(await delivered(receiver, http, clock)) == 1 and await pause_emails() == []
    assert await reminded_at(sessions[0]) is not None
    assert await reminded_at(sessions[1]) is None  # never a candidate


async def test_a_billing_outage_postpones_the_reminder(
    app: Litestar, client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    session_id = await save_with_pause(client, settings, clock)
    clock.now = await paused_until(billing) - timedelta(days=1)
    billing.fail_next_read(ProviderUnavailable("down (test)"))
    assert await sweep(app, clock) == 0
    assert await reminded_at(session_id) is None
    assert await sweep(app, clock) == 1
