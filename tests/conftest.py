"""Shared test fixtures: settings built directly (no environment), a controllable clock, database set-up.

The database under test is SQLite in a temporary file, or Postgres when DATABASE_URL is set
(`make test` runs the suite once each way).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher

from service import security
from service.settings import DatabaseSettings, Settings

# piccolo_conf (used by the migration runner) reads the same variables; point it at a scratch file
# before anything imports it. This is the only place tests touch the environment.
_SCRATCH = tempfile.mkdtemp(prefix="saveflow-tests-")
atexit.register(shutil.rmtree, _SCRATCH, ignore_errors=True)
os.environ.setdefault("SQLITE_PATH", os.path.join(_SCRATCH, "test.sqlite"))
os.environ.setdefault("SAVEFLOW_SECRETS_FILE", os.path.join(_SCRATCH, "secrets.json"))


@dataclass
class FakeClock:
    """Starts at the real time and only moves when told; the app under test judges tokens by it."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def database_settings() -> DatabaseSettings:
    return DatabaseSettings.from_env(os.environ)


def make_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "embed_secret": "e" * 64,
        "api_key": "a" * 64,
        "session_secret": "s" * 64,
        "database": database_settings(),
        "public_url": "http://testserver.local",
        "allowed_origins": ("http://testserver.local", "https://host.example"),
        "demo": True,
        "demo_admin_password": "demo-password-123",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(name="clock")
def fx_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(name="settings")
def fx_settings() -> Settings:
    return make_settings()


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing() -> Iterator[None]:
    """argon2 at the service's cost takes about 0.1 s a hash, and the suite hashes and verifies ~160 times.
    Each hash carries its own parameters, so the same code runs on weaker ones, as Django's test settings do.
    The live servers of the browser tests are processes of their own: they hash at the real cost."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
        yield


@pytest.fixture(name="scratch_dir")
def fx_scratch_dir() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="saveflow-") as path:
        yield path


def pytest_report_header() -> str:
    db = database_settings()
    where = f"PostgreSQL ({db.url.rsplit('@', 1)[-1]})" if db.is_postgres and db.url else f"SQLite ({db.sqlite_path})"
    return f"saveflow database under test: {where}"
