"""The win-back link: a signed, time-limited link from a win-back email to the reactivation page.

Rules: may import itsdangerous, msgspec and service.security. Signed like the resume link (the session
secret signs, the previous ones verify) under a salt of its own, so no other token passes for it. It
names only the cancelled session; everything the page shows is read from that session. The same token
is the page's form credential (POST), so the page needs no cookie and no CSRF token of its own.

Exceptions::

    WinbackLinkInvalid   missing, tampered with, signed with a retired key, or expired
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import msgspec

from service.mail.signed_links import read_claims, sign_claims

if TYPE_CHECKING:
    from service.settings import Settings

WINBACK_LINK_SALT = "saveflow.winback-link"
WINBACK_LINK_LIFETIME = timedelta(days=30)  # the offer is time-limited: the link works 30 days from its email


class WinbackLinkInvalid(Exception):
    """The link proves nothing; the page says it does not work."""


class WinbackClaims(msgspec.Struct, frozen=True, kw_only=True):
    session_id: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    expires_at: int


def mint_winback_token(settings: Settings, *, session_id: str, now: datetime) -> str:
    claims = WinbackClaims(session_id=session_id, expires_at=int((now + WINBACK_LINK_LIFETIME).timestamp()))
    return sign_claims(settings, WINBACK_LINK_SALT, claims)


def verify_winback_token(token: str | None, settings: Settings, now: datetime) -> WinbackClaims:
    claims = read_claims(token, settings, WINBACK_LINK_SALT, WinbackClaims, now)
    if claims is None:
        raise WinbackLinkInvalid
    return claims
