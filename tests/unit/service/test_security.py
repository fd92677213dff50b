"""Embed/flow/admin tokens and passwords: what is accepted and every way a token is refused."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from service.security import (
    TokenError,
    TokenProblem,
    hash_password,
    mint_admin_token,
    mint_embed_token,
    mint_flow_token,
    verify_admin_token,
    verify_embed_token,
    verify_flow_token,
    verify_password,
)
from service.settings import Settings
from tests.conftest import make_settings

SETTINGS = make_settings()
NOW = datetime.now(UTC).replace(microsecond=0)


def _claims(**overrides: object) -> dict[str, object]:
    claims: dict[str, object] = {
        "sub": "cus_1",
        "subscription_id": "sub_1",
        "iat": int(NOW.timestamp()),
        "exp": int((NOW + timedelta(minutes=10)).timestamp()),
        "jti": "jti-0123456789",
        "losses": [{"label": "projects", "value": "12"}],
    }
    claims.update(overrides)
    return claims


def _sign(claims: dict[str, object], key: str = SETTINGS.embed_secret, alg: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=alg)


def _problem(token: str | None, settings: Settings = SETTINGS) -> TokenProblem:
    with pytest.raises(TokenError) as caught:
        verify_embed_token(token, settings, NOW)
    return caught.value.problem


def test_a_well_formed_embed_token_is_accepted_with_its_losses() -> None:
    claims = verify_embed_token(_sign(_claims()), SETTINGS, NOW)
    assert (claims.sub, claims.subscription_id, claims.jti) == ("cus_1", "sub_1", "jti-0123456789")
    assert [(loss.label, loss.value) for loss in claims.losses] == [("projects", "12")]
    assert claims.test is False


def test_minted_tokens_round_trip() -> None:
    token = mint_embed_token(SETTINGS, customer_id="cus_9", subscription_id="sub_9", now=NOW, test=True)
    claims = verify_embed_token(token, SETTINGS, NOW)
    assert (claims.sub, claims.test) == ("cus_9", True)


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        (None, TokenProblem.MISSING),
        ("", TokenProblem.MISSING),
        ("not-a-jwt", TokenProblem.MALFORMED),
        (_sign(_claims(exp=int((NOW - timedelta(minutes=5)).timestamp()))), TokenProblem.EXPIRED),
        (_sign(_claims(iat=int((NOW + timedelta(minutes=5)).timestamp()))), TokenProblem.NOT_YET_VALID),
        (_sign(_claims(exp=int((NOW + timedelta(hours=3)).timestamp()))), TokenProblem.TOO_LONG_LIVED),
        (_sign(_claims(), key="x" * 64), TokenProblem.BAD_SIGNATURE),
        (_sign(_claims(), alg="HS512"), TokenProblem.MALFORMED),
        (_sign({k: v for k, v in _claims().items() if k != "jti"}), TokenProblem.INVALID_CLAIMS),
        (_sign(_claims(losses=[{"label": "x" * 500, "value": "1"}])), TokenProblem.INVALID_CLAIMS),
        (_sign(_claims(sub=42)), TokenProblem.INVALID_CLAIMS),
        (_sign(_claims(sub="cus_\x00")), TokenProblem.INVALID_CLAIMS),
        (_sign(_claims(subscription_id="sub_\n1")), TokenProblem.INVALID_CLAIMS),
        (_sign(_claims(first_name="Ada\x00")), TokenProblem.INVALID_CLAIMS),
        (_sign(_claims(attrs={"plan": "team\x00"})), TokenProblem.INVALID_CLAIMS),
        (_sign(_claims(losses=[{"label": "Projects\x00", "value": "1"}])), TokenProblem.INVALID_CLAIMS),
    ],
    ids=[
        "none",
        "empty",
        "garbage",
        "expired",
        "future-iat",
        "too-long",
        "wrong-key",
        "hs512",
        "no-jti",
        "huge-loss",
        "non-string-sub",
        "nul-in-sub",
        "newline-in-subscription",
        "nul-in-first-name",
        "nul-in-attribute",
        "nul-in-loss",
    ],
)
def test_bad_embed_tokens_are_refused(token: str | None, problem: TokenProblem) -> None:
    assert _problem(token) is problem


def test_alg_none_is_refused() -> None:
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode()).rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(json.dumps(_claims()).encode()).rstrip(b"=").decode()
    assert _problem(f"{header}.{body}.") is TokenProblem.MALFORMED


def test_tampered_claims_break_the_signature() -> None:
    header, body, signature = _sign(_claims()).split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=="))
    payload["sub"] = "cus_someone_else"
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    assert _problem(f"{header}.{forged}.{signature}") is TokenProblem.BAD_SIGNATURE


def test_flow_tokens_are_bound_to_their_session_and_audience() -> None:
    token = mint_flow_token(
        SETTINGS, session_id="ses_a", customer_id="cus_1", parent_origin="https://h.example", now=NOW
    )
    assert verify_flow_token(token, "ses_a", SETTINGS, NOW).po == "https://h.example"
    with pytest.raises(TokenError) as other:
        verify_flow_token(token, "ses_b", SETTINGS, NOW)
    assert other.value.problem is TokenProblem.WRONG_SESSION
    admin = mint_admin_token(SETTINGS, user_id=1, session_version=1, now=NOW)
    with pytest.raises(TokenError):
        verify_flow_token(admin, "ses_a", SETTINGS, NOW)  # an admin cookie is no flow token
    with pytest.raises(TokenError):
        verify_admin_token(token, SETTINGS, NOW)  # and vice versa
    assert verify_admin_token(admin, SETTINGS, NOW) == (1, 1)


def test_embed_secret_does_not_sign_flow_tokens() -> None:
    forged = jwt.encode(
        {"sid": "ses_a", "sub": "c", "exp": int(NOW.timestamp()) + 60, "aud": "saveflow:flow"},
        SETTINGS.embed_secret,
        algorithm="HS256",
    )
    with pytest.raises(TokenError):
        verify_flow_token(forged, "ses_a", SETTINGS, NOW)


def _flow_problem(token: str, now: datetime = NOW) -> TokenProblem:
    with pytest.raises(TokenError) as refused:
        verify_flow_token(token, "ses_a", SETTINGS, now)
    return refused.value.problem


def test_flow_tokens_carry_their_claims_and_expire_on_the_app_clock() -> None:
    token = mint_flow_token(
        SETTINGS, session_id="ses_a", customer_id="cus_1", parent_origin="", now=NOW, return_url="https://h.example/x"
    )
    claims = verify_flow_token(token, "ses_a", SETTINGS, NOW + timedelta(hours=1, minutes=59))
    assert (claims.sid, claims.sub, claims.po, claims.ru) == ("ses_a", "cus_1", "", "https://h.example/x")
    assert _flow_problem(token, NOW + timedelta(hours=2, minutes=1)) is TokenProblem.EXPIRED


def test_a_flow_token_with_any_byte_changed_is_refused() -> None:
    token = mint_flow_token(SETTINGS, session_id="ses_a", customer_id="cus_1", parent_origin="", now=NOW)
    version, body, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["sub"] = "cus_someone_else"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert _flow_problem(f"{version}.{forged}.{signature}") is TokenProblem.BAD_SIGNATURE
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    assert _flow_problem(f"{version}.{body}.{flipped}") is TokenProblem.BAD_SIGNATURE
    for malformed in (f"{body}.{signature}", f"f0.{body}.{signature}", token + ".x", "é" * 10, token + "A" * 5000):
        assert _flow_problem(malformed) is TokenProblem.MALFORMED


def test_passwords_are_argon2_hashed_and_verified() -> None:
    hashed = hash_password("correct horse battery")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "correct horse battery")
    assert not verify_password(hashed, "wrong")
    assert not verify_password("not-a-hash", "anything")


def test_a_token_claiming_rs256_is_refused_whatever_its_signature() -> None:
    header = base64.urlsafe_b64encode(json.dumps({"alg": "RS256", "typ": "JWT"}).encode()).rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(json.dumps(_claims()).encode()).rstrip(b"=").decode()
    fake_signature = base64.urlsafe_b64encode(b"\x01" * 256).rstrip(b"=").decode()
    assert _problem(f"{header}.{body}.{fake_signature}") is TokenProblem.MALFORMED
