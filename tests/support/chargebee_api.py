"""The Chargebee API v2 (Product Catalog 2.0) as FakeChargebee serves it: state, endpoints and real-shaped JSON.

The state is a site's subscriptions, their scheduled changes, customers, invoices, comments, item prices and
coupons, shaped as the SDK's models name the fields (tests/fixtures/chargebee; absent values are left out, as Chargebee
does). The transport, idempotency layer and fault injection are FakeChargebee's (tests/support/chargebee_http.py).
Chargebee behaviour the adapter must cope with is kept (https://apidocs.chargebee.com/docs/api/subscriptions):
only active/non_renewing subscriptions pause, and not with scheduled changes; a pause `end_of_term` or on a
`specific_date` leaves them so with `pause_date`/`resume_date` set (and pauses them when `now` reaches it); only a
paused one resumes, only a scheduled pause is removed (`remove_scheduled_pause`), and a second pause while one is
scheduled is refused (the docs do not say: the strict reading); any `update_for_items` deletes the
existing scheduled change; `change_term_end` moves a trial's end; cancelling at the term end keeps a trial
`in_trial`; cancel reason codes are the site's; a card can be declined when a subscription is created. Lists
(`GET /item_prices`, `/coupons`, `/invoices`) filter, and the first two page by an opaque `offset`.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.support.stripe_http import DAY, NOW

if TYPE_CHECKING:
    from collections.abc import Iterable

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "chargebee"
ITEM_PRICES = {
    "price_pro_monthly": (4900, "month"),
    "price_starter_monthly": (1900, "month"),
    "price_pro_yearly": (49000, "year"),
}
COUPONS = frozenset({"loyal10", "save30_3m"})
LIST_MAX = 100  # the most rows one list request may ask for (`limit`, default 10)
# The site's cancellation reason codes (Settings > Reason Codes): our default reason ids, configured by the operator.
REASON_CODES = ("too_expensive", "not_using", "temporary", "no_value", "missing_features", "competitor", "technical")
ENDED = ("cancelled", "transferred")


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


Answer = tuple[int, dict[str, Any]]


def error(status: int, code: str, message: str, kind: str | None = "invalid_request", **extra: str) -> Answer:
    """Chargebee's error body (https://apidocs.chargebee.com/docs/api/error-handling); `type` is absent on some."""
    body: dict[str, Any] = {"message": message, "api_error_code": code, "error_code": code, "http_status_code": status}
    return status, {**body, **({"type": kind} if kind else {}), **extra}


def make_subscription(
    sub_id: str, *, status: str = "active", price: str = "price_pro_monthly", coupons: tuple[str, ...] = ()
) -> dict[str, Any]:
    """A subscription of `cus_1` in its 19th day of a 30-day term (a trial ends in 3 days: its term is the trial)."""
    sub = fixture("subscription")
    amount, unit = ITEM_PRICES[price]
    sub.update(id=sub_id, status=status, billing_period_unit=unit, mrr=amount if unit == "month" else amount // 12)
    sub.update(current_term_start=NOW - 18 * DAY, current_term_end=NOW + 12 * DAY, next_billing_at=NOW + 12 * DAY)
    sub.update(created_at=NOW - 48 * DAY, started_at=NOW - 48 * DAY, activated_at=NOW - 48 * DAY, updated_at=NOW)
    sub["subscription_items"][0].update(item_price_id=price, unit_price=amount, amount=amount)
    sub["coupons"] = [{"coupon_id": c, "applied_count": 1, "object": "coupon"} for c in coupons]
    if status == "in_trial":
        del sub["activated_at"]
        sub.update(trial_start=NOW - 11 * DAY, trial_end=NOW + 3 * DAY, mrr=0)
        sub.update(current_term_start=NOW - 11 * DAY, current_term_end=NOW + 3 * DAY, next_billing_at=NOW + 3 * DAY)
    return sub


def make_item_price(
    price_id: str, *, price: int, unit: str = "month", kind: str = "plan", status: str = "active", age_days: int = 0
) -> dict[str, Any]:
    """An item price created `age_days` before now (an archived one was archived a day ago)."""
    row = fixture("item_price")
    row.update(id=price_id, name=price_id.replace("_", " "), price=price, period_unit=unit, item_type=kind)
    row.update(status=status, created_at=NOW - age_days * DAY, updated_at=NOW - age_days * DAY)
    if kind != "plan":
        row.update(item_id="seats", external_name="Seats")
    if status == "archived":
        row.update(archived_at=NOW - DAY, updated_at=NOW - DAY)
    return row


def make_coupon(coupon_id: str, *, status: str = "active", age_days: int = 0) -> dict[str, Any]:
    """A coupon for every plan, created `age_days` before now (an expired one ended yesterday)."""
    row = fixture("coupon")
    row.update(id=coupon_id, name=coupon_id, status=status, created_at=NOW - age_days * DAY)
    row["updated_at"] = row["created_at"]
    if status == "expired":
        row.update(valid_till=NOW - DAY, updated_at=NOW - DAY)
    if status == "archived":
        row.update(archived_at=NOW - DAY, updated_at=NOW - DAY)
    return row


def _site_item_prices() -> dict[str, dict[str, Any]]:
    """The plans subscriptions use (active), an archived plan and an active addon: only the first are plans on sale."""
    rows = [make_item_price(p, price=a, unit=u, age_days=300 + i) for i, (p, (a, u)) in enumerate(ITEM_PRICES.items())]
    rows.append(make_item_price("price_legacy_monthly", price=2900, status="archived", age_days=900))
    rows.append(make_item_price("price_seats_monthly", price=500, kind="addon", age_days=200))
    return {row["id"]: row for row in rows}


def _site_coupons() -> dict[str, dict[str, Any]]:
    """The coupons subscriptions use (active), an expired and an archived one."""
    rows = [make_coupon(c, age_days=100 + i) for i, c in enumerate(sorted(COUPONS))]
    rows += [make_coupon("spring2020", status="expired", age_days=1500), make_coupon("welcome5", status="archived")]
    return {row["id"]: row for row in rows}


@dataclass(eq=False)
class ChargebeeState:
    """One Chargebee site: register state, then `route` requests to it."""

    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    scheduled: dict[str, dict[str, Any]] = field(default_factory=dict)  # subscription id → its scheduled change
    customers: dict[str, dict[str, Any]] = field(default_factory=lambda: {"cus_1": fixture("customer")})
    invoices: list[dict[str, Any]] = field(default_factory=list)
    comments: list[dict[str, Any]] = field(default_factory=list)
    reason_codes: set[str] = field(default_factory=lambda: set(REASON_CODES))
    declines: set[str] = field(default_factory=set)  # customers whose card is declined
    item_prices: dict[str, dict[str, Any]] = field(default_factory=_site_item_prices)  # listed by GET /item_prices
    coupons: dict[str, dict[str, Any]] = field(default_factory=_site_coupons)  # listed by GET /coupons
    now: int = NOW

    def advance(self, seconds: int) -> None:
        self.now += seconds

    def add_foreign_schedule(self, sub_id: str) -> None:
        """A change someone else scheduled in the dashboard: two seats from the term end, no saveflow mark."""
        price = self.subscriptions[sub_id]["subscription_items"][0]["item_price_id"]
        self.scheduled[sub_id] = {"items": [{"item_price_id": price, "quantity": "2"}], "meta": None, "coupons": []}
        self.subscriptions[sub_id]["has_scheduled_changes"] = True

    def has_schedule(self, sub_id: str) -> bool:
        return sub_id in self.scheduled

    def next_phase_coupons(self, sub_id: str) -> tuple[str, ...] | None:
        """The coupons the subscription keeps when its scheduled change moves it to another price (None: no move)."""
        if sub_id not in self.scheduled:
            return None
        view, sub = self._scheduled_view(self.subscriptions[sub_id]), self.subscriptions[sub_id]
        if view["subscription_items"][0]["item_price_id"] == sub["subscription_items"][0]["item_price_id"]:
            return None
        return tuple(c["coupon_id"] for c in view["coupons"])

    def pay_invoice(self, sub_id: str, *, amount: int, paid_at: int) -> str:
        """Billing charged the subscription (`amount` 0: a trial's $0 invoice)."""
        invoice = fixture("invoice")
        invoice.update(id=f"inv_{sub_id}_{len(self.invoices) + 1}", subscription_id=sub_id, date=paid_at)
        invoice.update(due_date=paid_at, paid_at=paid_at, updated_at=paid_at, total=amount, sub_total=amount)
        invoice.update(amount_paid=amount, customer_id=self.subscriptions[sub_id]["customer_id"])
        self.invoices.append(invoice)
        return str(invoice["id"])

    def route(self, method: str, path: str, body: dict[str, Any]) -> Answer:
        if (method, path) == ("get", "/invoices"):
            return self._list_invoices(body)
        if (method, path) == ("get", "/item_prices"):
            return self._list("item_price", self.item_prices.values(), body)
        if (method, path) == ("get", "/coupons"):
            return self._list("coupon", self.coupons.values(), body)
        if (method, path) == ("post", "/comments"):
            return self._comment(body)
        if (found := re.fullmatch(r"/customers/([^/]+)/subscription_for_items", path)) and method == "post":
            return self._create(found.group(1), body)
        found = re.fullmatch(r"/subscriptions/([^/]+?)(?:/(\w+))?", path)
        sub = self.subscriptions.get(found.group(1)) if found else None
        if found is None or sub is None:
            return error(404, "resource_not_found", "Sorry, we couldn't find that resource")
        self._fall_due(sub)
        if (method, found.group(2)) == ("get", "retrieve_with_scheduled_changes"):
            if sub["id"] not in self.scheduled:
                return error(400, "invalid_state_for_request", "The subscription has no scheduled changes")
            return 200, {"subscription": self._scheduled_view(sub), "customer": self.customers[sub["customer_id"]]}
        actions = {
            ("get", None): lambda s, b: None,
            ("post", "pause"): self._pause,
            ("post", "resume"): self._resume,
            ("post", "update_for_items"): self._update,
            ("post", "change_term_end"): self._change_term_end,
            ("post", "cancel_for_items"): self._cancel,
            ("post", "remove_scheduled_changes"): self._remove_scheduled_changes,
            ("post", "remove_scheduled_cancellation"): self._remove_scheduled_cancellation,
            ("post", "remove_scheduled_pause"): self._remove_scheduled_pause,
        }
        action = actions.get((method, found.group(2)))
        if action is None:
            return error(405, "http_method_not_supported", f"{method.upper()} {path} is not supported (fake)")
        refused = action(sub, body)
        sub["updated_at"] = self.now
        return refused or (200, {"subscription": copy.deepcopy(sub), "customer": self.customers[sub["customer_id"]]})

    def _pause(self, sub: dict[str, Any], body: dict[str, Any]) -> Answer | None:
        """Now, at the term end or on `pause_date` (`billing_cycles` is not modelled), until `resume_date`."""
        if sub["status"] not in ("active", "non_renewing"):  # "invalid_state_for_pause" in the docs
            return error(400, "invalid_state_for_request", f"A {sub['status']} subscription cannot be paused")
        if sub["has_scheduled_changes"] or sub.get("pause_date"):  # an update's change, or a pause already set
            return error(400, "invalid_state_for_request", "The subscription has scheduled changes", "operation_failed")
        option, resume = body.get("pause_option") or "immediately", int(body.get("resume_date") or 0)
        starts = {"immediately": self.now, "end_of_term": sub["current_term_end"]}.get(option)
        starts = int(body.get("pause_date") or 0) if option == "specific_date" else starts
        if starts is None or starts < self.now or (resume and resume <= starts):
            return error(400, "param_wrong_value", "pause_date and resume_date must lie ahead", param="resume_date")
        sub["pause_date"] = starts
        sub.update(resume_date=resume) if resume else sub.pop("resume_date", None)
        self._fall_due(sub)
        return None

    def _fall_due(self, sub: dict[str, Any]) -> None:
        """A scheduled pause whose date has come pauses the subscription (billing next when it resumes)."""
        if sub["status"] in ("active", "non_renewing") and 0 < int(sub.get("pause_date") or 0) <= self.now:
            sub["status"], resume = "paused", sub.get("resume_date")
            sub.update(next_billing_at=resume) if resume else sub.pop("next_billing_at", None)

    def _remove_scheduled_pause(self, sub: dict[str, Any], body: dict[str, Any]) -> Answer | None:
        if sub["status"] not in ("active", "non_renewing") or not sub.get("pause_date"):
            return error(400, "invalid_state_for_request", "The subscription is not scheduled to pause")
        sub.pop("pause_date"), sub.pop("resume_date", None)
        return None

    def _resume(self, sub: dict[str, Any], body: dict[str, Any]) -> Answer | None:
        if sub["status"] != "paused":
            return error(400, "invalid_state_for_request", "Only a paused subscription can be resumed")
        if body.get("resume_option") == "specific_date":
            if int(body.get("resume_date") or 0) <= self.now:
                return error(400, "param_wrong_value", "resume_date should be in the future", param="resume_date")
            sub["resume_date"] = sub["next_billing_at"] = int(body["resume_date"])
            return None
        sub.update(status="active", next_billing_at=sub["current_term_end"])
        sub.pop("pause_date", None), sub.pop("resume_date", None)
        return None

    def _update(self, sub: dict[str, Any], body: dict[str, Any]) -> Answer | None:
        if sub["status"] in ENDED:
            return error(400, "invalid_state_for_request", f"The subscription is {sub['status']}")
        items, coupons = body.get("subscription_items") or [], body.get("coupon_ids") or []
        for i, item in enumerate(items):
            if item.get("item_price_id") not in ITEM_PRICES:
                param = f"subscription_items[item_price_id][{i}]"
                return error(404, "resource_not_found", "The item price is not present", param=param)
        if unknown := [i for i, c in enumerate(coupons) if c not in COUPONS]:
            return error(404, "resource_not_found", "The coupon is not present", param=f"coupon_ids[{unknown[0]}]")
        self.scheduled.pop(sub["id"], None)  # "Any existing scheduled change on the subscription is deleted"
        sub["has_scheduled_changes"] = False
        meta = json.loads(body["meta_data"]) if "meta_data" in body else None
        if body.get("change_option") == "end_of_term" or body.get("end_of_term") == "true":
            self.scheduled[sub["id"]] = {"items": items, "meta": meta, "coupons": coupons}
            sub["has_scheduled_changes"] = True
            return None
        if body.get("replace_coupon_list") == "true":
            sub["coupons"] = []  # "the existing coupon_ids list for the subscription is replaced by the one provided"
        _apply(sub, items, meta, coupons)
        return None

    def _change_term_end(self, sub: dict[str, Any], body: dict[str, Any]) -> Answer | None:
        if sub["status"] not in ("in_trial", "active", "non_renewing"):
            return error(400, "invalid_state_for_request", f"The term of a {sub['status']} subscription cannot change")
        end = int(body.get("term_ends_at") or 0)
        if end <= self.now:
            return error(400, "param_wrong_value", "term_ends_at should be in the future", param="term_ends_at")
        sub["current_term_end"] = sub["next_billing_at"] = end
        if sub["status"] == "in_trial":
            sub["trial_end"] = end
        if sub["status"] == "non_renewing":
            sub["cancelled_at"] = end
        return None

    def _cancel(self, sub: dict[str, Any], body: dict[str, Any]) -> Answer | None:
        if sub["status"] in ENDED:
            return error(400, "invalid_state_for_request", f"The subscription is already {sub['status']}")
        if (code := body.get("cancel_reason_code")) and code not in self.reason_codes:
            return error(400, "param_wrong_value", f"Reason code {code} is not configured", param="cancel_reason_code")
        if code:
            sub["cancel_reason_code"] = code
        if body.get("cancel_option") != "end_of_term" and body.get("end_of_term") != "true":
            sub.update(status="cancelled", cancelled_at=self.now, has_scheduled_changes=False)
            self.scheduled.pop(sub["id"], None)
            sub.pop("next_billing_at", None), sub.pop("pause_date", None), sub.pop("resume_date", None)
            return None
        end = {"in_trial": sub.get("trial_end"), "paused": sub.get("resume_date")}.get(sub["status"])
        sub.update(cancelled_at=end or sub["current_term_end"], cancel_schedule_created_at=self.now)
        sub["status"] = "non_renewing" if sub["status"] == "active" else sub["status"]  # a trial stays in_trial
        return None

    def _remove_scheduled_changes(self, sub: dict[str, Any], body: dict[str, Any]) -> Answer | None:
        if self.scheduled.pop(sub["id"], None) is None:
            return error(400, "invalid_state_for_request", "The subscription has no scheduled changes")
        sub["has_scheduled_changes"] = False
        return None

    def _remove_scheduled_cancellation(self, sub: dict[str, Any], body: dict[str, Any]) -> Answer | None:
        if sub["status"] != "non_renewing" and not sub.get("cancelled_at"):
            return error(400, "invalid_state_for_request", "The subscription has no scheduled cancellation")
        sub["status"] = "active" if sub["status"] == "non_renewing" else sub["status"]
        for gone in ("cancelled_at", "cancel_schedule_created_at", "cancel_reason_code"):
            sub.pop(gone, None)
        return None

    def _create(self, customer_id: str, body: dict[str, Any]) -> Answer:
        """POST /customers/{id}/subscription_for_items: invoiced and charged at once, unless it starts a trial."""
        if customer_id not in self.customers:
            return error(404, "resource_not_found", "Sorry, we couldn't find that resource")
        sub_id = body.get("id") or f"sub_created_{len(self.subscriptions) + 1}"
        if sub_id in self.subscriptions:
            return error(400, "duplicate_entry", f"The value {sub_id} is already present.", param="id")
        price = ((body.get("subscription_items") or [{}])[0]).get("item_price_id")
        coupons = tuple(body.get("coupon_ids") or [])
        if price not in ITEM_PRICES or not set(coupons) <= COUPONS:
            return error(404, "resource_not_found", "An item price or coupon is not present", param="item_price_id")
        trial_end = int(body.get("trial_end") or 0)
        if not trial_end and customer_id in self.declines:
            message = "Subscription cannot be created: (card_declined) Your card was declined."
            return error(402, "payment_processing_failed", message, kind="payment")
        sub = make_subscription(sub_id, status="in_trial" if trial_end else "active", price=price, coupons=coupons)
        term_end = trial_end or self.now + (365 if ITEM_PRICES[price][1] == "year" else 30) * DAY
        sub.update(customer_id=customer_id, current_term_start=self.now, created_at=self.now, started_at=self.now)
        sub.update(current_term_end=term_end, next_billing_at=term_end, updated_at=self.now)
        sub.update(trial_start=self.now, trial_end=trial_end) if trial_end else sub.update(activated_at=self.now)
        self.subscriptions[sub_id] = sub
        if not trial_end:
            self.pay_invoice(sub_id, amount=ITEM_PRICES[price][0], paid_at=self.now)
        return 200, {"subscription": copy.deepcopy(sub), "customer": self.customers[customer_id]}

    def _comment(self, body: dict[str, Any]) -> Answer:
        if body.get("entity_type") != "subscription" or body.get("entity_id") not in self.subscriptions:
            return error(404, "resource_not_found", "Sorry, we couldn't find that resource", param="entity_id")
        comment: dict[str, Any] = {"id": f"cmt_{len(self.comments) + 1}", "entity_type": "subscription"}
        comment.update(entity_id=body["entity_id"], notes=body.get("notes", ""), created_at=self.now, type="user")
        self.comments.append({**comment, "added_by": "API", "object": "comment"})
        return 200, {"comment": self.comments[-1]}

    def _list_invoices(self, query: dict[str, Any]) -> Answer:
        """GET /invoices with the filters the adapter uses: subscription_id[is], status[is], amount_paid[gt]."""

        def keep(inv: dict[str, Any]) -> bool:
            return bool(
                inv["subscription_id"] == query.get("subscription_id", {}).get("is", inv["subscription_id"])
                and inv["status"] == query.get("status", {}).get("is", inv["status"])
                and inv["amount_paid"] > int(query.get("amount_paid", {}).get("gt", -1))
            )

        newest_first = query.get("sort_by", {}).get("desc") == "date"
        rows = sorted(filter(keep, self.invoices), key=lambda i: int(i["date"]), reverse=newest_first)
        return 200, {"list": [{"invoice": copy.deepcopy(i)} for i in rows[: int(query.get("limit") or 10)]]}

    def _list(self, kind: str, rows: Iterable[dict[str, Any]], query: dict[str, Any]) -> Answer:
        """A list (https://apidocs.chargebee.com/docs/api/item_prices/list-item-prices): rows matching every
        `<attribute>[is]` filter, newest first, `limit` of them after `offset`, and `next_offset` (opaque: the last
        row's creation time in ms and id) only when more rows follow."""
        limit = int(query.pop("limit", None) or 10)
        if not 1 <= limit <= LIST_MAX:
            return error(400, "param_wrong_value", f"limit : should be between 1 and {LIST_MAX}", param="limit")
        offset = query.pop("offset", None)
        if any(not isinstance(ops, dict) or set(ops) != {"is"} for ops in query.values()):
            return error(400, "param_wrong_value", "The fake filters with [is] only", param=next(iter(query)))
        kept = [r for r in rows if all(str(r.get(name)) == ops["is"] for name, ops in query.items())]
        kept.sort(key=lambda r: (int(r["created_at"]), str(r["id"])), reverse=True)
        if offset is not None:
            try:
                at, after = json.loads(offset)
                kept = [r for r in kept if (int(r["created_at"]), str(r["id"])) < (int(at) // 1000, str(after))]
            except (ValueError, TypeError):
                return error(400, "param_wrong_value", "offset : invalid value", param="offset")
        page: dict[str, Any] = {"list": [{kind: copy.deepcopy(r)} for r in kept[:limit]]}
        if len(kept) > limit:
            last = kept[limit - 1]
            page["next_offset"] = json.dumps([str(int(last["created_at"]) * 1000), str(last["id"])])
        return 200, page

    def _scheduled_view(self, sub: dict[str, Any]) -> dict[str, Any]:
        """The subscription as its scheduled change will leave it (what retrieve_with_scheduled_changes answers)."""
        view, change = copy.deepcopy(sub), self.scheduled[sub["id"]]
        _apply(view, change["items"], change["meta"], change["coupons"])
        view["changes_scheduled_at"] = sub["current_term_end"]
        return view


def _apply(sub: dict[str, Any], items: list[dict[str, Any]], meta: Any, coupons: list[str]) -> None:
    """An update's items (each of our item prices is a plan: it replaces the plan item), meta_data and coupons."""
    plan = sub["subscription_items"][0]
    for item in items:
        amount, unit = ITEM_PRICES[item["item_price_id"]]
        quantity = int(item.get("quantity") or plan["quantity"])
        plan.update(item_price_id=item["item_price_id"], quantity=quantity, unit_price=amount, amount=amount * quantity)
        sub["billing_period_unit"] = unit
    if meta is not None:
        sub["meta_data"] = meta  # replaces the whole object
    present = {c["coupon_id"] for c in sub["coupons"]}
    sub["coupons"] += [{"coupon_id": c, "applied_count": 0, "object": "coupon"} for c in coupons if c not in present]
