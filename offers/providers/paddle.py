"""PaddleBillingProvider and PaddleWebhooks: the billing port over Paddle Billing (the one `paddle_billing` user).

Rules: may import paddle_billing, requests and offers.ports/paddle_shapes only. It owns every Paddle fact the
rest of the service must not know (paddle_shapes maps the JSON and the error codes):
- Paddle's API takes no idempotency key (https://developer.paddle.com/api-reference/about/ documents none;
  its SDKs send none), so each write is exactly-once by its effect: read first; a change that shows already
  (a retry after a lost answer) is answered unwritten; a refusal that raced the same change (a concurrent
  retry) re-reads and counts as done. Keys' other rules (conflict, in flight, stored 5xx, expiry) it cannot.
- pause is `POST /pause` with `resume_at`, `effective_from=immediately` or (from the period end)
  `next_billing_period`, a scheduled `pause`; a paused subscription (or one scheduled to pause) gets a new date
  through `POST /resume` with that date, and `resume` drops a pause only scheduled; `behavior` has no meaning.
- Paddle schedules cancel, pause and resume only: no price change at the period end (nor its undoing); nor
  can the API start a subscription (checkout or an invoice does). Those capabilities are missing.
- a trial is extended by moving `next_billed_at` with `proration_billing_mode=do_not_bill`, only while trialing.
- a subscription holds one discount: adding one where another is refused rather than replacing it; a cancel
  takes no reason (ours stay with us) and first drops any other scheduled change (Paddle refuses it beside one).

The SDK is synchronous (requests): each request runs in a worker thread, the whole port call inside a
deadline; past it the call raises ProviderUnavailable while the thread may still finish the request, as
Paddle itself would. The SDK client keeps per-request state on itself, so each thread gets its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import requests
from paddle_billing import Client, Environment, Options  # type: ignore[import-untyped]  # the SDK ships no types
from paddle_billing.Entities.DateTime import DateTime  # type: ignore[import-untyped]
from paddle_billing.Entities.Subscriptions import (  # type: ignore[import-untyped]
    SubscriptionEffectiveFrom,
    SubscriptionProrationBillingMode,
    SubscriptionResumeEffectiveFrom,
)
from paddle_billing.Notifications.PaddleSignature import PaddleSignature  # type: ignore[import-untyped]
from paddle_billing.Notifications.Secret import Secret  # type: ignore[import-untyped]
from paddle_billing.Resources.Subscriptions.Operations import (  # type: ignore[import-untyped]
    CancelSubscription,
    PauseSubscription,
    ResumeSubscription,
    SubscriptionDiscount,
    UpdateSubscription,
)
from paddle_billing.Resources.Subscriptions.Operations.Update import (  # type: ignore[import-untyped]
    SubscriptionUpdateItem,
)
from requests.adapters import BaseAdapter, HTTPAdapter

from offers.ports import (
    BillingError,
    BillingEvent,
    Capability,
    Catalogue,
    OfferNotApplicable,
    ProviderFailed,
    ProviderUnavailable,
    SubscriptionNotFound,
    SubscriptionSnapshot,
    WebhookMalformed,
    WebhookRejected,
)
from offers.providers.paddle_shapes import (
    PAUSE_BEHAVIORS,
    event_paid_at,
    event_problem,
    event_subscription,
    main_item,
    parse_time,
    scheduled,
    snapshot_from_paddle,
    translate,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

# Upper bound on one port call, all its requests included (and the HTTP client's own timeout).
REQUEST_TIMEOUT_SECONDS = 15.0
WEBHOOK_TOLERANCE = 5  # seconds; Paddle's SDKs' default: https://developer.paddle.com/webhooks/signature-verification
Step = tuple[str, str, Any]  # method, path, an SDK operation (the request body)
Current = dict[str, Any]  # the subscription entity as Paddle last answered it
Proration = SubscriptionProrationBillingMode
NOW, NEXT_PERIOD = SubscriptionEffectiveFrom.Immediately, SubscriptionEffectiveFrom.NextBillingPeriod
# The SDK logs response bodies (customer data) at DEBUG, each refusal at ERROR; our errors say enough: off.
_SDK_LOG = logging.getLogger(f"{__name__}.sdk")
_SDK_LOG.addHandler(logging.NullHandler())
_SDK_LOG.propagate = False


def _when(moment: datetime) -> Any:
    return DateTime.from_datetime(moment.astimezone(UTC))  # the SDK writes any datetime with a `Z`: UTC first


def _path(subscription_id: str, action: str = "") -> str:
    return f"/subscriptions/{quote(subscription_id, safe='')}" + (f"/{action}" if action else "")  # an id is no path


def _patch(subscription_id: str, **fields: Any) -> Step:
    return ("PATCH", _path(subscription_id), UpdateSubscription(**fields))


class PaddleBillingProvider:
    """Paddle Billing through `paddle_billing.Client` (API version 1), each write exactly-once by its effect."""

    capabilities = frozenset(Capability) - {
        Capability.CHANGE_PRICE_AT_PERIOD_END,  # Paddle schedules cancel, pause and resume, never a price
        Capability.CANCEL_SCHEDULED_CHANGE,  # so no price change of ours is ever scheduled to be dropped
        Capability.RESUBSCRIBE,  # Paddle starts subscriptions at checkout or from an invoice, not from the API
    }

    def __init__(
        self,
        api_key: str,
        *,
        sandbox: bool = False,
        api_base: str | None = None,
        timeout: float = REQUEST_TIMEOUT_SECONDS,
        transport: BaseAdapter | None = None,
    ) -> None:
        self.timeout = timeout
        self._api_key = api_key
        # The SDK reads only `base_url` from its environment: a namespace carries another base (a local stub).
        other = SimpleNamespace(base_url=api_base) if api_base else None
        environment = other or (Environment.SANDBOX if sandbox else Environment.PRODUCTION)
        self._options = Options(environment)
        # Our own adapter replaces the SDK's, which retries 429/5xx three times with backoff: a retry is the
        # caller's decision (and a blind one would overrun the deadline). Tests pass a requests-mock adapter.
        self._transport = transport or HTTPAdapter(max_retries=0)
        self._local = threading.local()

    def _client(self) -> Any:
        """This thread's SDK client: it stores each request's payload on itself, so threads cannot share one."""
        client = getattr(self._local, "client", None)
        if client is None:
            client = Client(self._api_key, options=self._options, retry_count=0, timeout=self.timeout, logger=_SDK_LOG)
            for scheme in ("https://", "http://"):
                client.client.mount(scheme, self._transport)
            self._local.client = client
        return client

    def _send(self, method: str, path: str, operation: Any) -> dict[str, Any]:
        send = getattr(self._client(), f"{method.lower()}_raw")  # get_raw, patch_raw, post_raw: the raw Response
        body: dict[str, Any] = (send(path) if method == "GET" else send(path, operation)).json()
        return body

    async def _call(
        self, method: str, path: str, operation: Any = None, *, missing: type[BillingError], page: bool = False
    ) -> Current:
        """The entity Paddle answers (`page`: the whole answer, `meta` and all); failures become ours."""
        try:
            body = await asyncio.to_thread(self._send, method, path, operation)
            data: Current = body if page else body["data"]
            return data
        except (requests.RequestException, ValueError, KeyError, TypeError) as exc:  # ApiError is an HTTPError
            raise translate(exc, missing) from exc

    async def _read(self, subscription_id: str) -> Current:
        return await self._call("GET", _path(subscription_id), missing=SubscriptionNotFound)

    @contextlib.asynccontextmanager
    async def _deadline(self) -> AsyncIterator[None]:
        try:
            async with asyncio.timeout(self.timeout):
                yield
        except TimeoutError as exc:
            raise ProviderUnavailable(f"no answer from Paddle within {self.timeout} s") from exc

    async def _effect(
        self, subscription_id: str, done: Callable[[Current], bool], steps: Callable[[Current], list[Step]]
    ) -> SubscriptionSnapshot:
        """Read; answer the change if it shows already; else send `steps(current)` and answer the last reply.

        A refusal is re-checked against a fresh read: a concurrent retry of this very change makes Paddle
        refuse ours (it is paused already, say), and the change being there is this call's success.
        """
        async with self._deadline():
            current = await self._read(subscription_id)
            if done(current):
                return snapshot_from_paddle(current)
            todo = steps(current)  # may refuse (OfferNotApplicable) before anything is sent
            try:
                for method, path, operation in todo:
                    current = await self._call(method, path, operation, missing=OfferNotApplicable)
            except OfferNotApplicable:
                again = await self._read(subscription_id)
                if done(again):
                    return snapshot_from_paddle(again)
                raise
            return snapshot_from_paddle(current)

    async def get_subscription(self, subscription_id: str) -> SubscriptionSnapshot:
        async with self._deadline():
            return snapshot_from_paddle(await self._read(subscription_id))

    async def pause(
        self,
        subscription_id: str,
        *,
        resumes_at: datetime,
        behavior: str,
        idempotency_key: str,
        at_period_end: bool = False,
    ) -> SubscriptionSnapshot:
        """Paused until `resumes_at`, now or (`at_period_end`) from the next billing period, which Paddle keeps as
        a scheduled `pause` (https://developer.paddle.com/build/subscriptions/pause-subscriptions): nothing is
        billed meanwhile, and on resume Paddle starts (and bills) a new period. One paused or scheduled to pause
        gets its resume date moved instead (`POST /resume` with it): a pause extended."""
        if behavior not in PAUSE_BEHAVIORS:
            raise OfferNotApplicable(f"unknown pause behavior {behavior!r}")

        def steps(current: Current) -> list[Step]:
            if current.get("status") == "paused" or scheduled(current)[0] == "pause":
                return [
                    ("POST", _path(subscription_id, "resume"), ResumeSubscription(effective_from=_when(resumes_at)))
                ]
            when = NEXT_PERIOD if at_period_end else NOW
            return [("POST", _path(subscription_id, "pause"), PauseSubscription(when, resume_at=_when(resumes_at)))]

        return await self._effect(subscription_id, lambda c: snapshot_from_paddle(c).paused_until == resumes_at, steps)

    async def resume(self, subscription_id: str, *, idempotency_key: str) -> SubscriptionSnapshot:
        """A paused subscription resumes now; a pause only scheduled is dropped; anything else is left as it is."""

        def steps(current: Current) -> list[Step]:
            if current.get("status") == "paused":
                now = SubscriptionResumeEffectiveFrom.Immediately
                return [("POST", _path(subscription_id, "resume"), ResumeSubscription(effective_from=now))]
            return [_patch(subscription_id, scheduled_change=None)]

        return await self._effect(subscription_id, lambda c: snapshot_from_paddle(c).paused_until is None, steps)

    async def change_price(
        self,
        subscription_id: str,
        *,
        price_id: str,
        at_period_end: bool,
        snapshot: SubscriptionSnapshot,
        idempotency_key: str,
    ) -> SubscriptionSnapshot:
        """The snapshot's price swapped for `price_id` now, prorated now; `items` replaces the list, so other
        items are re-sent as they are (https://developer.paddle.com/api-reference/subscriptions/update-subscription)."""
        if at_period_end:
            raise OfferNotApplicable("Paddle cannot schedule a price change for the period end")

        def steps(current: Current) -> list[Step]:
            items = [i for i in current.get("items") or [] if i.get("status", "active") != "inactive"]
            if not any(i["price"]["id"] == snapshot.price_id for i in items):
                raise OfferNotApplicable(f"{subscription_id} no longer bills {snapshot.price_id}")
            swap = {snapshot.price_id: price_id}
            kept = [SubscriptionUpdateItem(swap.get(i["price"]["id"], i["price"]["id"]), i["quantity"]) for i in items]
            trial = current.get("status") == "trialing"  # nothing is billed in a trial: Paddle requires do_not_bill
            mode = Proration.DoNotBill if trial else Proration.ProratedImmediately
            return [_patch(subscription_id, items=kept, proration_billing_mode=mode)]

        return await self._effect(subscription_id, lambda c: main_item(c)["price"]["id"] == price_id, steps)

    async def extend_trial(
        self, subscription_id: str, *, trial_end: datetime, idempotency_key: str
    ) -> SubscriptionSnapshot:
        """`next_billed_at` moved, unbilled (https://developer.paddle.com/build/trials/extend-activate-change-date-trials);
        only while trialing: for an active subscription the same request moves its billing date."""

        def steps(current: Current) -> list[Step]:
            if current.get("status") != "trialing":
                raise OfferNotApplicable(f"{subscription_id} is {current.get('status')}: only a trial can be extended")
            new_end = _when(trial_end)
            return [_patch(subscription_id, next_billed_at=new_end, proration_billing_mode=Proration.DoNotBill)]

        return await self._effect(subscription_id, lambda c: snapshot_from_paddle(c).trial_end == trial_end, steps)

    async def apply_discount(
        self, subscription_id: str, *, coupon_id: str, snapshot: SubscriptionSnapshot, idempotency_key: str
    ) -> SubscriptionSnapshot:
        """The discount `coupon_id` (a `dsc_…` id) from the next billing period (a trial takes nothing else; "now"
        would re-bill the paid period). Replacing another discount would end it: not applicable instead."""

        def steps(current: Current) -> list[Step]:
            held = (current.get("discount") or {}).get("id")
            if held:
                raise OfferNotApplicable(f"{subscription_id} has the discount {held}: Paddle holds one at a time")
            return [_patch(subscription_id, discount=SubscriptionDiscount(coupon_id, NEXT_PERIOD))]

        return await self._effect(subscription_id, lambda c: (c.get("discount") or {}).get("id") == coupon_id, steps)

    async def cancel(
        self,
        subscription_id: str,
        *,
        at_period_end: bool,
        reason: str | None,
        comment: str | None,
        idempotency_key: str,
    ) -> SubscriptionSnapshot:
        """`POST /cancel`, no reason (https://developer.paddle.com/api-reference/subscriptions/cancel-subscription
        takes none): at the next billing period or now; a paused one now (no period runs, Paddle's default)."""

        def done(current: Current) -> bool:
            if current.get("status") == "canceled":
                return True
            return at_period_end and current.get("status") != "paused" and scheduled(current)[0] == "cancel"

        def steps(current: Current) -> list[Step]:
            when = NEXT_PERIOD if at_period_end and current.get("status") != "paused" else NOW
            release = [_patch(subscription_id, scheduled_change=None)]
            cancel: Step = ("POST", _path(subscription_id, "cancel"), CancelSubscription(effective_from=when))
            return [*release, cancel] if current.get("scheduled_change") else [cancel]

        return await self._effect(subscription_id, done, steps)

    async def reactivate(self, subscription_id: str, *, idempotency_key: str) -> SubscriptionSnapshot:
        """A scheduled cancellation is removed (`scheduled_change: null`); an ended subscription cannot return."""

        def done(current: Current) -> bool:
            return current.get("status") != "canceled" and scheduled(current)[0] != "cancel"

        def steps(current: Current) -> list[Step]:
            if current.get("status") == "canceled":
                raise OfferNotApplicable(f"{subscription_id} has ended: only a scheduled cancellation can be undone")
            return [_patch(subscription_id, scheduled_change=None)]

        return await self._effect(subscription_id, done, steps)

    async def catalogue(self) -> Catalogue:
        """Active price and discount ids, every page: the flow editor checks a flow's offers against them."""
        async with self._deadline():
            return Catalogue(frozenset(await self._ids("/prices")), frozenset(await self._ids("/discounts")))

    async def _ids(self, path: str) -> list[str]:
        """Every active entity's id, following `meta.pagination.next` (https://developer.paddle.com/api-reference/about/pagination)."""
        ids: list[str] = []
        url: str | None = f"{path}?status=active&per_page=200"
        while url:
            page = await self._call("GET", url, missing=ProviderFailed, page=True)
            ids += [str(entity["id"]) for entity in page["data"]]
            pagination = (page.get("meta") or {}).get("pagination") or {}
            url = pagination.get("next") if pagination.get("has_more") else None
        return ids

    async def cancel_scheduled_change(self, subscription_id: str, *, idempotency_key: str) -> SubscriptionSnapshot:
        raise OfferNotApplicable("Paddle schedules no price change, so there is none of ours to drop")

    async def resubscribe(
        self, customer_id: str, *, price_id: str, coupon_id: str, trial_days: int, idempotency_key: str
    ) -> SubscriptionSnapshot:
        # https://developer.paddle.com/build/lifecycle/subscription-creation: Paddle creates a subscription
        # only when a checkout is paid or an invoice is issued; the API cannot charge a customer for one.
        raise OfferNotApplicable("Paddle creates subscriptions only through checkout or an invoice")


class PaddleWebhooks:
    """Verifies `Paddle-Signature` (`ts=…;h1=…`, HMAC-SHA256 of `ts:raw body`, 5 s tolerance) and reads the event.

    The SDK's `PaddleSignature` parses and compares (constant-time; several `h1` for a rotated secret); the time
    is checked here: the SDK's `Verifier` skips it when a `TEST_MODE` variable is set, and its clock is fixed.
    """

    def __init__(
        self, secret_key: str, *, tolerance: int = WEBHOOK_TOLERANCE, clock: Callable[[], float] = time.time
    ) -> None:
        self._secret = secret_key
        self._tolerance = tolerance
        self._clock = clock

    def parse(self, payload: bytes, signature_header: str) -> BillingEvent:
        try:
            stamp, _ = PaddleSignature.parse(signature_header)
            signed = PaddleSignature().verify(signature_header, payload.decode("utf-8"), Secret(self._secret))
        except Exception as exc:  # any failure while checking means "not signed" (a bad header raises ValueError)
            raise WebhookRejected(f"{type(exc).__name__}: {exc}") from exc
        if signed is not True:
            raise WebhookRejected("Paddle-Signature does not match this body and secret")
        if abs(self._clock() - stamp) > self._tolerance:
            raise WebhookRejected(f"Paddle-Signature timestamp {stamp} is outside {self._tolerance} s")
        try:
            data = json.loads(payload)
        except ValueError as exc:
            raise WebhookMalformed("the body is not JSON") from exc
        if problem := event_problem(data):
            raise WebhookMalformed(problem)
        try:
            kind, entity = str(data["event_type"]), data["data"]
            occurred = parse_time(data["occurred_at"]) or datetime.now(UTC)
            subscription_id, paid_at = event_subscription(kind, entity), event_paid_at(kind, entity, occurred)
            return BillingEvent(str(data["event_id"]), kind, subscription_id, occurred, paid_at=paid_at)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            raise WebhookMalformed(f"the event cannot be read ({type(exc).__name__}: {exc})") from exc
