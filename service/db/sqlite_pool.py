"""A Piccolo SQLite engine that keeps its connections open: one writer, a few readers, one thread each.

Rules: may import piccolo, sqlite3 and service.db.sqlite_batches only. Piccolo's SQLiteEngine opens a
new aiosqlite connection (and thread) for every query outside a transaction and for every transaction,
and sends `PRAGMA foreign_keys` before every statement inside one; on a widget step that was most of
the time.
Between `start()` and `stop()` this engine instead runs
- every transaction on one writer connection, one transaction at a time (an asyncio lock: SQLite
  has a single writer anyway, and waiting on a lock is cheaper than SQLite's busy-sleep);
- `write_batch`: a whole short transaction (BEGIN IMMEDIATE, statements, COMMIT) in one trip to the
  writer's thread, for the widget's hot path;
- reads outside a transaction on a small round-robin set of reader connections (WAL lets them run
  beside the writer and see every committed write);
- writes outside a transaction on the writer connection, under the same lock, committed at once.
Each connection lives on its own thread (`ThreadedConnection`), so SQLite's work and its fsyncs run
beside the event loop, one hand-off per call. Before `start()` and after `stop()` the engine behaves
exactly like SQLiteEngine, so nothing leaks a thread.

Several worker processes on one file: the writer thread holds an exclusive `flock` on
`<database>-writer.lock` for as long as its connection is in a write transaction (`WriterLock`), so
the writers of every process queue in the kernel, which wakes the next one the moment the lock is
released. Without it they met at SQLite's busy handler, which sleeps 1, 2, 5 … 100 ms between tries:
with two workers under load, some clicks took seconds. The lock is released before the results are
handed back to the waiting coroutines, which needs the GIL the event loop may be holding.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import itertools
import os
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from piccolo.engine.sqlite import SQLiteEngine, SQLiteTransaction, TransactionType, dict_factory

from service.db import sqlite_batches
from service.db.sqlite_batches import WriteBatch

if TYPE_CHECKING:
    from piccolo.table import Table

READ_PREFIXES = ("SELECT", "WITH", "PRAGMA TABLE_INFO", "EXPLAIN")
T = TypeVar("T")
Job = tuple[Callable[[sqlite3.Connection], Any], asyncio.Future[Any], asyncio.AbstractEventLoop]
Reply = tuple[asyncio.AbstractEventLoop, asyncio.Future[Any], Any, BaseException | None]  # for _hand_back


MAX_GROUP = 64  # write batches committed together at most (bounds the first one's wait)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _hand_back(
    loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], result: Any, error: BaseException | None
) -> None:
    """Settle `future` on its loop; a loop that has closed meanwhile had nobody left waiting."""
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(_settle, future, result, error)


class WriterLock:
    """An exclusive `flock` on a file beside the database, shared by the writer threads of every process
    that uses it: whoever holds it may write; the others block in the kernel until it is released (the
    kernel frees it too if its holder dies). Only ever used from one thread per process."""

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        self.held = False

    def acquire(self) -> None:
        if not self.held:
            fcntl.flock(self._fd, fcntl.LOCK_EX)  # blocks with the GIL released
            self.held = True

    def release(self) -> None:
        if self.held:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            self.held = False

    def close(self) -> None:
        self.release()
        os.close(self._fd)


def writer_lock_path(database: str) -> str | None:
    """The lock file for a database file; None for an in-memory database, which no other process sees."""
    if database == ":memory:" or database.startswith("file:"):
        return None
    return f"{database}-writer.lock"


class ThreadedConnection:
    """One sqlite3 connection owned by one thread; coroutines hand it functions and await the result.

    The subset of aiosqlite's Connection that Piccolo's transactions use (`execute`), plus `run`. With a
    `lock_path` (the writer), each job runs holding the `WriterLock`, which is kept while the job leaves
    a transaction open and released once none is.
    """

    def __init__(self, connect_kwargs: dict[str, Any], lock_path: str | None = None) -> None:
        self._connect_kwargs = connect_kwargs
        self._lock_path = lock_path
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._connection: sqlite3.Connection | None = None

    async def open(self) -> None:
        self._thread = threading.Thread(target=self._serve, name="sqlite-connection", daemon=True)
        self._thread.start()
        await self.run(lambda _: None)  # the connection is open (or its error raised here)

    def _serve(self) -> None:
        lock: WriterLock | None = None
        try:
            lock = WriterLock(self._lock_path) if self._lock_path else None
            self._connection = sqlite3.connect(**self._connect_kwargs, check_same_thread=True)
            self._connection.row_factory = dict_factory
            self._connection.execute("PRAGMA foreign_keys = 1")
        except BaseException as exc:  # handed to every waiting caller
            failure: BaseException | None = exc
        else:
            failure = None
        try:
            self._serve_jobs(failure, lock)
        finally:
            if lock is not None:
                lock.close()
            if self._connection is not None:
                self._connection.close()

    def _serve_jobs(self, failure: BaseException | None, lock: WriterLock | None) -> None:
        held: Job | None = None
        while (job := held or self._jobs.get()) is not None:
            held = None
            _, future, loop = job
            if failure is not None:
                _hand_back(loop, future, None, failure)
                continue
            if lock is not None:
                try:
                    lock.acquire()
                except OSError as exc:
                    _hand_back(loop, future, None, exc)
                    continue
            try:
                replies, held, stop = self._run(job)
            finally:
                if lock is not None and not (self._connection is not None and self._connection.in_transaction):
                    lock.release()  # before replying: the other processes' writers need not wait for that
            for reply in replies:
                _hand_back(*reply)
            if stop:
                break

    def _run(self, job: Job) -> tuple[list[Reply], Job | None, bool]:
        """Run `job` (with the write batches queued behind it): the replies to hand back, the job to run
        next, and whether to stop."""
        function, future, loop = job
        if isinstance(function, WriteBatch):
            group, held, stop = self._queued_batches_after(job)
            batches = [batch for batch, _, _ in group if isinstance(batch, WriteBatch)]
            outcomes = sqlite_batches.commit_group(self._connection, batches)  # type: ignore[arg-type]
            replies = [
                (its_loop, waiting, None, outcome)
                for (_, waiting, its_loop), outcome in zip(group, outcomes, strict=True)
            ]
            return replies, held, stop
        try:
            result = function(self._connection)  # type: ignore[arg-type]
        except BaseException as exc:  # handed to the awaiting coroutine
            return [(loop, future, None, exc)], None, False
        return [(loop, future, result, None)], None, False

    def _queued_batches_after(self, first: Job) -> tuple[list[Job], Job | None, bool]:
        """`first` and the write batches queued right behind it (at most MAX_GROUP), the job taken off the
        queue after them (to run next), and whether close() was asked for meanwhile."""
        group = [first]
        while len(group) < MAX_GROUP:
            try:
                following = self._jobs.get_nowait()
            except queue.Empty:
                break
            if following is None:
                return group, None, True
            if not isinstance(following[0], WriteBatch):
                return group, following, False
            group.append(following)
        return group, None, False

    async def run(self, function: Callable[[sqlite3.Connection], T]) -> T:
        """Run `function(connection)` on the connection's thread."""
        if self._thread is None:
            raise RuntimeError("the connection is not open")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((function, future, loop))
        return await future

    async def execute(self, sql: str, parameters: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return await self.run(lambda connection: connection.execute(sql, parameters).fetchall())

    async def commit(self) -> None:
        await self.run(lambda connection: connection.commit())

    async def rollback(self) -> None:
        await self.run(lambda connection: connection.rollback())

    async def close(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            self._jobs.put(None)
            await asyncio.to_thread(thread.join)


class PersistentSQLiteEngine(SQLiteEngine):
    def __init__(self, path: str, *, readers: int = 2, **connection_kwargs: Any) -> None:
        super().__init__(path=path, **connection_kwargs)
        self.reader_count = readers
        self._writer: ThreadedConnection | None = None
        self._readers: list[ThreadedConnection] = []
        self._next_reader: itertools.cycle[ThreadedConnection] | None = None
        self.write_lock = asyncio.Lock()

    @property
    def started(self) -> bool:
        return self._writer is not None

    async def _connect(self, *, writer: bool = False) -> ThreadedConnection:
        lock_path = writer_lock_path(str(self.connection_kwargs["database"])) if writer else None
        connection = ThreadedConnection(self.connection_kwargs, lock_path)
        try:
            await connection.open()
        except BaseException:
            await connection.close()  # its thread would otherwise wait for jobs forever
            raise
        return connection

    async def start(self) -> None:
        if self._writer is None:
            self._writer = await self._connect(writer=True)
            self._readers = [await self._connect() for _ in range(max(self.reader_count, 1))]
            self._next_reader = itertools.cycle(self._readers)

    async def stop(self) -> None:
        connections = [c for c in (self._writer, *self._readers) if c is not None]
        self._writer, self._readers, self._next_reader = None, [], None
        for connection in connections:
            await connection.close()

    def writer(self) -> ThreadedConnection:
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
        return await connection.execute(query, args or [])

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
            return await next(self._next_reader).execute(query, args or [])
        async with self.write_lock:
            return await self.writer().run(lambda connection: _autocommit(connection, query, args or []))

    async def read(self, sql: str, parameters: Sequence[Any]) -> list[dict[str, Any]]:
        """One SELECT on the next reader connection (the engine must be started)."""
        if self._next_reader is None:
            raise RuntimeError("the engine is not started")
        return await next(self._next_reader).execute(sql, parameters)

    async def write_batch(self, statements: Sequence[tuple[str, Sequence[Any], bool]]) -> None:
        """Run (sql, parameters, must_return_rows) statements as one IMMEDIATE transaction in one trip to
        the writer's thread. Raises BatchAborted (and writes nothing) when a statement that must return
        rows returns none, e.g. an `UPDATE … WHERE version = ? RETURNING id` that lost a race."""
        job = WriteBatch(statements)
        if self.write_lock.locked():  # a transaction is open on the writer, or waiting to be: queue behind it
            async with self.write_lock:
                await self.writer().run(job)
            return
        # Nobody holds the lock: hand the batch over without taking it. The writer's thread runs jobs in
        # order, so this batch runs whole before any transaction that begins later; and batches that
        # queue up meanwhile are committed together (group commit, see sqlite_batches).
        await self.writer().run(job)


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


def _autocommit(connection: sqlite3.Connection, sql: str, parameters: Sequence[Any]) -> list[Any]:
    try:
        rows = connection.execute(sql, parameters).fetchall()
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    return rows
