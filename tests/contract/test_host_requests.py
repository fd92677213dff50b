"""The host provider's wire: what each action sends (signed, keyed), and how each answer of the host is read."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import httpx
import pytest
from standardwebhooks import Webhook

from offers import (
    Capability,
    IdempotencyConflict,
    OfferNotApplicable,
    ProviderAuthFailed,
    ProviderFailed,
    ProviderRejected,
    ProviderUnavailable,
    SubscriptionNotFound,
)
from offers.host_contract import Action, snapshot_from_json, snapshot_to_json
from offers.providers.host import HostBillingProvider
from tests.contract.harness import START
from tests.contract.harness_host import HostHarness
from tests.support.host_billing import BASE_URL, SECRET


def _sent(harness: HostHarness) -> list[dict[str, object]]:
    return [json.loads(r.content) for r in harness.network.requests if r.method == "POST"]


async def test_each_action_is_signed_and_carries_its_key_and_parameters() -> None:
    harness = HostHarness.build()
    billing = harness.provider
    snap = await billing.get_subscription("sub_1")
    resumes = START + timedelta(days=61)
    await billing.pause("sub_1", resumes_at=resumes, behavior="void", idempotency_key="k-pause")
    await billing.resume("sub_1", idempotency_key="k-resume")
    await billing.change_price(
        "sub_1", price_id="price_starter_monthly", at_period_end=True, snapshot=snap, idempotency_key="k-down"
    )
    await billing.cancel("sub_1", at_period_end=True, reason="too_expensive", comment="budget", idempotency_key="k-c")
    assert _sent(harness) == [
        {
            "action": "pause",
            "subscription_id": "sub_1",
            "idempotency_key": "k-pause",
            "params": {"resumes_at": resumes.isoformat(), "behavior": "void", "at_period_end": False},
        },
        {"action": "resume", "subscription_id": "sub_1", "idempotency_key": "k-resume", "params": {}},
        {
            "action": "change_plan",
            "subscription_id": "sub_1",
            "idempotency_key": "k-down",
            "params": {
                "price_id": "price_starter_monthly",
                "at_period_end": True,
                "from_price_id": "price_pro_monthly",
                "period_end": snap.current_period_end.isoformat(),
            },
        },
        {
            "action": "cancel",
            "subscription_id": "sub_1",
            "idempotency_key": "k-c",
            "params": {"at_period_end": True, "reason": "too_expensive", "comment": "budget"},
        },
    ]
    for request in harness.network.requests:
        signed = (
            request.content.decode() if request.method == "POST" else request.url.path.removeprefix("/demo/billing")
        )
        Webhook(SECRET).verify(signed, dict(request.headers), json_parse=False)  # raises if not signed by us
        if request.method == "POST":
            assert request.headers["webhook-id"] == json.loads(request.content)["idempotency_key"]


async def test_a_forged_or_stale_request_is_refused_by_the_reference_host() -> None:
    harness = HostHarness.build()
    impostor = HostBillingProvider(
        BASE_URL, "whsec_" + "b3RoZXItc2VjcmV0LW9mLTMyLWJ5dGVzLWxvbmchIQ==", transport=harness.network
    )
    with pytest.raises(ProviderAuthFailed):
        await impostor.get_subscription("sub_1")
    with pytest.raises(ProviderAuthFailed):
        await impostor.resume("sub_1", idempotency_key="k")
    stale = HostBillingProvider(
        BASE_URL,
        SECRET,
        transport=harness.network,
        clock=lambda: START,  # signed weeks ago
    )
    with pytest.raises(ProviderAuthFailed):
        await stale.resume("sub_1", idempotency_key="k")
    assert harness.effects() == 0


async def test_unknown_subscriptions_and_refusals_map_to_the_port() -> None:
    harness = HostHarness.build()
    with pytest.raises(SubscriptionNotFound):
        await harness.provider.get_subscription("sub_nope")
    with pytest.raises(SubscriptionNotFound):
        await harness.provider.resume("sub_nope", idempotency_key="k1")
    with pytest.raises(OfferNotApplicable):  # a refusal the user sees as "not available"
        await harness.provider.extend_trial("sub_1", trial_end=START + timedelta(days=9), idempotency_key="k2")


def _answering(status: int, body: object) -> HostBillingProvider:
    transport = httpx.MockTransport(lambda request: httpx.Response(status, json=body))
    return HostBillingProvider(BASE_URL, SECRET, transport=transport)


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (200, {"result": "pending"}, ProviderUnavailable),  # ask again later with the same key
        (200, {"result": "refused", "code": "payment_failed", "message": "card declined"}, ProviderRejected),
        (200, {"result": "refused", "code": "not_applicable", "message": "no"}, OfferNotApplicable),
        (200, {"result": "refused", "code": "not_found"}, SubscriptionNotFound),
        (200, {"result": "applied", "subscription": {"id": "sub_1"}}, ProviderFailed),  # unreadable: re-read
        (200, {"result": "done"}, ProviderFailed),
        (401, {}, ProviderAuthFailed),
        (403, {}, ProviderAuthFailed),
        (409, {"code": "in_flight"}, ProviderUnavailable),
        (429, {}, ProviderUnavailable),
        (422, {"code": "idempotency_conflict"}, IdempotencyConflict),
        (400, {"code": "bad_request"}, ProviderRejected),
        (500, {}, ProviderFailed),
        (503, {}, ProviderFailed),
    ],
)
async def test_each_answer_of_the_host_maps_to_the_port(status: int, body: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        await _answering(status, body).resume("sub_1", idempotency_key="k")


async def test_an_unreachable_host_is_unavailable_and_a_slow_one_times_out() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    down = HostBillingProvider(BASE_URL, SECRET, transport=httpx.MockTransport(refuse))
    with pytest.raises(ProviderUnavailable):
        await down.resume("sub_1", idempotency_key="k")

    async def slowly(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(1)
        return httpx.Response(200, json={"result": "pending"})

    slow = HostBillingProvider(BASE_URL, SECRET, transport=httpx.MockTransport(slowly), timeout=0.05)
    with pytest.raises(ProviderUnavailable, match="within"):
        await slow.resume("sub_1", idempotency_key="k")


async def test_actions_the_host_does_not_implement_are_capabilities_it_lacks() -> None:
    harness = HostHarness.build()
    billing = HostBillingProvider(
        BASE_URL, SECRET, actions=frozenset({Action.CANCEL, Action.PAUSE}), transport=harness.network
    )
    assert billing.capabilities == {
        Capability.CANCEL_NOW,
        Capability.CANCEL_AT_PERIOD_END,
        Capability.PAUSE,
    }
    with pytest.raises(OfferNotApplicable):
        await billing.resume("sub_1", idempotency_key="k")
    assert not [r for r in harness.network.requests if r.method == "POST"]  # refused before any request


async def test_a_snapshot_survives_the_wire() -> None:
    harness = HostHarness.build()
    snap = await harness.provider.get_subscription("sub_trial")
    assert snapshot_from_json(json.loads(json.dumps(snapshot_to_json(snap)))) == snap
    naive = {**snapshot_to_json(snap), "current_period_end": "2026-12-01T00:00:00"}
    with pytest.raises(ValueError, match="UTC offset"):
        snapshot_from_json(naive)


async def test_the_host_lists_its_catalogue_through_the_reference_host() -> None:
    listed = await HostHarness.build().provider.catalogue()
    assert listed.price_ids == {"price_pro_monthly", "price_starter_monthly"}
    assert listed.coupon_ids == {"loyal10", "save30_3m"}
    with pytest.raises(SubscriptionNotFound):  # a host without /catalogue: the editor skips the check
        await _answering(404, {"code": "not_found"}).catalogue()
    with pytest.raises(ProviderFailed):
        await _answering(200, {"prices": []}).catalogue()
