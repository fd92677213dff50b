"""The unsubscribe token: which address (and customer) an email's unsubscribe link stops, signed and time-limited.

Rules: may import itsdangerous, msgspec and service.security. Signed like the flow token (itsdangerous,
the session secret signs and the previous ones verify) under a salt of its own, so no other token
can pass for it. Expiry is checked against the app's clock. The link must work long after the email
was sent (CAN-SPAM asks for 30 days), hence UNSUBSCRIBE_LINK_LIFETIME.

Exceptions::

    UnsubscribeLinkInvalid   missing, tampered with, signed with a retired key, or expired
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import msgspec

from service.mail.signed_links import read_claims, sign_claims

if TYPE_CHECKING:
    from service.settings import Settings

UNSUBSCRIBE_SALT = "saveflow.email-unsubscribe"
UNSUBSCRIBE_LINK_LIFETIME = timedelta(days=400)


class UnsubscribeLinkInvalid(Exception):
    """The token does not prove anything; the page says the link does not work."""


class UnsubscribeClaims(msgspec.Struct, frozen=True, kw_only=True):
    address: Annotated[str, msgspec.Meta(min_length=3, max_length=320)]
    customer_id: Annotated[str, msgspec.Meta(max_length=255)] = ""
    locale: Annotated[str, msgspec.Meta(max_length=8)] = "en"
    expires_at: int


def mint_unsubscribe_token(settings: Settings, *, address: str, customer_id: str, locale: str, now: datetime) -> str:
    claims = UnsubscribeClaims(
        address=address.lower(),
        customer_id=customer_id,
        locale=locale,
        expires_at=int((now + UNSUBSCRIBE_LINK_LIFETIME).timestamp()),
    )
    return sign_claims(settings, UNSUBSCRIBE_SALT, claims)


def verify_unsubscribe_token(token: str | None, settings: Settings, now: datetime) -> UnsubscribeClaims:
    claims = read_claims(token, settings, UNSUBSCRIBE_SALT, UnsubscribeClaims, now)
    if claims is None:
        raise UnsubscribeLinkInvalid
    return claims
