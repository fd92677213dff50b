"""Settings from the environment: generated secrets are created once and reused; bad values are refused."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from service.settings import ConfigError, Settings


def test_missing_secrets_are_generated_once_into_a_private_file(tmp_path: Path) -> None:
    env = {"SAVEFLOW_SECRETS_FILE": str(tmp_path / "var" / "secrets.json")}
    first = Settings.from_env(env)
    second = Settings.from_env(env)
    assert first.embed_secret == second.embed_secret and len(first.embed_secret) >= 32
    assert first.api_key != first.embed_secret != first.session_secret
    stored = json.loads((tmp_path / "var" / "secrets.json").read_text())
    assert stored["embed_secret"] == first.embed_secret
    assert stat.S_IMODE(os.stat(tmp_path / "var" / "secrets.json").st_mode) == 0o600
    assert first.demo_admin_password == stored["demo_admin_password"]


def test_configured_secrets_win_and_no_file_is_written(tmp_path: Path) -> None:
    env = {
        "SAVEFLOW_SECRETS_FILE": str(tmp_path / "secrets.json"),
        "SAVEFLOW_EMBED_SECRET": "e" * 40,
        "SAVEFLOW_API_KEY": "a" * 40,
        "SAVEFLOW_SESSION_SECRET": "s" * 40,
        "SAVEFLOW_DEMO": "0",
        "SAVEFLOW_ALLOWED_ORIGINS": "https://app.example.com, https://www.example.com/",
        "DATABASE_URL": "postgresql://u@db/x",
    }
    settings = Settings.from_env(env)
    assert settings.embed_secret == "e" * 40
    assert not (tmp_path / "secrets.json").exists()
    assert settings.allowed_origins == ("https://app.example.com", "https://www.example.com")
    assert settings.database.is_postgres and not settings.demo


def test_demo_mode_allows_its_own_origin_to_frame_the_widget(tmp_path: Path) -> None:
    env = {"SAVEFLOW_SECRETS_FILE": str(tmp_path / "s.json"), "SAVEFLOW_PUBLIC_URL": "http://127.0.0.1:9000/"}
    assert Settings.from_env(env).allowed_origins == ("http://127.0.0.1:9000",)


@pytest.mark.parametrize(
    "env",
    [
        {"DATABASE_URL": "mysql://x"},
        {"SAVEFLOW_DEMO": "maybe"},
        {"SAVEFLOW_ALLOWED_ORIGINS": "app.example.com"},
        {"SAVEFLOW_ALLOWED_ORIGINS": "https://app.example.com/path"},
        {"SAVEFLOW_EMBED_SECRET": "short", "SAVEFLOW_API_KEY": "a" * 40, "SAVEFLOW_SESSION_SECRET": "s" * 40},
    ],
)
def test_bad_configuration_is_a_clear_error(tmp_path: Path, env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        Settings.from_env({"SAVEFLOW_SECRETS_FILE": str(tmp_path / "s.json"), **env})
