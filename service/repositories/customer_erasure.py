"""Erase one customer's personal data in place, keeping every fact the figures count (GDPR erasure).

Rules: may import piccolo, flows types and service.db. Writes belong inside the caller's unit of work.
Erased: email addresses, the embed token's attributes (first name…) and losses, free-text answers (in
the state and in the event log), follow-up notes, email subjects, bodies and addresses, attempt
details, and settled billing webhook payloads. Kept: ids, outcomes, reasons, offers, steps, money, times and
event types, so the dashboard's figures are the same before and after. Each function returns how
many rows it changed, so a second erasure changes none.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from flows import FeedbackGiven, ReasonChosen
from service.db import codec
from service.db.engine import lock_rows_if_postgres
from service.db.tables import (
    BillingWebhookEvent,
    EmailAttempt,
    EmailUnsubscribe,
    FlowEvent,
    FlowSession,
    FollowUpTask,
    OutboundEmail,
)
from service.repositories.emails import erased_address
from service.repositories.follow_ups import OWED

ERASED_NOTE = "erased at the customer's request"
UNSETTLED_WEBHOOKS = ("received", "failed")  # billing webhooks still to be processed (or replayed)


async def erase_sessions(customer_id: str) -> int:
    """Email, token attributes and losses, and the written answers of the customer's sessions."""
    query = FlowSession.select(
        FlowSession.id, FlowSession.email, FlowSession.attrs, FlowSession.losses, FlowSession.state
    ).where(FlowSession.customer_id == customer_id)
    changed = 0
    for r in await lock_rows_if_postgres(query):
        state = codec.state_from_json(r["state"])
        blank = dataclasses.replace(state, comment=None, feedback=None)
        if r["email"] is None and r["attrs"] == "{}" and r["losses"] == "[]" and blank == state:
            continue
        await FlowSession.update(
            {
                FlowSession.email: None,
                FlowSession.attrs: "{}",
                FlowSession.losses: "[]",
                FlowSession.state: codec.dumps(blank),
            }
        ).where(FlowSession.id == r["id"])
        changed += 1
    return changed


async def erase_event_texts(session_ids: list[str]) -> int:
    """The free text in these sessions' event logs (a reason's comment, the feedback step's text)."""
    if not session_ids:
        return 0
    rows = await FlowEvent.select(FlowEvent.id, FlowEvent.type, FlowEvent.payload).where(
        FlowEvent.session.is_in(session_ids) & FlowEvent.type.is_in(["ReasonChosen", "FeedbackGiven"])
    )
    changed = 0
    for r in rows:
        event = codec.event_from_json(r["type"], r["payload"])
        if isinstance(event, ReasonChosen) and event.comment:
            blank: Any = dataclasses.replace(event, comment="")
        elif isinstance(event, FeedbackGiven) and event.text:
            blank = dataclasses.replace(event, text="")
        else:
            continue
        await FlowEvent.update({FlowEvent.payload: codec.dumps(blank)}).where(FlowEvent.id == r["id"])
        changed += 1
    return changed


async def erase_tasks(customer_id: str) -> int:
    """Follow-up tasks: the address and what the customer wrote (an incentive still owed stays)."""
    rows = await FollowUpTask.select(FollowUpTask.id, FollowUpTask.email, FollowUpTask.note).where(
        FollowUpTask.customer_id == customer_id
    )
    changed = 0
    for r in rows:
        head = r["note"].split(" — ", 1)[0]
        note = head if head.startswith(OWED) else ""
        if r["email"] is None and r["note"] == note:
            continue
        await FollowUpTask.update({FollowUpTask.email: None, FollowUpTask.note: note}).where(FollowUpTask.id == r["id"])
        changed += 1
    return changed


async def erase_emails(customer_id: str, addresses: set[str]) -> int:
    """Emails to the customer: address, subject, bodies and attempt details; a pending one is suppressed."""
    where: Any = OutboundEmail.customer_id == customer_id
    if addresses:
        where |= (OutboundEmail.customer_id == "") & OutboundEmail.to_address.is_in(sorted(addresses))
    rows = await OutboundEmail.select(OutboundEmail.id, OutboundEmail.to_address, OutboundEmail.status).where(where)
    ids = [r["id"] for r in rows if r["to_address"] or r["status"] == "pending"]
    if not ids:
        return 0
    blank: dict[Any, Any] = {
        OutboundEmail.to_address: "",
        OutboundEmail.subject: "",
        OutboundEmail.text_body: "",
        OutboundEmail.html_body: "",
        OutboundEmail.unsubscribe_url: "",
        OutboundEmail.note: ERASED_NOTE,
    }
    await OutboundEmail.update(blank).where(OutboundEmail.id.is_in(ids))
    await OutboundEmail.update({OutboundEmail.status: "suppressed", OutboundEmail.claimed_until: None}).where(
        OutboundEmail.id.is_in(ids) & (OutboundEmail.status == "pending")
    )
    await EmailAttempt.update({EmailAttempt.detail: ""}).where(EmailAttempt.email.is_in(ids))
    return len(ids)


async def erase_unsubscribes(customer_id: str, addresses: set[str]) -> int:
    """Unsubscribed addresses become digests (`emails.erased_address`), so the unsubscribe still holds."""
    where: Any = EmailUnsubscribe.customer_id == customer_id
    if addresses:
        where |= EmailUnsubscribe.address.is_in(sorted(addresses))
    rows = await EmailUnsubscribe.select(EmailUnsubscribe.address).where(where)
    changed = 0
    for r in rows:
        address = r["address"]
        if address.startswith("erased:"):
            continue
        digest = erased_address(address)
        if await EmailUnsubscribe.exists().where(EmailUnsubscribe.address == digest):
            await EmailUnsubscribe.delete().where(EmailUnsubscribe.address == address)
        else:
            await EmailUnsubscribe.update({EmailUnsubscribe.address: digest}).where(EmailUnsubscribe.address == address)
        changed += 1
    return changed


async def erase_billing_webhooks(subscription_ids: set[str]) -> int:
    """The raw payloads of the billing provider's settled webhooks about these subscriptions (they may carry
    an email or a name); type, status and times stay. A delivery still to be processed or replayed keeps
    its payload (an `invoice.paid` dates the save's first payment from it) until it is settled."""
    if not subscription_ids:
        return 0
    settled = BillingWebhookEvent.status.not_in(list(UNSETTLED_WEBHOOKS))
    rows = (
        await BillingWebhookEvent.update({BillingWebhookEvent.payload: "{}", BillingWebhookEvent.signature: ""})
        .where(
            BillingWebhookEvent.subscription_id.is_in(sorted(subscription_ids))
            & settled
            & (BillingWebhookEvent.payload != "{}")
        )
        .returning(BillingWebhookEvent.id)
    )
    return len(rows)
