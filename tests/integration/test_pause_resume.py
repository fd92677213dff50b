"""Resuming a pause: the server API's POST …/resume (once, audited, 409/404/401) and the signed resume link."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import httpx
from litestar import Litestar

from offers.providers.memory import InMemoryBillingProvider
from service import demo
from service.mail.resume_link import RESUME_LINK_GRACE, mint_resume_token
from service.repositories.staff import recent_audit
from service.settings import Settings
from tests.conftest import FakeClock, make_settings
from tests.integration.widget_client import start

ADA = demo.customer("cus_demo_ada")


def auth(settings: Settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.api_key}"}


async def save_with_pause(client: httpx.AsyncClient, settings: Settings, clock: FakeClock) -> str:
    """Ada takes the two-month pause in the widget; returns the session id."""
    _, flow = await start(client, settings, clock, email="ada@example.com")
    await flow.post("continue")
    await flow.post("reason", {"reason": "too_expensive"})
    response = await flow.post("offers/pause-2-months/accept")
    assert response.status_code == 200, response.text
    return flow.session_id


def resumes(billing: InMemoryBillingProvider) -> list[str]:
    """The idempotency keys of the resume calls billing executed (replays are not executed)."""
    return [c.idempotency_key for c in billing.calls_for(ADA.subscription_id) if c.method == "resume"]


async def test_resume_ends_the_pause_and_answers_the_status(
    app: Litestar, client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    await save_with_pause(client, settings, clock)
    paused_until = (await billing.get_subscription(ADA.subscription_id)).paused_until
    assert paused_until is not None and paused_until > clock()
    response = await client.post(f"/api/v1/customers/{ADA.id}/resume", headers=auth(settings))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["customer_id"], body["subscription_id"], body["status"]) == (ADA.id, ADA.subscription_id, "active")
    assert body["paused_until"] is None
    status = await client.get(f"/api/v1/customers/{ADA.id}/status", headers=auth(settings))
    assert status.json() == body  # the same shape and facts as GET …/status
    assert resumes(billing) == [f"sf:api:{ADA.subscription_id}:resume:{int(paused_until.timestamp())}"]


async def test_resume_called_twice_resumes_once_and_then_says_not_paused(
    app: Litestar, client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    await save_with_pause(client, settings, clock)
    billing.delay_next(0.2)  # the first call is still at the provider when the second arrives
    url = f"/api/v1/customers/{ADA.id}/resume"
    first, second = await asyncio.gather(
        client.post(url, headers=auth(settings)), client.post(url, headers=auth(settings))
    )
    # The second finds the same key in flight (Stripe's 409): "try again", and its retry finds nothing paused.
    assert sorted([first.status_code, second.status_code]) == [200, 503]
    assert len(resumes(billing)) == 1
    again = await client.post(url, headers=auth(settings))
    assert again.status_code == 409
    assert again.json()["detail"] == f"Subscription {ADA.subscription_id} is not paused (status: active)."
    assert len(resumes(billing)) == 1


async def test_a_later_pause_gets_its_own_key_so_a_retry_never_ends_it_by_accident(
    app: Litestar, client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    await save_with_pause(client, settings, clock)
    url = f"/api/v1/customers/{ADA.id}/resume"
    assert (await client.post(url, headers=auth(settings))).status_code == 200
    later = clock() + timedelta(days=40)
    await billing.pause(ADA.subscription_id, resumes_at=later, behavior="void", idempotency_key="test-pause-again")
    assert (await client.post(url, headers=auth(settings))).status_code == 200
    keys = resumes(billing)
    assert len(keys) == 2 and keys[1] == f"sf:api:{ADA.subscription_id}:resume:{int(later.timestamp())}"


async def test_the_request_is_audited_before_billing_is_called_and_its_result_after(
    app: Litestar, client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    await save_with_pause(client, settings, clock)
    billing.fail_next_with_server_error()
    url = f"/api/v1/customers/{ADA.id}/resume"
    failed = await client.post(url, headers=auth(settings))
    assert failed.status_code == 503
    entries = [e for e in reversed(await recent_audit()) if e.action == "subscription.resume"]
    assert [e.after.split(",")[0].split(":")[0] for e in entries] == ["requested", "failed"]
    assert all(e.staff_email == "api" and ADA.subscription_id in e.target for e in entries)
    assert entries[0].before.startswith("paused until ")
    assert resumes(billing) == []  # the 500 stored nothing applied


async def test_resume_audits_request_then_result(
    app: Litestar, client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    await save_with_pause(client, settings, clock)
    assert (await client.post(f"/api/v1/customers/{ADA.id}/resume", headers=auth(settings))).status_code == 200
    entries = [e for e in reversed(await recent_audit()) if e.action == "subscription.resume"]
    assert [e.after for e in entries][1] == "resumed"
    assert entries[0].after.startswith("requested, key sf:api:")


async def test_resume_refuses_what_is_not_paused_unknown_or_unauthorised(
    app: Litestar, client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    url = f"/api/v1/customers/{ADA.id}/resume"
    not_paused = await client.post(url, params={"subscription_id": ADA.subscription_id}, headers=auth(settings))
    assert not_paused.status_code == 409
    assert "not paused" in not_paused.json()["detail"]
    unknown = await client.post("/api/v1/customers/cus_nobody/resume", headers=auth(settings))
    assert unknown.status_code == 404
    no_subscription = await client.post(url, params={"subscription_id": "sub_nope"}, headers=auth(settings))
    assert no_subscription.status_code == 404
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        assert (await client.post(url, headers=headers)).status_code == 401
    assert resumes(billing) == []
    assert [e for e in await recent_audit() if e.action == "subscription.resume"] == []


async def test_resume_is_documented_in_the_openapi(app: Litestar, client: httpx.AsyncClient) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    operation = schema["paths"]["/api/v1/customers/{customer_id}/resume"]["post"]
    assert {"200", "401", "404", "409"} <= operation["responses"].keys()
    assert operation["security"] == [{"apiKey": []}]


# ------------------------------------------------------------------------------ the resume link
def link(settings: Settings, clock: FakeClock, customer: demo.DemoCustomer = ADA, **overrides: object) -> str:
    values: dict[str, object] = {
        "customer_id": customer.id,
        "subscription_id": customer.subscription_id,
        "paused_until": clock() + timedelta(days=2),
        "locale": "de",
        "email": "ada@example.com",
    }
    values.update(overrides)
    return mint_resume_token(settings, **values)  # type: ignore[arg-type]


def session_id_of(html: str) -> str:
    found = re.search(r'data-session-id="([^"]+)"', html)
    assert found, html[:300]
    return found.group(1)


async def test_a_valid_link_opens_the_widget_for_its_customer_and_reopening_resumes_it(
    app: Litestar, client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    token = link(settings, clock)
    first = await client.get("/w/link", params={"token": token})
    assert first.status_code == 200, first.text
    assert 'lang="de"' in first.text
    sid = session_id_of(first.text)
    session = (await client.get(f"/api/v1/sessions/{sid}", headers=auth(settings))).json()
    assert (session["customer_id"], session["subscription_id"]) == (ADA.id, ADA.subscription_id)
    again = await client.get("/w/link", params={"token": token})
    assert session_id_of(again.text) == sid
    other = demo.DEMO_CUSTOMERS[1]
    theirs = await client.get("/w/link", params={"token": link(settings, clock, other)})
    assert theirs.status_code == 200
    their_session = (await client.get(f"/api/v1/sessions/{session_id_of(theirs.text)}", headers=auth(settings))).json()
    assert their_session["customer_id"] == other.id != ADA.id


async def test_tampered_missing_or_expired_links_get_the_friendly_page(
    app: Litestar, client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    token = link(settings, clock)
    signature = token.rpartition(".")[2]  # payload.signature: another payload under this signature
    tampered = link(settings, clock, customer_id="cus_someone_else").rpartition(".")[0] + "." + signature
    for params in ({"token": tampered}, {"token": token[:-2]}, {}, {"token": "x" * 3000}):
        response = await client.get("/w/link", params=params)
        assert response.status_code == 400, params
        assert 'data-testid="step-error"' in response.text
        assert "Traceback" not in response.text
    clock.advance(days=2)
    clock.advance(seconds=RESUME_LINK_GRACE.total_seconds() + 1)
    expired = await client.get("/w/link", params={"token": token})
    assert expired.status_code == 400
    assert 'data-testid="step-error"' in expired.text


async def test_a_link_signed_with_another_secret_is_refused(
    app: Litestar, client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    forged = link(make_settings(session_secret="f" * 64), clock)
    assert (await client.get("/w/link", params={"token": forged})).status_code == 400
