"""Chargebee's errors, reads, catalogue, webhooks and snapshot mapping, as the Chargebee adapter meets them."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from offers import (
    BillingError,
    IdempotencyConflict,
    OfferNotApplicable,
    ProviderAuthFailed,
    ProviderFailed,
    ProviderRejected,
    ProviderUnavailable,
    SubscriptionNotFound,
    WebhookMalformed,
    WebhookRejected,
)
from offers.providers.chargebee import REQUEST_TIMEOUT_SECONDS, ChargebeeBillingProvider, ChargebeeWebhooks
from offers.providers.chargebee_shapes import FOREVER, snapshot_from_chargebee
from tests.support.chargebee_api import (
    COUPONS,
    ITEM_PRICES,
    fixture,
    make_coupon,
    make_item_price,
    make_subscription,
)
from tests.support.chargebee_http import API_KEY, IN_PROGRESS, MISMATCH, Failure, FakeChargebee, Recorded, unflatten
from tests.support.stripe_http import DAY, NOW

START = datetime.fromtimestamp(NOW, tz=UTC)
STARTER = "price_starter_monthly"
RESUMES = START + timedelta(days=61)
KEY = "chargebee-idempotency-key"


@pytest.fixture(name="fake")
def fx_fake() -> Iterator[FakeChargebee]:
    with FakeChargebee() as fake:
        fake.subscriptions["sub_1"] = make_subscription("sub_1", coupons=("loyal10",))
        fake.subscriptions["sub_trial"] = make_subscription("sub_trial", status="in_trial")
        yield fake


@pytest.fixture(name="billing")
def fx_billing(fake: FakeChargebee) -> ChargebeeBillingProvider:
    return ChargebeeBillingProvider(API_KEY, fake.site)


def paths(fake: FakeChargebee) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in fake.requests]


def _error(status: int, code: str, kind: str | None = "invalid_request", **extra: str) -> Failure:
    body = {"message": extra.pop("message", "no (fake)"), "api_error_code": code, "http_status_code": status}
    return Failure(status, {**body, **({"type": kind} if kind else {}), **extra})


ERRORS: dict[str, tuple[Failure, type[BillingError]]] = {
    "connection": (Failure(0), ProviderUnavailable),
    "429": (_error(429, "api_request_limit_exceeded", None), ProviderUnavailable),
    "in-flight": (_error(409, "invalid_state_for_request", None, message=IN_PROGRESS), ProviderUnavailable),
    "not-json": (Failure(502, {"html": "bad gateway"}), ProviderUnavailable),  # not Chargebee's: outcome unknown
    "500": (_error(500, "internal_error", None), ProviderFailed),
    "503": (_error(503, "internal_temporary_error", None), ProviderFailed),
    "payment": (_error(402, "payment_processing_failed", "payment"), ProviderRejected),
    "401": (_error(401, "api_authentication_failed", None), ProviderAuthFailed),
    "403": (_error(403, "api_authorization_failed", None), ProviderAuthFailed),
    "404": (_error(404, "resource_not_found"), SubscriptionNotFound),
    "invalid": (_error(400, "param_wrong_value", param="resume_date"), OfferNotApplicable),
    "operation": (_error(400, "invalid_state_for_request", "operation_failed"), OfferNotApplicable),
    "idempotency": (_error(400, "invalid_request", message=MISMATCH.format(key="k")), IdempotencyConflict),
}


@pytest.mark.parametrize(("failure", "expected"), ERRORS.values(), ids=list(ERRORS))
async def test_chargebee_errors_become_billing_errors(
    fake: FakeChargebee, billing: Any, failure: Failure, expected: type[BillingError]
) -> None:
    fake.failures.append(failure)
    with pytest.raises(expected):
        await billing.pause("sub_1", resumes_at=RESUMES, behavior="void", idempotency_key="k")


async def test_the_fake_keeps_chargebees_idempotency_rules(fake: FakeChargebee) -> None:
    """Replay (with the header) for 30 minutes, another body refused, a running key refused at once, 5xx not kept."""
    auth = {"authorization": "Basic " + base64.b64encode(f"{API_KEY}:".encode()).decode()}
    url = f"https://{fake.site}.chargebee.com/api/v2/subscriptions/sub_1/change_term_end"
    async with httpx.AsyncClient() as client:

        async def post(key: str, days: int) -> httpx.Response:
            body = {"term_ends_at": str(NOW + days * DAY)}
            return await client.post(url, data=body, headers={**auth, KEY: key})

        first, again = await post("a", 20), await post("a", 20)
        assert again.headers["chargebee-idempotency-replayed"] == "true" and again.json() == first.json()
        assert (await post("a", 21)).status_code == 400 and fake.executed == 1
        fake.advance(30 * 60)
        assert (await post("a", 21)).status_code == 200 and fake.executed == 2  # forgotten after 30 minutes
        fake.delay_next(0.2)
        running = asyncio.ensure_future(post("b", 22))
        await asyncio.sleep(0.05)
        assert (await post("b", 22)).status_code == 409
        await running
        fake.failures.append(Failure(500, {"message": "boom", "api_error_code": "internal_error"}))
        assert (await post("c", 23)).status_code == 500
        assert (await post("c", 23)).status_code == 200  # a 5xx is not kept: the retry executes


async def test_a_call_past_its_deadline_is_unavailable_and_chargebee_finishes_it(fake: FakeChargebee) -> None:
    billing = ChargebeeBillingProvider(API_KEY, fake.site, timeout=0.05)
    fake.delay_next(0.3)
    with pytest.raises(ProviderUnavailable):
        await billing.pause("sub_1", resumes_at=RESUMES, behavior="void", idempotency_key="k")
    await asyncio.sleep(0.3)
    assert (await billing.get_subscription("sub_1")).paused_until == RESUMES


async def test_each_provider_has_its_own_site_timeouts_and_no_sdk_retries() -> None:
    with FakeChargebee() as one, FakeChargebee() as two:
        one.subscriptions["sub_1"] = make_subscription("sub_1")
        two.subscriptions["sub_1"] = make_subscription("sub_1", price="price_pro_yearly")
        first, second = ChargebeeBillingProvider(API_KEY, one.site), ChargebeeBillingProvider(API_KEY, two.site)
        assert (await first.get_subscription("sub_1")).interval == "month"
        assert (await second.get_subscription("sub_1")).interval == "year"
    env = first._cb.env
    assert (env.site, env.connect_timeout, env.read_timeout) == (
        one.site,
        REQUEST_TIMEOUT_SECONDS,
        REQUEST_TIMEOUT_SECONDS,
    )
    assert not env.get_retry_config().is_enabled()


async def test_the_latest_paid_invoice_comes_with_every_read_and_a_trials_zero_invoice_is_no_payment(
    fake: FakeChargebee, billing: Any
) -> None:
    fake.pay_invoice("sub_trial", amount=0, paid_at=NOW)
    assert (await billing.get_subscription("sub_trial")).last_paid_at is None
    fake.pay_invoice("sub_1", amount=4900, paid_at=NOW + DAY)
    assert (await billing.get_subscription("sub_1")).last_paid_at == START + timedelta(days=1)
    query = {"subscription_id[is]": "sub_1", "status[is]": "paid", "amount_paid[gt]": "0", "sort_by[desc]": "date"}
    assert fake.requests[-1] == Recorded("get", "/invoices", {**query, "limit": "1"}, None)


PLANS_QUERY = {"item_type[is]": "plan", "status[is]": "active", "limit": "100"}
COUPONS_QUERY = {"status[is]": "active", "limit": "100"}


async def test_the_catalogue_lists_every_page_of_active_plan_prices_and_active_coupons(
    fake: FakeChargebee, billing: Any
) -> None:
    """The flow editor checks offer ids against these: item prices of plans that are on sale, coupons that apply."""
    extra_prices = {f"price_extra_{i:03}": make_item_price(f"price_extra_{i:03}", price=100 + i) for i in range(120)}
    extra_coupons = {f"promo_{i:03}": make_coupon(f"promo_{i:03}", age_days=i) for i in range(100)}
    fake.item_prices.update(extra_prices)  # 123 active plans: two pages at limit 100
    fake.coupons.update(extra_coupons)  # 102 active coupons: two pages
    assert {"price_legacy_monthly", "price_seats_monthly"} <= set(fake.item_prices)  # archived plan, addon
    assert {"spring2020", "welcome5"} <= set(fake.coupons)  # expired, archived
    listed = await billing.catalogue()
    assert listed.price_ids == {*ITEM_PRICES, *extra_prices}
    assert listed.coupon_ids == {*COUPONS, *extra_coupons}
    first_prices, second_prices, first_coupons, second_coupons = fake.requests

    def next_offset(page: Recorded) -> str:
        answer = fake.route("get", page.path, unflatten(dict(page.params)))[1]
        return str(answer["next_offset"])

    assert first_prices == Recorded("get", "/item_prices", PLANS_QUERY, None)
    assert second_prices == Recorded("get", "/item_prices", {**PLANS_QUERY, "offset": next_offset(first_prices)}, None)
    assert first_coupons == Recorded("get", "/coupons", COUPONS_QUERY, None)
    assert second_coupons == Recorded("get", "/coupons", {**COUPONS_QUERY, "offset": next_offset(first_coupons)}, None)
    assert "next_offset" not in fake.route("get", "/coupons", unflatten(dict(second_coupons.params)))[1]  # the last


async def test_a_catalogue_on_one_page_asks_once_each(fake: FakeChargebee, billing: Any) -> None:
    listed = await billing.catalogue()
    assert (listed.price_ids, listed.coupon_ids) == (set(ITEM_PRICES), COUPONS)
    assert fake.requests == [
        Recorded("get", "/item_prices", PLANS_QUERY, None),
        Recorded("get", "/coupons", COUPONS_QUERY, None),
    ]


READ_ERRORS = ("connection", "429", "not-json", "500", "503", "401", "403", "404")


@pytest.mark.parametrize(("failure", "expected"), [ERRORS[name] for name in READ_ERRORS], ids=READ_ERRORS)
async def test_a_failing_catalogue_list_is_translated_like_any_read(
    fake: FakeChargebee, billing: Any, failure: Failure, expected: type[BillingError]
) -> None:
    fake.failures.append(dataclasses.replace(failure, reads=True, path="/coupons"))  # after the item prices
    with pytest.raises(expected):
        await billing.catalogue()
    assert [r.path for r in fake.requests] == ["/item_prices", "/coupons"]


async def test_the_catalogue_is_one_call_within_the_deadline(fake: FakeChargebee) -> None:
    billing = ChargebeeBillingProvider(API_KEY, fake.site, timeout=0.05)
    fake.delay_next(0.3, reads=True)
    with pytest.raises(ProviderUnavailable):
        await billing.catalogue()
    await asyncio.sleep(0.3)  # the list Chargebee was still answering


def _event(kind: str, **content: Any) -> bytes:
    return json.dumps({**fixture("event"), "event_type": kind, "content": content}).encode()


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_webhooks_check_basic_auth_before_reading_the_event() -> None:
    hooks, good = ChargebeeWebhooks("chargebee", "s3cret:pass"), _basic("chargebee", "s3cret:pass")
    sub, invoice = make_subscription("sub_1"), {**fixture("invoice"), "subscription_id": "sub_9"}
    event = hooks.parse(_event("subscription_cancelled", subscription=sub), good)
    assert (event.id, event.type, event.subscription_id, event.created) == (
        "ev_16BPgETyVrQbiGhA",
        "subscription_cancelled",
        "sub_1",
        START,
    )
    paid = hooks.parse(_event("payment_succeeded", invoice={**invoice, "amount_paid": 4900, "paid_at": NOW}), good)
    assert (paid.subscription_id, paid.paid_at) == ("sub_9", START)  # verified saves need a paid invoice
    assert hooks.parse(_event("payment_succeeded", invoice=invoice), good).paid_at is None  # $0: no payment
    for header in (_basic("chargebee", "wrong"), _basic("someone", "s3cret:pass"), "", "Bearer x", "Basic %%%"):
        with pytest.raises(WebhookRejected) as refused:
            hooks.parse(_event("subscription_cancelled", subscription=sub), header)
        assert not isinstance(refused.value, WebhookMalformed)
    wrong = [{**fixture("event"), "api_version": "v1"}, {**fixture("event"), "id": ""}, {"object": "customer"}]
    for body in (b"not json", b"[]", *(json.dumps(w).encode() for w in wrong)):
        with pytest.raises(WebhookMalformed):
            hooks.parse(body, good)
    with pytest.raises(ValueError, match="password"):
        ChargebeeWebhooks("chargebee", "")


def _sub(**changes: Any) -> dict[str, Any]:
    return {**make_subscription("sub_1"), **changes}


@pytest.mark.parametrize(("sub", "expected"), [
    (_sub(status="non_renewing", cancelled_at=NOW + 12 * DAY), {"status": "active", "cancel_at_period_end": True}),
    (_sub(status="paused", resume_date=NOW + 9 * DAY), {"paused_until": START + timedelta(days=9)}),
    (_sub(status="paused"), {"status": "active", "paused_until": FOREVER}),
    (_sub(pause_date=NOW + 12 * DAY, resume_date=NOW + 40 * DAY), {"paused_until": START + timedelta(days=40)}),
    (_sub(status="non_renewing", cancelled_at=NOW + 12 * DAY, pause_date=NOW + 5 * DAY), {"paused_until": FOREVER}),
    (make_subscription("t", status="in_trial"), {"status": "trialing", "trial_end": START + timedelta(days=3)}),
    (_sub(status="cancelled", cancelled_at=NOW), {"status": "canceled", "canceled_at": START}),
    (make_subscription("y", price="price_pro_yearly"), {"interval": "year", "amount_cents": 49000}),
    (_sub(status="future"), {"status": "incomplete"}),
    (_sub(due_invoices_count=1), {"status": "past_due"}),
    (_sub(currency_code="EUR", billing_period=3), {"currency": "eur", "interval_count": 3}),
], ids=["non-renewing", "paused", "paused-indefinitely", "set-to-pause", "set-to-pause-indefinitely", "trial",
        "cancelled", "yearly", "future", "dues", "eur-qtr"])  # fmt: skip
def test_snapshot_mapping(sub: dict[str, Any], expected: dict[str, Any]) -> None:
    snap = snapshot_from_chargebee(sub)
    assert {k: getattr(snap, k) for k in expected} == expected
