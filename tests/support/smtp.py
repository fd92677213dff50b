"""A real SMTP server for tests: aiosmtpd on 127.0.0.1 in the test's event loop, keeping what it accepts."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import cast

from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass
class Inbox:
    """An aiosmtpd handler: answers DATA with the queued `answers` first, then accepts and keeps the message."""

    answers: list[str] = field(default_factory=list)
    received: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.answers:
            return self.answers.pop(0)
        message = email.message_from_bytes(cast("bytes", envelope.content), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(message)
        self.envelopes.append((str(envelope.mail_from), list(envelope.rcpt_tos)))
        return "250 2.0.0 Message accepted"

    async def wait_for(self, subject: str) -> EmailMessage:
        """The first message received with this subject, waiting (30 s at most) for the sender's worker."""
        async with asyncio.timeout(30):
            while True:
                found = [m for m in self.received if m["Subject"] == subject]
                if found:
                    return found[0]
                await asyncio.sleep(0.1)


@dataclass
class SmtpServer:
    inbox: Inbox
    url: str  # SMTP_URL for the service: plain SMTP on loopback


@contextlib.asynccontextmanager
async def smtp_server() -> AsyncIterator[SmtpServer]:
    inbox = Inbox()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(inbox, hostname="mx.test"), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield SmtpServer(inbox, f"smtp://127.0.0.1:{port}?starttls=0")
    finally:
        server.close()
        await server.wait_closed()
