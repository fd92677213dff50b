"""Integration fixtures: migrate once per run, empty tables per test, an app with in-memory billing,
and an httpx client over ASGITransport (works on SQLite and Postgres alike, STACK.md §3)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import httpx
import pytest
from litestar import Litestar
from piccolo.apps.migrations.commands.forwards import run_forwards

from flows import default_definition
from offers.providers.memory import InMemoryBillingProvider
from service.app import create_app
from service.db.engine import close_engine, open_engine
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


@pytest.fixture(name="app")
async def fx_app(settings: Settings, clock: FakeClock) -> AsyncIterator[Litestar]:
    app = create_app(settings, clock=clock)
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
