"""Email to customers: rendering per language, the message as sent, unsubscribe tokens and the SMTP transport.

Rules: no persistence and no HTTP (service.use_cases.emails stores, claims and sends through this
package; import-linter holds it). May import jinja2, css_inline, aiosmtplib, itsdangerous, msgspec,
service.i18n, service.security and service.settings.
"""

from service.mail.message import Outgoing, after_attempt, build_message
from service.mail.render import KINDS, Rendered, render
from service.mail.tokens import UnsubscribeLinkInvalid, mint_unsubscribe_token, verify_unsubscribe_token
from service.mail.transport import MailNotSent, build_mailer, mail_mode, parse_smtp_url

__all__ = (
    "KINDS",
    "MailNotSent",
    "Outgoing",
    "Rendered",
    "UnsubscribeLinkInvalid",
    "after_attempt",
    "build_mailer",
    "build_message",
    "mail_mode",
    "mint_unsubscribe_token",
    "parse_smtp_url",
    "render",
    "verify_unsubscribe_token",
)
