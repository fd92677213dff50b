"""A Piccolo SQLite engine that keeps its connections open: one writer, a few readers.

Rules: may import piccolo and aiosqlite only. Piccolo's SQLiteEngine opens a new aiosqlite connection
(and thread) for every query outside a transaction and for every transaction, and sends
`PRAGMA foreign_keys` before every statement inside one; on a widget step that was most of the time.
Between `start()` and `stop()` this engine instead runs
- every transaction on one writer connection, one transaction at a time (an asyncio lock: SQLite
  has a single writer anyway, and waiting on a lock is cheaper than SQLite's busy-sleep);
- reads outside a transaction on a small round-robin set of reader connections (WAL lets them run
  beside the writer and see every committed write);
- writes outside a transaction on the writer connection, under the same lock, committed at once.
Before `start()` and after `stop()` it behaves exactly like SQLiteEngine, so nothing leaks a thread.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import TYPE_CHECKING, Any

import aiosqlite
from piccolo.engine.sqlite import SQLiteEngine, SQLiteTransaction, TransactionType, dict_factory

if TYPE_CHECKING:
    from piccolo.table import Table

READ_PREFIXES = ("SELECT", "WITH", "PRAGMA TABLE_INFO", "EXPLAIN")


class PersistentSQLiteEngine(SQLiteEngine):
    def __init__(self, path: str, *, readers: int = 2, **connection_kwargs: Any) -> None:
        super().__init__(path=path, **connection_kwargs)
        self.reader_count = readers
        self._writer: aiosqlite.Connection | None = None
        self._readers: list[aiosqlite.Connection] = []
        self._next_reader: itertools.cycle[aiosqlite.Connection] | None = None
        self.write_lock = asyncio.Lock()

    @property
    def started(self) -> bool:
        return self._writer is not None

    async def _connect(self) -> aiosqlite.Connection:
        connection = await aiosqlite.connect(**self.connection_kwargs)
        connection.row_factory = dict_factory  # type: ignore[assignment]  # Piccolo's row shape
        await connection.execute("PRAGMA foreign_keys = 1")
        return connection

    async def start(self) -> None:
        if self._writer is None:
            self._writer = await self._connect()
            self._readers = [await self._connect() for _ in range(max(self.reader_count, 1))]
            self._next_reader = itertools.cycle(self._readers)

    async def stop(self) -> None:
        connections = [c for c in (self._writer, *self._readers) if c is not None]
        self._writer, self._readers, self._next_reader = None, [], None
        for connection in connections:
            await connection.close()

    def writer(self) -> aiosqlite.Connection:
        if self._writer is None:
            raise RuntimeError("the engine is not started")
        return self._writer

    def transaction(
        self, transaction_type: TransactionType = TransactionType.deferred, allow_nested: bool = True
    ) -> SQLiteTransaction:
        return PersistentTransaction(engine=self, transaction_type=transaction_type, allow_nested=allow_nested)

    async def _run_in_existing_connection(
        self,
        connection: Any,
        query: str,
        args: list[Any] | None = None,
        query_type: str = "generic",
        table: type[Table] | None = None,
    ) -> Any:
        if not self.started:
            return await super()._run_in_existing_connection(connection, query, args, query_type, table)
        # foreign_keys is already on for every connection this engine opened; one thread hop, not three.
        return list(await connection.execute_fetchall(query, args or []))

    async def _run_in_new_connection(
        self,
        query: str,
        args: list[Any] | None = None,
        query_type: str = "generic",
        table: type[Table] | None = None,
    ) -> Any:
        if self._next_reader is None:
            return await super()._run_in_new_connection(query, args, query_type, table)
        if query_type == "select" or query.lstrip()[:20].upper().startswith(READ_PREFIXES):
            return list(await next(self._next_reader).execute_fetchall(query, args or []))
        async with self.write_lock:
            writer = self.writer()
            try:
                rows = list(await writer.execute_fetchall(query, args or []))
                await writer.commit()
            except BaseException:
                await writer.rollback()
                raise
            return rows


class PersistentTransaction(SQLiteTransaction):
    """A transaction on the engine's writer connection, holding the engine's write lock throughout."""

    engine: PersistentSQLiteEngine

    async def __aenter__(self) -> SQLiteTransaction:
        if self._parent is not None or not self.engine.started:
            return await super().__aenter__()
        await self.engine.write_lock.acquire()
        try:
            self.connection = self.engine.writer()
            await self.begin()  # type: ignore[no-untyped-call]
        except BaseException:
            self.engine.write_lock.release()
            raise
        self.context = self.engine.current_transaction.set(self)
        return self

    async def __aexit__(self, exception_type: Any, exception: Any, traceback: Any) -> bool:
        if (
            self._parent is not None
            or not self.engine.write_lock.locked()
            or self.connection is not self.engine._writer
        ):
            return await super().__aexit__(exception_type, exception, traceback)
        try:
            if exception is not None:
                if not self._rolled_back:
                    await self.rollback()  # type: ignore[no-untyped-call]
            elif not self._committed and not self._rolled_back:
                await self.commit()  # type: ignore[no-untyped-call]
        finally:
            self.engine.current_transaction.reset(self.context)
            self.engine.write_lock.release()
        return exception is None
