"""BILLING_PROVIDER and each billing system's settings: picked from the environment, refused with a clear reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.app import build_billing, build_webhooks
from service.billing_settings import HOST_ACTIONS, BillingConfigError, BillingSettings
from service.settings import ConfigError, Settings
from tests.support.host_billing import SECRET


def settings_of(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env({"SAVEFLOW_SECRETS_FILE": str(tmp_path / "secrets.json"), **env})


def test_the_default_is_stripe_with_a_stripe_key_and_memory_without(tmp_path: Path) -> None:
    assert settings_of(tmp_path).billing_provider == "memory"
    assert settings_of(tmp_path, STRIPE_API_KEY="sk_test_x").billing_provider == "stripe"
    assert settings_of(tmp_path, STRIPE_API_KEY="sk_test_x", BILLING_PROVIDER="memory").billing_provider == "memory"


def test_the_host_provider_is_built_from_its_settings(tmp_path: Path) -> None:
    settings = settings_of(
        tmp_path,
        BILLING_PROVIDER="host",
        HOST_BILLING_URL="https://app.example.com/billing/",
        HOST_BILLING_SECRET=SECRET,
        HOST_BILLING_ACTIONS="pause, cancel",
    )
    assert settings.billing.host_url == "https://app.example.com/billing"
    billing = build_billing(settings, clock=lambda: None)  # type: ignore[arg-type,return-value]
    assert {c.value for c in billing.capabilities} == {"pause", "cancel_now", "cancel_at_period_end"}
    assert build_webhooks(settings) == {}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"BILLING_PROVIDER": "recurly"}, "BILLING_PROVIDER must be one of"),
        ({"BILLING_PROVIDER": "host"}, "needs HOST_BILLING_URL and HOST_BILLING_SECRET"),
        (
            {"BILLING_PROVIDER": "host", "HOST_BILLING_URL": "http://app.example.com", "HOST_BILLING_SECRET": SECRET},
            "must be https://",
        ),
        (
            {"BILLING_PROVIDER": "host", "HOST_BILLING_URL": "https://a.example", "HOST_BILLING_SECRET": "plain"},
            "Standard Webhooks secret",
        ),
        (
            {
                "BILLING_PROVIDER": "host",
                "HOST_BILLING_URL": "https://a.example",
                "HOST_BILLING_SECRET": SECRET,
                "HOST_BILLING_ACTIONS": "pause,refund",
            },
            "unknown actions: refund",
        ),
        ({"BILLING_PROVIDER": "chargebee", "CHARGEBEE_SITE": "acme"}, "needs CHARGEBEE_API_KEY"),
        ({"BILLING_PROVIDER": "paddle"}, "needs PADDLE_API_KEY"),
        ({"CHARGEBEE_WEBHOOK_ALLOW": "not-an-ip"}, "CHARGEBEE_WEBHOOK_ALLOW"),
    ],
)
def test_bad_billing_settings_are_refused_with_the_fix(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(BillingConfigError, match=message):
        settings_of(tmp_path, **env)


def test_stripe_named_without_a_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs STRIPE_API_KEY"):
        settings_of(tmp_path, BILLING_PROVIDER="stripe")


def test_http_is_allowed_for_a_host_on_loopback() -> None:
    settings = BillingSettings(provider="host", host_url="http://127.0.0.1:8000/demo/billing", host_secret=SECRET)
    assert settings.host_actions == HOST_ACTIONS
