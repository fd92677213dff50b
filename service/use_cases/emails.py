"""Emails to customers: queue one in the caller's unit of work, send what is due, record unsubscribes.

Rules: may import service.mail, service.db.engine and service.repositories. An email is rendered and
stored when queued (the stored copy is exactly what is sent, and a template change never alters a
queued email), then sent by the background worker, never inside a request: the state change that
causes an email is committed with its outbox row, before any SMTP traffic. Rows are claimed with a
lease like webhook deliveries, every attempt is kept, and retries back off (service.mail.message).
An address (or customer) that unsubscribed gets nothing: queueing records the row as suppressed with
the reason, and sending checks again, since the unsubscribe may come after the email was queued.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import make_msgid
from enum import StrEnum
from typing import TYPE_CHECKING
from urllib.parse import quote

from service.db.engine import unit_of_work
from service.i18n import DEFAULT as DEFAULT_LOCALE
from service.i18n import normalise
from service.mail.message import Outgoing, after_attempt, build_message, sender_domain, valid_address
from service.mail.render import render
from service.mail.tokens import mint_unsubscribe_token
from service.mail.transport import MailNotSent
from service.repositories import emails

if TYPE_CHECKING:
    from service.mail.transport import Mailer
    from service.settings import Settings

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
LEASE = timedelta(minutes=2)  # longer than the SMTP timeout, so a live attempt is never claimed twice
UNSUBSCRIBED = "unsubscribed"


class Queued(StrEnum):
    QUEUED = "queued"
    DUPLICATE = "duplicate"  # an email with this dedupe key exists; nothing new was written
    SUPPRESSED = "suppressed"  # stored as suppressed, not to be sent: the recipient unsubscribed


@dataclass(frozen=True, slots=True)
class QueueResult:
    outcome: Queued
    email_id: int | None


async def queue_email(
    kind: str,
    *,
    to: str,
    locale: str,
    context: Mapping[str, object],
    customer_id: str,
    dedupe_key: str,
    now: datetime,
    settings: Settings,
) -> QueueResult:
    """Render and store one email for the worker, inside the caller's unit of work (or one of its own).

    `dedupe_key` names the email's reason to exist (e.g. "winback:<session>:at-cancel"), so a caller that
    runs again queues nothing new. ValueError for an unknown kind, a bad address or a bad context.
    """
    address = valid_address(to)
    locale = normalise(locale) or DEFAULT_LOCALE
    if not dedupe_key or len(dedupe_key) > 255:
        raise ValueError("dedupe_key must be 1 to 255 characters")
    # Rendered before the unit of work: a bad context fails before anything is read or written.
    token = mint_unsubscribe_token(settings, address=address, customer_id=customer_id, locale=locale, now=now)
    unsubscribe_url = f"{settings.public_url}/email/unsubscribe?token={quote(token)}"
    rendered = render(
        kind,
        locale=locale,
        context=context,
        unsubscribe_url=unsubscribe_url,
        brand=settings.theme.brand,
        brand_contrast=settings.theme.brand_contrast,
    )
    async with unit_of_work():
        existing = await emails.id_by_dedupe_key(dedupe_key)
        if existing is not None:
            return QueueResult(Queued.DUPLICATE, existing)
        suppressed = await emails.is_unsubscribed(address, customer_id)
        email_id = await emails.add(
            emails.NewEmail(
                kind=kind,
                dedupe_key=dedupe_key,
                to_address=address,
                customer_id=customer_id,
                locale=locale,
                subject=rendered.subject,
                text_body=rendered.text,
                html_body=rendered.html,
                message_id=make_msgid(domain=sender_domain(settings.email_from)),
                unsubscribe_url=unsubscribe_url,
                status="suppressed" if suppressed else "pending",
                note=UNSUBSCRIBED if suppressed else "",
            ),
            now,
        )
        if email_id is None:  # a concurrent caller queued it between our read and our insert
            return QueueResult(Queued.DUPLICATE, await emails.id_by_dedupe_key(dedupe_key))
    return QueueResult(Queued.SUPPRESSED if suppressed else Queued.QUEUED, email_id)


async def send_due_emails(*, mailer: Mailer | None, settings: Settings, clock: Clock, limit: int = 20) -> int:
    """Try every due email once; returns how many were tried. Without a mailer (not configured) nothing moves."""
    if mailer is None:
        return 0
    async with unit_of_work():
        ids = await emails.claim_due(clock(), lease=LEASE, limit=limit)
    for email_id in ids:
        await _send(email_id, mailer=mailer, settings=settings, clock=clock)
    return len(ids)


async def _send(email_id: int, *, mailer: Mailer, settings: Settings, clock: Clock) -> None:
    email = await emails.get(email_id)
    if email is None or email.status != "pending":
        return
    if await emails.is_unsubscribed(email.to_address, email.customer_id):
        async with unit_of_work():
            await emails.suppress(email_id, UNSUBSCRIBED)
        return
    message = build_message(
        Outgoing(
            to=email.to_address,
            subject=email.subject,
            text=email.text_body,
            html=email.html_body,
            locale=email.locale,
            message_id=email.message_id,
            unsubscribe_url=email.unsubscribe_url,
            date=email.created_at,
        ),
        from_header=settings.email_from,
    )
    ok, permanent = True, False
    try:
        detail = await mailer.send(message)
    except MailNotSent as exc:
        ok, permanent, detail = False, exc.permanent, exc.detail
    attempts = email.attempts + 1
    now = clock()
    delivered = "demo" if mailer.kind == "demo" else "sent"
    after = after_attempt(attempts, ok=ok, permanent=permanent, delivered=delivered, now=now)
    if after.status == "failed":
        log.warning("email %s (%s) failed for good after %s attempt(s): %s", email_id, email.kind, attempts, detail)
    async with unit_of_work():
        await emails.record_attempt(
            email_id,
            at=now,
            ok=ok,
            detail=detail,
            status=after.status,
            attempts=attempts,
            next_attempt_at=after.next_attempt_at,
        )


async def unsubscribe(address: str, *, customer_id: str, one_click: bool, now: datetime) -> bool:
    """Stop every later email to `address` (and to `customer_id`); False when it had already unsubscribed."""
    async with unit_of_work():
        return await emails.add_unsubscribe(
            address, customer_id=customer_id, source="one-click" if one_click else "page", now=now
        )
