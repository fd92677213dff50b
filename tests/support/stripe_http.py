"""FakeStripe: a `stripe.HTTPClient` that never touches the network and answers as Stripe's API v1 does.

It serves real-shaped JSON (built from Stripe's OpenAPI fixtures in tests/fixtures/stripe) over a little
state (subscriptions, their discounts, subscription schedules), and records each request's method, path,
form params and Idempotency-Key. It is a fake too, so it keeps Stripe's documented idempotency rules
(https://docs.stripe.com/api/idempotent_requests, https://docs.stripe.com/error-low-level#idempotency):

- Keys count on POST only: Stripe ignores them on GET and DELETE, so a repeated DELETE of a
  cancelled subscription answers 404 `resource_missing`, as Stripe does.
- Once a POST starts executing, its status and body are stored under its key and replayed with
  `Idempotent-Replayed: true`, 4xx and 500 included.
- The same key with another method, path or parameters gets 400 `idempotency_error`, and a key whose
  request is still executing gets 409 `idempotency_key_in_use`. Neither answer is stored.
- 401/403 and 429 are answered before the idempotency layer, so they are never stored, and a
  connection failure never reached Stripe.
- Keys expire 24 hours after their first use, by `now` (see `advance`).
- A request the client gave up on (a timeout) still finishes.

A subscription's `latest_invoice` is an id, expanded into the invoice object on request (`pay_invoice`
makes one: https://docs.stripe.com/api/invoices/object).

Stripe behaviour the adapter must cope with is kept too. `trial_end` on an active subscription starts
a trial. A `discounts` entry must name a discount the subscription has. Cancellation changes on a
subscription that a schedule manages are refused. `from_subscription` is refused for a subscription
that already has a schedule.
"""

from __future__ import annotations

import asyncio
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
DAY = 86_400
KEY_LIFETIME = DAY
PRICES = {"price_pro_monthly": 4900, "price_starter_monthly": 1900, "price_free": 0}  # price_free: forever-free
BEFORE_IDEMPOTENCY = (401, 403, 429)  # answered before a key is looked at: never stored
IN_USE = (
    "There is currently another in-progress request using this Idempotent Key (that probably means you submitted"
    " twice, and the other request is still going through): {key}. Please try again later."
)
ATTACHED = "You cannot migrate a subscription that is already attached to a schedule: `{schedule}`."
MANAGED = (
    "The subscription is managed by the subscription schedule `{schedule}`, and updating any cancelation behavior"
    " directly is not allowed. Please update the schedule instead."
)
MISMATCH = (
    "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using"
    " a key other than '{key}' if you meant to execute a different request."
)


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def error(status: int, kind: str, message: str, **extra: str) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"type": kind, "message": message, **extra}}


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    params: dict[str, str]
    idempotency_key: str | None


@dataclass
class Failure:
    """The fate of the next write (any request with `reads`; only one whose path starts with `path`, if set).

    status 0 is a connection failure: before Stripe, or after it executed (`applied`: the response was
    lost). A 5xx with `applied` is answered after the change was made.
    """

    status: int
    error: dict[str, Any] | None = None
    applied: bool = False
    reads: bool = False
    path: str = ""


Fingerprint = tuple[str, str, tuple[tuple[str, str], ...]]  # method, path, form params


@dataclass(frozen=True)
class _Stored:
    fingerprint: Fingerprint
    status: int
    body: bytes
    at: int


def make_discount(coupon: str, subscription: str, discount_id: str | None = None) -> dict[str, Any]:
    source = {"coupon": coupon, "type": "coupon"}
    return {**fixture("discount"), "id": discount_id or f"di_{coupon}", "source": source, "subscription": subscription}


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
    item["current_period_start"] = NOW - 18 * DAY
    item["current_period_end"] = NOW + 12 * DAY
    sub.update(dict.fromkeys(("pause_collection", "cancel_at", "canceled_at", "ended_at", "schedule")))
    sub.update(id=sub_id, customer="cus_1", status=status, cancel_at_period_end=False)
    sub["trial_end"] = NOW + 3 * DAY if status == "trialing" else None
    sub["discounts"] = [make_discount(c, sub_id) for c in discounts]
    return sub


def unflatten(params: dict[str, str]) -> dict[str, Any]:
    """Stripe's form encoding back into objects: `a[0][b]=x` → {"a": [{"b": "x"}]}."""
    root: dict[str, Any] = {}
    for key, value in params.items():
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    listed: dict[str, Any] = _listify(root)
    return listed


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if node and all(k.isdigit() for k in node):
        return [_listify(node[k]) for k in sorted(node, key=int)]
    return {k: _listify(v) for k, v in node.items()}


@dataclass
class FakeStripe(stripe.HTTPClient):
    """Register subscriptions in `subscriptions`; queue `failures`; read `requests` afterwards."""

    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    schedules: dict[str, dict[str, Any]] = field(default_factory=dict)
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    now: int = NOW
    executed: int = 0  # writes that executed (replays and refusals excluded)
    prices: dict[str, int] = field(default_factory=lambda: dict(PRICES))  # listed by GET /v1/prices
    coupons: set[str] = field(default_factory=lambda: {"loyal10", "save30_3m"})  # listed by GET /v1/coupons
    expired_coupons: set[str] = field(default_factory=set)  # listed too, with `valid: false`
    _stored: dict[str, _Stored] = field(default_factory=dict)
    _in_flight: set[str] = field(default_factory=set)
    _delay: float = 0.0
    name = "fake-stripe"

    def __post_init__(self) -> None:
        super().__init__()

    # ------------------------------------------------------------------ test hooks
    def writes(self) -> list[Recorded]:
        return [r for r in self.requests if r.method != "get"]

    def advance(self, seconds: int) -> None:
        self.now += seconds

    def delay_next(self, seconds: float) -> None:
        """The next request takes `seconds` to execute, its key in flight meanwhile."""
        self._delay = seconds

    def pay_invoice(self, sub_id: str, *, amount: int, paid_at: int) -> str:
        """Billing charged the subscription (`amount` 0: a trial's $0 invoice); it is its latest invoice now."""
        invoice = fixture("invoice")
        invoice_id = f"in_{sub_id}_{len(self.invoices) + 1}"
        invoice.update(id=invoice_id, amount_due=amount, amount_paid=amount, total=amount, subtotal=amount)
        invoice["parent"]["subscription_details"]["subscription"] = sub_id
        invoice["status_transitions"].update(finalized_at=paid_at, paid_at=paid_at)
        self.invoices[invoice_id] = invoice
        self.subscriptions[sub_id]["latest_invoice"] = invoice_id
        return invoice_id

    def add_foreign_schedule(self, sub_id: str) -> str:
        """A schedule someone else (the dashboard) put on the subscription: no saveflow marker."""
        schedule = self._new_schedule(self.subscriptions[sub_id])
        schedule["metadata"] = {"created_by": "dashboard"}
        return str(schedule["id"])

    def next_phase_coupons(self, sub_id: str) -> tuple[str, ...] | None:
        """The coupons of the phase after the current one of the subscription's schedule (None: no such phase)."""
        sub = self.subscriptions[sub_id]
        phases = self.schedules[sub["schedule"]]["phases"] if sub["schedule"] else []
        if len(phases) < 2:
            return None
        coupons = {d["id"]: d["source"]["coupon"] for d in sub["discounts"]}
        return tuple(d["coupon"] or coupons.get(d["discount"], "?") for d in phases[1]["discounts"])

    # ------------------------------------------------------------------ the transport
    async def request_async(
        self, method: str, url: str, headers: Any, post_data: Any = None
    ) -> tuple[bytes, int, dict[str, str]]:
        method, parts = method.lower(), urlsplit(url)
        params = dict(parse_qsl(post_data or parts.query or "", keep_blank_values=True))
        key = headers.get("Idempotency-Key")
        self.requests.append(Recorded(method, parts.path, params, key))
        due = (f for f in self.failures if (f.reads or method != "get") and parts.path.startswith(f.path))
        failure = next(due, None)
        if failure is not None:
            self.failures.remove(failure)
        if failure is not None and failure.status == 0 and not failure.applied:
            raise stripe.APIConnectionError("connection reset (fake)", should_retry=True)  # type: ignore[no-untyped-call]
        if failure is not None and failure.status in BEFORE_IDEMPOTENCY:
            return json.dumps({"error": failure.error}).encode(), failure.status, {}
        fingerprint: Fingerprint = (method, parts.path, tuple(sorted(params.items())))
        if method == "post" and key:
            if (answer := self._idempotency_layer(key, fingerprint)) is not None:
                if failure is not None:
                    self.failures.insert(0, failure)  # nothing executes: the failure waits for a request that does
                return answer
            self._in_flight.add(key)
        delay, self._delay = self._delay, 0.0
        execution = asyncio.ensure_future(self._execute(fingerprint, params, key, failure, delay))
        body, status = await asyncio.shield(execution)  # the client giving up does not stop Stripe
        if failure is not None and failure.status == 0:
            raise stripe.APIConnectionError("response lost (fake)", should_retry=True)  # type: ignore[no-untyped-call]
        return body, status, {"Request-Id": f"req_{len(self.requests)}"}

    async def close_async(self) -> None:
        return None

    def _idempotency_layer(self, key: str, fingerprint: Fingerprint) -> tuple[bytes, int, dict[str, str]] | None:
        """The stored answer replayed, 400 for other parameters, 409 for a key in flight; None: execute."""
        stored = self._stored.get(key)
        if stored is not None and self.now - stored.at >= KEY_LIFETIME:
            del self._stored[key]  # pruned: the key starts a new request
            stored = None
        if stored is not None and stored.fingerprint == fingerprint:
            return stored.body, stored.status, {"Idempotent-Replayed": "true"}
        if stored is not None:
            status, payload = error(400, "idempotency_error", MISMATCH.format(key=key))
        elif key in self._in_flight:
            status, payload = error(409, "invalid_request_error", IN_USE.format(key=key), code="idempotency_key_in_use")
        else:
            return None
        return json.dumps(payload).encode(), status, {}

    async def _execute(
        self, fingerprint: Fingerprint, params: dict[str, str], key: str | None, failure: Failure | None, delay: float
    ) -> tuple[bytes, int]:
        method, path, _ = fingerprint
        try:
            if delay:
                await asyncio.sleep(delay)
            if failure is not None and failure.status and not failure.applied:
                status, payload = failure.status, {"error": failure.error}
            else:
                self.executed += method != "get"
                status, payload = self._route(method, path, unflatten(params))
                if failure is not None and failure.status >= 500:
                    status, payload = failure.status, {"error": failure.error}  # made the change, then failed
            body = json.dumps(payload).encode()
            if method == "post" and key:
                self._stored[key] = _Stored(fingerprint, status, body, self.now)
            return body, status
        finally:
            if method == "post" and key:
                self._in_flight.discard(key)

    # ------------------------------------------------------------------ the API
    def _route(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if method == "get" and path in ("/v1/prices", "/v1/coupons"):
            return 200, self._list(path, body)
        if path == "/v1/subscriptions" and method == "post":
            return self._create(body)
        if found := re.fullmatch(r"/v1/subscriptions/([^/]+)", path):
            sub = self.subscriptions.get(found.group(1))
            if sub is None or (method == "delete" and sub["status"] == "canceled"):
                return error(404, "invalid_request_error", f"No such subscription: '{found.group(1)}'", **_MISSING)
            refused = self._update(sub, body) if method == "post" else None
            if method == "delete":
                self._cancel(sub, body)
            return refused or (200, self._render(sub, body.get("expand") or []))
        if path == "/v1/subscription_schedules" and method == "post":
            sub = self.subscriptions.get(body.get("from_subscription", ""))
            if sub is None:
                return error(404, "invalid_request_error", "No such subscription", **_MISSING)
            if sub["schedule"]:
                return error(
                    400, "invalid_request_error", ATTACHED.format(schedule=sub["schedule"]), param="from_subscription"
                )
            return 200, copy.deepcopy(self._new_schedule(sub))
        if found := re.fullmatch(r"/v1/subscription_schedules/([^/]+?)(/release)?", path):
            schedule = self.schedules.get(found.group(1))
            if schedule is None:
                return error(404, "invalid_request_error", f"No such subscription_schedule: '{found.group(1)}'")
            if method == "post" and schedule["status"] not in ("active", "not_started"):
                return error(400, "invalid_request_error", f"The schedule is {schedule['status']}.")
            if method == "post" and found.group(2):
                sub = self.subscriptions[schedule["subscription"]]
                schedule.update(
                    status="released", released_at=self.now, released_subscription=sub["id"], subscription=None
                )
                sub["schedule"] = None
            elif method == "post" and (refused := self._set_phases(schedule, body)):
                return refused
            return 200, copy.deepcopy(schedule)
        return error(404, "invalid_request_error", f"Unrecognized request URL ({method.upper()}: {path})")

    def _list(self, path: str, query: dict[str, Any]) -> dict[str, Any]:
        """A list page as https://docs.stripe.com/api/pagination shapes it: `limit` items after `starting_after`."""
        if path == "/v1/prices":
            items = [{**fixture("price"), "id": p, "unit_amount": a} for p, a in sorted(self.prices.items())]
        else:
            every = sorted(self.coupons | self.expired_coupons)
            items = [{**fixture("coupon"), "id": c, "valid": c not in self.expired_coupons} for c in every]
        after = query.get("starting_after")
        start = next((i + 1 for i, item in enumerate(items) if item["id"] == after), 0) if after else 0
        limit = int(query.get("limit") or 10)
        page = items[start : start + limit]
        return {"object": "list", "url": path, "has_more": start + limit < len(items), "data": page}

    def _render(self, sub: dict[str, Any], expand: list[str]) -> dict[str, Any]:
        shown = copy.deepcopy(sub)
        if "discounts" not in expand:
            shown["discounts"] = [d["id"] for d in sub["discounts"]]
        if "schedule" in expand and sub["schedule"]:
            shown["schedule"] = copy.deepcopy(self.schedules[sub["schedule"]])
        if "latest_invoice" in expand and sub["latest_invoice"]:
            shown["latest_invoice"] = copy.deepcopy(self.invoices[sub["latest_invoice"]])
        return shown

    def _update(self, sub: dict[str, Any], body: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
        item = sub["items"]["data"][0]
        if "cancel_at_period_end" in body and sub["schedule"]:
            return error(400, "invalid_request_error", MANAGED.format(schedule=sub["schedule"]))
        wanted = body.get("discounts") or []
        present = {d["id"]: d for d in sub["discounts"]}
        if any(d.get("discount") and d["discount"] not in present for d in wanted):
            return error(400, "invalid_request_error", "No such discount on this subscription", param="discounts")
        if unknown := [c["price"] for c in body.get("items") or [] if c.get("price") not in PRICES]:
            # Stripe refuses an item price that does not exist (https://docs.stripe.com/api/subscriptions/update).
            return error(400, "invalid_request_error", f"No such price: '{unknown[0]}'", param="items[0][price]")
        if "pause_collection" in body:  # sent as "" to unset
            pause = body["pause_collection"] or None
            sub["pause_collection"] = pause and {"behavior": pause["behavior"], "resumes_at": int(pause["resumes_at"])}
        if "trial_end" in body:
            sub["trial_end"] = int(body["trial_end"])
            sub["status"] = "trialing" if sub["trial_end"] > self.now else sub["status"]  # Stripe starts a trial
        if body.get("cancel_at_period_end") == "true":
            sub.update(cancel_at_period_end=True, cancel_at=item["current_period_end"])
            sub["cancellation_details"].update(body.get("cancellation_details") or {})
        if body.get("cancel_at_period_end") == "false" or body.get("cancel_at") == "":
            sub.update(cancel_at_period_end=False, cancel_at=None)  # the scheduled cancellation is undone
        for change in body.get("items") or []:
            item["price"].update(id=change["price"], unit_amount=PRICES.get(change["price"], 0))
        if wanted:
            taken = set(present)
            sub["discounts"] = [
                present[d["discount"]] if d.get("discount") else self._new_discount(d["coupon"], sub["id"], taken)
                for d in wanted
            ]
        return None

    def _create(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """POST /v1/subscriptions (https://docs.stripe.com/api/subscriptions/create): `customer` and
        `items[0][price]` are required; `discounts[0][coupon]` or `trial_period_days` shape the start."""
        items = body.get("items") or []
        if not body.get("customer") or not items or not items[0].get("price"):
            return error(400, "invalid_request_error", "Missing required param: customer or items.", param="items")
        sub_id = f"sub_created_{len(self.subscriptions) + 1}"
        price = items[0]["price"]
        coupons = tuple(d["coupon"] for d in body.get("discounts") or [])
        sub = make_subscription(sub_id, price=price, amount=PRICES.get(price, 0), discounts=coupons)
        sub["customer"] = body["customer"]
        if days := int(body.get("trial_period_days") or 0):
            sub.update(status="trialing", trial_end=self.now + days * DAY)
        self.subscriptions[sub_id] = sub
        return 200, self._render(sub, body.get("expand") or [])

    def _new_discount(self, coupon: str, sub_id: str, taken: set[str]) -> dict[str, Any]:
        discount_id = f"di_{coupon}"
        while discount_id in taken:
            discount_id += "_again"
        taken.add(discount_id)
        return make_discount(coupon, sub_id, discount_id)

    def _cancel(self, sub: dict[str, Any], body: dict[str, Any]) -> None:
        sub.update(status="canceled", canceled_at=self.now, ended_at=self.now)
        sub["cancellation_details"].update(body.get("cancellation_details") or {})
        if sub["schedule"]:
            self.schedules[sub["schedule"]].update(status="canceled", canceled_at=self.now)
            sub["schedule"] = None

    def _new_schedule(self, sub: dict[str, Any]) -> dict[str, Any]:
        """What `from_subscription` makes: one phase, the current period with the subscription's items and discounts."""
        item = sub["items"]["data"][0]
        schedule = fixture("subscription_schedule")
        phase = schedule["phases"][0]
        phase.update(start_date=item["current_period_start"], end_date=item["current_period_end"], metadata={})
        phase["discounts"] = [{"coupon": None, "discount": d["id"], "promotion_code": None} for d in sub["discounts"]]
        phase["items"] = [{**phase["items"][0], "price": item["price"]["id"], "quantity": item.get("quantity") or 1}]
        number = sum(1 for s in self.schedules.values() if s["subscription"] == sub["id"]) + 1
        schedule.update(
            id=f"sub_sched_{sub['id']}" + (f"_{number}" if number > 1 else ""),
            customer=sub["customer"],
            subscription=sub["id"],
            status="active",
            created=self.now,
            canceled_at=None,
            completed_at=None,
            released_at=None,
            released_subscription=None,
            metadata={},
            current_phase={"start_date": phase["start_date"], "end_date": phase["end_date"]},
        )
        self.schedules[schedule["id"]] = schedule
        sub["schedule"] = schedule["id"]
        return schedule

    def _set_phases(self, schedule: dict[str, Any], body: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
        phases, start = body.get("phases") or [], schedule["current_phase"]["start_date"]
        if phases and int(phases[0].get("start_date", 0)) != start:
            return error(400, "invalid_request_error", "You can not modify the start date of the current phase.")
        schedule["end_behavior"] = body.get("end_behavior", schedule["end_behavior"])
        schedule["metadata"] = {**schedule["metadata"], **(body.get("metadata") or {})}
        template, stored = schedule["phases"][0], []
        for phase in phases:
            end = int(phase.get("end_date") or start + 30 * DAY)
            kept = [
                {"coupon": None, "discount": None, "promotion_code": None, **d} for d in phase.get("discounts") or []
            ]
            items = [
                {**template["items"][0], "price": i["price"], "quantity": int(i["quantity"])} for i in phase["items"]
            ]
            proration = phase.get("proration_behavior", "create_prorations")
            stored.append(dict(template, start_date=start, end_date=end, items=items, discounts=kept))
            stored[-1]["proration_behavior"] = proration
            start = end
        schedule["phases"] = stored or schedule["phases"]
        return None


_MISSING = {"code": "resource_missing", "param": "id"}
