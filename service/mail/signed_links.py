"""Signed, expiring link tokens (unsubscribe, resume): itsdangerous under a salt per purpose, msgspec claims.

Rules: may import itsdangerous, msgspec and service.security. Signed like the flow token: the session
secret signs and the previous ones verify, so a key rotation keeps old links working. Each purpose has
its own salt, so no token can pass for another. Expiry (`expires_at`, Unix time) is checked against
the app's clock.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, TypeVar

import msgspec
from itsdangerous import BadData, URLSafeSerializer

from service.security import session_secrets

if TYPE_CHECKING:
    from datetime import datetime

    from service.settings import Settings

MAX_TOKEN_LENGTH = 2048
Claims = TypeVar("Claims", bound=msgspec.Struct)


def _serializer(settings: Settings, salt: str) -> URLSafeSerializer:
    return URLSafeSerializer(session_secrets(settings), salt=salt, signer_kwargs={"digest_method": hashlib.sha256})


def sign_claims(settings: Settings, salt: str, claims: msgspec.Struct) -> str:
    return _serializer(settings, salt).dumps(msgspec.to_builtins(claims))


def read_claims(
    token: str | None, settings: Settings, salt: str, claims_type: type[Claims], now: datetime
) -> Claims | None:
    """The claims, or None when the token is missing, tampered with, signed with a retired key, or expired."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    try:
        claims = msgspec.convert(_serializer(settings, salt).loads(token), claims_type)
    except (BadData, msgspec.ValidationError):
        return None
    expires_at = getattr(claims, "expires_at", 0)
    return claims if isinstance(expires_at, int) and expires_at >= now.timestamp() else None
