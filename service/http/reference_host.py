"""The reference host for BILLING_PROVIDER=host: what a host app's backend implements, small enough to copy.

Rules: mounted only with the demo (`/demo/billing`), in front of the demo's own billing. A host app copies
`ReferenceHost.act` and `ReferenceHost.read`, replacing the `BillingProvider` calls in `_apply` by writes to
its own billing. The contract is offers.host_contract and docs/host-billing.openapi.json. What it must keep:

1. verify the Standard Webhooks signature before anything else (401 otherwise);
2. store each key's answer and replay it (24 hours), answer 409 while the key's first request still runs,
   and 422 `idempotency_conflict` for the key with another action or parameters;
3. answer `applied` with the subscription as it is now, or `refused` with a code and a message.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from standardwebhooks import Webhook, WebhookVerificationError

from offers import (
    BillingCatalogue,
    BillingError,
    BillingProvider,
    OfferNotApplicable,
    ProviderRejected,
    SubscriptionNotFound,
    SubscriptionSnapshot,
)
from offers.host_contract import Refusal, Result, snapshot_to_json

KEY_LIFETIME = timedelta(hours=24)


@dataclass
class _Answer:
    fingerprint: str
    at: datetime
    status: int = 0  # 0: the key's first request is still running
    body: dict[str, Any] = field(default_factory=dict)


@dataclass
class ReferenceHost:
    secret: str
    billing: BillingProvider  # the host's own billing; here, the demo's
    clock: Callable[[], datetime]
    answers: dict[str, _Answer] = field(default_factory=dict)

    def _verified(self, signed: str, headers: dict[str, str]) -> bool:
        try:
            Webhook(self.secret).verify(signed, headers, json_parse=False)
        except WebhookVerificationError:
            return False
        return True

    async def read(self, subscription_id: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if not self._verified(f"/subscriptions/{quote(subscription_id, safe='')}", headers):  # a read signs its path
            return 401, {"code": "bad_signature"}
        try:
            return 200, snapshot_to_json(await self.billing.get_subscription(subscription_id))
        except SubscriptionNotFound:
            return 404, {"code": "not_found"}

    async def catalogue(self, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if not self._verified("/catalogue", headers):
            return 401, {"code": "bad_signature"}
        if not isinstance(self.billing, BillingCatalogue):
            return 404, {"code": "not_listed"}  # optional: the service then skips the check
        listed = await self.billing.catalogue()
        return 200, {"price_ids": sorted(listed.price_ids), "coupon_ids": sorted(listed.coupon_ids)}

    async def act(self, raw: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if not self._verified(raw.decode(errors="replace"), headers):
            return 401, {"code": "bad_signature"}
        try:
            request = json.loads(raw)
            key = str(request["idempotency_key"])
            known = request["action"] in _ACTIONS
        except (ValueError, KeyError, TypeError):
            return 400, {"code": "bad_request"}
        if key != headers.get("webhook-id") or not known:
            return 400, {"code": "bad_request"}
        fingerprint = hashlib.sha256(raw).hexdigest()  # the body holds the action, subscription and parameters
        now = self.clock()
        for old in [k for k, a in self.answers.items() if now - a.at >= KEY_LIFETIME]:
            del self.answers[old]
        stored = self.answers.get(key)
        if stored is not None:
            if stored.fingerprint != fingerprint:
                return 422, {"code": "idempotency_conflict"}
            return (409, {"code": "in_flight"}) if not stored.status else (stored.status, stored.body)
        answer = self.answers[key] = _Answer(fingerprint, now)
        try:
            answer.status, answer.body = await self._apply(request)
        except BaseException:
            del self.answers[key]  # nothing to replay: the next try runs it again
            raise
        return answer.status, answer.body

    async def _apply(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        try:
            snapshot = await _ACTIONS[request["action"]](self.billing, request)
        except OfferNotApplicable as exc:
            return 200, {"result": Result.REFUSED, "code": Refusal.NOT_APPLICABLE, "message": str(exc)}
        except ProviderRejected as exc:
            return 200, {"result": Result.REFUSED, "code": Refusal.PAYMENT_FAILED, "message": str(exc)}
        except SubscriptionNotFound as exc:
            return 200, {"result": Result.REFUSED, "code": Refusal.NOT_FOUND, "message": str(exc)}
        except BillingError as exc:
            return 500, {"code": "billing_failed", "message": type(exc).__name__}
        return 200, {"result": Result.APPLIED, "subscription": snapshot_to_json(snapshot)}


async def _pause(billing: BillingProvider, r: dict[str, Any]) -> SubscriptionSnapshot:
    p = r["params"]
    resumes_at = datetime.fromisoformat(p["resumes_at"])
    return await billing.pause(
        r["subscription_id"],
        resumes_at=resumes_at,
        behavior=p["behavior"],
        idempotency_key=r["idempotency_key"],
        at_period_end=p["at_period_end"],
    )


async def _change_plan(billing: BillingProvider, r: dict[str, Any]) -> SubscriptionSnapshot:
    now = await billing.get_subscription(r["subscription_id"])
    p = r["params"]
    return await billing.change_price(
        now.id,
        price_id=p["price_id"],
        at_period_end=p["at_period_end"],
        snapshot=now,
        idempotency_key=r["idempotency_key"],
    )


async def _discount(billing: BillingProvider, r: dict[str, Any]) -> SubscriptionSnapshot:
    now = await billing.get_subscription(r["subscription_id"])
    key = r["idempotency_key"]
    return await billing.apply_discount(now.id, coupon_id=r["params"]["coupon_id"], snapshot=now, idempotency_key=key)


async def _cancel(billing: BillingProvider, r: dict[str, Any]) -> SubscriptionSnapshot:
    p = r["params"]
    return await billing.cancel(
        r["subscription_id"],
        at_period_end=p["at_period_end"],
        reason=p["reason"],
        comment=p["comment"],
        idempotency_key=r["idempotency_key"],
    )


async def _extend_trial(billing: BillingProvider, r: dict[str, Any]) -> SubscriptionSnapshot:
    trial_end = datetime.fromisoformat(r["params"]["trial_end"])
    return await billing.extend_trial(r["subscription_id"], trial_end=trial_end, idempotency_key=r["idempotency_key"])


async def _reactivate(billing: BillingProvider, r: dict[str, Any]) -> SubscriptionSnapshot:
    p = r["params"]
    return await billing.resubscribe(
        p["customer_id"],
        price_id=p["price_id"],
        coupon_id=p["coupon_id"],
        trial_days=p["trial_days"],
        idempotency_key=r["idempotency_key"],
    )


async def _resume(billing: BillingProvider, r: dict[str, Any]) -> SubscriptionSnapshot:
    return await billing.resume(r["subscription_id"], idempotency_key=r["idempotency_key"])


async def _undo_cancel(billing: BillingProvider, r: dict[str, Any]) -> SubscriptionSnapshot:
    return await billing.reactivate(r["subscription_id"], idempotency_key=r["idempotency_key"])


async def _undo_plan_change(billing: BillingProvider, r: dict[str, Any]) -> SubscriptionSnapshot:
    return await billing.cancel_scheduled_change(r["subscription_id"], idempotency_key=r["idempotency_key"])


_ACTIONS = {
    "pause": _pause,
    "resume": _resume,
    "change_plan": _change_plan,
    "extend_trial": _extend_trial,
    "apply_discount": _discount,
    "cancel": _cancel,
    "undo_cancel": _undo_cancel,
    "undo_plan_change": _undo_plan_change,
    "reactivate": _reactivate,
}


@post("/demo/billing/actions", status_code=200, include_in_schema=False)
async def host_billing_action(
    request: Request[Any, Any, Any], reference_host: NamedDependency[ReferenceHost]
) -> Response[Any]:
    status, body = await reference_host.act(await request.body(), dict(request.headers))
    return Response(body, status_code=status)


@get("/demo/billing/subscriptions/{subscription_id:str}", include_in_schema=False)
async def host_billing_read(
    request: Request[Any, Any, Any], subscription_id: FromPath[str], reference_host: NamedDependency[ReferenceHost]
) -> Response[Any]:
    status, body = await reference_host.read(subscription_id, dict(request.headers))
    return Response(body, status_code=status, headers={"Cache-Control": "no-store"})


@get("/demo/billing/catalogue", include_in_schema=False)
async def host_billing_catalogue(
    request: Request[Any, Any, Any], reference_host: NamedDependency[ReferenceHost]
) -> Response[Any]:
    status, body = await reference_host.catalogue(dict(request.headers))
    return Response(body, status_code=status, headers={"Cache-Control": "no-store"})
