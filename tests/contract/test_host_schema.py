"""docs/host-billing.openapi.json is the host contract: every request the provider sends, and every answer of the
reference host, validates against its schemas (so the document cannot drift from the code)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import pytest

from offers import OfferNotApplicable
from offers.host_contract import Action
from tests.contract.harness import START
from tests.contract.harness_host import HostHarness

DOC = json.loads((Path(__file__).resolve().parents[2] / "docs" / "host-billing.openapi.json").read_text())


def _validator(name: str) -> Any:
    return jsonschema_rs.validator_for({"$ref": f"#/components/schemas/{name}", "components": DOC["components"]})


async def _every_action(harness: HostHarness) -> None:
    billing = harness.provider
    snap = await billing.get_subscription("sub_1")
    trial = await billing.get_subscription("sub_trial")
    await billing.pause("sub_1", resumes_at=START + timedelta(days=30), behavior="void", idempotency_key="a1")
    await billing.resume("sub_1", idempotency_key="a2")
    await billing.change_price(
        "sub_1", price_id="price_starter_monthly", at_period_end=True, snapshot=snap, idempotency_key="a3"
    )
    await billing.cancel_scheduled_change("sub_1", idempotency_key="a4")
    await billing.extend_trial(
        "sub_trial", trial_end=(trial.trial_end or START) + timedelta(days=7), idempotency_key="a5"
    )
    await billing.cancel("sub_1", at_period_end=True, reason="too_expensive", comment=None, idempotency_key="a6")
    await billing.reactivate("sub_1", idempotency_key="a7")
    with pytest.raises(OfferNotApplicable):  # a refusal, validated below like every answer
        await billing.extend_trial("sub_1", trial_end=START + timedelta(days=9), idempotency_key="a8")
    await billing.apply_discount("sub_trial", coupon_id="save30_3m", snapshot=trial, idempotency_key="a9")
    await billing.cancel("sub_trial", at_period_end=False, reason=None, comment=None, idempotency_key="a10")
    await billing.resubscribe("cus_1", price_id="price_pro_monthly", coupon_id="", trial_days=14, idempotency_key="a11")
    await billing.catalogue()


async def test_every_action_and_answer_follows_the_document() -> None:
    harness = HostHarness.build()
    answers: list[tuple[httpx.Request, httpx.Response]] = []
    original = harness.network.handle_async_request

    async def recording(request: httpx.Request) -> httpx.Response:
        response = await original(request)
        answers.append((request, response))
        return response

    harness.network.handle_async_request = recording  # type: ignore[method-assign]
    await _every_action(harness)
    actions, answer, snapshot, error, listed = (
        _validator(n) for n in ("Action", "Answer", "Snapshot", "Error", "Catalogue")
    )
    sent = {json.loads(r.content)["action"] for r, _ in answers if r.method == "POST"}
    assert sent == {a.value for a in Action}  # every action of the contract was exercised
    for request, response in answers:
        body = response.json()
        if request.method == "POST":
            actions.validate(json.loads(request.content))
            (answer if response.status_code == 200 else error).validate(body)
        elif request.url.path.endswith("/catalogue"):
            listed.validate(body)
        else:
            (snapshot if response.status_code == 200 else error).validate(body)
    results = {r.json()["result"] for q, r in answers if q.method == "POST" and r.status_code == 200}
    assert results == {"applied", "refused"}


def test_the_document_names_every_action_and_refusal() -> None:
    mapping = DOC["components"]["schemas"]["Action"]["discriminator"]["mapping"]
    assert set(mapping) == {a.value for a in Action}
    with pytest.raises(jsonschema_rs.ValidationError):
        _validator("Action").validate(
            {"action": "refund", "subscription_id": "s", "idempotency_key": "k", "params": {}}
        )
