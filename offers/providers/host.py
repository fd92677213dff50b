"""HostBillingProvider: billing executed by the host app's own backend, over signed HTTPS (BILLING_PROVIDER=host).

Rules: may import httpx, standardwebhooks, offers.ports and offers.host_contract only. The wire format is in
offers.host_contract and docs/host-billing.openapi.json. The host keeps Stripe's idempotency rules for the key
it receives (the reference host, service/http/reference_host.py, shows how in a few dozen lines): it replays
a key's answer, answers 409 while the key's first request runs, and 422 `idempotency_conflict` for the same
key with other parameters. A `pending` answer means "ask again with the same key": the ledger's sweep does.

Reads and writes are signed per Standard Webhooks with the shared secret, so the host knows a request is
ours: a write's `webhook-id` is its idempotency key and its signed content the JSON body; a read's signed
content is its path (it has no body), so a captured read signature cannot be replayed on another path.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
from standardwebhooks import Webhook

from offers.host_contract import (
    Action,
    Refusal,
    Result,
    action_body,
    capabilities_of,
    snapshot_from_json,
)
from offers.ports import (
    BillingError,
    Capability,
    Catalogue,
    IdempotencyConflict,
    OfferNotApplicable,
    ProviderAuthFailed,
    ProviderFailed,
    ProviderRejected,
    ProviderUnavailable,
    SubscriptionNotFound,
    SubscriptionSnapshot,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping

REQUEST_TIMEOUT_SECONDS = 15.0  # the whole port call; the sweep's minimum age must be longer


def _translate(response: httpx.Response) -> BillingError:
    """A non-200 answer → the port's hierarchy (the caller decides retry vs. new key from the type)."""
    status = response.status_code
    message = f"host billing answered {status}: {response.text[:200]}"
    if status in (401, 403):
        return ProviderAuthFailed(message)
    if status in (408, 409, 425, 429):  # 409: the key's first request still runs; retry later, same key
        return ProviderUnavailable(message)
    if status == 404:
        return SubscriptionNotFound(message)
    if status == 422 and _json(response).get("code") == "idempotency_conflict":
        return IdempotencyConflict(message)
    if status >= 500:
        return ProviderFailed(message)  # the host stores the answer for the key, as Stripe does: re-read first
    return ProviderRejected(message)


def _json(response: httpx.Response) -> dict[str, Any]:
    with contextlib.suppress(ValueError):
        data = response.json()
        if isinstance(data, dict):
            return data
    return {}


class HostBillingProvider:
    """The host's billing endpoint; `actions` are the ones the host implements (the rest are hidden offers)."""

    def __init__(
        self,
        base_url: str,
        secret: str,
        *,
        actions: frozenset[Action] = frozenset(Action),
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = REQUEST_TIMEOUT_SECONDS,
        clock: Any = None,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._signer = Webhook(secret)
        self._client = httpx.AsyncClient(transport=transport, timeout=timeout, follow_redirects=False)
        self._clock = clock or (lambda: datetime.now(UTC))
        self.timeout = timeout
        self.actions = actions
        self.capabilities: frozenset[Capability] = capabilities_of(actions)

    async def aclose(self) -> None:
        await self._client.aclose()

    @contextlib.asynccontextmanager
    async def _deadline(self) -> AsyncIterator[None]:
        try:
            async with asyncio.timeout(self.timeout):
                yield
        except TimeoutError as exc:
            raise ProviderUnavailable(f"no answer from host billing within {self.timeout} s") from exc

    def _headers(self, msg_id: str, signed: str) -> dict[str, str]:
        now = self._clock()
        return {
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": self._signer.sign(msg_id, now, signed),
            "content-type": "application/json",
        }

    async def _send(self, request: httpx.Request) -> httpx.Response:
        try:
            return await self._client.send(request)
        except httpx.TransportError as exc:  # connect errors, timeouts, a connection dropped mid-answer
            raise ProviderUnavailable(f"host billing unreachable: {type(exc).__name__}: {exc}") from exc

    async def _read(self, path: str) -> dict[str, Any]:
        headers = self._headers(f"read_{uuid.uuid4().hex}", path)
        async with self._deadline():
            response = await self._send(self._client.build_request("GET", self._base + path, headers=headers))
        if response.status_code != 200:
            raise _translate(response)
        return _json(response)

    async def get_subscription(self, subscription_id: str) -> SubscriptionSnapshot:
        return _snapshot(await self._read(f"/subscriptions/{quote(subscription_id, safe='')}"))

    async def catalogue(self) -> Catalogue:
        """The host's price and coupon ids (`GET /catalogue`, optional: a 404 means it does not list them)."""
        data = await self._read("/catalogue")
        try:
            return Catalogue(frozenset(map(str, data["price_ids"])), frozenset(map(str, data["coupon_ids"])))
        except (KeyError, TypeError) as exc:
            raise ProviderFailed(f"host billing sent an unreadable catalogue: {exc}") from exc

    async def _act(
        self, action: Action, subscription_id: str | None, key: str, params: Mapping[str, Any]
    ) -> SubscriptionSnapshot:
        if action not in self.actions:
            raise OfferNotApplicable(f"the host does not implement {action.value!r}")
        body = json.dumps(action_body(action, subscription_id, key, params), separators=(",", ":"), sort_keys=True)
        request = self._client.build_request(
            "POST", f"{self._base}/actions", content=body.encode(), headers=self._headers(key, body)
        )
        async with self._deadline():
            response = await self._send(request)
        if response.status_code != 200:
            raise _translate(response)
        answer = _json(response)
        result = answer.get("result")
        if result == Result.APPLIED:
            return _snapshot(answer.get("subscription") or {})
        if result == Result.PENDING:
            raise ProviderUnavailable(f"host billing is still applying {action.value} ({key})")
        if result == Result.REFUSED:
            raise _refusal(answer)
        raise ProviderFailed(f"host billing answered an unknown result: {str(answer)[:200]}")

    async def pause(
        self,
        subscription_id: str,
        *,
        resumes_at: datetime,
        behavior: str,
        idempotency_key: str,
        at_period_end: bool = False,
    ) -> SubscriptionSnapshot:
        params = {"resumes_at": resumes_at.isoformat(), "behavior": behavior, "at_period_end": at_period_end}
        return await self._act(Action.PAUSE, subscription_id, idempotency_key, params)

    async def resume(self, subscription_id: str, *, idempotency_key: str) -> SubscriptionSnapshot:
        return await self._act(Action.RESUME, subscription_id, idempotency_key, {})

    async def change_price(
        self,
        subscription_id: str,
        *,
        price_id: str,
        at_period_end: bool,
        snapshot: SubscriptionSnapshot,
        idempotency_key: str,
    ) -> SubscriptionSnapshot:
        # The period end comes from the frozen snapshot, so a retry sends the same body.
        params = {
            "price_id": price_id,
            "at_period_end": at_period_end,
            "from_price_id": snapshot.price_id,
            "period_end": snapshot.current_period_end.isoformat(),
        }
        return await self._act(Action.CHANGE_PLAN, subscription_id, idempotency_key, params)

    async def extend_trial(
        self, subscription_id: str, *, trial_end: datetime, idempotency_key: str
    ) -> SubscriptionSnapshot:
        return await self._act(
            Action.EXTEND_TRIAL, subscription_id, idempotency_key, {"trial_end": trial_end.isoformat()}
        )

    async def apply_discount(
        self, subscription_id: str, *, coupon_id: str, snapshot: SubscriptionSnapshot, idempotency_key: str
    ) -> SubscriptionSnapshot:
        params = {"coupon_id": coupon_id, "keep_coupon_ids": list(snapshot.discount_coupon_ids)}
        return await self._act(Action.APPLY_DISCOUNT, subscription_id, idempotency_key, params)

    async def cancel(
        self,
        subscription_id: str,
        *,
        at_period_end: bool,
        reason: str | None,
        comment: str | None,
        idempotency_key: str,
    ) -> SubscriptionSnapshot:
        params = {"at_period_end": at_period_end, "reason": reason, "comment": (comment or "")[:500] or None}
        return await self._act(Action.CANCEL, subscription_id, idempotency_key, params)

    async def reactivate(self, subscription_id: str, *, idempotency_key: str) -> SubscriptionSnapshot:
        return await self._act(Action.UNDO_CANCEL, subscription_id, idempotency_key, {})

    async def cancel_scheduled_change(self, subscription_id: str, *, idempotency_key: str) -> SubscriptionSnapshot:
        return await self._act(Action.UNDO_PLAN_CHANGE, subscription_id, idempotency_key, {})

    async def resubscribe(
        self, customer_id: str, *, price_id: str, coupon_id: str, trial_days: int, idempotency_key: str
    ) -> SubscriptionSnapshot:
        params = {"customer_id": customer_id, "price_id": price_id, "coupon_id": coupon_id, "trial_days": trial_days}
        return await self._act(Action.REACTIVATE, None, idempotency_key, params)


def _snapshot(data: Mapping[str, Any]) -> SubscriptionSnapshot:
    try:
        return snapshot_from_json(data)
    except (ValueError, KeyError, TypeError) as exc:
        # The host answered, but not in the contract's shape: the outcome is unknown, so re-read first.
        raise ProviderFailed(f"host billing sent an unreadable subscription: {type(exc).__name__}: {exc}") from exc


def _refusal(answer: Mapping[str, Any]) -> BillingError:
    code, message = answer.get("code"), str(answer.get("message") or "refused by the host")
    if code == Refusal.PAYMENT_FAILED:
        return ProviderRejected(message)
    if code == Refusal.NOT_FOUND:
        return SubscriptionNotFound(message)
    return OfferNotApplicable(message)
