"""A `stripe.HTTPClient` that never touches the network: it serves real-shaped JSON (from Stripe's
OpenAPI fixtures in tests/fixtures/stripe) and records every request's method, path, form params and
Idempotency-Key, so tests can assert the exact calls the adapter makes.

It keeps just enough subscription state to answer follow-up reads, and replays stored responses for a
repeated idempotency key, as Stripe does.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import stripe

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "stripe"
NOW = 1_795_420_800  # 2026-11-23 12:00 UTC


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    params: dict[str, str]
    idempotency_key: str | None


@dataclass
class Failure:
    status: int
    error: dict[str, Any] | None = None  # None → a connection error (nothing reached Stripe)


def make_subscription(
    sub_id: str = "sub_1",
    *,
    status: str = "active",
    price: str = "price_pro_monthly",
    amount: int = 4900,
    discounts: tuple[str, ...] = (),
) -> dict[str, Any]:
    sub = fixture("subscription")
    item = sub["items"]["data"][0]
    item["id"] = f"si_{sub_id}"
    item["subscription"] = sub_id
    item["price"].update(id=price, unit_amount=amount, unit_amount_decimal=str(amount), currency="usd")
    item["current_period_start"] = NOW - 18 * 86400
    item["current_period_end"] = NOW + 12 * 86400
    sub.update(
        id=sub_id,
        customer="cus_1",
        status=status,
        pause_collection=None,
        cancel_at_period_end=False,
        cancel_at=None,
        canceled_at=None,
        ended_at=None,
        schedule=None,
        trial_end=NOW + 3 * 86400 if status == "trialing" else None,
        discounts=[
            {**fixture("discount"), "id": f"di_{c}", "source": {"coupon": c, "type": "coupon"}} for c in discounts
        ],
    )
    return sub


def _nested(params: dict[str, str], prefix: str) -> dict[str, str]:
    return {k[len(prefix) :]: v for k, v in params.items() if k.startswith(prefix)}


@dataclass
class FakeStripe(stripe.HTTPClient):
    """Register subscriptions in `subscriptions`; queue `failures`; read `requests` afterwards."""

    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    _replays: dict[str, tuple[bytes, int]] = field(default_factory=dict)
    name = "fake-stripe"

    def __post_init__(self) -> None:
        super().__init__()

    def writes(self) -> list[Recorded]:
        return [r for r in self.requests if r.method != "get"]

    async def request_async(
        self, method: str, url: str, headers: Any, post_data: Any = None
    ) -> tuple[bytes, int, dict[str, str]]:
        parts = urlsplit(url)
        params = dict(parse_qsl(post_data or parts.query or "", keep_blank_values=True))
        key = headers.get("Idempotency-Key")
        self.requests.append(Recorded(method.lower(), parts.path, params, key))
        if key and key in self._replays:
            body, status = self._replays[key]
            return body, status, {"idempotent-replayed": "true"}
        if self.failures:
            failure = self.failures.pop(0)
            if failure.error is None:
                raise stripe.APIConnectionError("connection reset (fake)", should_retry=True)  # type: ignore[no-untyped-call]
            body, status = json.dumps({"error": failure.error}).encode(), failure.status
        else:
            status, payload = self._route(method.lower(), parts.path, params)
            body = json.dumps(payload).encode()
        if key and method.lower() != "get":
            self._replays[key] = (body, status)
        return body, status, {"request-id": f"req_{len(self.requests)}"}

    async def close_async(self) -> None:
        return None

    def _missing(self, what: str) -> tuple[int, dict[str, Any]]:
        error = {
            "type": "invalid_request_error",
            "code": "resource_missing",
            "param": "id",
            "message": f"No such subscription: '{what}'",
        }
        return 404, {"error": error}

    def _route(self, method: str, path: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if found := re.fullmatch(r"/v1/subscriptions/([^/]+)", path):
            sub = self.subscriptions.get(found.group(1))
            if sub is None:
                return self._missing(found.group(1))
            if method == "post":
                self._update(sub, params)
            elif method == "delete":
                sub.update(status="canceled", canceled_at=NOW, ended_at=NOW)
                sub["cancellation_details"].update(_nested(params, "cancellation_details["))
            return 200, copy.deepcopy(sub)
        if path == "/v1/subscription_schedules" and method == "post":
            sub = self.subscriptions.get(params.get("from_subscription", ""))
            if sub is None:
                return self._missing(params.get("from_subscription", ""))
            schedule = fixture("subscription_schedule")
            schedule.update(id=f"sub_sched_{sub['id']}", subscription=sub["id"], status="active")
            sub["schedule"] = schedule["id"]
            return 200, schedule
        if found := re.fullmatch(r"/v1/subscription_schedules/([^/]+)", path):
            schedule = fixture("subscription_schedule")
            schedule.update(id=found.group(1), status="active", end_behavior=params.get("end_behavior", "release"))
            return 200, schedule
        return 404, {"error": {"type": "invalid_request_error", "message": f"Unrecognized request URL ({path})"}}

    def _update(self, sub: dict[str, Any], params: dict[str, str]) -> None:
        if "pause_collection" in params:  # sent as "" to unset
            sub["pause_collection"] = None
        pause = _nested(params, "pause_collection[")
        if pause:
            sub["pause_collection"] = {"behavior": pause["behavior]"], "resumes_at": int(pause["resumes_at]"])}
        if "trial_end" in params:
            sub["trial_end"] = int(params["trial_end"])
        if params.get("cancel_at_period_end") == "true":
            sub["cancel_at_period_end"] = True
            sub["cancel_at"] = sub["items"]["data"][0]["current_period_end"]
        if "items[0][price]" in params:
            sub["items"]["data"][0]["price"]["id"] = params["items[0][price]"]
        coupons = [v for k, v in params.items() if re.fullmatch(r"discounts\[\d+\]\[coupon\]", k)]
        kept = [v for k, v in params.items() if re.fullmatch(r"discounts\[\d+\]\[discount\]", k)]
        if coupons or kept:
            existing = {d["id"]: d for d in sub["discounts"]}
            sub["discounts"] = [existing[d] for d in kept if d in existing] + [
                {**fixture("discount"), "id": f"di_{c}", "source": {"coupon": c, "type": "coupon"}} for c in coupons
            ]
