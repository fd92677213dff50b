"""Email, end to end: queued in the caller's unit of work, sent only by the worker to a real SMTP server
(aiosmtpd on 127.0.0.1), retried after a refusal, stopped by an unsubscribe, and kept in the demo mailbox."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from email.message import EmailMessage
from typing import Any, cast
from urllib.parse import urlsplit

import httpx
import pytest
from litestar import Litestar

from service.app import create_app
from service.db.engine import close_engine, open_engine, unit_of_work
from service.mail.transport import DemoMailbox, Mailer, SmtpMailer, build_mailer
from service.repositories import emails
from service.settings import Settings
from service.use_cases.emails import Queued, QueueResult, queue_email, send_due_emails
from tests.conftest import FakeClock, make_settings
from tests.integration.test_admin_pages import login_as
from tests.support.smtp import SmtpServer, smtp_server

REACTIVATE = "https://app.example/reactivate?t=signed-abc"


@pytest.fixture(name="smtp")
async def fx_smtp() -> AsyncIterator[SmtpServer]:
    async with smtp_server() as server:
        yield server


def smtp_mailer(settings: Settings, smtp: SmtpServer) -> Mailer:
    mailer = build_mailer(replace(settings, smtp_url=smtp.url))
    assert isinstance(mailer, SmtpMailer)
    return mailer


async def queue_winback(
    settings: Settings, clock: FakeClock, *, to: str = "ana@example.com", locale: str = "de", key: str = "wb:ses_1"
) -> QueueResult:
    async with unit_of_work():  # the caller's unit of work, as the cancellation use case will have
        return await queue_email(
            "winback",
            to=to,
            locale=locale,
            context={"reactivate_url": REACTIVATE, "name": "Ana", "link_expires_at": clock() + timedelta(days=14)},
            customer_id="cus_ana",
            dedupe_key=key,
            now=clock(),
            settings=settings,
        )


def parts_of(message: EmailMessage) -> dict[str, str]:
    return {part.get_content_type(): str(cast("EmailMessage", part).get_content()) for part in message.iter_parts()}


@pytest.mark.usefixtures("app")
async def test_an_email_is_sent_by_the_worker_not_when_queued(
    settings: Settings, clock: FakeClock, smtp: SmtpServer
) -> None:
    queued = await queue_winback(replace(settings, email_from="Acme Billing <billing@acme.example>"), clock)
    assert queued.outcome is Queued.QUEUED
    assert smtp.inbox.received == []  # queueing talks to no server

    sent_settings = replace(settings, email_from="Acme Billing <billing@acme.example>")
    assert await send_due_emails(mailer=smtp_mailer(settings, smtp), settings=sent_settings, clock=clock) == 1
    [message] = smtp.inbox.received
    assert smtp.inbox.envelopes == [("billing@acme.example", ["ana@example.com"])]
    assert message["From"] == "Acme Billing <billing@acme.example>"
    assert message["To"] == "ana@example.com"
    assert message["Subject"] == "Wir würden uns freuen, Sie wiederzusehen"
    assert message["Content-Language"] == "de"
    assert message["Date"].datetime == clock()
    assert re.fullmatch(r"<[^@>]+@acme\.example>", message["Message-ID"])
    unsubscribe = message["List-Unsubscribe"]
    assert re.fullmatch(r"<http://testserver\.local/email/unsubscribe\?token=[\w.-]+>", unsubscribe)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.get_content_type() == "multipart/alternative"
    parts = parts_of(message)
    assert list(parts) == ["text/plain", "text/html"]
    assert "Hallo Ana," in parts["text/plain"] and REACTIVATE in parts["text/plain"]
    assert unsubscribe[1:-1] in parts["text/plain"]
    html = parts["text/html"]
    assert '<html lang="de">' in html and "Mein Abo reaktivieren" in html
    assert "<style" not in html and 'style="' in html  # css-inline moved the stylesheet into the elements
    assert f'href="{REACTIVATE}"' in html

    stored = await emails.get(cast("int", queued.email_id))
    assert stored is not None and stored.status == "sent" and stored.attempts == 1
    assert await send_due_emails(mailer=smtp_mailer(settings, smtp), settings=settings, clock=clock) == 0
    assert len(smtp.inbox.received) == 1


@pytest.mark.usefixtures("app")
async def test_a_rolled_back_unit_of_work_queues_nothing_and_a_retried_caller_queues_once(
    settings: Settings, clock: FakeClock, smtp: SmtpServer
) -> None:
    async def change_that_fails() -> None:
        async with unit_of_work():
            await queue_winback(settings, clock, key="wb:rolled-back")
            raise RuntimeError("the state change failed")

    with pytest.raises(RuntimeError):
        await change_that_fails()
    assert await emails.id_by_dedupe_key("wb:rolled-back") is None
    first = await queue_winback(settings, clock, key="wb:twice")
    again = await queue_winback(settings, clock, key="wb:twice")
    assert (first.outcome, again.outcome) == (Queued.QUEUED, Queued.DUPLICATE)
    assert again.email_id == first.email_id
    assert await send_due_emails(mailer=smtp_mailer(settings, smtp), settings=settings, clock=clock) == 1
    assert len(smtp.inbox.received) == 1


@pytest.mark.usefixtures("app")
async def test_a_refusing_server_is_retried_with_backoff_and_every_attempt_is_kept(
    settings: Settings, clock: FakeClock, smtp: SmtpServer
) -> None:
    smtp.inbox.answers = ["451 4.3.0 Mailbox busy, try again later"]
    queued = await queue_winback(settings, clock, locale="fr")
    mailer = smtp_mailer(settings, smtp)
    email_id = cast("int", queued.email_id)

    assert await send_due_emails(mailer=mailer, settings=settings, clock=clock) == 1
    after_refusal = await emails.get(email_id)
    assert after_refusal is not None
    assert (after_refusal.status, after_refusal.attempts) == ("pending", 1)
    assert "451" in after_refusal.note
    assert await send_due_emails(mailer=mailer, settings=settings, clock=clock) == 0  # backing off
    clock.advance(minutes=1)
    assert await send_due_emails(mailer=mailer, settings=settings, clock=clock) == 1
    [message] = smtp.inbox.received
    assert message["Subject"] == "Nous serions ravis de vous revoir"
    attempts = await emails.attempts_of(email_id)
    assert [a.ok for a in attempts] == [False, True]
    assert "451" in attempts[0].detail
    delivered = await emails.get(email_id)
    assert delivered is not None and (delivered.status, delivered.attempts, delivered.note) == ("sent", 2, "")


@pytest.mark.usefixtures("app")
async def test_a_permanent_refusal_fails_at_once_and_an_unreachable_server_is_retried(
    settings: Settings, clock: FakeClock, smtp: SmtpServer
) -> None:
    smtp.inbox.answers = ["550 5.1.1 No such user"]
    refused = await queue_winback(settings, clock, key="wb:refused")
    await send_due_emails(mailer=smtp_mailer(settings, smtp), settings=settings, clock=clock)
    failed = await emails.get(cast("int", refused.email_id))
    assert failed is not None and (failed.status, failed.attempts) == ("failed", 1)
    assert "550" in failed.note

    unreachable = await queue_winback(settings, clock, key="wb:unreachable")
    closed_port = build_mailer(replace(settings, smtp_url="smtp://127.0.0.1:9?starttls=0"))
    assert await send_due_emails(mailer=closed_port, settings=settings, clock=clock) == 1
    waiting = await emails.get(cast("int", unreachable.email_id))
    assert waiting is not None and (waiting.status, waiting.attempts) == ("pending", 1)


async def test_unsubscribing_stops_queued_and_later_emails(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, smtp: SmtpServer
) -> None:
    queued = await queue_winback(settings, clock, key="wb:before")
    stored = await emails.get(cast("int", queued.email_id))
    assert stored is not None
    link = urlsplit(stored.unsubscribe_url)
    page = await client.get(f"{link.path}?{link.query}")
    assert page.status_code == 200
    assert 'data-testid="unsubscribe-confirm"' in page.text
    assert "ana@example.com" in page.text and 'lang="de"' in page.text  # the email's language
    assert not await emails.is_unsubscribed("ana@example.com", "")  # a GET (a mail scanner) changes nothing

    # RFC 8058 one-click: the mail client POSTs to the List-Unsubscribe URL, with no cookie and no CSRF token.
    one_click = await client.post(f"{link.path}?{link.query}", data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200
    assert "Sie sind abgemeldet" in one_click.text
    assert await emails.is_unsubscribed("ANA@example.com", "")
    assert await emails.is_unsubscribed("new-address@example.com", "cus_ana")  # the customer, at any address

    later = await queue_winback(settings, clock, key="wb:after")
    assert later.outcome is Queued.SUPPRESSED
    assert await send_due_emails(mailer=smtp_mailer(settings, smtp), settings=settings, clock=clock) == 1
    assert smtp.inbox.received == []
    before = await emails.get(cast("int", queued.email_id))
    assert before is not None and (before.status, before.note) == ("suppressed", "unsubscribed")


async def test_the_confirm_button_works_without_javascript_and_bad_links_get_a_friendly_page(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    queued = await queue_winback(settings, clock, locale="es")
    stored = await emails.get(cast("int", queued.email_id))
    assert stored is not None
    token = stored.unsubscribe_url.split("token=", 1)[1]
    confirmed = await client.post("/email/unsubscribe", data={"token": token})  # the page's plain form
    assert confirmed.status_code == 200 and "Se ha dado de baja" in confirmed.text
    assert await emails.is_unsubscribed("ana@example.com", "")

    for bad in ("", "not-a-token", ("B" if token[0] == "A" else "A") + token[1:]):
        page = await client.get("/email/unsubscribe", params={"token": bad} if bad else None)
        assert page.status_code == 400
        assert 'data-testid="unsubscribe-invalid"' in page.text and "Traceback" not in page.text
    clock.advance(days=401)
    expired = await client.post("/email/unsubscribe", data={"token": token}, headers={"Accept-Language": "fr"})
    assert expired.status_code == 400 and "Ce lien ne fonctionne pas" in expired.text


async def test_the_demo_mailbox_keeps_sent_mail_in_the_admin(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    assert settings.demo and settings.smtp_url is None
    mailer = build_mailer(settings)
    assert isinstance(mailer, DemoMailbox)
    await login_as(client, "viewer", clock)
    queued = await queue_winback(settings, clock, locale="en")
    assert await send_due_emails(mailer=mailer, settings=settings, clock=clock) == 1
    stored = await emails.get(cast("int", queued.email_id))
    assert stored is not None and stored.status == "demo"

    listing = await client.get("/admin/emails")
    assert listing.status_code == 200
    assert "demo mailbox" in listing.text and "ana@example.com" in listing.text
    assert "We would love to have you back" in listing.text and "in the demo mailbox" in listing.text
    detail = await client.get(f"/admin/emails/{queued.email_id}")
    assert f'<iframe sandbox src="/admin/emails/{queued.email_id}/html"' in detail.text
    assert "Hi Ana," in detail.text  # the plain-text version
    html = await client.get(f"/admin/emails/{queued.email_id}/html")
    assert html.headers["content-security-policy"].startswith("sandbox;")
    assert "script-src" not in html.headers["content-security-policy"]  # default-src 'none' covers scripts
    assert REACTIVATE in html.text
    assert (await client.get("/admin/emails/999999")).status_code == 404


async def test_without_smtp_outside_the_demo_emails_wait_and_the_operator_is_told(
    app: Litestar, settings: Settings, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    production = make_settings(demo=False)
    with caplog.at_level(logging.WARNING, logger="service.mail.transport"):
        assert build_mailer(production) is None
    assert "email is not configured" in caplog.text
    queued = await queue_winback(production, clock)
    assert await send_due_emails(mailer=None, settings=production, clock=clock) == 0
    stored = await emails.get(cast("int", queued.email_id))
    assert stored is not None and (stored.status, stored.attempts) == ("pending", 0)

    bare: Litestar = create_app(production, clock=clock)
    await open_engine(bare.state.engine)
    try:
        transport = httpx.ASGITransport(app=cast("Any", bare))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as admin:
            await login_as(admin, "viewer", clock)
            page = await admin.get("/admin/emails")
    finally:
        await close_engine(bare.state.engine)
    assert 'role="alert"' in page.text and "not configured" in page.text and "SMTP_URL" in page.text
    assert "email not configured" in page.text  # the row's status says why it waits
