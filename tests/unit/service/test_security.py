"""Embed/flow/admin tokens and passwords: what is accepted, every way a token is refused, key rotation."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from itsdangerous import URLSafeSerializer

from service.security import (
    FLOW_TOKEN_LIFETIME,
    FLOW_TOKEN_SALT,
    FlowTokenError,
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
from service.settings import ConfigError, Settings
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


def test_expiry_is_judged_by_the_services_clock_not_the_wall_clock() -> None:
    earlier = NOW - timedelta(days=2)
    token = _sign(_claims(iat=int(earlier.timestamp()), exp=int((earlier + timedelta(minutes=10)).timestamp())))
    assert verify_embed_token(token, SETTINGS, earlier).sub == "cus_1"  # long past by the wall clock
    later = NOW + timedelta(days=2)
    ahead = _sign(_claims(iat=int(later.timestamp()), exp=int((later + timedelta(minutes=10)).timestamp())))
    assert verify_embed_token(ahead, SETTINGS, later).sub == "cus_1"  # not yet issued by the wall clock
    with pytest.raises(TokenError) as caught:
        verify_embed_token(token, SETTINGS, earlier + timedelta(minutes=11))
    assert caught.value.problem is TokenProblem.EXPIRED
    with pytest.raises(TokenError) as caught:
        verify_embed_token(_sign(_claims(exp="soon")), SETTINGS, NOW)
    assert caught.value.problem is TokenProblem.MALFORMED


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


def test_flow_tokens_are_bound_to_their_session_and_purpose() -> None:
    token = mint_flow_token(
        SETTINGS, session_id="ses_a", customer_id="cus_1", parent_origin="https://h.example", now=NOW
    )
    assert verify_flow_token(token, "ses_a", SETTINGS, NOW).parent_origin == "https://h.example"
    with pytest.raises(FlowTokenError) as other:
        verify_flow_token(token, "ses_b", SETTINGS, NOW)
    assert other.value.problem is TokenProblem.WRONG_SESSION
    admin = mint_admin_token(SETTINGS, user_id=1, session_version=1, now=NOW)
    with pytest.raises(FlowTokenError):
        verify_flow_token(admin, "ses_a", SETTINGS, NOW)  # an admin cookie is no flow token
    with pytest.raises(TokenError):
        verify_admin_token(token, SETTINGS, NOW)  # and vice versa
    assert verify_admin_token(admin, SETTINGS, NOW) == (1, 1)


def test_other_secrets_do_not_sign_flow_tokens() -> None:
    claims = {"session_id": "ses_a", "customer_id": "c", "expires_at": int(NOW.timestamp()) + 60}
    for forged in (
        jwt.encode(claims, SETTINGS.embed_secret, algorithm="HS256"),
        URLSafeSerializer(SETTINGS.embed_secret, salt=FLOW_TOKEN_SALT).dumps(claims),
        URLSafeSerializer(SETTINGS.session_secret, salt="another purpose").dumps(claims),
    ):
        with pytest.raises(FlowTokenError):
            verify_flow_token(forged, "ses_a", SETTINGS, NOW)


def _flow_problem(token: str | None, now: datetime = NOW, settings: Settings = SETTINGS) -> TokenProblem:
    with pytest.raises(FlowTokenError) as refused:
        verify_flow_token(token, "ses_a", settings, now)
    return refused.value.problem


def test_flow_tokens_carry_readable_claims_and_expire_on_the_app_clock() -> None:
    token = mint_flow_token(
        SETTINGS, session_id="ses_a", customer_id="cus_1", parent_origin="", now=NOW, return_url="https://h.example/x"
    )
    claims = verify_flow_token(token, "ses_a", SETTINGS, NOW + timedelta(hours=1, minutes=59))
    assert (claims.session_id, claims.customer_id, claims.parent_origin, claims.return_url) == (
        "ses_a",
        "cus_1",
        "",
        "https://h.example/x",
    )
    assert claims.expires_at == int((NOW + FLOW_TOKEN_LIFETIME).timestamp())
    _, payload = URLSafeSerializer("", salt=FLOW_TOKEN_SALT).loads_unsafe(token)  # what anyone can read
    assert set(payload) == {"session_id", "customer_id", "parent_origin", "return_url", "expires_at"}
    assert _flow_problem(token, NOW + timedelta(hours=2, minutes=1)) is TokenProblem.EXPIRED


def test_a_flow_token_with_any_byte_changed_is_refused() -> None:
    token = mint_flow_token(SETTINGS, session_id="ses_a", customer_id="cus_1", parent_origin="", now=NOW)
    body, _, signature = token.rpartition(".")
    claims = {"session_id": "ses_a", "customer_id": "cus_someone_else", "expires_at": int(NOW.timestamp()) + 60}
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert _flow_problem(f"{forged}.{signature}") is TokenProblem.BAD_SIGNATURE
    # The first character: all six of its bits are signature bits (the last one's low bits are padding,
    # so changing only those decodes to the same signature and proves nothing).
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    assert _flow_problem(f"{body}.{flipped}") is TokenProblem.BAD_SIGNATURE
    for garbage in (body, f"{body}.", "é" * 10, "a.b.c"):
        assert _flow_problem(garbage) is TokenProblem.BAD_SIGNATURE
    assert _flow_problem(None) is TokenProblem.MISSING
    assert _flow_problem(token + "A" * 5000) is TokenProblem.MALFORMED


OLD_SECRET, NEW_SECRET = "o" * 64, "n" * 64


def test_key_rotation_a_previous_secret_still_verifies_until_it_is_removed() -> None:
    before = make_settings(session_secret=OLD_SECRET)
    rotating = make_settings(session_secret=NEW_SECRET, previous_session_secrets=(OLD_SECRET,))
    after = make_settings(session_secret=NEW_SECRET)
    old_token = mint_flow_token(before, session_id="ses_a", customer_id="cus_1", parent_origin="", now=NOW)
    assert verify_flow_token(old_token, "ses_a", rotating, NOW).customer_id == "cus_1"  # accepted: still listed
    assert _flow_problem(old_token, settings=after) is TokenProblem.BAD_SIGNATURE  # removed: refused

    new_token = mint_flow_token(rotating, session_id="ses_a", customer_id="cus_1", parent_origin="", now=NOW)
    assert verify_flow_token(new_token, "ses_a", after, NOW).session_id == "ses_a"  # the current secret signs
    assert _flow_problem(new_token, settings=before) is TokenProblem.BAD_SIGNATURE

    old_admin = mint_admin_token(before, user_id=7, session_version=2, now=NOW)
    assert verify_admin_token(old_admin, rotating, NOW) == (7, 2)
    with pytest.raises(TokenError) as refused:
        verify_admin_token(old_admin, after, NOW)
    assert refused.value.problem is TokenProblem.BAD_SIGNATURE


def test_previous_session_secrets_come_from_the_environment_and_must_be_long() -> None:
    environ = {
        "SAVEFLOW_EMBED_SECRET": "e" * 64,
        "SAVEFLOW_API_KEY": "a" * 64,
        "SAVEFLOW_SESSION_SECRET": NEW_SECRET,
        "SAVEFLOW_PREVIOUS_SESSION_SECRETS": f" {OLD_SECRET} , {'p' * 40},",
    }
    assert Settings.from_env(environ).previous_session_secrets == (OLD_SECRET, "p" * 40)
    assert Settings.from_env({**environ, "SAVEFLOW_PREVIOUS_SESSION_SECRETS": ""}).previous_session_secrets == ()
    with pytest.raises(ConfigError):
        Settings.from_env({**environ, "SAVEFLOW_PREVIOUS_SESSION_SECRETS": "short"})


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
