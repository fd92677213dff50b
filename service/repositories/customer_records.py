"""Everything stored about one customer, read across every table that holds customer data (GDPR access).

Rules: may import piccolo, msgspec and service.db. Reads only; the erasure is
service.repositories.customer_erasure. A customer's rows are found by their customer id, their
sessions' ids, subscriptions and email addresses. Rows that name them only inside a text (webhook
payloads, audit targets) are narrowed in SQL with LIKE and then checked exactly here.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

from service.db.tables import (
    AuditLog,
    BillingOperation,
    BillingWebhookEvent,
    EmailAttempt,
    EmailUnsubscribe,
    FlowSession,
    FollowUpTask,
    OutboundEmail,
    WebhookDelivery,
    Winback,
)
from service.repositories.session_pages import COLUMNS, PagedSession, StoredEvent, events_of, paged_session

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

ERASE_ACTION = "customer.erase"  # the audit log's action for an erasure
D = TypeVar("D", bound="DataclassInstance")


@dataclass(frozen=True, slots=True)
class HeldOperation:
    action: str
    offer_id: str | None
    status: str
    attempt: int
    idempotency_key: str
    summary: str
    error: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class HeldSession:
    session: PagedSession
    attributes: dict[str, Any]  # the embed token's `attrs` (first name, segment attributes)
    losses: list[Any]  # the embed token's `losses`
    context: dict[str, Any]  # the customer context frozen at the start (subscription snapshot, country…)
    events: tuple[StoredEvent, ...]
    billing_operations: tuple[HeldOperation, ...]


@dataclass(frozen=True, slots=True)
class HeldTask:
    session_id: str
    email: str | None
    offer_id: str
    note: str
    status: str
    assignee: str
    created_at: datetime
    done_at: datetime | None


@dataclass(frozen=True, slots=True)
class HeldAttempt:
    at: datetime
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class HeldEmail:
    kind: str
    to_address: str
    locale: str
    subject: str
    text_body: str
    html_body: str
    status: str
    note: str
    created_at: datetime
    sent_at: datetime | None
    attempts: tuple[HeldAttempt, ...]


@dataclass(frozen=True, slots=True)
class HeldUnsubscribe:
    address: str
    source: str
    at: datetime


@dataclass(frozen=True, slots=True)
class HeldWinback:
    session_id: str
    subscription_id: str
    new_subscription_id: str
    status: str
    error: str
    currency: str
    list_cents: int
    won_back_cents: int
    offer: Any  # the win-back offer as the flow had it
    created_at: datetime
    settled_at: datetime | None


@dataclass(frozen=True, slots=True)
class HeldDelivery:
    msg_id: str
    event_type: str
    status: str
    attempts: int
    payload: dict[str, Any]
    created_at: datetime
    delivered_at: datetime | None


@dataclass(frozen=True, slots=True)
class HeldBillingWebhook:
    provider: str
    event_id: str | None
    type: str
    subscription_id: str | None
    status: str
    payload: Any  # the provider's JSON as received ({} once erased)
    received_at: datetime


@dataclass(frozen=True, slots=True)
class HeldAudit:
    actor: str
    action: str
    target: str
    before: str
    after: str
    at: datetime


@dataclass(frozen=True, slots=True)
class CustomerRecords:
    customer_id: str
    sessions: tuple[HeldSession, ...]
    follow_up_tasks: tuple[HeldTask, ...]
    emails: tuple[HeldEmail, ...]
    email_unsubscribes: tuple[HeldUnsubscribe, ...]
    winbacks: tuple[HeldWinback, ...]
    webhook_deliveries: tuple[HeldDelivery, ...]
    billing_webhook_events: tuple[HeldBillingWebhook, ...]
    audit: tuple[HeldAudit, ...]


def like_pattern(text: str) -> str:
    """`text` for a LIKE pattern, every character but letters and digits a one-character wildcard: it may
    match a little more than `text` (callers check exactly), never less, on SQLite and Postgres alike."""
    return "".join(c if c.isascii() and c.isalnum() else "_" for c in text)


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


async def holds_anything(customer_id: str) -> bool:
    """Whether any row names this customer (a session, an email, an unsubscribe, a win-back or a task)."""
    for table in (FlowSession, OutboundEmail, EmailUnsubscribe, Winback, FollowUpTask):
        if await table.exists().where(table.customer_id == customer_id):
            return True
    return False


async def session_ids(customer_id: str) -> list[str]:
    rows = await FlowSession.select(FlowSession.id).where(FlowSession.customer_id == customer_id)
    return [str(r["id"]) for r in rows]


async def subscription_ids(customer_id: str) -> set[str]:
    """Every subscription the customer's sessions and win-backs named (a win-back may start a new one)."""
    found = {
        r["subscription_id"]
        for r in await FlowSession.select(FlowSession.subscription_id).where(FlowSession.customer_id == customer_id)
    }
    for r in await Winback.select(Winback.subscription_id, Winback.new_subscription_id).where(
        Winback.customer_id == customer_id
    ):
        found |= {r["subscription_id"], r["new_subscription_id"]}
    return {s for s in found if s}


async def addresses(customer_id: str) -> set[str]:
    """The email addresses stored for this customer (lower-cased), from sessions, tasks and emails."""
    found: set[str] = set()
    for table, column in ((FlowSession, FlowSession.email), (FollowUpTask, FollowUpTask.email)):
        rows = await table.select(column.as_alias("address")).where(table.customer_id == customer_id)
        found |= {r["address"].lower() for r in rows if r["address"]}
    rows = await OutboundEmail.select(OutboundEmail.to_address).where(OutboundEmail.customer_id == customer_id)
    return found | {r["to_address"].lower() for r in rows if r["to_address"]}


def _build(cls: type[D], row: dict[str, Any], **given: Any) -> D:
    """`cls` from the row's columns of the same names, and the `given` values."""
    return cls(**{f.name: given[f.name] if f.name in given else row[f.name] for f in dataclasses.fields(cls)})


async def _sessions(customer_id: str) -> tuple[HeldSession, ...]:
    rows = (
        await FlowSession.select(*COLUMNS, FlowSession.attrs, FlowSession.losses, FlowSession.context)
        .where(FlowSession.customer_id == customer_id)
        .order_by(FlowSession.started_at)
        .order_by(FlowSession.id)
    )
    ids = [r["id"] for r in rows]
    logs = await events_of(ids)
    operations: dict[str, list[HeldOperation]] = {sid: [] for sid in ids}
    if ids:
        query = BillingOperation.select().where(BillingOperation.session.is_in(ids)).order_by(BillingOperation.id)
        for r in await query:
            operations[r["session"]].append(_build(HeldOperation, r))
    return tuple(
        HeldSession(
            session=paged_session(r),
            attributes=msgspec.json.decode(r["attrs"] or "{}"),
            losses=msgspec.json.decode(r["losses"] or "[]"),
            context=msgspec.json.decode(r["context"]),
            events=logs[r["id"]],
            billing_operations=tuple(operations[r["id"]]),
        )
        for r in rows
    )


async def _emails(customer_id: str, known: set[str]) -> tuple[HeldEmail, ...]:
    where: Any = OutboundEmail.customer_id == customer_id
    if known:  # an email queued without a customer id, to one of theirs
        where |= (OutboundEmail.customer_id == "") & OutboundEmail.to_address.is_in(sorted(known))
    rows = await OutboundEmail.select().where(where).order_by(OutboundEmail.id)
    attempts: dict[int, list[HeldAttempt]] = {r["id"]: [] for r in rows}
    if rows:
        query = EmailAttempt.select().where(EmailAttempt.email.is_in(list(attempts))).order_by(EmailAttempt.id)
        for a in await query:
            attempts[a["email"]].append(HeldAttempt(a["at"], bool(a["ok"]), a["detail"]))
    return tuple(_build(HeldEmail, r, attempts=tuple(attempts[r["id"]])) for r in rows)


async def _deliveries(customer_id: str) -> tuple[HeldDelivery, ...]:
    pattern = f'%"customer_id": {like_pattern(json.dumps(customer_id))}%'  # as service.use_cases.outbound writes it
    rows = await WebhookDelivery.select().where(WebhookDelivery.payload.like(pattern)).order_by(WebhookDelivery.id)
    found = []
    for r in rows:
        payload = _json(r["payload"])
        data = payload.get("data") if isinstance(payload, dict) else None
        if isinstance(data, dict) and data.get("customer_id") == customer_id:
            found.append(_build(HeldDelivery, r, payload=payload))
    return tuple(found)


async def audit_about(customer_id: str, targets: list[str]) -> tuple[HeldAudit, ...]:
    """Audit rows whose target is the customer (alone or followed by a subscription id), or one of `targets`
    (their sessions, their follow-up tasks)."""
    where: Any = (AuditLog.target == customer_id) | AuditLog.target.like(f"{like_pattern(customer_id)} %")
    if targets:
        where |= AuditLog.target.is_in(targets)
    rows = await AuditLog.select().where(where).order_by(AuditLog.id)
    return tuple(
        _build(HeldAudit, r, actor=r["staff_email"])
        for r in rows
        if r["target"] in targets or r["target"] == customer_id or r["target"].startswith(f"{customer_id} ")
    )


async def records(customer_id: str) -> CustomerRecords:
    """Every row about the customer, each list oldest first."""
    sessions = await _sessions(customer_id)
    tasks = await FollowUpTask.select().where(FollowUpTask.customer_id == customer_id).order_by(FollowUpTask.id)
    known = await addresses(customer_id)
    unsubscribed: Any = EmailUnsubscribe.customer_id == customer_id
    if known:
        unsubscribed |= EmailUnsubscribe.address.is_in(sorted(known))
    subscriptions = sorted(await subscription_ids(customer_id))
    webhooks = BillingWebhookEvent.select().where(BillingWebhookEvent.subscription_id.is_in(subscriptions or [""]))
    winbacks = await Winback.select().where(Winback.customer_id == customer_id).order_by(Winback.id)
    targets = [*(s.session.id for s in sessions), *(f"task {t['id']}" for t in tasks)]
    return CustomerRecords(
        customer_id=customer_id,
        sessions=sessions,
        follow_up_tasks=tuple(_build(HeldTask, t, session_id=t["session"]) for t in tasks),
        emails=await _emails(customer_id, known),
        email_unsubscribes=tuple(
            _build(HeldUnsubscribe, u)
            for u in await EmailUnsubscribe.select().where(unsubscribed).order_by(EmailUnsubscribe.at)
        ),
        winbacks=tuple(_build(HeldWinback, w, session_id=w["session"], offer=_json(w["offer"])) for w in winbacks),
        webhook_deliveries=await _deliveries(customer_id),
        billing_webhook_events=tuple(
            _build(HeldBillingWebhook, e, payload=_json(e["payload"]))
            for e in await webhooks.order_by(BillingWebhookEvent.id)
        ),
        audit=await audit_about(customer_id, targets),
    )
