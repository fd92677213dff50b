"""Emails: the email outbox (`email_message`), each sending attempt (`email_attempt`) and unsubscribed
addresses (`email_unsubscribe`).

Rules: may import piccolo and service.db. Writes belong inside the caller's unit of work.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from service.db.engine import lock_rows_if_postgres
from service.db.tables import EmailAttempt, EmailUnsubscribe, OutboundEmail

if TYPE_CHECKING:
    from datetime import timedelta


@dataclass(frozen=True, slots=True)
class NewEmail:
    """A rendered email as queued; `status` is "pending", or "suppressed" with `note` saying why."""

    kind: str
    dedupe_key: str
    to_address: str
    customer_id: str
    locale: str
    subject: str
    text_body: str
    html_body: str
    message_id: str
    unsubscribe_url: str
    status: str = "pending"
    note: str = ""


@dataclass(frozen=True, slots=True)
class StoredEmail:
    id: int
    kind: str
    to_address: str
    customer_id: str
    locale: str
    subject: str
    text_body: str
    html_body: str
    message_id: str
    unsubscribe_url: str
    status: str
    note: str
    attempts: int
    created_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class Attempt:
    at: datetime
    ok: bool
    detail: str


async def add(email: NewEmail, now: datetime) -> int | None:
    """Insert `email`; None when an email with its dedupe key exists already (nothing is written then)."""
    row = OutboundEmail(
        kind=email.kind,
        dedupe_key=email.dedupe_key,
        to_address=email.to_address,
        customer_id=email.customer_id,
        locale=email.locale,
        subject=email.subject,
        text_body=email.text_body,
        html_body=email.html_body,
        message_id=email.message_id,
        unsubscribe_url=email.unsubscribe_url,
        status=email.status,
        note=email.note,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    # ON CONFLICT DO NOTHING rather than a read first: two callers racing on one key both succeed,
    # and on Postgres a unique violation would abort the caller's whole transaction.
    inserted = (
        await OutboundEmail.insert(row)
        .on_conflict(target=OutboundEmail.dedupe_key, action="DO NOTHING")
        .returning(OutboundEmail.id)
    )
    return int(inserted[0]["id"]) if inserted else None


async def id_by_dedupe_key(dedupe_key: str) -> int | None:
    row = await OutboundEmail.select(OutboundEmail.id).where(OutboundEmail.dedupe_key == dedupe_key).first()
    return None if row is None else int(row["id"])


def erased_address(address: str) -> str:
    """How an unsubscribed address is kept once its customer's data is erased: a digest, still honoured."""
    return "erased:" + hashlib.sha256(address.lower().encode()).hexdigest()


async def is_unsubscribed(address: str, customer_id: str) -> bool:
    """Whether this address, or (when given) this customer at any address, asked for no more emails."""
    where: Any = EmailUnsubscribe.address.is_in([address.lower(), erased_address(address)])
    if customer_id:
        where = where | (EmailUnsubscribe.customer_id == customer_id)
    return await EmailUnsubscribe.exists().where(where)


async def add_unsubscribe(address: str, *, customer_id: str, source: str, now: datetime) -> bool:
    """Record an unsubscribe; False when the address had already unsubscribed (the first record stays)."""
    inserted = (
        await EmailUnsubscribe.insert(
            EmailUnsubscribe(address=address.lower(), customer_id=customer_id, source=source, at=now)
        )
        .on_conflict(target=EmailUnsubscribe.address, action="DO NOTHING")
        .returning(EmailUnsubscribe.address)
    )
    return bool(inserted)


async def claim_due(now: datetime, *, lease: timedelta, limit: int) -> list[int]:
    """Lease due pending emails to this process (Postgres skips rows another process is claiming)."""
    query = (
        OutboundEmail.select(OutboundEmail.id)
        .where(
            (OutboundEmail.status == "pending")
            & (OutboundEmail.next_attempt_at <= now)
            & (OutboundEmail.claimed_until.is_null() | (OutboundEmail.claimed_until < now))
        )
        .order_by(OutboundEmail.id)
        .limit(limit)
    )
    query = lock_rows_if_postgres(query, skip_locked=True)
    ids = [int(r["id"]) for r in await query]
    if ids:
        await OutboundEmail.update({OutboundEmail.claimed_until: now + lease}).where(OutboundEmail.id.is_in(ids))
    return ids


def _stored(r: dict[str, Any]) -> StoredEmail:
    return StoredEmail(
        id=r["id"],
        kind=r["kind"],
        to_address=r["to_address"],
        customer_id=r["customer_id"],
        locale=r["locale"],
        subject=r["subject"],
        text_body=r["text_body"],
        html_body=r["html_body"],
        message_id=r["message_id"],
        unsubscribe_url=r["unsubscribe_url"],
        status=r["status"],
        note=r["note"],
        attempts=r["attempts"],
        created_at=r["created_at"],
        sent_at=r["sent_at"],
    )


async def get(email_id: int) -> StoredEmail | None:
    row = await OutboundEmail.select().where(OutboundEmail.id == email_id).first()
    return None if row is None else _stored(row)


async def record_attempt(
    email_id: int,
    *,
    at: datetime,
    ok: bool,
    detail: str,
    status: str,
    attempts: int,
    next_attempt_at: datetime | None = None,
) -> None:
    """Keep the attempt and settle the row: `status` sent/demo/failed/suppressed, or pending until `next_attempt_at`."""
    await EmailAttempt.insert(EmailAttempt(email=email_id, at=at, ok=ok, detail=detail[:1000]))
    changes: dict[Any, Any] = {
        OutboundEmail.status: status,
        OutboundEmail.attempts: attempts,
        OutboundEmail.claimed_until: None,
        OutboundEmail.note: "" if ok else detail[:1000],
    }
    if ok:
        changes[OutboundEmail.sent_at] = at
    if next_attempt_at is not None:
        changes[OutboundEmail.next_attempt_at] = next_attempt_at
    await OutboundEmail.update(changes).where(OutboundEmail.id == email_id)


async def suppress(email_id: int, note: str) -> None:
    """Stop a pending email without an attempt (its address unsubscribed after it was queued)."""
    await OutboundEmail.update(
        {OutboundEmail.status: "suppressed", OutboundEmail.note: note, OutboundEmail.claimed_until: None}
    ).where(OutboundEmail.id == email_id)


# admin
_LIST_COLUMNS = (
    OutboundEmail.id,
    OutboundEmail.kind,
    OutboundEmail.to_address,
    OutboundEmail.customer_id,
    OutboundEmail.locale,
    OutboundEmail.subject,
    OutboundEmail.message_id,
    OutboundEmail.unsubscribe_url,
    OutboundEmail.status,
    OutboundEmail.note,
    OutboundEmail.attempts,
    OutboundEmail.created_at,
    OutboundEmail.sent_at,
)


async def recent(limit: int = 100) -> tuple[StoredEmail, ...]:
    """The newest emails first, without their bodies."""
    rows = await OutboundEmail.select(*_LIST_COLUMNS).order_by(OutboundEmail.id, ascending=False).limit(limit)
    return tuple(_stored({**r, "text_body": "", "html_body": ""}) for r in rows)


async def attempts_of(email_id: int) -> tuple[Attempt, ...]:
    rows = (
        await EmailAttempt.select(EmailAttempt.at, EmailAttempt.ok, EmailAttempt.detail)
        .where(EmailAttempt.email == email_id)
        .order_by(EmailAttempt.id)
    )
    return tuple(Attempt(r["at"], bool(r["ok"]), r["detail"]) for r in rows)


async def pending_count() -> int:
    return int(await OutboundEmail.count().where(OutboundEmail.status == "pending"))
