"""Signed tokens and passwords: embed-token verification, flow and admin session tokens, argon2, API-key checks.

Rules: may import jwt, itsdangerous, argon2, msgspec and service.settings. Embed and admin tokens are
JWTs, HS256 with the algorithm pinned; the flow token is an itsdangerous-signed JSON object (see
mint_flow_token). Claims are validated into typed structs before anything trusts them. The session
secret signs; it and SAVEFLOW_PREVIOUS_SESSION_SECRETS verify (key rotation).

Exceptions::

    TokenError(problem)        problem is one of TokenProblem; safe to log, mapped to a friendly page
    └── FlowTokenError         a flow token (ours) was refused
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Literal

import jwt
import msgspec
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadPayload, BadSignature, URLSafeSerializer
from jwt.exceptions import InvalidIssuedAtError, InvalidJTIError, InvalidSubjectError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from service.settings import Settings

ALGORITHM = "HS256"
LEEWAY_SECONDS = 30
ADMIN_TOKEN_AUDIENCE = "saveflow:admin"  # noqa: S105
FLOW_TOKEN_LIFETIME = timedelta(hours=2)


class TokenProblem(StrEnum):
    MISSING = "missing"
    MALFORMED = "malformed"
    BAD_SIGNATURE = "bad_signature"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    TOO_LONG_LIVED = "too_long_lived"
    INVALID_CLAIMS = "invalid_claims"
    REUSED = "reused"
    WRONG_SESSION = "wrong_session"


class TokenError(Exception):
    def __init__(self, problem: TokenProblem, detail: str = "") -> None:
        super().__init__(f"{problem}: {detail}" if detail else str(problem))
        self.problem = problem
        self.detail = detail


class FlowTokenError(TokenError):
    """A flow token was refused: to the user, the page has been open too long or belongs to another session."""


# Ids carry no control characters; free text carries no NUL (Postgres text cannot store it).
NO_CONTROL = r"^[^\x00-\x1f\x7f]*$"
NO_NUL = r"^[^\x00]*$"
Short = Annotated[str, msgspec.Meta(min_length=1, max_length=255, pattern=NO_CONTROL)]


AttrName = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=NO_CONTROL)]
AttrText = Annotated[str, msgspec.Meta(max_length=255, pattern=NO_NUL)]


# The `losses` claim: what the customer would lose, one tile each (README "Embed it in your app"). A tile
# gives either `value`, text shown as sent (the original form), or `count`, a number formatted for the
# session's language, which also picks the label's plural form. A label is one text for every language,
# or texts per language tag; with `count` a language's text may be CLDR plural forms ("one", "other", …),
# chosen by Babel's plural rules, because only the host knows its own nouns in every language.
LossText = Annotated[str, msgspec.Meta(min_length=1, max_length=60, pattern=NO_NUL)]
LANGUAGE_TAG = r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{1,8})*$"  # "de", "de-AT", "pt_BR"
LanguageTag = Annotated[str, msgspec.Meta(min_length=2, max_length=16, pattern=LANGUAGE_TAG)]
PluralCategory = Literal["zero", "one", "two", "few", "many", "other"]
PluralForms = Annotated[dict[PluralCategory, LossText], msgspec.Meta(min_length=1)]
LossLabel = LossText | Annotated[dict[LanguageTag, LossText | PluralForms], msgspec.Meta(min_length=1, max_length=16)]
MAX_LOSS_COUNT = 10**15  # beyond any real count, and exact as a JSON number


class Loss(msgspec.Struct, frozen=True, omit_defaults=True):
    """One tile of the `losses` claim: `label` with exactly one of `value` (text) or `count` (a number)."""

    label: LossLabel
    value: Annotated[str, msgspec.Meta(min_length=1, max_length=30, pattern=NO_NUL)] | None = None
    count: Annotated[int, msgspec.Meta(ge=0, le=MAX_LOSS_COUNT)] | None = None

    def __post_init__(self) -> None:
        # Raised here, a ValueError becomes msgspec's ValidationError: the token is refused as invalid claims.
        if (self.value is None) == (self.count is None):
            raise ValueError("a loss needs exactly one of `value` or `count`")
        texts = self.label.values() if isinstance(self.label, dict) else ()
        forms = [text for text in texts if isinstance(text, dict)]
        if forms and self.count is None:
            raise ValueError("plural forms need a `count` to choose between them")
        if any("other" not in form for form in forms):
            raise ValueError('plural forms need "other", the form every language has')


class EmbedClaims(msgspec.Struct, frozen=True, kw_only=True):
    """The host-signed embed token's claims (ARCHITECTURE.md §1), validated."""

    sub: Short
    subscription_id: Short
    jti: Annotated[str, msgspec.Meta(min_length=8, max_length=128, pattern=NO_CONTROL)]
    exp: int
    iat: int
    locale: Annotated[str, msgspec.Meta(max_length=16, pattern=NO_CONTROL)] | None = None
    email: Annotated[str, msgspec.Meta(max_length=320, pattern=NO_CONTROL)] | None = None
    first_name: Annotated[str, msgspec.Meta(max_length=80, pattern=NO_NUL)] | None = None
    attrs: dict[AttrName, AttrText | int | float | bool] = msgspec.field(default_factory=dict)
    losses: Annotated[list[Loss], msgspec.Meta(max_length=8)] = msgspec.field(default_factory=list)
    test: bool = False
    return_url: Annotated[str, msgspec.Meta(max_length=2048)] | None = None


class FlowClaims(msgspec.Struct, frozen=True, kw_only=True):
    """Our own short-lived token for one session's requests (header X-Flow-Token or form field)."""

    session_id: str
    customer_id: str
    expires_at: int  # Unix time, on the app's clock
    parent_origin: str = ""  # the host origin postMessage targets; "" when shown as a full page
    return_url: str = ""  # where a full-page visitor goes back to (already checked against the allowed origins)


_REQUIRED = ["exp", "iat", "sub", "jti", "subscription_id"]


def verify_embed_token(token: str | None, settings: Settings, now: datetime) -> EmbedClaims:
    """Verify the host's embed token: HS256 only, required claims, exp at most 1 h after iat."""
    if not token:
        raise TokenError(TokenProblem.MISSING)
    payload = _decode(token, settings.embed_secret, now, required=_REQUIRED, audience=None)
    try:
        claims = msgspec.convert(payload, EmbedClaims)
    except msgspec.ValidationError as exc:
        raise TokenError(TokenProblem.INVALID_CLAIMS, str(exc)) from exc
    if claims.exp - claims.iat > settings.token_max_age_seconds + LEEWAY_SECONDS:
        raise TokenError(TokenProblem.TOO_LONG_LIVED, "exp is more than the allowed lifetime after iat")
    if claims.exp - now.timestamp() > settings.token_max_age_seconds + LEEWAY_SECONDS:
        raise TokenError(TokenProblem.TOO_LONG_LIVED, "exp is too far in the future")
    return claims


def mint_embed_token(
    settings: Settings,
    *,
    customer_id: str,
    subscription_id: str,
    now: datetime,
    lifetime: timedelta = timedelta(minutes=15),
    **extra: Any,
) -> str:
    """What a host backend does (the demo host page and tests use it): sign the embed claims."""
    claims = {
        "sub": customer_id,
        "subscription_id": subscription_id,
        "iat": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
        "jti": secrets.token_urlsafe(16),
        **extra,
    }
    return jwt.encode(claims, settings.embed_secret, algorithm=ALGORITHM)


# The flow token is ours alone: minted and checked by this service on every widget request. itsdangerous
# signs it: its salt keeps the key apart from everything else the session secret signs (admin cookies,
# CSRF), and it takes a list of keys, so the session secret can be rotated without ending open widgets.
FLOW_TOKEN_SALT = "saveflow.flow-token"  # noqa: S105 - a key-derivation label, not a secret
MAX_FLOW_TOKEN_LENGTH = 4096


def session_secrets(settings: Settings) -> list[str]:
    """The keys that verify, oldest first: itsdangerous and this module sign with the last (the current one)."""
    return [*settings.previous_session_secrets, settings.session_secret]


def _flow_serializer(settings: Settings) -> URLSafeSerializer:
    return URLSafeSerializer(
        session_secrets(settings), salt=FLOW_TOKEN_SALT, signer_kwargs={"digest_method": hashlib.sha256}
    )


def mint_flow_token(
    settings: Settings, *, session_id: str, customer_id: str, parent_origin: str, now: datetime, return_url: str = ""
) -> str:
    """A token for one session's requests, valid for FLOW_TOKEN_LIFETIME on the app's clock."""
    claims = FlowClaims(
        session_id=session_id,
        customer_id=customer_id,
        parent_origin=parent_origin,
        return_url=return_url,
        expires_at=int((now + FLOW_TOKEN_LIFETIME).timestamp()),
    )
    return _flow_serializer(settings).dumps(msgspec.to_builtins(claims))


def verify_flow_token(token: str | None, session_id: str, settings: Settings, now: datetime) -> FlowClaims:
    """The claims of a flow token this service minted for `session_id`, unexpired (with leeway) at `now`.

    Raises:
        FlowTokenError: missing, malformed, signed with a key no longer accepted, expired, or another session's.
    """
    if not token:
        raise FlowTokenError(TokenProblem.MISSING)
    if len(token) > MAX_FLOW_TOKEN_LENGTH:
        raise FlowTokenError(TokenProblem.MALFORMED)
    try:
        payload = _flow_serializer(settings).loads(token)
    except BadPayload as exc:  # signed by us but unreadable: cannot happen unless a key leaked
        raise FlowTokenError(TokenProblem.INVALID_CLAIMS) from exc
    except BadSignature as exc:
        raise FlowTokenError(TokenProblem.BAD_SIGNATURE) from exc
    try:
        claims = msgspec.convert(payload, FlowClaims)
    except msgspec.ValidationError as exc:
        raise FlowTokenError(TokenProblem.INVALID_CLAIMS, str(exc)) from exc
    if claims.expires_at + LEEWAY_SECONDS < now.timestamp():
        raise FlowTokenError(TokenProblem.EXPIRED)
    if not secrets.compare_digest(claims.session_id, session_id):
        raise FlowTokenError(TokenProblem.WRONG_SESSION)
    return claims


def mint_admin_token(settings: Settings, *, user_id: int, session_version: int, now: datetime) -> str:
    claims = {"uid": user_id, "sv": session_version, "exp": int((now + timedelta(hours=8)).timestamp())}
    return jwt.encode({**claims, "aud": ADMIN_TOKEN_AUDIENCE}, settings.session_secret, algorithm=ALGORITHM)


def verify_admin_token(token: str | None, settings: Settings, now: datetime) -> tuple[int, int]:
    """Returns (user id, session version) from a valid admin session cookie."""
    if not token:
        raise TokenError(TokenProblem.MISSING)
    payload = _decode_with_any(
        token, session_secrets(settings), now, required=["exp", "uid", "sv"], audience=ADMIN_TOKEN_AUDIENCE
    )
    uid, sv = payload.get("uid"), payload.get("sv")
    if not isinstance(uid, int) or not isinstance(sv, int):
        raise TokenError(TokenProblem.INVALID_CLAIMS)
    return uid, sv


def _decode_with_any(
    token: str, keys: list[str], now: datetime, *, required: list[str], audience: str | None
) -> dict[str, Any]:
    """`_decode` with whichever of `keys` signed the token, newest first (PyJWT takes one HMAC key per call)."""
    for key in reversed(keys):
        try:
            return _decode(token, key, now, required=required, audience=audience)
        except TokenError as exc:
            if exc.problem is not TokenProblem.BAD_SIGNATURE:
                raise
    raise TokenError(TokenProblem.BAD_SIGNATURE)


def _decode(token: str, key: str, now: datetime, *, required: list[str], audience: str | None) -> dict[str, Any]:
    # PyJWT would judge exp, nbf and iat by the wall clock; they are judged by `now` below, the one clock every
    # decision in the service uses (a test's clock, or a request's arrival rather than a slow handler's end).
    try:
        payload: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=audience,
            options={
                "require": required,
                "verify_aud": audience is not None,
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
    except jwt.InvalidSignatureError as exc:
        raise TokenError(TokenProblem.BAD_SIGNATURE) from exc
    except (jwt.MissingRequiredClaimError, InvalidSubjectError, InvalidJTIError, InvalidIssuedAtError) as exc:
        raise TokenError(TokenProblem.INVALID_CLAIMS, str(exc)) from exc
    except jwt.InvalidTokenError as exc:  # malformed, wrong algorithm ("none", RS256), bad audience
        raise TokenError(TokenProblem.MALFORMED, type(exc).__name__) from exc
    for claim in ("exp", "nbf", "iat"):
        if claim in payload and (isinstance(payload[claim], bool) or not isinstance(payload[claim], int | float)):
            raise TokenError(TokenProblem.MALFORMED, f"{claim} is not a number")
    moment = now.timestamp()
    if "exp" in payload and payload["exp"] <= moment - LEEWAY_SECONDS:
        raise TokenError(TokenProblem.EXPIRED)
    if max(payload.get("nbf", moment), payload.get("iat", moment)) > moment + LEEWAY_SECONDS:
        raise TokenError(TokenProblem.NOT_YET_VALID)
    return payload


_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def password_needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def safe_return_url(url: str | None, settings: Settings) -> str:
    """The host's return URL if it points at an allowed origin (never an open redirect), else ""."""
    if not url or not url.startswith(("https://", "http://")):
        return ""
    scheme, _, rest = url.partition("://")
    origin = f"{scheme}://{rest.split('/', 1)[0].split('?', 1)[0]}"
    return url if origin in settings.allowed_origins else ""


def api_key_presented(authorization: str | None, api_key: str) -> bool:
    """Whether an `Authorization: Bearer <key>` header value carries `api_key` (compared in constant time)."""
    scheme, _, key = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and secrets.compare_digest(key.strip().encode(), api_key.encode())


def address_allowed(host: str | None, allowed: Iterable[str]) -> bool:
    """Whether the client address `host` lies in one of the `allowed` addresses or networks (CIDR)."""
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:  # no address, or a name (a test client, a Unix socket)
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:10.0.0.1 is 10.0.0.1 on a dual-stack socket
    return any(address in ipaddress.ip_network(network, strict=False) for network in allowed)
