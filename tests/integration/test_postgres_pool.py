"""The app's asyncpg pool hands connections back without asyncpg's per-release reset query (a round trip
after every step), and still never hands out a connection with a transaction left open. Postgres only."""

from __future__ import annotations

import os

import pytest
from litestar import Litestar

pytestmark = pytest.mark.skipif(not os.environ.get("DATABASE_URL"), reason="Postgres engine")


async def test_a_connection_handed_back_mid_transaction_is_rolled_back(app: Litestar) -> None:
    pool = app.state.engine.pool
    async with pool.acquire() as connection:
        await connection.execute("BEGIN")
        await connection.execute("CREATE TEMP TABLE left_open (n int)")
        backend = await connection.fetchval("SELECT pg_backend_pid()")
    # The same connection again (the pool hands back the most recently released one first).
    async with pool.acquire() as connection:
        assert await connection.fetchval("SELECT pg_backend_pid()") == backend
        assert not connection.is_in_transaction()
        assert await connection.fetchval("SELECT to_regclass('pg_temp.left_open')") is None


async def test_connections_are_handed_back_without_a_reset_round_trip(app: Litestar) -> None:
    pool = app.state.engine.pool
    async with pool.acquire() as connection:
        await connection.execute("SELECT set_config('application_name', 'saveflow-step', false)")
        backend = await connection.fetchval("SELECT pg_backend_pid()")
    async with pool.acquire() as connection:
        assert await connection.fetchval("SELECT pg_backend_pid()") == backend
        # asyncpg's default reset (RESET ALL, among others) would have cleared it.
        assert await connection.fetchval("SELECT current_setting('application_name')") == "saveflow-step"
        await connection.execute("RESET application_name")
