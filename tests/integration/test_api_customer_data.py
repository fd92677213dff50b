"""GDPR requests through the server API: GET /api/v1/customers/{id}/data exports every row about a customer;
DELETE erases their personal data in one audited transaction, idempotently, and every dashboard figure
stays exactly as it was."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from litestar import Litestar

from admin import metrics, queries
from offers.providers.memory import InMemoryBillingProvider
from service.repositories import customer_erasure, emails, stripe_events
from service.settings import Settings
from service.use_cases.customer_data import erase_customer_data
from service.use_cases.emails import unsubscribe
from service.use_cases.feedback import triage_feedback
from service.use_cases.outbound import add_endpoint
from tests.conftest import FakeClock
from tests.integration.test_winback import link_in, token_of, winback_emails
from tests.integration.widget_client import start

ADA, GRACE = "cus_demo_ada", "cus_demo_grace"
DATA = "/api/v1/customers/{}/data"
SECRET_WORDS = ("ada@example.com", "Lovelace", '"first_name"', "12 Main St")


def auth(settings: Settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.api_key}"}


async def walk(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, customer: str, email: str, *steps: Any
) -> str:
    _, flow = await start(client, settings, clock, customer_id=customer, email=email, first_name="Ada Lovelace")
    for intent, data in steps:
        response = await flow.post(intent, data)
        assert response.status_code == 200, response.text
    return flow.session_id


@pytest.fixture(name="ada")
async def fx_ada(
    app: Litestar, client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> dict[str, str]:
    """Ada: a kept session (a follow-up task), then a cancel with a win-back email, a reactivation through
    its link, webhooks to the host, billing webhooks, an unsubscribe and CS triage. Grace: one cancel."""
    await add_endpoint("https://host.example/hooks", description="test", now=clock())
    comment = {"reason": "not_using", "comment": "I am Ada Lovelace of 12 Main St"}
    kept = await walk(
        client, settings, clock, ADA, "ada@example.com",
        ("continue", {}), ("reason", comment), ("offers/training-call/accept", {}),
    )  # fmt: skip
    clock.advance(days=1)
    cancelled = await walk(
        client, settings, clock, ADA, "ada@example.com",
        ("continue", {}), ("reason", {"reason": "too_expensive", "comment": "Lovelace says: too dear"}),
        ("offers/pause-2-months/decline", {}), ("confirm", {}),
    )  # fmt: skip
    (email,) = await winback_emails()
    reactivated = await client.post("/w/winback", data={"token": token_of(link_in(email))})
    assert reactivated.status_code == 200, reactivated.text
    await unsubscribe("Ada@Example.com", customer_id=ADA, one_click=False, now=clock())
    await triage_feedback("cs@example.com", cancelled, tags="pricing", reviewed=True, now=clock())
    for event_id, failed in (("evt_done", False), ("evt_failed", True)):
        payload = json.dumps({"id": event_id, "data": {"object": {"customer_email": "ada@example.com"}}})
        row = await stripe_events.add_identified(
            payload, "t=1,v1=x", clock(), event_id=event_id, type="customer.updated",
            subscription_id="sub_demo_ada", duplicate=False,
        )  # fmt: skip
        await (stripe_events.mark_failed(row, "boom") if failed else stripe_events.mark_processed(row, clock()))
    grace = await walk(
        client, settings, clock, GRACE, "grace@example.com",
        ("continue", {}), ("reason", {"reason": "technical", "comment": "Grace here: exports break"}),
        ("offers/contact-support/decline", {}), ("confirm", {}),
    )  # fmt: skip
    return {"kept": kept, "cancelled": cancelled, "grace": grace}


async def data_of(client: httpx.AsyncClient, settings: Settings, customer: str) -> dict[str, Any]:
    response = await client.get(DATA.format(customer), headers=auth(settings))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def figures(clock: FakeClock) -> tuple[Any, ...]:
    """Every dashboard figure (test sessions too) and the win-back figure, over the days the tests use."""
    today = clock().date()
    shown = metrics.Filters(start=today - timedelta(days=5), end=today + timedelta(days=5), include_test=True)
    board = await queries.dashboard(shown, bucket="day", now=clock(), verify_after=timedelta(days=30))
    return board, await queries.winback(shown, board.totals.cancelled)


async def test_the_export_holds_every_row_about_the_customer(
    client: httpx.AsyncClient, settings: Settings, ada: dict[str, str]
) -> None:
    data = await data_of(client, settings, ADA)
    assert data["customer_id"] == ADA and data["erased_at"] is None
    kept, cancelled = data["sessions"]
    assert [kept["id"], cancelled["id"]] == [ada["kept"], ada["cancelled"]]
    assert (kept["email"], kept["attributes"]["first_name"]) == ("ada@example.com", "Ada Lovelace")
    assert kept["losses"] and kept["context"]["snapshot"]["customer_id"] == ADA
    assert (kept["outcome"], kept["accepted_offer"], kept["comment"]) == (
        "kept",
        "training-call",
        "I am Ada Lovelace of 12 Main St",
    )
    chosen = next(e for e in kept["events"] if e["type"] == "ReasonChosen")
    assert chosen["data"]["comment"] == "I am Ada Lovelace of 12 Main St"
    assert (cancelled["outcome"], cancelled["feedback_tags"]) == ("cancelled", ["pricing"])
    assert [op["action"] for op in cancelled["billing_operations"]] == ["cancel"]
    assert cancelled["billing_operations"][0]["status"] == "applied"
    (task,) = data["follow_up_tasks"]
    assert (task["session_id"], task["email"], task["offer_id"]) == (ada["kept"], "ada@example.com", "training-call")
    assert "Lovelace" in task["note"]
    (email,) = data["emails"]
    assert (email["kind"], email["to_address"]) == ("winback", "ada@example.com") and email["text_body"]
    assert [u["address"] for u in data["email_unsubscribes"]] == ["ada@example.com"]
    (winback,) = data["winbacks"]
    assert (winback["session_id"], winback["status"], winback["won_back_cents"]) == (ada["cancelled"], "applied", 3430)
    delivered = {d["event_type"] for d in data["webhook_deliveries"]}
    assert {"session.completed", "subscription.cancelled", "subscription.reactivated"} <= delivered
    assert all(d["payload"]["data"]["customer_id"] == ADA for d in data["webhook_deliveries"])
    assert [(e["event_id"], e["status"]) for e in data["billing_webhook_events"]] == [
        ("evt_done", "processed"),
        ("evt_failed", "failed"),
    ]
    assert [(a["actor"], a["action"], a["target"]) for a in data["audit"]] == [
        ("cs@example.com", "feedback.triage", ada["cancelled"])
    ]
    grace = await data_of(client, settings, GRACE)  # nothing of Ada's in Grace's, nor the other way round
    assert [s["id"] for s in grace["sessions"]] == [ada["grace"]] and not grace["winbacks"]
    assert ada["grace"] not in json.dumps(data)


async def test_erasure_removes_personal_data_keeps_every_figure_and_is_audited_once_per_request(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, ada: dict[str, str]
) -> None:
    before = await figures(clock)
    listed = (await client.get("/api/v1/sessions", headers=auth(settings))).json()
    grace_before = await data_of(client, settings, GRACE)
    assert before[0].totals.cancelled == 2 and before[1].won_back == 1  # figures worth comparing

    erased = await client.delete(DATA.format(ADA), headers=auth(settings))
    assert erased.status_code == 200, erased.text
    counts = erased.json()
    assert counts | {"erased_at": None} == {
        "customer_id": ADA, "erased_at": None, "sessions": 2, "events": 2, "follow_up_tasks": 1, "emails": 1,
        "email_unsubscribes": 1, "billing_webhook_events": 1,
    }  # fmt: skip

    data = await data_of(client, settings, ADA)
    assert data["erased_at"] == counts["erased_at"]
    for session in data["sessions"]:
        assert (session["email"], session["attributes"], session["losses"], session["comment"]) == (None, {}, [], None)
        assert all(e["data"].get("comment", "") == "" for e in session["events"])
    assert [s["outcome"] for s in data["sessions"]] == ["kept", "cancelled"]  # facts stay
    assert data["sessions"][1]["feedback_tags"] == ["pricing"]
    (task,) = data["follow_up_tasks"]
    assert (task["email"], task["note"], task["offer_id"]) == (None, "", "training-call")
    (email,) = data["emails"]
    assert (email["to_address"], email["subject"], email["text_body"], email["html_body"]) == ("", "", "", "")
    assert email["status"] != "pending"
    (unsubscribed,) = data["email_unsubscribes"]
    assert unsubscribed["address"] == emails.erased_address("ada@example.com")
    assert await emails.is_unsubscribed("ada@example.com", "")  # still honoured, by its digest
    done, still_failed = data["billing_webhook_events"]
    assert done["payload"] == {} and still_failed["payload"]["id"] == "evt_failed"  # replay still needs it
    unsettled = json.dumps({**data, "billing_webhook_events": []})
    assert not [word for word in SECRET_WORDS if word in unsettled], unsettled
    assert [(a["actor"], a["action"], a["target"]) for a in data["audit"]][-1] == ("api", "customer.erase", ADA)

    assert await figures(clock) == before
    assert (await client.get("/api/v1/sessions", headers=auth(settings))).json() == listed
    grace_after = await data_of(client, settings, GRACE)
    assert grace_after == grace_before and grace_after["sessions"][0]["email"] == "grace@example.com"

    clock.advance(minutes=5)
    again = await client.delete(DATA.format(ADA), headers=auth(settings))
    assert again.status_code == 200
    assert {k: v for k, v in again.json().items() if k not in ("customer_id", "erased_at")} == dict.fromkeys(
        ("sessions", "events", "follow_up_tasks", "emails", "email_unsubscribes", "billing_webhook_events"), 0
    )
    audit = (await data_of(client, settings, ADA))["audit"]
    assert [a["action"] for a in audit].count("customer.erase") == 2
    assert (await data_of(client, settings, ADA))["erased_at"] == again.json()["erased_at"]
    assert await figures(clock) == before


async def test_an_erasure_that_fails_half_way_changes_nothing(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, ada: dict[str, str], monkeypatch: Any
) -> None:
    before = await data_of(client, settings, ADA)

    async def broken(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(customer_erasure, "erase_unsubscribes", broken)  # after sessions, events, tasks, emails
    with pytest.raises(RuntimeError):
        await erase_customer_data(ADA, now=clock())
    assert await data_of(client, settings, ADA) == before  # one transaction: all of it rolled back, audit too


async def test_unknown_customers_are_404s_and_nothing_is_audited(
    client: httpx.AsyncClient, settings: Settings, ada: dict[str, str]
) -> None:
    for method in ("GET", "DELETE"):
        response = await client.request(method, DATA.format("cus_nobody"), headers=auth(settings))
        assert response.status_code == 404
        assert response.json()["detail"] == "Nothing is stored about this customer."
        bad = await client.request(method, DATA.format("x" * 256), headers=auth(settings))
        assert bad.status_code == 400 and "customer_id" in bad.json()["detail"]
        assert (await client.request(method, DATA.format(ADA))).status_code == 401
    assert [a["action"] for a in (await data_of(client, settings, ADA))["audit"]] == ["feedback.triage"]
