"""FakePaddle: Paddle Billing's subscription API (v1) for the SDK's `requests` calls, through a requests-mock adapter.

Stateful, real-shaped (subscriptions from the SDK's own fixture, tests/fixtures/paddle), with Paddle's error
codes (https://developer.paddle.com/errors); every request's method, path, JSON body and headers are recorded.
What it keeps from Paddle's docs, so the adapter meets reality rather than a kinder fake:
- No idempotency (https://developer.paddle.com/api-reference/about/ documents no key): nothing is stored,
  replayed or "in flight"; a repeat executes again.
- Pause (…/subscriptions/pause-subscription): `immediately` → `paused` (a scheduled `resume` for `resume_at`);
  default: a scheduled `pause` at the period end; a trial pauses only at its end; a paused one never again.
- Resume (…/resume-subscription): `immediately` restarts a paused one in a new, billed period (`on_resume`
  default); a date schedules it, or moves a scheduled pause's resume date; else subscription_must_be_paused.
- Cancel (…/cancel-subscription): next_billing_period (default when active) is a scheduled `cancel`;
  immediately (default when paused) ends it. Canceled subscriptions refuse everything.
- A pending scheduled change blocks pause and cancel (subscription_locked_pending_changes; the docs do not
  say which requests it covers: the strict reading) but not an item change (changelog 2025-04-14); PATCH
  sets `scheduled_change` only to null. `items` replace the list and, like `next_billed_at`, need a
  `proration_billing_mode`; a trial takes only items (none added or removed), next_billed_at (do_not_bill,
  …/build/trials/extend-activate-change-date-trials) and a discount from the next period; a paused one only
  items; past_due nothing. One `discount` per subscription: a new one replaces the old.
- GET /prices and /discounts list by `status`, at most 200 a page, `meta.pagination.next` onwards.
- Scheduled changes fall due as `now` passes (`advance`); 401/403 come before anything runs; a request the
  client gave up on still finishes (it runs in the SDK's worker thread).
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests
import requests_mock
from requests import Response

from offers.providers.paddle_shapes import parse_time, rfc3339

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "paddle"
DAY = timedelta(days=1)
# price id → (unit amount in minor units, interval, frequency)
PRICES: dict[str, tuple[int, str, int]] = {
    "price_pro_monthly": (4900, "month", 1),
    "price_starter_monthly": (1900, "month", 1),
    "price_pro_yearly": (49000, "year", 1),
    "price_addon_monthly": (500, "month", 1),
}
DISCOUNTS: dict[str, int | None] = {"loyal10": None, "save30_3m": 3}  # id → billing periods it lasts (None: forever)
_CYCLE = {"day": DAY, "week": 7 * DAY, "month": 30 * DAY, "year": 365 * DAY}  # close enough for a fake's periods
_UPDATABLE = {"items", "proration_billing_mode", "next_billed_at", "discount", "scheduled_change", "on_payment_failure"}
Answer = tuple[int, dict[str, Any]]


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def error(status: int, code: str, detail: str, *, group: str = "subscriptions", kind: str = "request_error") -> Answer:
    url = f"https://developer.paddle.com/errors/{group}/{code}"
    body = {"type": kind, "code": code, "detail": detail, "documentation_url": url}
    return status, {"error": body, "meta": {"request_id": "00000000-0000-0000-0000-000000000000"}}


def refusal(*checks: tuple[object, str]) -> Answer | None:
    """The error of the first check that holds: (condition, Paddle's code; `x` stands for `subscription_x`)."""
    for failed, code in checks:
        shared = code in ("invalid_field", "not_found")
        full = code if shared else f"subscription_{code}"
        if failed:
            return error(404 if code == "not_found" else 400, full, full, group="shared" if shared else "subscriptions")
    return None


def make_price(price_id: str) -> dict[str, Any]:
    price: dict[str, Any] = fixture("subscription")["items"][0]["price"]
    amount, interval, frequency = PRICES[price_id]
    price.update(id=price_id, unit_price={"amount": str(amount), "currency_code": "USD"}, custom_data=None)
    price["billing_cycle"] = {"interval": interval, "frequency": frequency}
    return price


def make_discount(discount_id: str) -> dict[str, Any]:
    return {"id": discount_id, "status": "active", "recur": True, "maximum_recurring_intervals": DISCOUNTS[discount_id]}


def make_subscription(
    sub_id: str, *, now: datetime, status: str = "active", price: str = "price_pro_monthly", discount: str | None = None
) -> dict[str, Any]:
    """Active: 18 days into a period ending in 12. Trialing: a 14-day trial ending in 3 (its billing period)."""
    sub = fixture("subscription")
    trialing = status == "trialing"
    start, end = (now - 11 * DAY, now + 3 * DAY) if trialing else (now - 18 * DAY, now + 12 * DAY)
    item = sub["items"][0]
    item.update(status=status, quantity=1, price=make_price(price), next_billed_at=rfc3339(end))
    item.update(previously_billed_at=None if trialing else rfc3339(start), created_at=rfc3339(start))
    item["trial_dates"] = {"starts_at": rfc3339(start), "ends_at": rfc3339(end)} if trialing else None
    sub.update(id=sub_id, status=status, customer_id="cus_1", currency_code="USD", scheduled_change=None)
    sub.update(started_at=rfc3339(start), first_billed_at=None if trialing else rfc3339(start), paused_at=None)
    sub.update(next_billed_at=rfc3339(end), canceled_at=None, billing_cycle=item["price"]["billing_cycle"])
    sub["current_billing_period"] = {"starts_at": rfc3339(start), "ends_at": rfc3339(end)}
    sub["discount"] = {"id": discount, "starts_at": rfc3339(start), "ends_at": None} if discount else None
    sub["management_urls"] = {"update_payment_method": None, "cancel": f"https://buyer-portal.paddle.com/{sub_id}"}
    return sub


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    body: dict[str, Any] | None
    headers: dict[str, str]


@dataclass
class Failure:
    """The next write's fate (any request's with `reads`; one under `path`, if set). Status 0: no connection, or
    (`applied`) the answer lost after Paddle executed; an `applied` 5xx comes after the change; `html`: a proxy's."""

    status: int
    code: str = ""
    applied: bool = False
    reads: bool = False
    path: str = ""
    html: bool = False


@dataclass
class FakePaddle:
    """Register subscriptions with `add`; queue `failures`; read `requests` afterwards; mount `adapter`."""

    now: datetime
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    executed: int = 0  # writes that changed something (refusals excluded)
    catalogue: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # GET /prices, /discounts
    adapter: requests_mock.Adapter = field(init=False)
    _delay: float = 0.0
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        self.adapter = requests_mock.Adapter(case_sensitive=True)
        self.adapter.add_matcher(self._answer)
        self.catalogue = {
            "/prices": [make_price(p) for p in PRICES],
            "/discounts": [make_discount(d) for d in DISCOUNTS],
        }

    # ------------------------------------------------------------------ test hooks
    def add(self, sub_id: str, **options: Any) -> dict[str, Any]:
        self.subscriptions[sub_id] = make_subscription(sub_id, now=self.now, **options)
        return self.subscriptions[sub_id]

    def writes(self) -> list[Recorded]:
        return [r for r in self.requests if r.method != "GET"]

    def advance(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)

    def delay_next(self, seconds: float) -> None:
        """The next write takes `seconds` to execute (in the caller's worker thread)."""
        self._delay = seconds

    def schedule_pause(self, sub_id: str, *, resume_after_days: int = 30) -> None:
        """A pause someone scheduled in Paddle's dashboard for the period end, resuming a month later."""
        sub = self.subscriptions[sub_id]
        end = parse_time(sub["current_billing_period"]["ends_at"]) or self.now
        resume = rfc3339(end + resume_after_days * DAY)
        sub["scheduled_change"] = {"action": "pause", "effective_at": rfc3339(end), "resume_at": resume}

    # ------------------------------------------------------------------ the transport
    def _answer(self, request: Any) -> Response:
        method, (path, query) = request.method.upper(), urlsplit(request.url)[2:4]
        body = json.loads(request.body) if request.body else None
        wanted = ("Authorization", "Paddle-Version", "Content-Type", "Idempotency-Key")
        headers = {k: str(request.headers[k]) for k in wanted if k in request.headers}
        with self._lock:
            self.requests.append(Recorded(method, path, body, headers))
            failure = next((f for f in self.failures if (f.reads or method != "GET") and path.startswith(f.path)), None)
            if failure is not None:
                self.failures.remove(failure)
            delay, self._delay = (self._delay, 0.0) if method != "GET" else (0.0, self._delay)  # writes wait
        if failure is not None and not failure.applied:
            if failure.status == 0:
                raise requests.ConnectionError("connection reset (fake)")
            return self._failed(request, failure)  # refused before anything ran (401/403/429, a 5xx)
        if not headers.get("Authorization", "").startswith("Bearer "):
            return self._reply(request, *error(401, "authentication_missing", "Missing API key.", group="shared"))
        if delay:
            time.sleep(delay)  # the worker thread keeps going even if the caller stopped waiting
        with self._lock:
            self._fall_due()
            status, payload = self._route(method, path, body or {}, dict(parse_qsl(query)))
            self.executed += method != "GET" and status < 300
        if failure is not None and failure.status == 0:
            raise requests.ConnectionError("response lost (fake)")
        if failure is not None:
            return self._failed(request, failure)  # made the change, then failed
        return self._reply(request, status, payload)

    def _reply(self, request: Any, status: int, payload: dict[str, Any]) -> Response:
        payload.setdefault("meta", {"request_id": f"req_{len(self.requests)}"})
        response: Response = requests_mock.create_response(request, status_code=status, json=payload)
        return response

    def _failed(self, request: Any, failure: Failure) -> Response:
        if failure.html:  # a proxy's page, not Paddle's JSON
            page: Response = requests_mock.create_response(request, status_code=failure.status, text="<html>502</html>")
            return page
        kind = "api_error" if failure.status >= 500 or failure.status == 429 else "request_error"
        return self._reply(request, *error(failure.status, failure.code, "fake failure", group="shared", kind=kind))

    # ------------------------------------------------------------------ the API
    def _list(self, path: str, query: dict[str, str]) -> Answer:
        """A list page (https://developer.paddle.com/api-reference/about/pagination): `per_page` after `after`."""
        rows = [r for r in self.catalogue[path] if r["status"] in query.get("status", "active").split(",")]
        ids, size = [r["id"] for r in rows], min(int(query.get("per_page") or 50), 200)  # 200: the most
        start = ids.index(query["after"]) + 1 if query.get("after") in ids else 0
        page, more = rows[start : start + size], start + size < len(rows)
        after = urlencode({**query, "per_page": size, "after": page[-1]["id"] if page else ""})  # `next` comes always
        paging = {"per_page": size, "next": f"https://sandbox-api.paddle.com{path}?{after}", "has_more": more}
        return 200, {"data": copy.deepcopy(page), "meta": {"request_id": "r", "pagination": paging}}

    def _route(self, method: str, path: str, body: dict[str, Any], query: dict[str, str]) -> Answer:
        if method == "GET" and path in self.catalogue:
            return self._list(path, query)
        found = re.fullmatch(r"/subscriptions/([^/]+)(?:/(pause|resume|cancel))?", path)
        if found is None:
            return error(404, "invalid_url", f"Invalid URL {path}.", group="shared")
        sub = self.subscriptions.get(found.group(1))
        if sub is None:
            return error(404, "not_found", f"Subscription {found.group(1)} not found.", group="shared")
        action = found.group(2)
        if (method, action) == ("GET", None):
            return 200, {"data": copy.deepcopy(sub)}
        if (method, action) == ("PATCH", None):
            refused = self._update(sub, body)
        elif method == "POST" and action is not None:
            refused = {"pause": self._pause, "resume": self._resume, "cancel": self._cancel}[action](sub, body)
        else:
            return error(405, "method_not_allowed", f"{method} is not allowed here.", group="shared")
        if refused is not None:
            return refused
        sub["updated_at"] = rfc3339(self.now)
        return 200, {"data": copy.deepcopy(sub)}

    def _update(self, sub: dict[str, Any], body: dict[str, Any]) -> Answer | None:
        status, mode, wanted = sub["status"], body.get("proration_billing_mode"), body.get("discount")
        trial = status == "trialing"
        changes = set(body) - {"scheduled_change", "proration_billing_mode", "on_payment_failure"}
        billed, items = changes & {"items", "next_billed_at"}, body.get("items")
        asked, present = [i.get("price_id") for i in items or []], {j["price"]["id"] for j in sub["items"]}
        new = [i for i in items or [] if i.get("price_id") not in present]
        gone = items is not None and present - set(asked)
        next_billed = parse_time(body.get("next_billed_at"))
        lock = sub["scheduled_change"] and "scheduled_change" not in body
        refused = refusal(
            (set(body) - _UPDATABLE, "invalid_field"),
            (status == "canceled", "update_when_canceled"),
            (status == "past_due", "update_when_past_due"),
            (body.get("scheduled_change") is not None, "scheduled_change_invalid_update"),
            (trial and changes - {"items", "next_billed_at", "discount"}, "update_when_trialing"),
            (status == "paused" and changes - {"items"}, "only_update_items_on_paused_subscription"),
            (billed and not mode, "items_update_missing_proration_billing_mode"),
            (trial and (new or gone or (billed and mode != "do_not_bill")), "trialing_items_update_invalid_options"),
            (billed and lock and str(mode).endswith("period"), "invalid_billing_mode_for_scheduled_change"),
            (items is not None and not items, "all_items_removed"),
            (any(price not in PRICES for price in asked), "not_found"),
            (any(not i.get("quantity") for i in new), "quantity_missing_for_new_items"),
            (wanted and wanted.get("id") not in DISCOUNTS, "not_found"),
            (wanted and wanted.get("effective_from") not in ("immediately", "next_billing_period"), "invalid_field"),
            (
                wanted and trial and wanted["effective_from"] == "immediately",
                "trialing_discount_update_invalid_options",
            ),
            ("next_billed_at" in body and (next_billed is None or next_billed <= self.now), "next_billed_at_too_soon"),
        )
        if refused is not None:
            return refused
        if "scheduled_change" in body:
            sub["scheduled_change"] = None
        if items:
            sub["items"] = [self._item(sub, item) for item in items]
        if next_billed is not None:
            self._bill_next(sub, next_billed)
        if "discount" in body:
            self._set_discount(sub, wanted)
        return None

    def _item(self, sub: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
        old = next((i for i in sub["items"] if i["price"]["id"] == wanted["price_id"]), None)
        item: dict[str, Any] = copy.deepcopy(old or sub["items"][0])
        if old is None:  # a new item: the price from the catalogue
            item.update(price=make_price(wanted["price_id"]), created_at=rfc3339(self.now))
        item["quantity"] = wanted.get("quantity") or item["quantity"]
        return item

    def _bill_next(self, sub: dict[str, Any], when: datetime) -> None:
        sub["next_billed_at"] = rfc3339(when)
        sub["current_billing_period"]["ends_at"] = rfc3339(when)
        for item in sub["items"]:
            item["next_billed_at"] = rfc3339(when)
            if item.get("trial_dates"):
                item["trial_dates"]["ends_at"] = rfc3339(when)

    def _set_discount(self, sub: dict[str, Any], wanted: dict[str, Any] | None) -> None:
        """From now or the next billing, ending after its billing periods (None: it recurs forever)."""
        if wanted is None:
            sub["discount"] = None
            return
        starts = self.now if wanted["effective_from"] == "immediately" else parse_time(sub["next_billed_at"])
        periods, cycle = DISCOUNTS[wanted["id"]], _CYCLE[sub["billing_cycle"]["interval"]]
        ends = rfc3339(starts + periods * cycle) if starts and periods else None
        sub["discount"] = {"id": wanted["id"], "starts_at": starts and rfc3339(starts), "ends_at": ends}

    def _pause(self, sub: dict[str, Any], body: dict[str, Any]) -> Answer | None:
        status, when = sub["status"], body.get("effective_from") or "next_billing_period"
        resume_at = parse_time(body.get("resume_at"))
        starts = self.now if when == "immediately" else parse_time(sub["current_billing_period"]["ends_at"])
        refused = refusal(
            (status == "canceled", "is_canceled_action_invalid"),
            (status in ("paused", "past_due"), "not_active"),
            (sub["scheduled_change"], "locked_pending_changes"),
            (when not in ("immediately", "next_billing_period"), "invalid_field"),
            (status == "trialing" and when == "immediately", "cannot_be_paused"),
            (resume_at and starts and resume_at <= starts, "invalid_field"),  # resume after the pause starts
        )
        if refused is None and when == "immediately":
            self._pause_now(sub, resume_at)
        elif refused is None:
            end, resume = sub["current_billing_period"]["ends_at"], resume_at and rfc3339(resume_at)
            sub["scheduled_change"] = {"action": "pause", "effective_at": end, "resume_at": resume}
        return refused

    def _pause_now(self, sub: dict[str, Any], resume_at: datetime | None) -> None:
        sub.update(status="paused", paused_at=rfc3339(self.now), next_billed_at=None)
        resume = resume_at and rfc3339(resume_at)  # the billing period is kept (changelog 2024-12-18)
        sub["scheduled_change"] = {"action": "resume", "effective_at": resume, "resume_at": resume} if resume else None
        for item in sub["items"]:
            item["next_billed_at"] = None

    def _resume(self, sub: dict[str, Any], body: dict[str, Any]) -> Answer | None:
        value, action = body.get("effective_from") or "immediately", (sub["scheduled_change"] or {}).get("action")
        date = None if value == "immediately" else parse_time(value)
        refused = refusal(
            (sub["status"] == "canceled", "is_canceled_action_invalid"),
            (sub["status"] != "paused" and not (action == "pause" and date), "must_be_paused"),
            (date and date <= self.now, "invalid_field"),  # a resume date must be ahead
        )
        if refused is None and date is None:
            self._resume_now(sub)
        elif refused is None and date is not None and sub["status"] == "paused":
            sub["scheduled_change"] = {"action": "resume", "effective_at": rfc3339(date), "resume_at": rfc3339(date)}
        elif refused is None and date is not None:
            sub["scheduled_change"]["resume_at"] = rfc3339(date)  # a scheduled pause's resume date moves
        return refused

    def _resume_now(self, sub: dict[str, Any]) -> None:
        """start_new_billing_period (the default): a new period from now, billed now."""
        end = self.now + sub["billing_cycle"]["frequency"] * _CYCLE[sub["billing_cycle"]["interval"]]
        sub.update(status="active", paused_at=None, scheduled_change=None, next_billed_at=rfc3339(end))
        sub["current_billing_period"] = {"starts_at": rfc3339(self.now), "ends_at": rfc3339(end)}
        for item in sub["items"]:
            item.update(next_billed_at=rfc3339(end), previously_billed_at=rfc3339(self.now))

    def _cancel(self, sub: dict[str, Any], body: dict[str, Any]) -> Answer | None:
        paused = sub["status"] == "paused"
        when = body.get("effective_from") or ("immediately" if paused else "next_billing_period")
        refused = refusal(
            (sub["status"] == "canceled", "is_canceled_action_invalid"),
            (sub["scheduled_change"], "locked_pending_changes"),
            (when not in ("immediately", "next_billing_period") or (paused and when != "immediately"), "invalid_field"),
        )
        if refused is None and when == "immediately":
            self._end(sub)
        elif refused is None:
            sub["scheduled_change"] = {"action": "cancel", "effective_at": sub["next_billed_at"], "resume_at": None}
        return refused

    def _end(self, sub: dict[str, Any]) -> None:
        sub.update(status="canceled", canceled_at=rfc3339(self.now), next_billed_at=None, paused_at=None)
        sub.update(scheduled_change=None, current_billing_period=None)
        for item in sub["items"]:
            item["next_billed_at"] = None

    def _fall_due(self) -> None:
        """Scheduled changes whose date has passed take effect (a pause may bring its resume due too)."""
        for sub in self.subscriptions.values():
            while (c := sub["scheduled_change"]) and (due := parse_time(c["effective_at"])) and due <= self.now:
                if c["action"] == "pause":
                    self._pause_now(sub, parse_time(c.get("resume_at")))
                else:
                    (self._end if c["action"] == "cancel" else self._resume_now)(sub)
