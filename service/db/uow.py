"""Unit of work: one database transaction per use-case step, IMMEDIATE on SQLite; atomic statement lists.

Rules: may import piccolo, asyncpg (its pool, for `fetch` and `write_atomically`), service.db.tables
and service.db.sqlite_{pool, batches}. SQLite's default DEFERRED transactions fail with
"database is locked" when two readers both try to upgrade to writers (STACK.md §2); IMMEDIATE
takes the write lock up front, so concurrent writers queue on the busy timeout instead.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType

from service.db.sqlite_batches import BatchAborted
from service.db.sqlite_pool import PersistentSQLiteEngine
from service.db.tables import FlowSession

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence

    from asyncpg.pool import Pool
    from piccolo.table import Table

__all__ = [
    "BatchAborted",
    "Insert",
    "Statement",
    "fetch",
    "in_transaction",
    "is_postgres",
    "unit_of_work",
    "write_atomically",
]


def is_postgres() -> bool:
    return isinstance(FlowSession._meta.db, PostgresEngine)


def in_transaction() -> bool:
    """Whether this task is inside a unit of work, whose writes are not committed yet."""
    return bool(FlowSession._meta.db.transaction_exists())


_sqlite_writers = asyncio.Lock()


@asynccontextmanager
async def unit_of_work() -> AsyncIterator[None]:
    engine = FlowSession._meta.db
    if isinstance(engine, SQLiteEngine):
        if engine.transaction_exists():
            yield  # already inside one: join it
            return
        # Writers of this process queue here, in order, instead of polling SQLite's busy handler
        # (which sleeps in growing steps and made 200 concurrent clicks take seconds). Other
        # processes still serialise on the IMMEDIATE lock and the busy timeout.
        async with _sqlite_writers, engine.transaction(transaction_type=TransactionType.immediate):
            yield
    else:
        async with engine.transaction():
            yield


@dataclass(frozen=True, slots=True)
class Statement:
    """One SQL statement with Piccolo raw's `{}` placeholders, for `write_atomically`."""

    sql: str
    args: tuple[Any, ...]
    must_return_rows: bool = False  # e.g. `UPDATE … WHERE version = {} RETURNING id`: no row means a lost race
    guarded_sql: str | None = None  # the same write as `INSERT … SELECT … FROM guard` (see `Insert`)


@dataclass(frozen=True, slots=True)
class Insert:
    """A one-row INSERT, written out once, that can also ride in a guarded batch: on Postgres,
    `write_atomically` sends a batch that starts with a `must_return_rows` statement as one statement,

        WITH guard AS (UPDATE … RETURNING id), w1 AS (INSERT … SELECT … FROM guard), … SELECT 1 FROM guard

    so the inserts happen only if the guard matched a row: no BEGIN and COMMIT round trips. Parameters
    in `SELECT` take no type from the target columns, so the guarded form casts each one to its column's
    base type (never to `VARCHAR(n)`, which would truncate where the INSERT refuses)."""

    sql: str
    guarded_sql: str

    @classmethod
    def into(cls, table: type[Table], columns: tuple[str, ...], suffix: str = "") -> Insert:
        names = ", ".join(columns)
        casts = ", ".join(f"{{}}::{table._meta.get_column_by_name(c).column_type.split('(')[0]}" for c in columns)
        name = table._meta.tablename
        return cls(
            # Names of the code's own tables and columns (get_column_by_name refuses any other); values bound.
            sql=f"INSERT INTO {name} ({names}) VALUES ({', '.join('{}' for _ in columns)}){suffix}",  # noqa: S608
            guarded_sql=f"INSERT INTO {name} ({names}) SELECT {casts} FROM guard{suffix}",  # noqa: S608
        )

    def statement(self, *args: Any) -> Statement:
        return Statement(self.sql, args, guarded_sql=self.guarded_sql)


@lru_cache(maxsize=64)
def _sqlite_sql(sql: str) -> str:
    return sql.replace("{}", "?")


@lru_cache(maxsize=64)
def _postgres_sql(sql: str) -> str:
    parts = sql.split("{}")
    return "".join(f"{part}${index}" for index, part in enumerate(parts[:-1], start=1)) + parts[-1]


@lru_cache(maxsize=64)
def _guarded_batch(guard: str, writes: tuple[str, ...]) -> str:
    ctes = [f"guard AS ({guard})", *(f"w{index} AS ({sql})" for index, sql in enumerate(writes, start=1))]
    return _postgres_sql(f"WITH {', '.join(ctes)} SELECT 1 FROM guard")  # noqa: S608 - statements of Insert


def _as_one_statement(statements: Sequence[Statement]) -> str | None:
    """Postgres: the batch as one statement (atomic on its own), if it is a guard and guarded inserts."""
    guard, *writes = statements
    if not guard.must_return_rows or any(w.guarded_sql is None or w.must_return_rows for w in writes):
        return None
    return _guarded_batch(guard.sql, tuple(w.guarded_sql for w in writes if w.guarded_sql))


def _postgres_pool(engine: object) -> Pool | None:
    """The app's asyncpg pool when a statement may use it directly (no Piccolo transaction is open)."""
    if isinstance(engine, PostgresEngine) and engine.pool is not None and not engine.transaction_exists():
        return engine.pool
    return None


async def write_atomically(statements: Sequence[Statement]) -> None:
    """Run `statements` in order, all or nothing: inside the caller's unit of work when there is one,
    else as a transaction of their own (on the app's SQLite engine, one trip to the writer thread; on
    Postgres, straight on a pooled asyncpg connection).

    Raises:
        BatchAborted: a `must_return_rows` statement returned none; nothing of this call was written
            (inside a caller's unit of work, the caller's transaction rolls back as the error leaves it).
    """
    engine = FlowSession._meta.db
    if isinstance(engine, PersistentSQLiteEngine) and engine.started and not engine.transaction_exists():
        await engine.write_batch([(_sqlite_sql(s.sql), s.args, s.must_return_rows) for s in statements])
        return
    if pool := _postgres_pool(engine):  # asyncpg directly, without Piccolo's per-query plumbing
        if statements and (one := _as_one_statement(statements)):
            async with pool.acquire() as connection:
                rows = await connection.fetch(one, *(arg for statement in statements for arg in statement.args))
            if not rows:
                raise BatchAborted(0)
            return
        async with pool.acquire() as connection, connection.transaction():
            for index, statement in enumerate(statements):
                rows = await connection.fetch(_postgres_sql(statement.sql), *statement.args)
                if statement.must_return_rows and not rows:
                    raise BatchAborted(index)
        return
    async with unit_of_work():
        for index, statement in enumerate(statements):
            rows = await FlowSession.raw(statement.sql, *statement.args)
            if statement.must_return_rows and not rows:
                raise BatchAborted(index)


async def fetch(sql: str, *args: Any) -> list[dict[str, Any]]:
    """One read in Piccolo raw's `{}` style: in the caller's transaction if there is one; otherwise
    straight to a SQLite reader connection or the asyncpg pool (Piccolo's query plumbing is skipped)."""
    engine = FlowSession._meta.db
    if isinstance(engine, PersistentSQLiteEngine) and engine.started and not engine.transaction_exists():
        return await engine.read(_sqlite_sql(sql), args)
    if pool := _postgres_pool(engine):
        async with pool.acquire() as connection:
            return [dict(record) for record in await connection.fetch(_postgres_sql(sql), *args)]
    rows: list[dict[str, Any]] = await FlowSession.raw(sql, *args)
    return rows
