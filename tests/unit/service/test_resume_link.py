"""The resume link's token and the reminder's lead-time setting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from service.mail.resume_link import RESUME_LINK_GRACE, ResumeLinkInvalid, mint_resume_token, verify_resume_token
from service.mail.tokens import UnsubscribeLinkInvalid, mint_unsubscribe_token, verify_unsubscribe_token
from service.settings import ConfigError, Settings
from tests.conftest import make_settings

NOW = datetime(2027, 3, 1, 12, tzinfo=UTC)
UNTIL = NOW + timedelta(days=3)


def mint(settings: Settings, until: datetime = UNTIL, subscription_id: str = "sub_1") -> str:
    return mint_resume_token(
        settings, customer_id="cus_1", subscription_id=subscription_id, paused_until=until, locale="fr", email=None
    )


def test_a_link_names_customer_subscription_and_pause_and_lives_until_a_grace_after_it() -> None:
    settings = make_settings()
    claims = verify_resume_token(mint(settings), settings, NOW)
    assert (claims.customer_id, claims.subscription_id, claims.locale) == ("cus_1", "sub_1", "fr")
    assert claims.paused_until == int(UNTIL.timestamp())
    assert verify_resume_token(mint(settings), settings, UNTIL + RESUME_LINK_GRACE).customer_id == "cus_1"
    with pytest.raises(ResumeLinkInvalid):
        verify_resume_token(mint(settings), settings, UNTIL + RESUME_LINK_GRACE + timedelta(seconds=1))


def test_the_session_key_is_stable_per_pause_and_distinct_across_pauses() -> None:
    settings = make_settings()
    jti = verify_resume_token(mint(settings), settings, NOW).jti
    assert verify_resume_token(mint(settings), settings, NOW).jti == jti
    assert verify_resume_token(mint(settings, UNTIL + timedelta(days=30)), settings, NOW).jti != jti
    assert verify_resume_token(mint(settings, subscription_id="sub_2"), settings, NOW).jti != jti
    assert 8 <= len(jti) <= 128  # what an embed token's jti may be


def test_rotation_keeps_links_working_and_other_tokens_never_pass_for_one() -> None:
    old = make_settings(session_secret="o" * 64)
    rotated = make_settings(previous_session_secrets=("o" * 64,))
    assert verify_resume_token(mint(old), rotated, NOW).subscription_id == "sub_1"
    settings = make_settings()
    unsubscribe = mint_unsubscribe_token(settings, address="a@example.com", customer_id="cus_1", locale="en", now=NOW)
    with pytest.raises(ResumeLinkInvalid):
        verify_resume_token(unsubscribe, settings, NOW)
    with pytest.raises(UnsubscribeLinkInvalid):
        verify_unsubscribe_token(mint(settings), settings, NOW)
    for bad in (None, "", "x" * 5000, mint(settings) + "x"):
        with pytest.raises(ResumeLinkInvalid):
            verify_resume_token(bad, settings, NOW)


def test_the_reminder_lead_time_comes_from_the_environment(tmp_path: Path) -> None:
    base = {"SAVEFLOW_SECRETS_FILE": str(tmp_path / "s.json")}
    assert Settings.from_env(base).pause_reminder_days == 3
    assert Settings.from_env({**base, "SAVEFLOW_PAUSE_REMINDER_DAYS": "7"}).pause_reminder_days == 7
    for bad in ("0", "-1", "three", "400"):
        with pytest.raises(ConfigError):
            Settings.from_env({**base, "SAVEFLOW_PAUSE_REMINDER_DAYS": bad})
