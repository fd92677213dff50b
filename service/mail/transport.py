"""How an email leaves: SMTP to `SMTP_URL` with aiosmtplib, the demo mailbox, or nowhere (not configured).

Rules: may import aiosmtplib and service.settings; no persistence. `SMTP_URL` forms, decided here:
`smtp://[user:password@]host[:port]` talks plain SMTP and upgrades with STARTTLS when the server offers
it; `?starttls=1` refuses to send without STARTTLS, `?starttls=0` never upgrades (a local relay);
`smtps://…` is TLS from the first byte (port 465). The port defaults to 25, 587 with `starttls=1`,
465 for smtps. User and password are percent-decoded. Certificates are always verified.

Exceptions::

    MailNotSent(detail, permanent)   the server refused (5xx: permanent) or could not be reached (retry)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

if TYPE_CHECKING:
    from email.message import EmailMessage

    from service.settings import Settings

log = logging.getLogger(__name__)
SMTP_TIMEOUT_SECONDS = 30.0
# Our credentials refused (535) is not the recipient's fault: keep retrying while the operator fixes them.
RETRY_ALTHOUGH_5XX = (530, 534, 535, 538)


class MailNotSent(Exception):
    def __init__(self, detail: str, *, permanent: bool) -> None:
        super().__init__(detail)
        self.detail = detail
        self.permanent = permanent


class Mailer(Protocol):
    """Hands one message on; returns the server's answer, raises MailNotSent."""

    kind: Literal["smtp", "demo"]

    async def send(self, message: EmailMessage) -> str: ...


@dataclass(frozen=True, slots=True)
class SmtpTarget:
    host: str
    port: int | None
    username: str | None
    password: str | None
    use_tls: bool
    start_tls: bool | None  # None: when the server offers it

    @property
    def label(self) -> str:
        """Where mail goes, for logs and the admin (never the password)."""
        port = self.port or (465 if self.use_tls else 587 if self.start_tls else 25)
        upgrade = {True: "STARTTLS", False: "plain", None: "STARTTLS if offered"}[self.start_tls]
        mode = "TLS" if self.use_tls else upgrade
        return f"{self.host}:{port} ({mode})"


def parse_smtp_url(url: str) -> SmtpTarget:
    """`SMTP_URL` as connection parameters; ValueError says what is wrong."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("SMTP_URL must look like smtp://user:password@host:587 or smtps://host:465")
    starttls = (parse_qs(parts.query).get("starttls") or [""])[-1].lower()
    if starttls not in ("", "1", "0", "true", "false", "yes", "no"):
        raise ValueError("SMTP_URL's starttls must be 1 or 0")
    use_tls = parts.scheme == "smtps"
    if use_tls:
        start_tls: bool | None = False
    else:
        start_tls = None if starttls == "" else starttls in ("1", "true", "yes")
    return SmtpTarget(
        host=parts.hostname,
        port=parts.port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        use_tls=use_tls,
        start_tls=start_tls,
    )


def refusal_of(exc: aiosmtplib.SMTPException) -> MailNotSent:
    """An aiosmtplib error as MailNotSent: 5xx answers are permanent, everything else is retried."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        exc = exc.recipients[0]
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        permanent = 500 <= exc.code < 600 and exc.code not in RETRY_ALTHOUGH_5XX
        return MailNotSent(f"{exc.code} {exc.message}"[:500], permanent=permanent)
    return MailNotSent(f"{type(exc).__name__}: {exc}"[:500], permanent=False)


class SmtpMailer:
    kind: Literal["smtp", "demo"] = "smtp"

    def __init__(self, target: SmtpTarget) -> None:
        self.target = target

    async def send(self, message: EmailMessage) -> str:
        t = self.target
        try:
            _, answer = await aiosmtplib.send(
                message,
                hostname=t.host,
                port=t.port,
                username=t.username,
                password=t.password,
                use_tls=t.use_tls,
                start_tls=t.start_tls,
                timeout=SMTP_TIMEOUT_SECONDS,
            )
        except aiosmtplib.SMTPException as exc:
            raise refusal_of(exc) from exc
        except OSError as exc:  # DNS failures and refused connections before SMTP starts
            raise MailNotSent(f"{type(exc).__name__}: {exc}"[:500], permanent=False) from exc
        return answer[:500]


class DemoMailbox:
    """Demo mode without SMTP_URL: the message is already stored, so "sending" files it in the admin's Emails page."""

    kind: Literal["smtp", "demo"] = "demo"

    async def send(self, message: EmailMessage) -> str:
        return "kept in the demo mailbox (SMTP_URL is not set)"


@dataclass(frozen=True, slots=True)
class MailMode:
    kind: Literal["smtp", "demo", "off"]
    description: str


def mail_mode(settings: Settings) -> MailMode:
    if settings.smtp_url:
        return MailMode("smtp", f"sent by SMTP to {parse_smtp_url(settings.smtp_url).label}")
    if settings.demo:
        return MailMode("demo", "kept in the demo mailbox below, not sent (set SMTP_URL to send)")
    return MailMode("off", "not configured: emails wait unsent until SMTP_URL is set")


def build_mailer(settings: Settings) -> Mailer | None:
    """The composition root's choice; None (emails stay queued) without SMTP_URL outside the demo. Logs which."""
    mode = mail_mode(settings)
    if mode.kind == "off":
        log.warning("email is not configured: %s", mode.description)
        return None
    log.info("email: %s", mode.description)
    return SmtpMailer(parse_smtp_url(settings.smtp_url)) if settings.smtp_url else DemoMailbox()
