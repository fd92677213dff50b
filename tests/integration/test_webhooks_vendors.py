"""Chargebee's and Paddle's webhooks over HTTP: proven the vendor's way, stored, de-duplicated, and reconciled by
re-reading the subscription from billing (#26)."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from typing import Any, cast

import httpx
import pytest
from litestar import Litestar

from service.app import create_app
from service.billing_settings import BillingSettings
from service.db.engine import close_engine, open_engine
from service.db.tables import BillingWebhookEvent
from tests.conftest import FakeClock, make_settings
from tests.contract.harness import START
from tests.contract.harness_chargebee import ChargebeeHarness
from tests.contract.harness_paddle import PaddleHarness
from tests.integration.conftest import _empty_tables, _migrate_once
from tests.support.chargebee_api import fixture as chargebee_fixture
from tests.support.chargebee_api import make_subscription

PADDLE_SECRET = "pdl_ntfset_01hv8wptq8987qeep44cyrhjp2_secret"
CHARGEBEE = BillingSettings(
    provider="chargebee",
    chargebee_site="acme-test",
    chargebee_api_key="test_key",
    chargebee_webhook_username="chargebee",
    chargebee_webhook_password="hook-password",
)


@pytest.fixture
async def running(clock: FakeClock) -> AsyncIterator[Any]:
    apps: list[Litestar] = []

    async def start(billing_settings: BillingSettings, harness: Any) -> httpx.AsyncClient:
        clock.now = START
        app = create_app(make_settings(billing=billing_settings), clock=clock, billing=harness.provider)
        await open_engine(app.state.engine)
        await _migrate_once()
        await _empty_tables()
        apps.append(app)
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=cast("Any", app)), base_url="http://testserver.local"
        )

    yield start
    for app in apps:
        await close_engine(app.state.engine)


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def _chargebee_event(event_id: str) -> bytes:
    event = {**chargebee_fixture("event"), "id": event_id, "event_type": "subscription_changed"}
    event["content"] = {"subscription": make_subscription("sub_1")}
    return json.dumps(event).encode()


async def test_chargebee_events_need_the_basic_auth_pair_and_are_reconciled_once(running: Any) -> None:
    harness = ChargebeeHarness.build()
    client: httpx.AsyncClient = await running(CHARGEBEE, harness)
    body = _chargebee_event("ev_1")
    assert (await client.post("/webhooks/chargebee", content=body)).status_code == 401
    wrong = await client.post("/webhooks/chargebee", content=body, headers=_basic("chargebee", "guess"))
    assert wrong.status_code == 400
    assert await BillingWebhookEvent.count() == 0  # nothing stored before the proof checks out
    reads_before = len(harness.fake.requests)
    good = await client.post("/webhooks/chargebee", content=body, headers=_basic("chargebee", "hook-password"))
    assert (good.status_code, good.json()["detail"]) == (200, "Processed.")
    assert any(r.method == "get" and r.path.endswith("/sub_1") for r in harness.fake.requests[reads_before:])
    again = await client.post("/webhooks/chargebee", content=body, headers=_basic("chargebee", "hook-password"))
    assert again.json()["detail"] == "Duplicate ignored."
    stripe = await client.post("/webhooks/stripe", content=body, headers={"Stripe-Signature": "t=1,v1=0"})
    assert stripe.status_code == 404  # only the configured provider's route answers


async def test_chargebee_events_from_outside_the_allow_list_are_refused(running: Any) -> None:
    allowed = dataclasses.replace(CHARGEBEE, chargebee_webhook_allow=("10.0.0.0/8",))
    client: httpx.AsyncClient = await running(allowed, ChargebeeHarness.build())
    refused = await client.post(
        "/webhooks/chargebee", content=_chargebee_event("ev_2"), headers=_basic("chargebee", "hook-password")
    )
    assert refused.status_code == 403
    assert await BillingWebhookEvent.count() == 0


def _paddle_signed(body: bytes, secret: str = PADDLE_SECRET, at: int | None = None) -> dict[str, str]:
    stamp = str(at if at is not None else int(time.time()))
    digest = hmac.new(secret.encode(), f"{stamp}:".encode() + body, hashlib.sha256).hexdigest()
    return {"Paddle-Signature": f"ts={stamp};h1={digest}"}


async def test_paddle_notifications_need_their_signature_and_are_reconciled_once(running: Any) -> None:
    harness = PaddleHarness.build()
    client: httpx.AsyncClient = await running(
        BillingSettings(provider="paddle", paddle_api_key="pdl_sdbx_apikey_fake", paddle_webhook_secret=PADDLE_SECRET),
        harness,
    )
    event = {
        "event_id": "evt_01hv8x2acma2gz8mb4bpxjbmgm",
        "event_type": "subscription.updated",
        "occurred_at": "2026-11-23T12:00:00.000000Z",
        "notification_id": "ntf_01hv8x2af9ex0vnzyf5xgn4dq9",
        "data": {"id": "sub_1", "status": "active"},
    }
    body = json.dumps(event).encode()
    assert (await client.post("/webhooks/paddle", content=body)).status_code == 400
    forged = await client.post("/webhooks/paddle", content=body, headers=_paddle_signed(body, "someone-else"))
    stale = await client.post("/webhooks/paddle", content=body, headers=_paddle_signed(body, at=int(time.time()) - 60))
    assert (forged.status_code, stale.status_code) == (400, 400)
    assert await BillingWebhookEvent.count() == 0
    reads_before = len(harness.fake.requests)
    good = await client.post("/webhooks/paddle", content=body, headers=_paddle_signed(body))
    assert (good.status_code, good.json()["detail"]) == (200, "Processed.")
    assert any(r.method == "GET" and r.path.endswith("/sub_1") for r in harness.fake.requests[reads_before:])
    again = await client.post("/webhooks/paddle", content=body, headers=_paddle_signed(body))
    assert again.json()["detail"] == "Duplicate ignored."
