"""Win-back after a cancel: the email at the cancel and N days after access ends (each once), the signed
link's page, reactivating through billing exactly once (undo the cancel + coupon, or a new subscription
once it ended), the `subscription.reactivated` webhook, and friendly 4xx pages for bad links."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta
from html import unescape
from typing import Any

import httpx
from litestar import Litestar

from offers import ALL_CAPABILITIES, Capability
from offers.providers.memory import InMemoryBillingProvider
from service.db.tables import OutboundEmail, Winback
from service.mail.winback_link import mint_winback_token
from service.repositories import emails
from service.settings import Settings
from service.use_cases.emails import unsubscribe
from service.use_cases.outbound import deliver_due
from service.use_cases.winback import finish_pending_winbacks, send_winback_emails
from tests.conftest import FakeClock
from tests.integration.test_admin_http import login, make_staff
from tests.integration.test_pause_reminders import setup_receiver
from tests.integration.test_pause_resume import ADA
from tests.integration.widget_client import start

LINK = re.compile(r"http://testserver\.local(/w/winback\?token=\S+)")


async def cancel(client: httpx.AsyncClient, settings: Settings, clock: FakeClock, **extra: Any) -> str:
    """Ada cancels in two clicks (at the period end); returns the session id."""
    _, flow = await start(client, settings, clock, email="ada@example.com", **extra)
    await flow.post("continue")
    done = await flow.post("cancel")
    assert 'data-outcome="cancelled"' in done.text
    return flow.session_id


async def winback_emails() -> list[emails.StoredEmail]:
    found = [await emails.get(e.id) for e in await emails.recent() if e.kind == "winback"]
    return [e for e in found if e is not None]


def link_in(email: emails.StoredEmail) -> str:
    found = LINK.search(email.text_body)
    assert found, email.text_body
    assert found.group(0) in unescape(email.html_body)
    return found.group(1)


def token_of(path: str) -> str:
    return httpx.URL(path).params["token"]


async def test_cancel_queues_one_email_then_another_n_days_after_access_ends(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    session_id = await cancel(client, settings, clock)
    (first,) = await winback_emails()  # queued by the request that committed the cancel
    assert await send_winback_emails(billing=billing, settings=settings, clock=clock) == 0  # the sweep finds it queued
    assert (first.to_address, first.status) == ("ada@example.com", "pending")
    assert first.subject == "We would love to have you back"
    link_in(first)
    ends = billing.subscriptions[ADA.subscription_id].current_period_end
    clock.now = ends + timedelta(days=7) - timedelta(minutes=1)
    assert await send_winback_emails(billing=billing, settings=settings, clock=clock) == 0  # a minute early
    clock.now = ends + timedelta(days=7)
    assert await send_winback_emails(billing=billing, settings=settings, clock=clock) == 1
    clock.advance(hours=5)
    assert await send_winback_emails(billing=billing, settings=settings, clock=clock) == 0
    second = [e for e in await winback_emails() if e.id != first.id]
    assert len(second) == 1 and link_in(second[0]) != link_in(first)
    assert await emails.id_by_dedupe_key(f"winback:{session_id}:at-cancel") == first.id
    assert await emails.id_by_dedupe_key(f"winback:{session_id}:after-end") == second[0].id
    assert await Winback.count() == 0  # emails change nothing in billing


async def test_no_second_email_for_a_customer_subscribed_again_some_other_way(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    session_id = await cancel(client, settings, clock)
    await billing.reactivate(ADA.subscription_id, idempotency_key="host-undid-it")  # e.g. in the host's own UI
    sub = billing.subscriptions[ADA.subscription_id]
    billing.subscriptions[ADA.subscription_id] = dataclasses.replace(
        sub, current_period_end=sub.current_period_end + timedelta(days=30)
    )  # and it renewed
    clock.now = sub.current_period_end + timedelta(days=7)
    assert await send_winback_emails(billing=billing, settings=settings, clock=clock) == 0
    email_id = await emails.id_by_dedupe_key(f"winback:{session_id}:after-end")
    stored = await emails.get(email_id) if email_id else None
    assert stored is not None and stored.status == "suppressed" and stored.note == "subscribed again before it was due"
    assert await send_winback_emails(billing=billing, settings=settings, clock=clock) == 0  # decided once


async def test_the_sweep_queues_what_a_request_that_died_after_the_cancel_did_not(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    session_id = await cancel(client, settings, clock)
    await OutboundEmail.delete(force=True)  # as if the process died between the cancel's commit and its email
    clock.advance(hours=47)  # the sweep was down for almost two days: it still catches up
    assert await send_winback_emails(billing=billing, settings=settings, clock=clock) == 1
    assert await emails.id_by_dedupe_key(f"winback:{session_id}:at-cancel") is not None
    await OutboundEmail.delete(force=True)
    clock.advance(hours=2)  # later than that, an "at the cancel" email would be stale: none
    assert await send_winback_emails(billing=billing, settings=settings, clock=clock) == 0


async def test_no_email_for_an_unsubscribed_customer_or_a_test_session(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    await cancel(client, settings, clock, test=True)
    assert await send_winback_emails(billing=billing, settings=settings, clock=clock) == 0
    assert await winback_emails() == []
    await unsubscribe("ada@example.com", customer_id=ADA.id, one_click=False, now=clock())
    await cancel(client, settings, clock)
    assert await send_winback_emails(billing=billing, settings=settings, clock=clock) == 0
    assert [e.status for e in await winback_emails()] == ["suppressed"]


async def test_the_link_reactivates_with_the_discount_once_and_tells_the_host(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    receiver, http = await setup_receiver(clock, event_types=("subscription.reactivated",))
    session_id = await cancel(client, settings, clock)
    (email,) = await winback_emails()
    path = link_in(email)
    page = await client.get(path)
    assert page.status_code == 200, page.text
    assert 'data-testid="winback-deal"' in page.text and "30% off for 3 months" in page.text
    assert "You pay $34.30 a month instead of $49 while the discount lasts." in page.text
    assert '<span class="sf-loss-value" data-testid="loss-value">128</span>' in page.text  # Ada's projects
    assert "Reactivate with 30% off" in page.text
    assert billing.calls_for(ADA.subscription_id)[-1].method == "cancel"  # GET changes nothing

    done = await client.post("/w/winback", data={"token": token_of(path)})
    assert done.status_code == 200, done.text
    assert 'data-testid="winback-done"' in done.text
    calls = [(c.method, c.idempotency_key) for c in billing.calls_for(ADA.subscription_id)][-2:]
    assert calls == [
        ("reactivate", f"sf:wb:{session_id}:reactivate"),
        ("apply_discount", f"sf:wb:{session_id}:discount"),
    ]
    sub = billing.subscriptions[ADA.subscription_id]
    assert not sub.cancel_at_period_end and "save30_3m" in sub.discount_coupon_ids
    row = await Winback.select().first()
    assert row is not None
    assert (row["status"], row["currency"], row["list_cents"], row["won_back_cents"]) == ("applied", "usd", 4900, 3430)

    await deliver_due(client=http, clock=clock)
    (event,) = [r for r in receiver.received if r["type"] == "subscription.reactivated"]
    data = event["data"]
    assert isinstance(data, dict) and data["session_id"] == session_id and data["via"] == "winback"

    count = len(billing.calls)
    again = await client.post("/w/winback", data={"token": token_of(path)})
    assert again.status_code == 410 and 'data-testid="winback-used"' in again.text
    assert (await client.get(path)).status_code == 410
    assert len(billing.calls) == count  # billing exactly once
    assert await send_winback_emails(billing=billing, settings=settings, clock=clock) == 0


async def test_after_the_end_it_is_a_new_subscription_with_the_coupon(
    app: Litestar, client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    session_id = await cancel(client, settings, clock)
    clock.now = billing.subscriptions[ADA.subscription_id].current_period_end + timedelta(days=1)
    path = "/w/winback?token=" + mint_winback_token(settings, session_id=session_id, now=clock())
    billing.lose_next_response()  # the new subscription is made, but the answer is lost
    pending = await client.post("/w/winback", data={"token": token_of(path)})
    assert pending.status_code == 202 and 'data-testid="winback-pending"' in pending.text
    assert await finish_pending_winbacks(billing=billing, clock=clock) == 0  # its lease still runs
    clock.advance(minutes=3)
    assert await finish_pending_winbacks(billing=billing, clock=clock) == 1  # same key: replayed, not redone
    created = [c for c in billing.calls if c.method == "resubscribe"]
    assert [c.idempotency_key for c in created] == [f"sf:wb:{session_id}:resubscribe"]
    new = billing.subscriptions[created[0].subscription_id]
    assert (new.customer_id, new.price_id, new.discount_coupon_ids) == (ADA.id, "price_pro_monthly", ("save30_3m",))
    row = await Winback.select(Winback.status, Winback.new_subscription_id).first()
    assert row == {"status": "applied", "new_subscription_id": new.id}
    assert (await client.get(path)).status_code == 410


async def test_bad_links_get_friendly_4xx_pages(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    session_id = await cancel(client, settings, clock)
    token = mint_winback_token(settings, session_id=session_id, now=clock())
    i = token.rindex(".") + 3  # a signature character all of whose bits count
    forged = token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :]
    for response in (
        await client.get("/w/winback", params={"token": forged}),
        await client.get("/w/winback"),
        await client.post("/w/winback", data={"token": forged}),
        await client.get("/w/winback", params={"token": mint_winback_token(settings, session_id="ses_x", now=clock())}),
    ):
        assert response.status_code in (400, 404), response.text
        assert 'data-testid="winback-invalid"' in response.text
    clock.advance(days=31)
    expired = await client.get("/w/winback", params={"token": token})
    assert expired.status_code == 400 and "has expired" in expired.text


async def test_the_dashboard_shows_won_back_count_rate_and_mrr(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    session_id = await cancel(client, settings, clock)
    token = mint_winback_token(settings, session_id=session_id, now=clock())
    assert (await client.post("/w/winback", data={"token": token})).status_code == 200
    await make_staff(clock())
    await login(client)
    board = await client.get("/admin/")
    assert board.status_code == 200, board.text
    tile = re.search(r'data-testid="kpi-winback">(.*?)</div>', board.text, re.S)
    assert tile, board.text[:500]
    assert "1 won back" in tile.group(1) and "100.0% of 1 cancelled" in tile.group(1)
    assert "$34.30 MRR won back (USD)" in tile.group(1)  # 30% off $49
    assert "<dt>Won back</dt>" in board.text


async def test_a_billing_system_that_cannot_start_a_subscription_offers_no_win_back_after_the_end(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    """#26: Paddle starts subscriptions only through checkout, so after access ends there is nothing to offer."""
    session_id = await cancel(client, settings, clock)
    billing.capabilities = ALL_CAPABILITIES - {Capability.RESUBSCRIBE}
    clock.now = billing.subscriptions[ADA.subscription_id].current_period_end + timedelta(days=7)
    assert await send_winback_emails(billing=billing, settings=settings, clock=clock) == 0  # no second email
    path = "/w/winback?token=" + mint_winback_token(settings, session_id=session_id, now=clock())
    page = await client.get(path)
    assert page.status_code == 409 and 'data-testid="winback-failed"' in page.text and "<button" not in page.text
    refused = await client.post("/w/winback", data={"token": token_of(path)})
    assert refused.status_code == 409
    assert not [c for c in billing.calls if c.method == "resubscribe"] and await Winback.count() == 0
