"""The win-back link's token (signed, salted, expiring) and the stored flow definitions' win-back field."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from flows import default_definition
from offers.winback import WinbackKind, WinbackOffer
from service.db.codec import definition_from_json, definition_to_json
from service.mail.resume_link import ResumeLinkInvalid, verify_resume_token
from service.mail.winback_link import WinbackLinkInvalid, mint_winback_token, verify_winback_token
from service.settings import ConfigError, Settings
from tests.conftest import make_settings

NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)


def test_the_link_names_its_session_and_works_for_30_days(settings: Settings) -> None:
    token = mint_winback_token(settings, session_id="ses_1", now=NOW)
    assert verify_winback_token(token, settings, NOW + timedelta(days=30)).session_id == "ses_1"
    with pytest.raises(WinbackLinkInvalid):
        verify_winback_token(token, settings, NOW + timedelta(days=30, seconds=1))


def test_a_tampered_foreign_or_other_purpose_token_proves_nothing(settings: Settings) -> None:
    token = mint_winback_token(settings, session_id="ses_1", now=NOW)
    other = make_settings(session_secret="t" * 64)
    i = token.rindex(".") + 3  # a signature character all of whose bits count
    tampered = token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :]
    for bad, where in ((tampered, settings), (token, other), ("", settings)):
        with pytest.raises(WinbackLinkInvalid):
            verify_winback_token(bad, where, NOW)
    with pytest.raises(ResumeLinkInvalid):  # its own salt: it never passes for a resume link
        verify_resume_token(token, settings, NOW)


def test_definitions_stored_before_win_back_load_without_one_and_new_ones_round_trip() -> None:
    shipped = default_definition()
    assert shipped.winback == WinbackOffer(WinbackKind.DISCOUNT, "save30_3m", 30, 3)
    assert definition_from_json(definition_to_json(shipped)) == shipped
    old = json.loads(definition_to_json(shipped))
    del old["winback"]
    assert definition_from_json(json.dumps(old)).winback is None


def test_the_second_emails_delay_comes_from_the_environment(tmp_path: Path) -> None:
    base = {"SAVEFLOW_SECRETS_FILE": str(tmp_path / "s.json")}
    assert Settings.from_env(base).winback_days == 7
    assert Settings.from_env({**base, "SAVEFLOW_WINBACK_DAYS": "14"}).winback_days == 14
    for bad in ("0", "-1", "a week", "400"):
        with pytest.raises(ConfigError):
            Settings.from_env({**base, "SAVEFLOW_WINBACK_DAYS": bad})
