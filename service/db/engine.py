"""Builds the Piccolo engine from settings, binds the tables to it, and tunes SQLite.

Rules: may import piccolo and service.settings; nothing from http or use cases.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine

from service.db.sqlite_pool import PersistentSQLiteEngine

if TYPE_CHECKING:
    from piccolo.engine.base import Engine

    from service.settings import DatabaseSettings


def create_engine(settings: DatabaseSettings, *, persistent: bool = False) -> Engine:  # type: ignore[type-arg]
    """The engine for `settings`. `persistent` (the app) keeps SQLite connections open between
    `open_engine` and `close_engine`; the migration runner and one-off commands do not need to."""
    if settings.is_postgres:
        return PostgresEngine(config={"dsn": settings.url})
    Path(settings.sqlite_path).parent.mkdir(parents=True, exist_ok=True)
    # timeout = busy timeout: writers queue behind the IMMEDIATE lock instead of failing at once.
    if persistent:
        return PersistentSQLiteEngine(path=settings.sqlite_path, timeout=30)
    return SQLiteEngine(path=settings.sqlite_path, timeout=30)


def bind_tables(engine: Engine) -> None:  # type: ignore[type-arg]
    """Point every table at `engine`, so the app uses its Settings' database, not piccolo_conf's."""
    from service.db.tables import ALL_TABLES

    for table in ALL_TABLES:
        table._meta.db = engine


async def _keep_session(connection: object) -> None:
    """asyncpg's pool runs `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL` on every
    connection handed back, a round trip after each step's one statement. This service never takes an
    advisory lock, keeps a cursor, listens or sets a session variable, so there is nothing to reset; an
    open transaction is still rolled back by the pool itself before this runs."""


async def open_engine(engine: Engine) -> None:  # type: ignore[type-arg]
    if isinstance(engine, PostgresEngine):
        await engine.start_connection_pool(min_size=1, max_size=20, reset=_keep_session)
    elif isinstance(engine, SQLiteEngine):
        # WAL lets readers run beside the single writer; it is stored in the file, so once is enough.
        await engine.run_ddl("PRAGMA journal_mode=WAL")
        if isinstance(engine, PersistentSQLiteEngine):
            await engine.start()


async def close_engine(engine: Engine) -> None:  # type: ignore[type-arg]
    if isinstance(engine, PostgresEngine):
        await engine.close_connection_pool()
    elif isinstance(engine, PersistentSQLiteEngine):
        await engine.stop()
