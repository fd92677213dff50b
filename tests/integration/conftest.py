"""Integration fixtures: migrate once per run, empty tables per test, an app with in-memory billing,
and an httpx client over ASGITransport (works on SQLite and Postgres alike, STACK.md §3)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import httpx
import pytest
from litestar import Litestar
from piccolo.apps.migrations.commands.forwards import run_forwards

from admin.auth import LOGIN_RATE_LIMIT
from flows import default_definition
from offers.providers.memory import InMemoryBillingProvider
from service.app import build_billing, create_app
from service.db.engine import bind_tables, close_engine, create_engine, open_engine
from service.db.tables import ALL_TABLES
from service.repositories.flows import publish_version
from service.settings import Settings
from tests.conftest import FakeClock

_migrated = False


async def _migrate_once() -> None:
    global _migrated
    if not _migrated:
        result = await run_forwards(app_name="all")
        assert result.success, result.message
        _migrated = True


async def _empty_tables() -> None:
    # Children before parents; ALL_TABLES lists parents first.
    for table in reversed(ALL_TABLES):
        await table.delete(force=True)


# One app per Settings for the whole run: building a Litestar app and compiling its templates cost more than
# most tests here. Each test still gets its own clock, fresh demo billing, a new engine and empty tables.
_apps: dict[Settings, Litestar] = {}


@pytest.fixture(name="app")
async def fx_app(settings: Settings, clock: FakeClock) -> AsyncIterator[Litestar]:
    app = _apps.get(settings)
    if app is None:
        app = create_app(settings, clock=clock)
        if settings.billing_provider != "host":  # the demo's reference host keeps state of its own: never shared
            _apps[settings] = app
    app.state.clock = clock
    app.state.billing = build_billing(settings, clock)
    await app.stores.get(LOGIN_RATE_LIMIT.store).delete_all()  # the login route's per-address counts
    # A new engine too: caches keyed by the engine (flow versions) must not outlive the emptied tables.
    app.state.engine = create_engine(settings.database)
    bind_tables(app.state.engine)
    await open_engine(app.state.engine)
    try:
        await _migrate_once()
        await _empty_tables()
        await publish_version(default_definition(), clock(), note="test default")
        yield app
    finally:
        await close_engine(app.state.engine)


@pytest.fixture(name="billing")
def fx_billing(app: Litestar) -> InMemoryBillingProvider:
    billing: InMemoryBillingProvider = app.state.billing
    return billing


@pytest.fixture(name="client")
async def fx_client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=cast("Any", app))  # Litestar's ASGI types are narrower than httpx's
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as client:
        yield client
