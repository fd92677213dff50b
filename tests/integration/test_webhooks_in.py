"""Stripe webhooks in: signature, ledger, dedupe, out-of-order reconciliation, failures and replay,
and the verified-save rule they feed."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any, cast

import httpx
import pytest
from litestar import Litestar

from offers import SubscriptionStatus
from offers.providers.memory import InMemoryBillingProvider
from service.app import create_app
from service.db.engine import close_engine, open_engine
from service.db.tables import BillingWebhookEvent, FlowSession
from service.settings import Settings
from service.use_cases.webhooks import replay_failed_webhooks, verify_due_saves
from tests.conftest import FakeClock, make_settings
from tests.integration.widget_client import start

SECRET = "whsec_test_secret"


@pytest.fixture(name="settings")
def fx_settings() -> Settings:
    return make_settings(stripe_webhook_secret=SECRET)


def sign(payload: bytes, secret: str = SECRET, at: int | None = None) -> str:
    ts = at or int(time.time())
    digest = hmac.new(secret.encode(), f"{ts}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={ts},v1={digest}"


def event(event_id: str, kind: str = "customer.subscription.updated", sub: str = "sub_demo_ada") -> bytes:
    obj: dict[str, Any] = {"id": sub, "object": "subscription", "status": "active"}
    if kind.startswith("invoice."):
        obj = {"id": "in_1", "object": "invoice", "parent": {"subscription_details": {"subscription": sub}}}
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": kind,
            "created": int(time.time()),
            "data": {"object": obj},
            "api_version": "2026-10-28.endive",
        }
    ).encode()


async def post(client: httpx.AsyncClient, payload: bytes, signature: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    return await client.post("/webhooks/stripe", content=payload, headers=headers)


async def saved_session(client: httpx.AsyncClient, settings: Settings, clock: FakeClock) -> str:
    _, flow = await start(client, settings, clock)
    await flow.post("continue")
    await flow.post("reason", {"reason": "competitor"})
    await flow.post("offers/discount-30-3-months/accept")
    return flow.session_id


async def test_missing_signature_is_refused_and_nothing_is_stored(client: httpx.AsyncClient) -> None:
    response = await post(client, event("evt_1"), None)
    assert response.status_code == 400
    assert await BillingWebhookEvent.count() == 0


async def test_bad_signature_is_refused_and_nothing_is_stored(client: httpx.AsyncClient) -> None:
    payload = event("evt_1")
    for bad in (sign(payload, "whsec_wrong"), sign(payload, at=int(time.time()) - 3600), "garbage"):
        assert (await post(client, payload, bad)).status_code == 400
    assert await BillingWebhookEvent.count() == 0  # an unsigned body is a stranger's: it never fills the ledger


async def test_valid_events_are_processed_once_and_duplicates_ignored(client: httpx.AsyncClient) -> None:
    payload = event("evt_1")
    first = await post(client, payload, sign(payload))
    again = await post(client, payload, sign(payload))
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json()["detail"] == "Duplicate ignored."
    rows = await BillingWebhookEvent.select(BillingWebhookEvent.status).order_by(BillingWebhookEvent.id)
    assert [r["status"] for r in rows] == ["processed", "duplicate"]


async def test_out_of_order_events_reconcile_from_billing_not_the_payload(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    sid = await saved_session(client, settings, clock)
    # The customer cancels in Stripe's portal; an *older* "updated" event (status active) arrives late.
    sub = billing.subscriptions["sub_demo_ada"]
    billing.subscriptions["sub_demo_ada"] = dataclasses.replace(sub, status=SubscriptionStatus.CANCELED)
    payload = event("evt_old")
    assert (await post(client, payload, sign(payload))).status_code == 200
    row = (
        await FlowSession.select(FlowSession.verified_at, FlowSession.save_lapsed_at)
        .where(FlowSession.id == sid)
        .first()
    )
    assert row is not None
    assert row["verified_at"] is None and row["save_lapsed_at"] is not None


async def test_a_save_is_verified_only_after_the_verification_period(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    sid = await saved_session(client, settings, clock)
    paid = event("evt_paid_early", "invoice.paid")
    await post(client, paid, sign(paid))
    assert (await FlowSession.select(FlowSession.verified_at).where(FlowSession.id == sid).first()) == {
        "verified_at": None
    }
    clock.advance(days=31)
    invoice = json.loads(event("evt_paid_later", "invoice.paid"))
    invoice["data"]["object"]["status_transitions"] = {"paid_at": int(clock().timestamp())}  # paid after the save
    later = json.dumps(invoice).encode()
    await post(client, later, sign(later))
    row = await FlowSession.select(FlowSession.verified_at).where(FlowSession.id == sid).first()
    assert row is not None and row["verified_at"] == clock()


async def test_verification_by_polling_waits_for_a_pause_to_end(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    _, flow = await start(client, settings, clock)
    await flow.post("continue")
    await flow.post("reason", {"reason": "too_expensive"})
    await flow.post("offers/pause-2-months/accept")
    clock.advance(days=31)
    await verify_due_saves(billing=billing, clock=clock, verify_after=timedelta(days=30))
    still_paused = await FlowSession.select(FlowSession.verified_at).where(FlowSession.id == flow.session_id).first()
    assert still_paused == {"verified_at": None}
    clock.advance(days=40)
    await verify_due_saves(billing=billing, clock=clock, verify_after=timedelta(days=30))
    no_invoice = await FlowSession.select(FlowSession.verified_at).where(FlowSession.id == flow.session_id).first()
    assert no_invoice == {"verified_at": None}  # billing resumed, but nothing was paid yet
    resumed_sub = billing.subscriptions["sub_demo_ada"]
    billing.subscriptions["sub_demo_ada"] = dataclasses.replace(resumed_sub, last_paid_at=clock())
    await verify_due_saves(billing=billing, clock=clock, verify_after=timedelta(days=30))
    resumed = await FlowSession.select(FlowSession.verified_at).where(FlowSession.id == flow.session_id).first()
    assert resumed == {"verified_at": clock()}


async def test_a_failing_handler_is_recorded_and_replayed(
    client: httpx.AsyncClient, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    billing.fail_next_read(RuntimeError("database hiccup"))
    payload = event("evt_fail")
    response = await post(client, payload, sign(payload))
    assert response.status_code == 500
    row = await BillingWebhookEvent.select().first()
    assert row is not None
    assert row["status"] == "failed" and "database hiccup" in row["error"]
    assert await replay_failed_webhooks(billing=billing, clock=clock, verify_after=timedelta(days=30)) == 1
    replayed = await BillingWebhookEvent.select(BillingWebhookEvent.status, BillingWebhookEvent.attempts).first()
    assert replayed == {"status": "processed", "attempts": 2}


@pytest.fixture(name="unconfigured_client")
async def fx_unconfigured_client(app: Litestar, clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    """A second app without a webhook secret (after `app` has migrated and emptied the database)."""
    bare: Litestar = create_app(make_settings(), clock=clock)
    await open_engine(bare.state.engine)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=cast("Any", bare)), base_url="http://t") as c:
            yield c
    finally:
        await close_engine(bare.state.engine)


async def test_without_a_webhook_secret_the_endpoint_says_so(unconfigured_client: httpx.AsyncClient) -> None:
    payload = event("evt_1")
    response = await post(unconfigured_client, payload, sign(payload))
    assert response.status_code == 404
    assert "STRIPE_WEBHOOK_SECRET" in response.json()["detail"]


async def _verification_of(sid: str) -> dict[str, object]:
    row = (
        await FlowSession.select(FlowSession.verified_at, FlowSession.save_lapsed_at)
        .where(FlowSession.id == sid)
        .first()
    )
    assert row is not None
    return {"verified": row["verified_at"] is not None, "lapsed": row["save_lapsed_at"] is not None}


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (SubscriptionStatus.ACTIVE, {"verified": True, "lapsed": False}),
        (SubscriptionStatus.PAST_DUE, {"verified": False, "lapsed": False}),  # Stripe still retries the card
        (SubscriptionStatus.TRIALING, {"verified": False, "lapsed": False}),  # not paying yet
        (SubscriptionStatus.UNPAID, {"verified": False, "lapsed": True}),
    ],
)
async def test_only_a_paying_subscription_verifies_a_save(
    client: httpx.AsyncClient,
    settings: Settings,
    clock: FakeClock,
    billing: InMemoryBillingProvider,
    status: SubscriptionStatus,
    expected: dict[str, object],
) -> None:
    sid = await saved_session(client, settings, clock)
    sub = billing.subscriptions["sub_demo_ada"]
    billing.subscriptions["sub_demo_ada"] = dataclasses.replace(
        sub, status=status, last_paid_at=clock() + timedelta(days=1)
    )
    clock.advance(days=31)
    await verify_due_saves(billing=billing, clock=clock, verify_after=timedelta(days=30))
    assert await _verification_of(sid) == expected


async def test_an_invoice_paid_webhook_is_the_paid_invoice_a_verified_save_needs(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    sid = await saved_session(client, settings, clock)
    paid_at = clock() + timedelta(days=2)
    data = json.loads(event("evt_paid", "invoice.paid"))
    data["data"]["object"]["status_transitions"] = {"paid_at": int(paid_at.timestamp())}
    payload = json.dumps(data).encode()
    assert (await post(client, payload, sign(payload))).status_code == 200
    row = await FlowSession.select(FlowSession.paid_at).where(FlowSession.id == sid).first()
    assert row == {"paid_at": paid_at}
    clock.advance(days=31)
    await verify_due_saves(billing=billing, clock=clock, verify_after=timedelta(days=30))
    assert await _verification_of(sid) == {"verified": True, "lapsed": False}
