"""Which billing system the service drives (BILLING_PROVIDER) and each one's settings, read from the environment.

Rules: standard library only, like service.settings (which holds Stripe's older settings and this object).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, cast
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from collections.abc import Mapping

ProviderName = Literal["memory", "stripe", "chargebee", "paddle", "host"]
PROVIDERS: tuple[ProviderName, ...] = ("memory", "stripe", "chargebee", "paddle", "host")
HOST_ACTIONS = (
    "pause",
    "resume",
    "change_plan",
    "extend_trial",
    "apply_discount",
    "cancel",
    "undo_cancel",
    "undo_plan_change",
    "reactivate",
)


class BillingConfigError(ValueError):
    """A billing setting is missing or malformed; the message names the variable and the fix."""


@dataclass(frozen=True, slots=True)
class BillingSettings:
    """BILLING_PROVIDER and the settings of the non-Stripe providers (Stripe's live in Settings)."""

    provider: ProviderName | None = None  # None: Stripe when STRIPE_API_KEY is set, else memory
    # host: the host app's billing endpoint (HOST_BILLING_URL) and the Standard Webhooks secret both sides share
    host_url: str = ""
    host_secret: str = ""
    host_actions: tuple[str, ...] = HOST_ACTIONS  # HOST_BILLING_ACTIONS: the ones the host implements
    # chargebee: site (acme for acme.chargebee.com), API key, and the basic-auth pair set on the webhook
    chargebee_site: str = ""
    chargebee_api_key: str = ""
    chargebee_webhook_username: str = ""
    chargebee_webhook_password: str = ""
    chargebee_webhook_allow: tuple[str, ...] = ()  # CHARGEBEE_WEBHOOK_ALLOW: Chargebee's addresses, if set
    # paddle: API key, sandbox or live, and the notification destination's secret key
    paddle_api_key: str = ""
    paddle_sandbox: bool = False
    paddle_webhook_secret: str = ""

    def __post_init__(self) -> None:
        if self.provider is not None and self.provider not in PROVIDERS:
            raise BillingConfigError(f"BILLING_PROVIDER must be one of {', '.join(PROVIDERS)}, not {self.provider!r}")
        needed: dict[str, dict[str, str]] = {
            "host": {"HOST_BILLING_URL": self.host_url, "HOST_BILLING_SECRET": self.host_secret},
            "chargebee": {"CHARGEBEE_SITE": self.chargebee_site, "CHARGEBEE_API_KEY": self.chargebee_api_key},
            "paddle": {"PADDLE_API_KEY": self.paddle_api_key},
        }
        missing = [name for name, value in needed.get(self.provider or "", {}).items() if not value]
        if missing:
            raise BillingConfigError(f"BILLING_PROVIDER={self.provider} needs {' and '.join(missing)}")
        if self.provider == "host":
            self._check_host()
        for network in self.chargebee_webhook_allow:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError as exc:
                raise BillingConfigError(f"CHARGEBEE_WEBHOOK_ALLOW entry {network!r} is not an address") from exc

    def _check_host(self) -> None:
        parts = urlsplit(self.host_url)
        loopback = parts.hostname in ("localhost", "127.0.0.1", "::1")
        if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
            raise BillingConfigError("HOST_BILLING_URL must be https:// (http:// only on loopback)")
        if not self.host_secret.startswith("whsec_"):
            raise BillingConfigError("HOST_BILLING_SECRET must be a Standard Webhooks secret (whsec_…)")
        unknown = sorted(set(self.host_actions) - set(HOST_ACTIONS))
        if unknown:
            raise BillingConfigError(f"HOST_BILLING_ACTIONS has unknown actions: {', '.join(unknown)}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> BillingSettings:
        actions = environ.get("HOST_BILLING_ACTIONS")
        return cls(
            provider=cast("ProviderName", chosen)
            if (chosen := (environ.get("BILLING_PROVIDER") or "").strip().lower())
            else None,
            host_url=(environ.get("HOST_BILLING_URL") or "").rstrip("/"),
            host_secret=environ.get("HOST_BILLING_SECRET") or "",
            host_actions=tuple(a.strip() for a in actions.split(",") if a.strip()) if actions else HOST_ACTIONS,
            chargebee_site=environ.get("CHARGEBEE_SITE") or "",
            chargebee_api_key=environ.get("CHARGEBEE_API_KEY") or "",
            chargebee_webhook_username=environ.get("CHARGEBEE_WEBHOOK_USERNAME") or "",
            chargebee_webhook_password=environ.get("CHARGEBEE_WEBHOOK_PASSWORD") or "",
            chargebee_webhook_allow=tuple(
                a.strip() for a in (environ.get("CHARGEBEE_WEBHOOK_ALLOW") or "").split(",") if a.strip()
            ),
            paddle_api_key=environ.get("PADDLE_API_KEY") or "",
            paddle_sandbox=(environ.get("PADDLE_ENVIRONMENT") or "live").strip().lower() == "sandbox",
            paddle_webhook_secret=environ.get("PADDLE_WEBHOOK_SECRET") or "",
        )
