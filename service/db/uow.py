"""Unit of work: one database transaction per use-case step, IMMEDIATE on SQLite.

Rules: may import piccolo and service.db.tables. SQLite's default DEFERRED transactions fail with
"database is locked" when two readers both try to upgrade to writers (STACK.md §2); IMMEDIATE
takes the write lock up front, so concurrent writers queue on the busy timeout instead.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType

from service.db.tables import FlowSession

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


def is_postgres() -> bool:
    return isinstance(FlowSession._meta.db, PostgresEngine)


@asynccontextmanager
async def unit_of_work() -> AsyncIterator[None]:
    engine = FlowSession._meta.db
    if isinstance(engine, SQLiteEngine):
        async with engine.transaction(transaction_type=TransactionType.immediate):
            yield
    else:
        async with engine.transaction():
            yield
