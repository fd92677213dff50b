"""The billing port over Chargebee's API v2 and its webhooks (the only module importing `chargebee`).

Rules: may import chargebee, offers.ports and offers.providers.chargebee_shapes only. Written for Product Catalog 2.0
sites (item prices, `update_for_items`); it owns every Chargebee fact the rest of the service must not know
(https://apidocs.chargebee.com/docs/api/subscriptions):
- a pause is `pause` with a `resume_date`, now or at the term end (`end_of_term`: the subscription stays active
  with `pause_date` set until then). Chargebee pauses only `active`/`non_renewing` subscriptions, so a paused one
  gets its new date through `resume` (`specific_date`), a scheduled one is removed (`key:unschedule`) and set
  again; `resume` removes a pause only scheduled (`remove_scheduled_pause`);
- any `update_for_items` deletes the subscription's existing scheduled change, so a discount or price change on a
  subscription with someone else's scheduled change is refused (OfferNotApplicable) before anything is sent;
- a downgrade at the term end is an end-of-term `update_for_items` marked in meta_data as ours; a read learns the
  scheduled price from `retrieve_with_scheduled_changes` and reports it only when our mark names it;
- a cancel removes any scheduled change first (`key:release`), and at the term end a scheduled pause too
  (`key:unpause`), so click-to-cancel always works; the customer's
  comment goes onto the subscription as a Chargebee comment (`key:comment`) since cancelling takes none; the reason
  id is sent as `cancel_reason_code`, which the site must list (Settings > Reason Codes), and if it does not the
  cancel is sent again without it (`key:uncoded`) rather than fail.

Idempotency (https://apidocs.chargebee.com/docs/api/idempotency): every POST carries our key in
`chargebee-idempotency-key`. Chargebee replays a key's answer for 30 minutes only (not Stripe's 24 hours), so
every write reads first and returns at once when the change is already there: a retry after the key is
forgotten finds the work done instead of doing it twice. A read only decides whether to write; every parameter
comes from the arguments or the caller's snapshot, except what a retry cannot change (quantity, meta_data).
The SDK's own retries are off: the caller retries, with the same key. Errors map to the port in
chargebee_shapes.translate.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import chargebee  # type: ignore[import-untyped]  # the SDK ships no type information: Any at this boundary
from chargebee.retry_config import RetryConfig  # type: ignore[import-untyped]

from offers.ports import (
    ALL_CAPABILITIES,
    BillingEvent,
    Catalogue,
    OfferNotApplicable,
    ProviderUnavailable,
    SubscriptionNotFound,
    SubscriptionSnapshot,
    WebhookMalformed,
    WebhookRejected,
)
from offers.providers.chargebee_shapes import (
    COMMENT_LIMIT,
    ENDED,
    PAUSE_BEHAVIORS,
    cancel_scheduled,
    dt,
    event_from,
    marked_meta,
    pause_state,
    pause_steps,
    plan_item,
    scheduled_price,
    snapshot_from_chargebee,
    subscription_id_for,
    translate,
    transport_failure,
    ts,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

# Upper bound on one port call, all its HTTP requests included (and the HTTP client's connect and read timeouts).
# Past it the call raises ProviderUnavailable; Chargebee may still finish the request, and a retry under its key
# replays it (within 30 minutes) or, later, finds the change through the read every write starts with.
REQUEST_TIMEOUT_SECONDS = 15.0
IDEMPOTENCY_HEADER = "chargebee-idempotency-key"
LIST_LIMIT = 100  # rows per page of a list request: the most Chargebee returns (`limit`, max=100)


class ChargebeeBillingProvider:
    """Chargebee through the SDK's async client (one client per instance: sites never mix), one key per write."""

    capabilities = ALL_CAPABILITIES  # every offer maps onto Chargebee's API

    def __init__(self, api_key: str, site: str, *, timeout: float = REQUEST_TIMEOUT_SECONDS) -> None:
        self.timeout = timeout
        client = chargebee.Chargebee(api_key=api_key, site=site, use_async_client=True)
        client.update_retry_config(RetryConfig(enabled=False))  # we retry, with our key; never the SDK with its own
        client.update_connect_timeout_secs(timeout)
        client.update_read_timeout_secs(timeout)
        self._cb: Any = client

    @contextlib.asynccontextmanager
    async def _deadline(self) -> AsyncIterator[None]:
        """The whole port call (every request it makes) within `timeout`; past it, unavailable."""
        try:
            async with asyncio.timeout(self.timeout):
                yield
        except TimeoutError as exc:
            raise ProviderUnavailable(f"no answer from Chargebee within {self.timeout} s") from exc

    async def _send(self, operation: Callable[..., Any], *args: Any) -> Any:
        try:
            return await operation(*args)
        except chargebee.APIError as exc:
            raise translate(exc) from exc
        except Exception as exc:
            if transport_failure(exc):
                raise ProviderUnavailable(f"{type(exc).__name__}: {exc}") from exc
            raise

    async def _write(self, operation: Callable[..., Any], sub_id: str, params: dict[str, Any] | None, key: str) -> Any:
        """A POST on a subscription under `key` (a fresh headers dict: the SDK adds its own headers to it)."""
        headers = {IDEMPOTENCY_HEADER: key}
        args = (sub_id, params, headers) if params is not None else (sub_id, headers)
        return (await self._send(operation, *args)).subscription.raw_data

    async def _read(self, subscription_id: str) -> dict[str, Any]:
        data: dict[str, Any] = (await self._send(self._cb.Subscription.retrieve, subscription_id)).subscription.raw_data
        return data

    async def _scheduled(self, sub: dict[str, Any]) -> dict[str, Any] | None:
        """The subscription as its scheduled changes will leave it (None: it has none)."""
        if not sub.get("has_scheduled_changes"):
            return None
        found = await self._send(self._cb.Subscription.retrieve_with_scheduled_changes, sub["id"])
        data: dict[str, Any] = found.subscription.raw_data
        return data

    async def _snapshot(self, sub: dict[str, Any]) -> SubscriptionSnapshot:
        return snapshot_from_chargebee(sub, scheduled=await self._scheduled(sub), last_paid_at=await self._paid(sub))

    async def _paid(self, sub: dict[str, Any]) -> datetime | None:
        """When the newest paid invoice with money in it was paid (a trial's $0 invoice is no payment)."""
        query = {
            "subscription_id": {"is": sub["id"]},
            "status": {"is": "paid"},
            "amount_paid": {"gt": 0},
            "sort_by": {"desc": "date"},
            "limit": 1,
        }
        found = await self._send(self._cb.Invoice.list, query)
        return dt(found.list[0].invoice.raw_data.get("paid_at")) if found.list else None

    async def _unless_foreign_schedule(self, sub: dict[str, Any]) -> dict[str, Any] | None:
        """Our scheduled change, or None; someone else's raises OfferNotApplicable (any update would delete it)."""
        scheduled = await self._scheduled(sub)
        if scheduled is not None and scheduled_price(scheduled) is None:
            raise OfferNotApplicable(f"{sub['id']} has a scheduled change we did not make")
        return scheduled

    async def get_subscription(self, subscription_id: str) -> SubscriptionSnapshot:
        async with self._deadline():
            return await self._snapshot(await self._read(subscription_id))

    async def catalogue(self) -> Catalogue:
        """Active plan item prices and active coupons, every page: the flow editor checks offers against them."""
        active = {"status": {"is": "active"}}  # not archived or deleted (nor expired or future, for a coupon)
        async with self._deadline():
            prices = await self._ids(self._cb.ItemPrice.list, "item_price", {"item_type": {"is": "plan"}, **active})
            coupons = await self._ids(self._cb.Coupon.list, "coupon", active)
        return Catalogue(frozenset(prices), frozenset(coupons))

    async def _ids(self, operation: Callable[..., Any], kind: str, query: dict[str, Any]) -> list[str]:
        """The ids on every page of a list: each page's `next_offset` is the next one's `offset`; the last has none."""
        ids: list[str] = []
        offset: str | None = None
        while True:
            page = await self._send(operation, {**query, "limit": LIST_LIMIT, **({"offset": offset} if offset else {})})
            ids += [str(getattr(row, kind).id) for row in page.list]
            if not (offset := page.next_offset):
                return ids

    async def pause(
        self,
        subscription_id: str,
        *,
        resumes_at: datetime,
        behavior: str,
        idempotency_key: str,
        at_period_end: bool = False,
    ) -> SubscriptionSnapshot:
        """Paused until `resumes_at`, now or (`at_period_end`) once the term runs out; the requests are
        `pause_steps`'. Paused or set to pause already, the resume date moves instead: a pause extended."""
        if behavior not in PAUSE_BEHAVIORS:
            raise OfferNotApplicable(f"unknown pause behavior {behavior!r}")
        async with self._deadline():
            sub = await self._read(subscription_id)
            if pause_state(sub) and sub.get("resume_date") == ts(resumes_at):
                return await self._snapshot(sub)  # already so (a retry, or a replay Chargebee has forgotten)
            for operation, params, suffix in pause_steps(sub, ts(resumes_at), at_period_end=at_period_end):
                operate = getattr(self._cb.Subscription, operation)
                sub = await self._write(operate, subscription_id, params, idempotency_key + suffix)
            return await self._snapshot(sub)

    async def resume(self, subscription_id: str, *, idempotency_key: str) -> SubscriptionSnapshot:
        """A paused subscription resumes now; one only set to pause has the pause removed; else nothing."""
        subs = self._cb.Subscription
        async with self._deadline():
            sub = await self._read(subscription_id)
            if (state := pause_state(sub)) is None:
                return await self._snapshot(sub)  # nothing paused: nothing to resume
            if state == "scheduled":
                sub = await self._write(subs.remove_scheduled_pause, subscription_id, None, idempotency_key)
            else:
                params = {"resume_option": "immediately"}
                sub = await self._write(subs.resume, subscription_id, params, idempotency_key)
            return await self._snapshot(sub)

    async def change_price(
        self,
        subscription_id: str,
        *,
        price_id: str,
        at_period_end: bool,
        snapshot: SubscriptionSnapshot,
        idempotency_key: str,
    ) -> SubscriptionSnapshot:
        async with self._deadline():
            sub = await self._read(subscription_id)
            ours = await self._unless_foreign_schedule(sub)
            item = {"item_price_id": price_id, "quantity": int(plan_item(sub).get("quantity") or 1)}
            params: dict[str, Any] = {"subscription_items": [item]}  # a plan item replaces the plan; coupons stay
            if not at_period_end:
                if plan_item(sub).get("item_price_id") == price_id:
                    return await self._snapshot(sub)  # already on it
                params.update(change_option="immediately", prorate=True)
            else:
                if scheduled_price(ours) == price_id:
                    return await self._snapshot(sub)  # already scheduled, by us
                params.update(change_option="end_of_term", meta_data=marked_meta(sub, price_id))
            sub = await self._write(self._cb.Subscription.update_for_items, subscription_id, params, idempotency_key)
            return await self._snapshot(sub)

    async def extend_trial(
        self, subscription_id: str, *, trial_end: datetime, idempotency_key: str
    ) -> SubscriptionSnapshot:
        """`change_term_end` moves `trial_end` while `in_trial` (on an active subscription it would move the
        renewal instead: https://apidocs.chargebee.com/docs/api/subscriptions/change-term-end), so trials only."""
        async with self._deadline():
            sub = await self._read(subscription_id)
            if sub.get("status") != "in_trial":
                raise OfferNotApplicable(f"{subscription_id} is {sub.get('status')}: only a trial can be extended")
            if sub.get("trial_end") == ts(trial_end):
                return await self._snapshot(sub)
            params = {"term_ends_at": ts(trial_end), "prorate": False}
            sub = await self._write(self._cb.Subscription.change_term_end, subscription_id, params, idempotency_key)
            return await self._snapshot(sub)

    async def apply_discount(
        self, subscription_id: str, *, coupon_id: str, snapshot: SubscriptionSnapshot, idempotency_key: str
    ) -> SubscriptionSnapshot:
        """`coupon_ids` without `replace_coupon_list` adds the coupon next to the subscription's own."""
        async with self._deadline():
            sub = await self._read(subscription_id)
            if coupon_id in [c.get("coupon_id") for c in sub.get("coupons") or []]:
                return await self._snapshot(sub)
            if sub.get("has_scheduled_changes"):  # the update would delete it, ours included: the downgrade stands
                raise OfferNotApplicable(f"{subscription_id} has a scheduled change a discount would delete")
            params = {"coupon_ids": [coupon_id]}
            sub = await self._write(self._cb.Subscription.update_for_items, subscription_id, params, idempotency_key)
            return await self._snapshot(sub)

    async def cancel(
        self,
        subscription_id: str,
        *,
        at_period_end: bool,
        reason: str | None,
        comment: str | None,
        idempotency_key: str,
    ) -> SubscriptionSnapshot:
        subs = self._cb.Subscription
        async with self._deadline():
            sub = await self._read(subscription_id)
            if sub.get("status") in ENDED:
                return await self._snapshot(sub)  # nothing left to do (a retry after a lost answer)
            if sub.get("has_scheduled_changes"):
                release = f"{idempotency_key}:release"
                sub = await self._write(subs.remove_scheduled_changes, subscription_id, None, release)
            if at_period_end and pause_state(sub) == "scheduled":  # it would pause when the cancel should end it
                unpause = f"{idempotency_key}:unpause"
                sub = await self._write(subs.remove_scheduled_pause, subscription_id, None, unpause)
            if at_period_end and cancel_scheduled(sub):
                return await self._snapshot(sub)
            if comment:
                await self._comment(subscription_id, reason, comment, f"{idempotency_key}:comment")
            params: dict[str, Any] = {"cancel_option": "end_of_term" if at_period_end else "immediately"}
            if reason:
                params["cancel_reason_code"] = reason
            try:
                sub = await self._write(subs.cancel_for_items, subscription_id, params, idempotency_key)
            except OfferNotApplicable as exc:
                if not reason or getattr(exc.__cause__, "param", None) != "cancel_reason_code":
                    raise
                del params["cancel_reason_code"]  # the site does not list our reason: cancel all the same
                sub = await self._write(subs.cancel_for_items, subscription_id, params, f"{idempotency_key}:uncoded")
            return await self._snapshot(sub)

    async def _comment(self, subscription_id: str, reason: str | None, comment: str, key: str) -> None:
        notes = f"Cancellation feedback ({reason or 'no reason'}): {comment}"[:COMMENT_LIMIT]
        params = {"entity_type": "subscription", "entity_id": subscription_id, "notes": notes}
        await self._send(self._cb.Comment.create, params, {IDEMPOTENCY_HEADER: key})

    async def reactivate(self, subscription_id: str, *, idempotency_key: str) -> SubscriptionSnapshot:
        async with self._deadline():
            sub = await self._read(subscription_id)
            if sub.get("status") in ENDED:
                raise OfferNotApplicable(f"{subscription_id} has ended: only a scheduled cancellation can be undone")
            if not cancel_scheduled(sub):
                return await self._snapshot(sub)
            operation = self._cb.Subscription.remove_scheduled_cancellation
            return await self._snapshot(await self._write(operation, subscription_id, {}, idempotency_key))

    async def cancel_scheduled_change(self, subscription_id: str, *, idempotency_key: str) -> SubscriptionSnapshot:
        async with self._deadline():
            sub = await self._read(subscription_id)
            if await self._unless_foreign_schedule(sub) is None:
                return await self._snapshot(sub)
            operation = self._cb.Subscription.remove_scheduled_changes
            return await self._snapshot(await self._write(operation, subscription_id, None, idempotency_key))

    async def resubscribe(
        self, customer_id: str, *, price_id: str, coupon_id: str, trial_days: int, idempotency_key: str
    ) -> SubscriptionSnapshot:
        """A subscription for the customer with an id derived from the key, read first: a retry after Chargebee
        forgot the key finds it. Chargebee invoices and charges at creation, and a declined card fails the
        request (ProviderRejected). `trial_end=0` overrides a trial the item price may define."""
        new_id = subscription_id_for(idempotency_key)
        params: dict[str, Any] = {
            "id": new_id,
            "subscription_items": [{"item_price_id": price_id, "quantity": 1}],
            # now + days: a retry within Chargebee's 30 minutes may send another date; the read above catches it.
            "trial_end": ts(datetime.now(UTC) + timedelta(days=trial_days)) if trial_days else 0,
        }
        if coupon_id:
            params["coupon_ids"] = [coupon_id]
        async with self._deadline():
            with contextlib.suppress(SubscriptionNotFound):
                return await self._snapshot(await self._read(new_id))
            try:
                created = await self._send(
                    self._cb.Subscription.create_with_items, customer_id, params, {IDEMPOTENCY_HEADER: idempotency_key}
                )
            except SubscriptionNotFound as exc:
                raise OfferNotApplicable(f"no customer {customer_id!r}: {exc}") from exc
            return await self._snapshot(created.subscription.raw_data)


class ChargebeeWebhooks:
    """Chargebee signs nothing: it protects a webhook URL with HTTP basic authentication (and publishes the IPs
    it sends from; the HTTP layer may restrict to those): https://www.chargebee.com/docs/2.0/webhook_settings.html."""

    def __init__(self, username: str, password: str) -> None:
        if not username or not password or ":" in username:
            raise ValueError("Chargebee webhooks need a basic-auth username (without ':') and a password")
        self._credentials = f"{username}:{password}".encode()

    def parse(self, payload: bytes, signature_header: str) -> BillingEvent:
        """`signature_header` is the request's Authorization header. Credentials first, compared in constant time;
        only what fails after them is a malformed event."""
        if not self._authorized(signature_header):
            raise WebhookRejected("webhook basic authentication failed")
        try:
            return event_from(json.loads(payload))
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            raise WebhookMalformed(f"{type(exc).__name__}: {exc}") from exc

    def _authorized(self, header: str) -> bool:
        scheme, _, token = (header or "").strip().partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            given = base64.b64decode(token.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        return hmac.compare_digest(given, self._credentials)
