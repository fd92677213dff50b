"""The database: Piccolo's own engine from settings, SQLite's single-process rules, and the unit of work.

Rules: may import piccolo and service.settings; nothing from repositories, use cases or http.

Two modes, both through Piccolo's public API:
- SQLite is the single-process mode for the demo and small installs. WAL lets reads run beside the one
  writer; every write transaction is `BEGIN IMMEDIATE`, because Piccolo's default DEFERRED transaction
  fails with "database is locked" when two readers both try to become the writer (STACK.md §2). Writers
  of this process queue on one asyncio lock, in order, instead of polling SQLite's busy handler; the
  busy timeout still covers a one-off command (`migrate`, `sweep`) writing beside the server.
  `serve --workers N` with N > 1 is refused on SQLite (service.__main__): use Postgres for that.
- Postgres is the mode for several workers and machines. Concurrency comes from `SELECT … FOR UPDATE`
  inside the unit of work (`lock_rows_if_postgres`).
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from piccolo.engine.base import Engine
    from piccolo.query.methods.select import Select

    from service.settings import DatabaseSettings

BUSY_TIMEOUT_SECONDS = 30
POOL_MAX_SIZE = 20

_sqlite_writers = asyncio.Lock()


def create_engine(settings: DatabaseSettings) -> Engine[Any]:
    """Postgres for a `postgres://` URL; otherwise the SQLite file at `settings.sqlite_path`."""
    if settings.is_postgres:
        return PostgresEngine(config={"dsn": settings.url})
    Path(settings.sqlite_path).parent.mkdir(parents=True, exist_ok=True)
    return SQLiteEngine(path=settings.sqlite_path, timeout=BUSY_TIMEOUT_SECONDS)


def bind_tables(engine: Engine[Any]) -> None:
    """Point every table at `engine`, so the app uses its Settings' database, not piccolo_conf's."""
    from service.db.tables import ALL_TABLES

    for table in ALL_TABLES:
        table._meta.db = engine  # Table._meta is Piccolo's public schema API


def current_engine() -> Engine[Any]:
    """The engine the tables are bound to."""
    from service.db.tables import FlowSession

    return FlowSession._meta.db


def is_postgres() -> bool:
    return isinstance(current_engine(), PostgresEngine)


async def open_engine(engine: Engine[Any]) -> None:
    if isinstance(engine, PostgresEngine):
        await engine.start_connection_pool(min_size=1, max_size=POOL_MAX_SIZE)
    elif isinstance(engine, SQLiteEngine):
        # Stored in the database file, so once per start is plenty.
        await engine.run_ddl("PRAGMA journal_mode=WAL")


async def close_engine(engine: Engine[Any]) -> None:
    if isinstance(engine, PostgresEngine):
        await engine.close_connection_pool()


@asynccontextmanager
async def unit_of_work() -> AsyncIterator[None]:
    """One database transaction: commit on success, roll back on any error. Joins an enclosing one."""
    engine = current_engine()
    if engine.transaction_exists():
        yield
        return
    if isinstance(engine, SQLiteEngine):
        async with _sqlite_writers, engine.transaction(transaction_type=TransactionType.immediate):
            yield
    else:
        async with engine.transaction():
            yield


Q = TypeVar("Q", bound="Select[Any]")


def lock_rows_if_postgres(query: Q, *, skip_locked: bool = False) -> Q:
    """`SELECT … FOR UPDATE [SKIP LOCKED]` on Postgres. SQLite has no row locks and needs none: its
    IMMEDIATE unit of work already holds the database's single write lock."""
    return query.lock_rows(skip_locked=skip_locked) if is_postgres() else query
