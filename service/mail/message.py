"""The email as sent (headers, text and HTML parts) and what happens after each attempt: pure functions.

Rules: standard library only. The message is multipart/alternative (plain text first, then HTML, so
clients prefer the HTML) with RFC 2369 List-Unsubscribe and RFC 8058 one-click List-Unsubscribe-Post.
Retries back off like the webhook outbox; a permanent refusal (5xx) fails at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses

BACKOFF = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
    timedelta(hours=24),
)
MAX_ATTEMPTS = len(BACKOFF) + 1


@dataclass(frozen=True, slots=True)
class Outgoing:
    """What the outbox stored for one email: everything but the sender, which comes from settings when sent."""

    to: str
    subject: str
    text: str
    html: str
    locale: str
    message_id: str
    unsubscribe_url: str
    date: datetime


def valid_address(address: str) -> str:
    """`address` as a bare addr-spec ("ana@example.com"); ValueError when it is not one."""
    text = address.strip()
    if len(text) > 320 or any(c in text for c in '\r\n<>,;"() ') or text.count("@") != 1:
        raise ValueError(f"not an email address: {address!r}")
    local, _, domain = text.partition("@")
    if not local or "." not in domain or domain.startswith(".") or domain.endswith("."):
        raise ValueError(f"not an email address: {address!r}")
    return text


def sender_domain(from_header: str) -> str:
    """The domain of SAVEFLOW_EMAIL_FROM ("Acme <billing@acme.example>" → "acme.example"), for Message-IDs."""
    pairs = getaddresses([from_header])
    address = pairs[0][1] if pairs else ""
    return address.rpartition("@")[2] or "localhost"


def build_message(email: Outgoing, *, from_header: str) -> EmailMessage:
    message = EmailMessage()
    name, address = getaddresses([from_header])[0]
    local, _, domain = address.partition("@")
    message["From"] = Address(display_name=name, username=local, domain=domain)
    message["To"] = email.to
    message["Subject"] = email.subject
    message["Date"] = format_datetime(email.date)
    message["Message-ID"] = email.message_id
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: out-of-office replies should stay silent
    if email.unsubscribe_url:
        message["List-Unsubscribe"] = f"<{email.unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    message["Content-Language"] = email.locale  # after the parts: set_content clears Content-* headers
    return message


@dataclass(frozen=True, slots=True)
class AfterAttempt:
    status: str  # sent | demo | failed | pending
    next_attempt_at: datetime | None = None


def after_attempt(attempts: int, *, ok: bool, permanent: bool, delivered: str, now: datetime) -> AfterAttempt:
    """The row's next state after its `attempts`-th try: `delivered` (sent or demo), failed, or retry later."""
    if ok:
        return AfterAttempt(delivered)
    if permanent or attempts >= MAX_ATTEMPTS:
        return AfterAttempt("failed")
    return AfterAttempt("pending", now + BACKOFF[attempts - 1])
