"""Issue 27 item 3: the OpenAPI document holds only the public API, each operation documented (summary,
description, examples that match their schemas and the real answers, error shapes), the webhooks we send as
OpenAPI `webhooks` whose schemas real deliveries pass, and one reference page at /schema with no CDN."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
import jsonschema_rs

from flows.notifications import EVENT_TYPES
from offers.model import REACTIVATE
from offers.providers.memory import InMemoryBillingProvider
from service import __version__
from service.http.assets import IMMUTABLE
from service.settings import Settings
from service.use_cases.lifecycle import remind_pauses_ending
from service.use_cases.outbound import deliver_due
from tests.conftest import FakeClock
from tests.integration.test_pause_reminders import setup_receiver
from tests.integration.widget_client import start

Document = dict[str, Any]
METHODS = ("get", "put", "post", "delete", "patch")


async def document(client: httpx.AsyncClient) -> Document:
    served = await client.get("/schema/openapi.json")
    assert served.status_code == 200
    found: Document = served.json()
    return found


def operations(doc: Document) -> list[tuple[str, Document]]:
    return [
        (f"{m.upper()} {path}", op) for path, item in doc["paths"].items() for m, op in item.items() if m in METHODS
    ]


def validator(doc: Document, schema: Document) -> jsonschema_rs.Validator:
    """`schema` (its $refs resolved in the document's components), checking formats such as date-time too."""
    return jsonschema_rs.Draft202012Validator({**schema, "components": doc["components"]}, validate_formats=True)


def examples_of(media: Document) -> list[Any]:
    return [example["value"] for example in (media.get("examples") or {}).values()]


def problems(doc: Document, schema: Document, value: Any) -> list[str]:
    return [f"{e.instance_path}: {e.message}" for e in validator(doc, schema).iter_errors(value)]


async def test_only_the_api_is_documented_and_every_operation_fully(client: httpx.AsyncClient) -> None:
    doc = await document(client)
    assert doc["openapi"].startswith("3.1") and doc["info"]["version"] == __version__
    assert doc["paths"], "the document lists no operation"
    assert not [p for p in doc["paths"] if not p.startswith("/api/v1/")]  # no /admin, /w/, /demo, probes, /webhooks
    ids = [op["operationId"] for _, op in operations(doc)]
    assert len(ids) == len(set(ids)), ids
    for label, op in operations(doc):
        summary = op.get("summary", "")
        assert " " in summary and summary[0].isupper(), f"{label}: not a human summary: {summary!r}"
        assert len(op.get("description", "")) > 20, f"{label}: no description"
        assert op.get("security") == [{"apiKey": []}], label
        responses = op["responses"]
        assert "401" in responses and "503" in responses, f"{label}: the key and outage answers are undocumented"
        success = [code for code in responses if code.startswith("2")]
        assert success, f"{label}: no success answer"
        for code, response in responses.items():
            assert response.get("description"), f"{label} {code}: no description"
            content = response.get("content") or {}
            if not code.startswith("2"):  # the error shape: JSON {status_code, detail}
                schema = content["application/json"]["schema"]
                assert validator(doc, schema).is_valid({"status_code": int(code), "detail": "x"}), f"{label} {code}"
            for media_type, media in content.items():
                if code.startswith("2"):
                    assert examples_of(media), f"{label} {code} {media_type}: no example"
                json_body = media_type == "application/json" or media_type.endswith("+json")
                for value in examples_of(media) if json_body else []:
                    found = problems(doc, media["schema"], value)
                    assert not found, (label, code, found)


async def test_documented_errors_are_what_the_api_answers(client: httpx.AsyncClient, settings: Settings) -> None:
    doc = await document(client)
    documented = doc["paths"]["/api/v1/sessions/{session_id}"]["get"]["responses"]
    key = {"Authorization": f"Bearer {settings.api_key}"}
    for code, headers in (("401", {}), ("404", key)):
        answer = await client.get("/api/v1/sessions/ses_nope", headers=headers)
        assert str(answer.status_code) == code
        assert answer.json() in examples_of(documented[code]["content"]["application/json"]), answer.json()


async def test_webhooks_document_every_event_and_real_deliveries_match(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    doc = await document(client)
    assert list(doc["webhooks"]) == list(EVENT_TYPES)
    bodies = {}
    for event_type, item in doc["webhooks"].items():
        post = item["post"]
        assert " " in post["summary"] and post["description"], event_type
        assert {p["name"] for p in post["parameters"]} == {"webhook-id", "webhook-timestamp", "webhook-signature"}
        media = post["requestBody"]["content"]["application/json"]
        bodies[event_type] = media["schema"]
        (value,) = examples_of(media)
        assert value["type"] == event_type and not problems(doc, media["schema"], value), event_type

    receiver, http = await setup_receiver(clock)
    await cause_every_event(client, settings, clock, billing)
    while await deliver_due(client=http, clock=clock):
        pass
    assert {r["type"] for r in receiver.received} == set(EVENT_TYPES)  # each one really sent, below checked
    for delivery in receiver.received:
        schema = bodies[str(delivery["type"])]
        found = problems(doc, schema, delivery)
        assert not found, (delivery, found)
        data = delivery["data"]
        assert isinstance(data, dict) and set(data) == set(schema["properties"]["data"]["properties"]), data


async def cause_every_event(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    """Ada pauses (completed, offer applied, paused); Grace cancels, then keeps it after all (cancelled,
    reactivated); three days before Ada's pause ends, its reminder (pause ending)."""
    _, saved = await start(client, settings, clock, customer_id="cus_demo_ada")
    await saved.post("continue")
    await saved.post("reason", {"reason": "too_expensive"})
    await saved.post("offers/pause-2-months/accept")
    _, cancelled = await start(client, settings, clock, customer_id="cus_demo_grace")
    await cancelled.post("cancel")
    await cancelled.post("confirm")
    _, returning = await start(client, settings, clock, customer_id="cus_demo_grace")
    done = await returning.post(f"offers/{REACTIVATE.id}/accept")
    assert 'data-outcome="reactivated"' in done.text
    paused_until = (await billing.get_subscription("sub_demo_ada")).paused_until
    assert paused_until is not None
    clock.now = paused_until - timedelta(days=settings.pause_reminder_days)
    assert await remind_pauses_ending(billing=billing, settings=settings, clock=clock) == 1


async def test_one_reference_page_from_our_own_assets_under_the_csp(client: httpx.AsyncClient) -> None:
    page = await client.get("/schema")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    html = page.text
    assert not re.search(r"<script(?![^>]*\bsrc=)", html) and "<style" not in html and " style=" not in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "the page loads nothing from elsewhere"
    linked = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert {re.sub(r"\.[0-9a-f]{10}\.", ".", url) for url in linked} == {
        "/static/vendor/swagger-ui/swagger-ui.css",
        "/static/vendor/swagger-ui/swagger-ui-bundle.js",
        "/static/api_docs.js",
    }
    for url in linked:
        asset = await client.get(url)
        assert asset.status_code == 200 and asset.headers["cache-control"] == IMMUTABLE, url
    assert 'data-spec-url="/schema/openapi.json"' in html
    for gone in ("swagger", "redoc", "rapidoc", "elements", "scalar", "openapi.yaml", "oauth2-redirect.html"):
        assert (await client.get(f"/schema/{gone}")).status_code == 404, gone
