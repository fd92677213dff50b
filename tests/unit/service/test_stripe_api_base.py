"""STRIPE_API_BASE: Stripe's own address by default, another one (stripe-mock, a proxy, a test fake) when set."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.settings import ConfigError, Settings


def _settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env({"SAVEFLOW_SECRETS_FILE": str(tmp_path / "secrets.json"), **env})


def test_by_default_the_service_talks_to_stripe_itself(tmp_path: Path) -> None:
    assert _settings(tmp_path).stripe_api_base == "https://api.stripe.com"


@pytest.mark.parametrize(
    ("value", "key", "expected"),
    [
        ("https://stripe-proxy.example/", "sk_live_x", "https://stripe-proxy.example"),
        ("http://127.0.0.1:12111", "sk_live_x", "http://127.0.0.1:12111"),  # loopback: nothing leaves the machine
        ("http://localhost:12111", "", "http://localhost:12111"),
        ("http://[::1]:12111", "sk_live_x", "http://[::1]:12111"),
        ("http://stripe-mock:12111", "sk_test_x", "http://stripe-mock:12111"),  # a test key may travel in clear
    ],
)
def test_another_address_is_taken(tmp_path: Path, value: str, key: str, expected: str) -> None:
    settings = _settings(tmp_path, STRIPE_API_BASE=value, STRIPE_API_KEY=key)
    assert settings.stripe_api_base == expected


@pytest.mark.parametrize(
    ("value", "key"),
    [
        ("http://stripe-proxy.example", "sk_live_x"),  # a live key would travel unencrypted
        ("http://10.0.0.5:12111", "rk_live_x"),
        ("ftp://stripe-proxy.example", "sk_test_x"),
        ("stripe-proxy.example", "sk_test_x"),
        ("https://stripe-proxy.example:99999", "sk_test_x"),
        ("https://stripe-proxy.example?x=1", "sk_test_x"),
    ],
)
def test_a_bad_address_is_refused_with_a_clear_message(tmp_path: Path, value: str, key: str) -> None:
    with pytest.raises(ConfigError, match="STRIPE_API_BASE"):
        _settings(tmp_path, STRIPE_API_BASE=value, STRIPE_API_KEY=key)
