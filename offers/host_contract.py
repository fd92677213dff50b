"""The wire format of host-executed billing (BILLING_PROVIDER=host), shared by its provider and the reference host.

Rules: standard library and `offers.ports` only. docs/host-billing.openapi.json documents the same shapes for
hosts written in other languages; tests/contract/test_host_contract.py holds the two together.

The service POSTs one action per request to `{HOST_BILLING_URL}/actions`, signed per Standard Webhooks
(`webhook-id` is the idempotency key, so a retry carries the same id):

    {"action": "pause", "subscription_id": "sub_1", "idempotency_key": "…", "params": {"resumes_at": "…"}}

and the host answers 200 with one of

    {"result": "applied", "subscription": {…snapshot…}}
    {"result": "refused", "code": "not_applicable" | "payment_failed" | "not_found", "message": "…"}
    {"result": "pending"}        (accepted; the service asks again with the same key later)

It reads a subscription with a signed `GET {HOST_BILLING_URL}/subscriptions/{id}` (200 with a snapshot, 404).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from offers.ports import Capability, SubscriptionSnapshot, SubscriptionStatus

if TYPE_CHECKING:
    from collections.abc import Mapping


class Action(StrEnum):
    """What the host is asked to do; each names the port method it stands for."""

    PAUSE = "pause"
    RESUME = "resume"
    CHANGE_PLAN = "change_plan"  # a downgrade, now or at the period end
    EXTEND_TRIAL = "extend_trial"
    APPLY_DISCOUNT = "apply_discount"
    CANCEL = "cancel"
    UNDO_CANCEL = "undo_cancel"  # drop a scheduled cancellation
    UNDO_PLAN_CHANGE = "undo_plan_change"  # drop a plan change scheduled for the period end
    REACTIVATE = "reactivate"  # a new subscription for a customer whose subscription ended (win-back)


# Which actions a capability needs (a host that lacks an action lacks the capability).
ACTION_OF: Mapping[Capability, Action] = {
    Capability.PAUSE: Action.PAUSE,
    Capability.RESUME: Action.RESUME,
    Capability.CHANGE_PRICE_NOW: Action.CHANGE_PLAN,
    Capability.CHANGE_PRICE_AT_PERIOD_END: Action.CHANGE_PLAN,
    Capability.EXTEND_TRIAL: Action.EXTEND_TRIAL,
    Capability.DISCOUNT: Action.APPLY_DISCOUNT,
    Capability.CANCEL_NOW: Action.CANCEL,
    Capability.CANCEL_AT_PERIOD_END: Action.CANCEL,
    Capability.REACTIVATE: Action.UNDO_CANCEL,
    Capability.CANCEL_SCHEDULED_CHANGE: Action.UNDO_PLAN_CHANGE,
    Capability.RESUBSCRIBE: Action.REACTIVATE,
}


class Result(StrEnum):
    APPLIED = "applied"
    REFUSED = "refused"
    PENDING = "pending"


class Refusal(StrEnum):
    """Why a host refused: shown to the user as "this offer isn't available", or a payment problem."""

    NOT_APPLICABLE = "not_applicable"
    PAYMENT_FAILED = "payment_failed"
    NOT_FOUND = "not_found"


def capabilities_of(actions: frozenset[Action]) -> frozenset[Capability]:
    return frozenset(c for c, a in ACTION_OF.items() if a in actions)


_TIMES = ("current_period_end", "trial_end", "paused_until", "canceled_at", "last_paid_at")


def snapshot_to_json(snapshot: SubscriptionSnapshot) -> dict[str, Any]:
    data = asdict(snapshot)
    for name in _TIMES:
        data[name] = data[name].isoformat() if data[name] else None
    data["status"] = snapshot.status.value
    data["discount_coupon_ids"] = list(snapshot.discount_coupon_ids)
    data["discount_ids"] = list(snapshot.discount_ids)
    return data


def snapshot_from_json(data: Mapping[str, Any]) -> SubscriptionSnapshot:
    """A host's snapshot; raises ValueError (or KeyError/TypeError) for one that does not follow the schema."""

    def when(name: str) -> datetime | None:
        value = data.get(name)
        if value is None:
            return None
        moment = datetime.fromisoformat(str(value))
        if moment.tzinfo is None:
            raise ValueError(f"{name} must carry a UTC offset: {value!r}")
        return moment

    period_end = when("current_period_end")
    if period_end is None:
        raise ValueError("current_period_end is required")
    return SubscriptionSnapshot(
        id=str(data["id"]),
        customer_id=str(data["customer_id"]),
        status=SubscriptionStatus(str(data["status"])),
        price_id=str(data["price_id"]),
        amount_cents=int(data["amount_cents"]),
        currency=str(data["currency"]).lower(),
        interval=str(data.get("interval") or "month"),
        interval_count=int(data.get("interval_count") or 1),
        current_period_end=period_end,
        trial_end=when("trial_end"),
        paused_until=when("paused_until"),
        discount_coupon_ids=tuple(str(c) for c in data.get("discount_coupon_ids") or ()),
        discount_ids=tuple(str(c) for c in data.get("discount_ids") or ()),
        cancel_at_period_end=bool(data.get("cancel_at_period_end")),
        canceled_at=when("canceled_at"),
        scheduled_price_id=str(data["scheduled_price_id"]) if data.get("scheduled_price_id") else None,
        last_paid_at=when("last_paid_at"),
    )


def action_body(action: Action, subscription_id: str | None, key: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The signed request's JSON (`subscription_id` is null only for `reactivate`, which names a customer)."""
    return {"action": action.value, "subscription_id": subscription_id, "idempotency_key": key, "params": dict(params)}
