"""Unit of work: one database transaction per use-case step, IMMEDIATE on SQLite.

Rules: may import piccolo and service.db.tables. SQLite's default DEFERRED transactions fail with
"database is locked" when two readers both try to upgrade to writers (STACK.md §2); IMMEDIATE
takes the write lock up front, so concurrent writers queue on the busy timeout instead.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType

from service.db.tables import FlowSession

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


def is_postgres() -> bool:
    return isinstance(FlowSession._meta.db, PostgresEngine)


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
