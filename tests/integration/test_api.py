"""The server API: bearer key required, customer status for access gating, session details, OpenAPI."""

from __future__ import annotations

import httpx

from offers.providers.memory import InMemoryBillingProvider
from service.settings import Settings
from tests.conftest import FakeClock
from tests.integration.widget_client import start


def auth(settings: Settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.api_key}"}


async def test_the_api_needs_the_bearer_key(client: httpx.AsyncClient, settings: Settings) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": settings.api_key}):
        response = await client.get("/api/v1/customers/cus_demo_ada/status", headers=headers)
        assert response.status_code == 401
        assert "Bearer" in response.json()["detail"]


async def test_customer_status_follows_billing_through_a_pause(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    unknown = await client.get("/api/v1/customers/cus_demo_ada/status", headers=auth(settings))
    assert unknown.status_code == 404
    direct = await client.get(
        "/api/v1/customers/cus_demo_ada/status", params={"subscription_id": "sub_demo_ada"}, headers=auth(settings)
    )
    assert direct.json()["status"] == "active"

    _, flow = await start(client, settings, clock)
    await flow.post("continue")
    await flow.post("reason", {"reason": "too_expensive"})
    await flow.post("offers/pause-2-months/accept")
    paused = (await client.get("/api/v1/customers/cus_demo_ada/status", headers=auth(settings))).json()
    assert paused["status"] == "paused"
    assert paused["paused_until"] == billing.subscriptions["sub_demo_ada"].paused_until.isoformat().replace(  # type: ignore[union-attr]
        "+00:00", "Z"
    )


async def test_customer_status_shows_a_scheduled_cancellation(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    _, flow = await start(client, settings, clock, customer_id="cus_demo_grace")
    await flow.post("cancel")
    await flow.post("confirm")
    body = (await client.get("/api/v1/customers/cus_demo_grace/status", headers=auth(settings))).json()
    assert body["status"] == "cancel_scheduled"
    assert body["cancel_at"] == body["current_period_end"]


async def test_session_detail_has_the_timeline(client: httpx.AsyncClient, settings: Settings, clock: FakeClock) -> None:
    _, flow = await start(client, settings, clock)
    await flow.post("continue")
    await flow.post("reason", {"reason": "too_expensive", "comment": "pricey"})
    await flow.post("offers/pause-2-months/decline")
    body = (await client.get(f"/api/v1/sessions/{flow.session_id}", headers=auth(settings))).json()
    assert (body["step"], body["reason"], body["comment"]) == ("confirm", "too_expensive", "pricey")
    assert body["offers_shown"] == ["pause-2-months", "downgrade-starter"]
    assert [e["type"] for e in body["events"]] == ["Started", "Continued", "ReasonChosen", "OfferDeclined"]
    missing = await client.get("/api/v1/sessions/ses_nope", headers=auth(settings))
    assert missing.status_code == 404


async def test_openapi_documents_the_api_with_its_security(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    assert "/api/v1/customers/{customer_id}/status" in schema["paths"]
    assert schema["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    assert not any(path.startswith("/w/") for path in schema["paths"])
