"""The resume link: a signed, expiring link to the widget for one customer's paused subscription.

Rules: may import itsdangerous, msgspec and service.security. Signed like the unsubscribe token (the
session secret signs, the previous ones verify) under a salt of its own, so neither token can pass for
the other. It names the pause it was minted for (`paused_until`), so each pause gets its own link and
its own widget session, and it expires a few days after that pause ends: then it has nothing to offer.

Exceptions::

    ResumeLinkInvalid   missing, tampered with, signed with a retired key, or expired
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import msgspec

from service.mail.signed_links import read_claims, sign_claims

if TYPE_CHECKING:
    from service.settings import Settings

RESUME_LINK_SALT = "saveflow.resume-link"
RESUME_LINK_GRACE = timedelta(days=7)  # after the pause ends: an email read late still opens the widget
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=255)]


class ResumeLinkInvalid(Exception):
    """The link proves nothing; the page says it does not work."""


class ResumeClaims(msgspec.Struct, frozen=True, kw_only=True):
    customer_id: Id
    subscription_id: Id
    paused_until: int  # Unix time of the pause's end the link was minted for
    locale: Annotated[str, msgspec.Meta(max_length=16)] = "en"
    email: Annotated[str, msgspec.Meta(max_length=320)] | None = None
    expires_at: int

    @property
    def jti(self) -> str:
        """The widget session's key: the same link (the same pause) always resumes the same session."""
        seed = f"{self.customer_id}\0{self.subscription_id}\0{self.paused_until}".encode()
        return "resume_" + hashlib.sha256(seed).hexdigest()[:40]


def mint_resume_token(
    settings: Settings,
    *,
    customer_id: str,
    subscription_id: str,
    paused_until: datetime,
    locale: str,
    email: str | None,
) -> str:
    """A token for `/w/link`, valid until RESUME_LINK_GRACE after the pause ends."""
    claims = ResumeClaims(
        customer_id=customer_id,
        subscription_id=subscription_id,
        paused_until=int(paused_until.timestamp()),
        locale=locale,
        email=email,
        expires_at=int((paused_until + RESUME_LINK_GRACE).timestamp()),
    )
    return sign_claims(settings, RESUME_LINK_SALT, claims)


def verify_resume_token(token: str | None, settings: Settings, now: datetime) -> ResumeClaims:
    claims = read_claims(token, settings, RESUME_LINK_SALT, ResumeClaims, now)
    if claims is None:
        raise ResumeLinkInvalid
    return claims
