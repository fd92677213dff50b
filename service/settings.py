"""Runtime configuration: one frozen `Settings`, built from the environment in one place.

Rules: standard library only. Nothing else in the project reads `os.environ` (piccolo_conf.py
passes it to `database_from_env` for the Piccolo CLI). Secrets that are not configured are
generated once into a git-ignored JSON file and reused on the next start.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from service.billing_settings import BillingSettings, ProviderName

if TYPE_CHECKING:
    from collections.abc import Mapping

DEFAULT_SECRETS_FILE = "var/secrets.json"
DEFAULT_SQLITE_PATH = "var/saveflow.sqlite"
DEFAULT_STRIPE_API_BASE = "https://api.stripe.com"  # stripe-python's own default
GENERATED_SECRETS = ("embed_secret", "api_key", "session_secret")


class ConfigError(ValueError):
    """A configuration value is missing or malformed; the message says which and how to fix it."""


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    url: str | None = None  # postgres://… ; None means SQLite
    sqlite_path: str = DEFAULT_SQLITE_PATH

    @property
    def is_postgres(self) -> bool:
        return bool(self.url) and str(self.url).startswith(("postgres://", "postgresql://"))

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> DatabaseSettings:
        url = environ.get("DATABASE_URL") or None
        if url and not url.startswith(("postgres://", "postgresql://")):
            raise ConfigError("DATABASE_URL must start with postgres:// or postgresql:// (unset it for SQLite)")
        return cls(url=url, sqlite_path=environ.get("SQLITE_PATH") or DEFAULT_SQLITE_PATH)


DEFAULT_BRAND = "#4338ca"
DEFAULT_BRAND_CONTRAST = "#ffffff"
_HEX_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
_FONT = re.compile(r"[A-Za-z0-9 ,'\"-]{1,120}")


@dataclass(frozen=True, slots=True)
class Theme:
    """The widget's look, from configuration: it must feel native inside the host app."""

    brand: str = DEFAULT_BRAND
    brand_contrast: str = DEFAULT_BRAND_CONTRAST
    font: str = ""
    radius_px: int = 10
    logo_url: str = ""

    def __post_init__(self) -> None:
        for name in ("brand", "brand_contrast"):
            if not _HEX_COLOUR.fullmatch(getattr(self, name)):
                raise ConfigError(f"theme {name} must be a colour like #4338ca")
        if self.font and not _FONT.fullmatch(self.font):
            raise ConfigError("theme font must be a CSS font-family list (letters, digits, spaces, commas, quotes)")
        if not 0 <= self.radius_px <= 32:
            raise ConfigError("theme radius must be between 0 and 32 pixels")
        if self.logo_url and not self.logo_url.startswith("https://"):
            raise ConfigError("theme logo URL must start with https://")

    @property
    def logo_origin(self) -> str:
        if not self.logo_url:
            return ""
        scheme, _, rest = self.logo_url.partition("://")
        return f"{scheme}://{rest.split('/', 1)[0]}"


@dataclass(frozen=True, slots=True)
class Settings:
    embed_secret: str
    api_key: str
    session_secret: str
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    public_url: str = "http://127.0.0.1:8000"
    allowed_origins: tuple[str, ...] = ("http://127.0.0.1:8000", "http://localhost:8000")
    demo: bool = True
    secure_cookies: bool = False
    token_max_age_seconds: int = 3600
    stripe_api_key: str | None = None
    stripe_webhook_secret: str | None = None
    # Where Stripe's API is (STRIPE_API_BASE): another address serves stripe-mock, a proxy, or the browser
    # tests' loopback fake. The secret key is sent there, so anything but loopback must be https://.
    stripe_api_base: str = DEFAULT_STRIPE_API_BASE
    billing: BillingSettings = field(default_factory=BillingSettings)  # BILLING_PROVIDER and the other systems
    verify_saves_after_days: int = 30
    abandon_after_minutes: int = 30  # an unfinished session with no activity this long ends as abandoned
    pause_reminder_days: int = 3  # days before a pause ends: the pause_ending webhook and email
    winback_days: int = 7  # days after a cancelled subscription's access ends: the second win-back email
    theme: Theme = field(default_factory=Theme)
    demo_admin_email: str = "admin@example.com"
    demo_admin_password: str | None = None
    # Key rotation (SAVEFLOW_PREVIOUS_SESSION_SECRETS, comma-separated): former session secrets that still
    # verify flow tokens and admin sessions, while the current session_secret signs everything new. To
    # rotate, move the old secret here, set the new one, and drop the old one after the longest token
    # lifetime (admin sessions: 8 hours). A secret removed from here no longer verifies anything.
    previous_session_secrets: tuple[str, ...] = ()
    # Client addresses or networks (SAVEFLOW_METRICS_ALLOW, comma-separated, e.g. "10.0.0.0/8, ::1")
    # that may read /metrics without the API key; anyone else sends `Authorization: Bearer <api key>`.
    metrics_allow: tuple[str, ...] = ()
    # Email (service/mail): SMTP_URL is smtp://user:pass@host:port (STARTTLS when the server offers it;
    # `?starttls=1` requires it, `?starttls=0` never uses it) or smtps://… (TLS from the first byte).
    # Unset: the demo keeps sent mail in the admin's Emails page; outside the demo, emails wait unsent.
    smtp_url: str | None = None
    email_from: str = "Save flow <saveflow@localhost>"

    def __post_init__(self) -> None:
        for name in GENERATED_SECRETS:
            if len(getattr(self, name)) < 32:
                raise ConfigError(f"{name} must be at least 32 characters long")
        if any(len(secret) < 32 for secret in self.previous_session_secrets):
            raise ConfigError("each previous session secret must be at least 32 characters long")
        for network in self.metrics_allow:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError as exc:
                raise ConfigError(f"metrics allow-list entry {network!r} is not an address or network") from exc
        for origin in self.allowed_origins:
            if not origin.startswith(("http://", "https://")) or origin.count("/") != 2:
                raise ConfigError(f"allowed origin {origin!r} must look like https://app.example.com (no path)")
        if not 1 <= self.pause_reminder_days <= 365:
            raise ConfigError("SAVEFLOW_PAUSE_REMINDER_DAYS must be a whole number of days from 1 to 365")
        if not 1 <= self.winback_days <= 365:
            raise ConfigError("SAVEFLOW_WINBACK_DAYS must be a whole number of days from 1 to 365")
        if self.smtp_url and not _smtp_url_ok(self.smtp_url):
            raise ConfigError("SMTP_URL must look like smtp://user:password@host:587 or smtps://host:465")
        if "@" not in self.email_from or any(c in self.email_from for c in "\r\n"):
            raise ConfigError("SAVEFLOW_EMAIL_FROM must be an address like Acme <billing@acme.example>")
        if self.billing_provider == "stripe" and not self.stripe_api_key:
            raise ConfigError("BILLING_PROVIDER=stripe needs STRIPE_API_KEY")
        if not _stripe_api_base_ok(self.stripe_api_base, self.stripe_api_key or ""):
            raise ConfigError(
                "STRIPE_API_BASE must look like https://stripe-proxy.example; http:// only on loopback or with a"
                " test key (sk_test_…, rk_test_…), so a live key never travels unencrypted"
            )

    @property
    def billing_provider(self) -> ProviderName:
        """BILLING_PROVIDER, else Stripe when STRIPE_API_KEY is set, else the in-memory provider."""
        return self.billing.provider or ("stripe" if self.stripe_api_key else "memory")

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Read `SAVEFLOW_*`, `DATABASE_URL`, `SQLITE_PATH`, `SMTP_URL`, billing's; fill secrets from the secrets file.

        SAVEFLOW_SESSION_SECRET signs flow tokens, admin sessions and CSRF cookies;
        SAVEFLOW_PREVIOUS_SESSION_SECRETS lists former values that still verify flow tokens and admin
        sessions (key rotation; an admin form open across a rotation needs a reload for its CSRF token).
        """
        secrets_file = Path(environ.get("SAVEFLOW_SECRETS_FILE") or DEFAULT_SECRETS_FILE)
        configured = {name: environ.get(f"SAVEFLOW_{name.upper()}", "") for name in GENERATED_SECRETS}
        stored = _load_or_create_secrets(secrets_file) if not all(configured.values()) else {}
        public_url = (environ.get("SAVEFLOW_PUBLIC_URL") or "http://127.0.0.1:8000").rstrip("/")
        origins = tuple(
            o.strip().rstrip("/") for o in (environ.get("SAVEFLOW_ALLOWED_ORIGINS") or "").split(",") if o.strip()
        )
        demo = _flag(environ.get("SAVEFLOW_DEMO"), default=True)
        if demo and public_url not in origins:
            # The demo host page is served by this very service, so it must be allowed to frame it.
            origins = (public_url, *origins)
        return cls(
            embed_secret=configured["embed_secret"] or stored["embed_secret"],
            api_key=configured["api_key"] or stored["api_key"],
            session_secret=configured["session_secret"] or stored["session_secret"],
            database=DatabaseSettings.from_env(environ),
            public_url=public_url,
            allowed_origins=origins,
            demo=demo,
            secure_cookies=public_url.startswith("https://"),
            stripe_api_key=environ.get("STRIPE_API_KEY") or None,
            stripe_webhook_secret=environ.get("STRIPE_WEBHOOK_SECRET") or None,
            stripe_api_base=(environ.get("STRIPE_API_BASE") or DEFAULT_STRIPE_API_BASE).rstrip("/"),
            billing=BillingSettings.from_env(environ),
            demo_admin_password=stored.get("demo_admin_password") if demo else None,
            previous_session_secrets=tuple(
                secret.strip()
                for secret in (environ.get("SAVEFLOW_PREVIOUS_SESSION_SECRETS") or "").split(",")
                if secret.strip()
            ),
            verify_saves_after_days=_int(environ.get("SAVEFLOW_VERIFY_SAVES_AFTER_DAYS"), 30),
            abandon_after_minutes=_int(environ.get("SAVEFLOW_ABANDON_AFTER_MINUTES"), 30),
            pause_reminder_days=_int(environ.get("SAVEFLOW_PAUSE_REMINDER_DAYS"), 3),
            winback_days=_int(environ.get("SAVEFLOW_WINBACK_DAYS"), 7),
            metrics_allow=tuple(
                a.strip() for a in (environ.get("SAVEFLOW_METRICS_ALLOW") or "").split(",") if a.strip()
            ),
            smtp_url=environ.get("SMTP_URL") or None,
            email_from=environ.get("SAVEFLOW_EMAIL_FROM") or "Save flow <saveflow@localhost>",
            theme=Theme(
                brand=environ.get("SAVEFLOW_THEME_BRAND") or DEFAULT_BRAND,
                brand_contrast=environ.get("SAVEFLOW_THEME_BRAND_CONTRAST") or DEFAULT_BRAND_CONTRAST,
                font=environ.get("SAVEFLOW_THEME_FONT") or "",
                radius_px=_int(environ.get("SAVEFLOW_THEME_RADIUS"), 10),
                logo_url=environ.get("SAVEFLOW_THEME_LOGO_URL") or "",
            ),
        )


def _smtp_url_ok(url: str) -> bool:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        return False
    return parts.scheme in ("smtp", "smtps") and bool(parts.hostname) and parts.path in ("", "/")


def _stripe_api_base_ok(url: str, api_key: str) -> bool:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        return False
    if not parts.hostname or parts.query or parts.fragment or parts.scheme not in ("http", "https"):
        return False
    return parts.scheme == "https" or _loopback(parts.hostname) or api_key.startswith(("sk_test_", "rk_test_"))


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _int(value: str | None, default: int) -> int:
    if not value:
        return default
    if not value.isdigit():
        raise ConfigError(f"expected a whole number, got {value!r}")
    return int(value)


def _flag(value: str | None, *, default: bool) -> bool:
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"expected a yes/no value, got {value!r}")


def _load_or_create_secrets(path: Path) -> dict[str, str]:
    """Read the generated-secrets file, creating it (mode 0600) with fresh random values if needed."""
    data: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    wanted = {*GENERATED_SECRETS, "demo_admin_password"}
    if not wanted <= data.keys():
        for name in wanted - data.keys():
            data[name] = secrets.token_urlsafe(12 if name == "demo_admin_password" else 48)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2))
        os.chmod(tmp, 0o600)
        tmp.replace(path)
    return data
