"""The exact requests the Paddle adapter sends per offer, how Paddle's errors and webhooks read, and its shapes."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import json
from datetime import timedelta
from typing import Any

import pytest

from offers import (
    BillingError,
    BillingProvider,
    BillingWebhooks,
    Capability,
    OfferNotApplicable,
    ProviderAuthFailed,
    ProviderFailed,
    ProviderRejected,
    ProviderUnavailable,
    SubscriptionNotFound,
    SubscriptionStatus,
    WebhookMalformed,
    WebhookRejected,
)
from offers.providers.paddle import REQUEST_TIMEOUT_SECONDS, PaddleBillingProvider, PaddleWebhooks
from offers.providers.paddle_shapes import UNTIL_FURTHER_NOTICE, rfc3339, snapshot_from_paddle
from tests.contract.harness import START
from tests.support.paddle_http import PRICES, Failure, FakePaddle, fixture, make_discount, make_price, make_subscription

STARTER = "price_starter_monthly"
RESUMES = START + timedelta(days=61)
KEY = "pdl_sdbx_apikey_fake"


def adapter(timeout: float = REQUEST_TIMEOUT_SECONDS) -> tuple[PaddleBillingProvider, FakePaddle]:
    """`sub_1` (Pro, loyal10), `sub_trial` (a trial ending in 3 days) and `sub_plain` (Pro, no discount)."""
    fake = FakePaddle(now=START)
    fake.add("sub_1", discount="loyal10")
    fake.add("sub_trial", status="trialing")
    fake.add("sub_plain")
    return PaddleBillingProvider(KEY, sandbox=True, transport=fake.adapter, timeout=timeout), fake


def sent(fake: FakePaddle) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [(w.method, w.path, w.body) for w in fake.writes()]


async def test_a_read_is_one_get_with_the_api_key_and_version_and_no_idempotency_key() -> None:
    provider, fake = adapter()
    await provider.get_subscription("sub_1")
    headers = {"Authorization": f"Bearer {KEY}", "Paddle-Version": "1", "Content-Type": "application/json"}
    [read] = fake.requests
    assert (read.method, read.path, read.body, read.headers) == ("GET", "/subscriptions/sub_1", None, headers)
    assert fake.adapter.request_history[0].url == "https://sandbox-api.paddle.com/subscriptions/sub_1"


@pytest.mark.parametrize(("at_period_end", "effective_from", "resume"), [
    (False, "immediately", ("POST", "/subscriptions/sub_1/resume", {"effective_from": "immediately"})),
    (True, "next_billing_period", ("PATCH", "/subscriptions/sub_1", {"scheduled_change": None})),
], ids=["now", "from-the-period-end"])  # fmt: skip
async def test_pause_until_its_date_an_extension_moves_the_resume_date_and_resume_ends_it(
    at_period_end: bool, effective_from: str, resume: tuple[Any, ...]
) -> None:
    """From the period end (day 12) it is Paddle's scheduled `pause`, active until then: paused until its date. A
    paused one resumes into a new period, billed now (day 30); a scheduled pause is dropped (the period stays)."""
    provider, fake = adapter()
    pause, sub = functools.partial(provider.pause, "sub_1", at_period_end=at_period_end), fake.subscriptions["sub_1"]
    status, action, starts, ends = ("active", "pause", 12, 12) if at_period_end else ("paused", "resume", None, 30)
    snap = await pause(resumes_at=RESUMES, behavior="void", idempotency_key="k1")
    body = {"effective_from": effective_from, "resume_at": rfc3339(RESUMES)}
    assert sent(fake) == [("POST", "/subscriptions/sub_1/pause", body)]
    assert (snap.status, snap.paused_until) == (SubscriptionStatus.ACTIVE, RESUMES)  # paused, or set to pause
    assert (sub["status"], sub["scheduled_change"]) == (status, change(action, starts or 61, 61))
    again = await pause(resumes_at=RESUMES, behavior="keep_as_draft", idempotency_key="k2")
    assert again == snap and len(fake.writes()) == 1  # already so: answered from the read
    later = RESUMES + timedelta(days=30)
    extended = await pause(resumes_at=later, behavior="void", idempotency_key="k3")
    assert sent(fake)[-1] == ("POST", "/subscriptions/sub_1/resume", {"effective_from": rfc3339(later)})
    assert (extended.paused_until, sub["scheduled_change"]) == (later, change(action, starts or 91, 91))
    resumed = await provider.resume("sub_1", idempotency_key="k4")
    assert (sent(fake)[-1], resumed.paused_until, resumed.status, sub["status"]) == (resume, None, "active", "active")
    assert (sub["scheduled_change"], resumed.current_period_end) == (None, START + timedelta(days=ends))
    assert await provider.resume("sub_1", idempotency_key="k5") == resumed and len(fake.writes()) == 3  # nothing left


async def test_downgrade_now_swaps_the_main_item_keeps_the_others_and_prorates_now() -> None:
    provider, fake = adapter()
    addon = {**fake.subscriptions["sub_1"]["items"][0], "price": make_price("price_addon_monthly"), "quantity": 2}
    fake.subscriptions["sub_1"]["items"].append(addon)
    before = await provider.get_subscription("sub_1")
    snap = await provider.change_price(
        "sub_1", price_id=STARTER, at_period_end=False, snapshot=before, idempotency_key="k"
    )
    items = [{"price_id": STARTER, "quantity": 1}, {"price_id": "price_addon_monthly", "quantity": 2}]
    body = {"items": items, "proration_billing_mode": "prorated_immediately"}
    assert sent(fake) == [("PATCH", "/subscriptions/sub_1", body)]
    assert (snap.price_id, snap.amount_cents, snap.discount_coupon_ids) == (STARTER, 1900, ("loyal10",))
    trial = await provider.get_subscription("sub_trial")
    with pytest.raises(OfferNotApplicable):  # a trial bills nothing, so do_not_bill; Paddle adds no item in a trial
        await provider.change_price(
            "sub_trial", price_id=STARTER, at_period_end=False, snapshot=trial, idempotency_key="t"
        )
    assert sent(fake)[-1][2] == {
        "items": [{"price_id": STARTER, "quantity": 1}],
        "proration_billing_mode": "do_not_bill",
    }


async def test_changes_paddle_cannot_make_send_nothing() -> None:
    provider, fake = adapter()
    assert isinstance(provider, BillingProvider) and isinstance(HOOKS, BillingWebhooks)
    missing = {Capability.CHANGE_PRICE_AT_PERIOD_END, Capability.CANCEL_SCHEDULED_CHANGE, Capability.RESUBSCRIBE}
    assert provider.capabilities == frozenset(Capability) - missing
    before = await provider.get_subscription("sub_1")
    fake.requests.clear()
    with pytest.raises(OfferNotApplicable):
        await provider.change_price("sub_1", price_id=STARTER, at_period_end=True, snapshot=before, idempotency_key="k")
    with pytest.raises(OfferNotApplicable):
        await provider.cancel_scheduled_change("sub_1", idempotency_key="k")
    with pytest.raises(OfferNotApplicable):
        await provider.resubscribe("cus_1", price_id=STARTER, coupon_id="", trial_days=0, idempotency_key="k")
    with pytest.raises(OfferNotApplicable):  # Stripe's pause behaviours mean nothing at Paddle, but others are bugs
        await provider.pause("sub_1", resumes_at=RESUMES, behavior="skip", idempotency_key="k")
    assert fake.requests == []


async def test_the_catalogue_lists_every_page_of_active_prices_and_discounts() -> None:
    """The flow editor checks a flow's price and discount ids against these before it goes live."""
    provider, fake = adapter()
    fake.catalogue["/prices"] += [{**make_price(STARTER), "id": f"pri_{i:03}"} for i in range(250)]  # two pages
    fake.catalogue["/discounts"].append({**make_discount("loyal10"), "id": "dsc_old", "status": "archived"})
    listed = await provider.catalogue()
    assert listed.price_ids == {*PRICES, *(f"pri_{i:03}" for i in range(250))}
    assert listed.coupon_ids == {"loyal10", "save30_3m"}
    assert [r.path for r in fake.requests] == ["/prices", "/prices", "/discounts"]
    assert fake.adapter.request_history[0].url.endswith("/prices?status=active&per_page=200")


async def test_a_trial_is_extended_by_moving_next_billed_at_unbilled_and_only_while_trialing() -> None:
    provider, fake = adapter()
    end = START + timedelta(days=17)
    snap = await provider.extend_trial("sub_trial", trial_end=end, idempotency_key="k")
    body = {"next_billed_at": rfc3339(end), "proration_billing_mode": "do_not_bill"}
    assert sent(fake) == [("PATCH", "/subscriptions/sub_trial", body)]
    assert (snap.status, snap.trial_end, snap.current_period_end) == (SubscriptionStatus.TRIALING, end, end)
    with pytest.raises(OfferNotApplicable):
        await provider.extend_trial("sub_1", trial_end=end, idempotency_key="k2")
    assert len(fake.writes()) == 1


async def test_a_discount_applies_from_the_next_period_and_never_replaces_another() -> None:
    provider, fake = adapter()
    plain, trial, sub_1 = [await provider.get_subscription(s) for s in ("sub_plain", "sub_trial", "sub_1")]
    snap = await provider.apply_discount("sub_plain", coupon_id="save30_3m", snapshot=plain, idempotency_key="k1")
    await provider.apply_discount("sub_trial", coupon_id="save30_3m", snapshot=trial, idempotency_key="k2")
    discount = {"discount": {"id": "save30_3m", "effective_from": "next_billing_period"}}
    assert sent(fake) == [("PATCH", f"/subscriptions/{s}", discount) for s in ("sub_plain", "sub_trial")]
    assert snap.discount_coupon_ids == ("save30_3m",)
    with pytest.raises(OfferNotApplicable):
        await provider.apply_discount("sub_1", coupon_id="save30_3m", snapshot=sub_1, idempotency_key="k3")
    assert len(fake.writes()) == 2 and fake.subscriptions["sub_1"]["discount"]["id"] == "loyal10"


async def test_cancel_sends_no_reason_and_drops_another_scheduled_change_first() -> None:
    provider, fake = adapter()
    fake.schedule_pause("sub_plain")
    later = await provider.cancel("sub_1", at_period_end=True, reason="competitor", comment="X", idempotency_key="k1")
    await provider.cancel("sub_plain", at_period_end=True, reason=None, comment=None, idempotency_key="k2")
    now = await provider.cancel("sub_trial", at_period_end=False, reason="other", comment=None, idempotency_key="k3")
    assert sent(fake) == [
        ("POST", "/subscriptions/sub_1/cancel", {"effective_from": "next_billing_period"}),
        ("PATCH", "/subscriptions/sub_plain", {"scheduled_change": None}),
        ("POST", "/subscriptions/sub_plain/cancel", {"effective_from": "next_billing_period"}),
        ("POST", "/subscriptions/sub_trial/cancel", {"effective_from": "immediately"}),
    ]
    assert later.cancel_at_period_end and now.status is SubscriptionStatus.CANCELED and now.canceled_at == START
    await provider.cancel("sub_1", at_period_end=True, reason=None, comment=None, idempotency_key="k1")
    assert len(fake.writes()) == 4  # scheduled already: a repeat writes nothing


async def test_a_paused_subscription_is_cancelled_now_and_a_reactivation_removes_the_scheduled_cancel() -> None:
    provider, fake = adapter()
    await provider.pause("sub_1", resumes_at=RESUMES, behavior="void", idempotency_key="k1")
    await provider.cancel("sub_plain", at_period_end=True, reason=None, comment=None, idempotency_key="k2")
    fake.requests.clear()
    ended = await provider.cancel("sub_1", at_period_end=True, reason=None, comment=None, idempotency_key="k3")
    kept = await provider.reactivate("sub_plain", idempotency_key="k4")
    assert sent(fake) == [
        ("PATCH", "/subscriptions/sub_1", {"scheduled_change": None}),  # its scheduled resume
        ("POST", "/subscriptions/sub_1/cancel", {"effective_from": "immediately"}),
        ("PATCH", "/subscriptions/sub_plain", {"scheduled_change": None}),
    ]
    assert ended.status is SubscriptionStatus.CANCELED and not kept.cancel_at_period_end
    with pytest.raises(OfferNotApplicable):
        await provider.reactivate("sub_1", idempotency_key="k5")


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (Failure(0), ProviderUnavailable),
        (Failure(429, "too_many_requests"), ProviderUnavailable),
        (Failure(409, "conflict"), ProviderUnavailable),
        (Failure(400, "subscription_locked_renewal"), ProviderUnavailable),
        (Failure(500, "internal_error"), ProviderFailed),
        (Failure(503, "service_unavailable"), ProviderFailed),
        (Failure(502, html=True), ProviderFailed),
        (Failure(401, "authentication_malformed"), ProviderAuthFailed),
        (Failure(403, "invalid_token"), ProviderAuthFailed),
        (Failure(404, "not_found", reads=True), SubscriptionNotFound),
        (Failure(404, "not_found"), OfferNotApplicable),  # the write's price or discount, not the subscription
        (Failure(400, "subscription_locked_pending_changes"), OfferNotApplicable),
        (Failure(400, "subscription_update_when_canceled"), OfferNotApplicable),
        (Failure(400, "invalid_field"), OfferNotApplicable),
        (Failure(400, "subscription_payment_declined"), ProviderRejected),
        (Failure(400, "subscription_missing_payment_method_cannot_update"), ProviderRejected),
    ],
    ids=lambda v: (
        f"{v.status}-{v.code or ('html' if v.html else 'connection')}{'-read' if v.reads else ''}"
        if isinstance(v, Failure)
        else v.__name__
    ),
)
async def test_paddle_errors_become_billing_errors(failure: Failure, expected: type[BillingError]) -> None:
    provider, fake = adapter()
    fake.failures.append(failure)
    with pytest.raises(expected):
        await provider.pause("sub_1", resumes_at=RESUMES, behavior="void", idempotency_key="k")
    assert len(fake.writes()) <= 1  # the SDK's own retries are off: a retry is the caller's decision


async def test_an_unknown_price_is_not_applicable_and_an_unknown_subscription_not_found() -> None:
    provider, fake = adapter()
    before = await provider.get_subscription("sub_1")
    with pytest.raises(OfferNotApplicable):
        await provider.change_price(
            "sub_1", price_id="pri_x", at_period_end=False, snapshot=before, idempotency_key="k"
        )
    with pytest.raises(SubscriptionNotFound):
        await provider.get_subscription("sub_1/cancel")
    assert fake.requests[-1].path == "/subscriptions/sub_1%2Fcancel"  # an id never becomes a path


async def test_a_retry_after_a_lost_answer_finds_the_change_and_writes_nothing() -> None:
    provider, fake = adapter()
    fake.failures.append(Failure(0, applied=True))
    with pytest.raises(ProviderUnavailable):
        await provider.cancel("sub_1", at_period_end=False, reason=None, comment=None, idempotency_key="k")
    snap = await provider.cancel("sub_1", at_period_end=False, reason=None, comment=None, idempotency_key="k")
    assert snap.status is SubscriptionStatus.CANCELED and fake.executed == 1 and len(fake.writes()) == 1


async def test_a_call_past_its_deadline_is_unavailable_and_paddle_still_finishes_it() -> None:
    provider, fake = adapter(timeout=0.3)
    fake.delay_next(0.5)
    with pytest.raises(ProviderUnavailable):
        await provider.pause("sub_1", resumes_at=RESUMES, behavior="void", idempotency_key="k")
    for _ in range(200):  # the worker thread carries the request on, as Paddle does one we stopped waiting for
        if fake.executed:
            break
        await asyncio.sleep(0.01)
    snap = await provider.pause("sub_1", resumes_at=RESUMES, behavior="void", idempotency_key="k")
    assert snap.paused_until == RESUMES and fake.executed == 1 and len(fake.writes()) == 1


async def test_a_concurrent_retry_refused_by_paddle_counts_as_done_when_the_change_is_there() -> None:
    provider, fake = adapter()
    fake.delay_next(0.2)
    first = asyncio.create_task(provider.pause("sub_1", resumes_at=RESUMES, behavior="void", idempotency_key="k"))
    await asyncio.sleep(0.05)
    second = await provider.pause("sub_1", resumes_at=RESUMES, behavior="void", idempotency_key="k")
    assert (await first).paused_until == second.paused_until == RESUMES
    assert fake.executed == 1 and len(fake.writes()) == 2  # the slower pause was refused: already paused


def test_the_environment_the_deadline_and_no_sdk_retries() -> None:
    live = PaddleBillingProvider(KEY)._client()
    assert live.options.environment.base_url == "https://api.paddle.com"
    local = PaddleBillingProvider(KEY, api_base="http://localhost:8090", timeout=3.0)._client()
    assert (local.options.environment.base_url, local.timeout, local.retry_count) == ("http://localhost:8090", 3.0, 0)
    assert live.client.get_adapter("https://api.paddle.com").max_retries.total == 0


# ------------------------------------------------------------------ webhooks
SECRET = "pdl_ntfset_01fake_secret"
AT = 1_795_420_800


def signature(body: bytes, *, secret: str = SECRET, ts: int = AT) -> str:
    h1 = hmac.new(secret.encode(), f"{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return f"ts={ts};h1={h1}"


def event(event_type: str, data: dict[str, Any]) -> bytes:
    envelope = {"event_id": "evt_01fake", "event_type": event_type, "occurred_at": rfc3339(START)}
    return json.dumps({**envelope, "notification_id": "ntf_01fake", "data": data}).encode()


HOOKS = PaddleWebhooks(SECRET, clock=lambda: AT + 2)


def test_subscription_and_transaction_events_name_their_subscription_and_a_real_payment() -> None:
    body = event("subscription.updated", make_subscription("sub_1", now=START))
    updated = HOOKS.parse(body, signature(body))
    expected = ("evt_01fake", "subscription.updated", "sub_1", START)
    assert (updated.id, updated.type, updated.subscription_id, updated.created) == expected
    txn = fixture("transaction_completed")
    body = event("transaction.completed", txn)
    paid = HOOKS.parse(body, signature(body))
    assert paid.subscription_id == txn["subscription_id"] and paid.paid_at is not None
    assert rfc3339(paid.paid_at) == "2024-04-12T10:18:47.635628Z"  # its captured payment
    txn["details"]["totals"].update(grand_total="0", total="0")  # a trial's $0 transaction
    body = event("transaction.completed", txn)
    assert HOOKS.parse(body, signature(body)).paid_at is None


@pytest.mark.parametrize(
    ("header", "body"),
    [
        (signature(b"{}", secret="pdl_ntfset_other"), b"{}"),
        (signature(b"{}", ts=AT - 6), b"{}"),  # older than Paddle's 5 s
        (signature(b"{}", ts=AT + 8), b"{}"),  # from the future
        ("", b"{}"),
        ("nonsense", b"{}"),
        (f"ts={AT};h2=abc", b"{}"),
        (signature(b"\xff\xfe"), b"\xff\xfe"),  # not UTF-8: Paddle signs JSON text
    ],
    ids=["wrong-secret", "stale", "future", "missing", "garbage", "unknown-scheme", "not-utf8"],
)
def test_an_unsigned_webhook_is_rejected(header: str, body: bytes) -> None:
    with pytest.raises(WebhookRejected) as caught:
        HOOKS.parse(body, header)
    assert not isinstance(caught.value, WebhookMalformed)


@pytest.mark.parametrize("body", [b"not json", b"[1]", b'{"event_type": "subscription.updated"}'])
def test_a_signed_body_that_is_no_event_is_malformed(body: bytes) -> None:
    with pytest.raises(WebhookMalformed):
        HOOKS.parse(body, signature(body))


def test_a_rotated_secret_passes_with_either_signature() -> None:
    body = event("subscription.canceled", make_subscription("sub_1", now=START))
    old = signature(body, secret="pdl_ntfset_old").split(";")[1]
    assert HOOKS.parse(body, f"{signature(body)};{old}").subscription_id == "sub_1"


# ------------------------------------------------------------------ shapes
def shaped(**changes: Any) -> dict[str, Any]:
    sub = make_subscription("sub_1", now=START)
    sub.update(changes)
    return sub


def change(action: str, at: int | None, resume: int | None) -> dict[str, Any]:
    days = {None: None} | {d: rfc3339(START + timedelta(days=d)) for d in (at, resume) if d is not None}
    return {"action": action, "effective_at": days[at], "resume_at": days[resume]}


@pytest.mark.parametrize(
    ("sub", "expected"),
    [
        (shaped(scheduled_change=change("cancel", 12, None)), {"cancel_at_period_end": True, "paused_until": None}),
        (shaped(scheduled_change=change("pause", 12, 40)), {"status": "active", "paused_until": 40}),
        (shaped(scheduled_change=change("pause", 12, None)), {"paused_until": UNTIL_FURTHER_NOTICE}),
        (shaped(status="paused", scheduled_change=change("resume", 30, 30)), {"status": "active", "paused_until": 30}),
        (shaped(status="paused", scheduled_change=None), {"paused_until": UNTIL_FURTHER_NOTICE}),
        (make_subscription("t", now=START, status="trialing"), {"status": "trialing", "trial_end": 3}),
        (shaped(status="canceled", canceled_at=rfc3339(START), current_billing_period=None, next_billed_at=None),
         {"status": "canceled", "canceled_at": 0, "current_period_end": 0}),
        (make_subscription("y", now=START, price="price_pro_yearly"), {"interval": "year", "amount_cents": 49000}),
        (shaped(billing_cycle={"interval": "month", "frequency": 3}), {"interval": "month", "interval_count": 3}),
        (shaped(status="past_due"), {"status": "past_due", "trial_end": None}),
        (fixture("subscription"), {"amount_cents": 30000, "currency": "usd", "interval": "month"}),  # 10 seats
    ],
    ids=["cancel", "pause-dated", "pause-open", "paused-dated", "paused-open", "trial", "canceled", "yearly",
         "quarterly", "past-due", "sdk-fixture"],
)  # fmt: skip
def test_paddle_subscriptions_map_onto_snapshots(sub: dict[str, Any], expected: dict[str, Any]) -> None:
    snap = snapshot_from_paddle(sub)
    for name, value in expected.items():
        if isinstance(value, int) and name in ("paused_until", "trial_end", "canceled_at", "current_period_end"):
            value = START + timedelta(days=value)  # days from START
        assert getattr(snap, name) == value, name


def test_an_amount_is_read_in_the_subscription_currency() -> None:
    sub = shaped(currency_code="EUR")
    sub["items"][0]["price"]["unit_price_overrides"] = [{"country_codes": ["DE"], "unit_price": {"amount": "4500"}}]
    sub["items"][0]["price"]["unit_price_overrides"][0]["unit_price"]["currency_code"] = "EUR"
    assert (snapshot_from_paddle(sub).amount_cents, snapshot_from_paddle(sub).currency) == (4500, "eur")
