"""The persistent SQLite engine: concurrent transactions serialise, failures roll back and free the
writer, reads see committed writes only, and stop() falls back to Piccolo's own behaviour."""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from piccolo.columns import Integer, Varchar
from piccolo.engine.sqlite import TransactionType
from piccolo.table import Table

from service.db import sqlite_batches, sqlite_pool
from service.db.sqlite_batches import BatchAborted
from service.db.sqlite_pool import PersistentSQLiteEngine

pytestmark = pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")), reason="SQLite engine")


class Counter(Table, tablename="counter"):
    name = Varchar(length=20)
    value = Integer(default=0)


@pytest.fixture(name="engine")
async def fx_engine(tmp_path: Path) -> PersistentSQLiteEngine:
    engine = PersistentSQLiteEngine(path=str(tmp_path / "pool.sqlite"), timeout=30)
    Counter._meta.db = engine
    await engine.run_ddl("PRAGMA journal_mode=WAL")
    await Counter.create_table()
    await engine.start()
    await Counter.insert(Counter(name="clicks", value=0))
    return engine


async def _increment(engine: PersistentSQLiteEngine) -> None:
    async with engine.transaction(transaction_type=TransactionType.immediate):
        row = await Counter.select(Counter.value).where(Counter.name == "clicks").first()
        assert row is not None
        await asyncio.sleep(0)  # let the others try to interleave
        await Counter.update({Counter.value: row["value"] + 1}).where(Counter.name == "clicks")


async def test_concurrent_transactions_never_lose_an_update(engine: PersistentSQLiteEngine) -> None:
    try:
        await asyncio.gather(*(_increment(engine) for _ in range(50)))
        assert await Counter.select(Counter.value).first() == {"value": 50}
    finally:
        await engine.stop()


async def test_a_failed_transaction_rolls_back_and_frees_the_writer(engine: PersistentSQLiteEngine) -> None:
    try:

        async def fail_midway() -> None:
            async with engine.transaction():
                await Counter.update({Counter.value: 99}).where(Counter.name == "clicks")
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError):
            await fail_midway()
        assert not engine.write_lock.locked()
        assert await Counter.select(Counter.value).first() == {"value": 0}
        await _increment(engine)  # the writer is usable again
        assert await Counter.select(Counter.value).first() == {"value": 1}
    finally:
        await engine.stop()


async def test_readers_see_committed_writes_only(engine: PersistentSQLiteEngine) -> None:
    try:
        inside = asyncio.Event()
        release = asyncio.Event()

        async def slow_write() -> None:
            async with engine.transaction(transaction_type=TransactionType.immediate):
                await Counter.update({Counter.value: 7}).where(Counter.name == "clicks")
                inside.set()
                await release.wait()

        writer = asyncio.create_task(slow_write())
        await inside.wait()
        assert await Counter.select(Counter.value).first() == {"value": 0}  # not committed yet
        release.set()
        await writer
        assert await Counter.select(Counter.value).first() == {"value": 7}
    finally:
        await engine.stop()


async def test_writes_outside_a_transaction_commit_and_stop_falls_back(engine: PersistentSQLiteEngine) -> None:
    await Counter.update({Counter.value: 3}).where(Counter.name == "clicks")
    await engine.stop()
    assert not engine.started
    assert await Counter.select(Counter.value).first() == {"value": 3}  # a fresh connection sees it
    async with engine.transaction():
        await Counter.update({Counter.value: 4}).where(Counter.name == "clicks")
    assert await Counter.select(Counter.value).first() == {"value": 4}


async def test_a_batch_is_all_or_nothing_in_one_transaction(engine: PersistentSQLiteEngine) -> None:
    update = "UPDATE counter SET value = value + 1 WHERE name = ? RETURNING value"
    try:
        await engine.write_batch([(update, ["clicks"], True), (update, ["clicks"], True)])
        assert await Counter.select(Counter.value).first() == {"value": 2}
        with pytest.raises(BatchAborted) as aborted:  # the second statement matches no row: undo the first
            await engine.write_batch([(update, ["clicks"], True), (update, ["nobody"], True)])
        assert aborted.value.index == 1
        with pytest.raises(sqlite3.OperationalError):  # a broken statement: undo the first as well
            await engine.write_batch([(update, ["clicks"], True), ("UPDATE nowhere SET x = 1", [], False)])
        assert await Counter.select(Counter.value).first() == {"value": 2}
        assert not engine.write_lock.locked()
        await engine.write_batch([(update, ["nobody"], False)])  # no rows is fine when none are required
        await _increment(engine)  # and the writer is usable again
        assert await Counter.select(Counter.value).first() == {"value": 3}
    finally:
        await engine.stop()


async def test_a_batch_never_runs_inside_another_callers_open_transaction(engine: PersistentSQLiteEngine) -> None:
    update = "UPDATE counter SET value = value + 1 WHERE name = ? RETURNING value"
    try:
        inside = asyncio.Event()

        async def rolled_back_transaction() -> None:
            async with engine.transaction(transaction_type=TransactionType.immediate):
                await Counter.update({Counter.value: 100}).where(Counter.name == "clicks")
                inside.set()
                await asyncio.sleep(0.05)  # the batch below is submitted meanwhile
                raise RuntimeError("rolled back")

        transaction = asyncio.create_task(rolled_back_transaction())
        await inside.wait()
        await engine.write_batch([(update, ["clicks"], True)])  # waits for the transaction to end…
        with pytest.raises(RuntimeError):
            await transaction
        # …so the rollback took only the transaction's own write, and the batch's stayed.
        assert await Counter.select(Counter.value).first() == {"value": 1}
    finally:
        await engine.stop()


async def test_batches_that_queue_up_are_committed_together_and_fail_alone(
    engine: PersistentSQLiteEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    group_sizes: list[int] = []
    commit_group = sqlite_batches.commit_group

    def recording(
        connection: sqlite3.Connection, batches: list[sqlite_batches.WriteBatch]
    ) -> list[BaseException | None]:
        group_sizes.append(len(batches))
        return commit_group(connection, batches)

    monkeypatch.setattr(sqlite_batches, "commit_group", recording)
    update = "UPDATE counter SET value = value + 1 WHERE name = ? RETURNING value"
    try:
        gate = threading.Event()
        busy = asyncio.create_task(engine.writer().run(lambda _: gate.wait(5)))
        await asyncio.sleep(0.05)  # the writer's thread is busy: the batches below queue up behind it
        committed = [asyncio.create_task(engine.write_batch([(update, ["clicks"], True)])) for _ in range(3)]
        aborted = asyncio.create_task(engine.write_batch([(update, ["clicks"], True), (update, ["nobody"], True)]))
        broken = asyncio.create_task(
            engine.write_batch([(update, ["clicks"], True), ("UPDATE nowhere SET x = 1", [], False)])
        )
        await asyncio.sleep(0.05)
        gate.set()
        await busy
        await asyncio.gather(*committed)
        with pytest.raises(BatchAborted):
            await aborted
        with pytest.raises(sqlite3.OperationalError):
            await broken
        assert group_sizes == [5]  # one transaction, one commit…
        assert await Counter.select(Counter.value).first() == {"value": 3}  # …and the two failures undone alone
        assert not engine.write_lock.locked()
        await _increment(engine)  # the writer is usable again
        assert await Counter.select(Counter.value).first() == {"value": 4}
    finally:
        await engine.stop()


async def test_writers_of_other_processes_wait_for_the_lock_file_not_sqlites_busy_handler(
    engine: PersistentSQLiteEngine,
) -> None:
    # A second engine on the same file stands for another worker process: `flock` locks belong to an
    # open file, so two engines of one process exclude each other exactly as two processes do. Its busy
    # timeout is 0: had its write met the first engine's at SQLite's own lock, it would fail at once with
    # "database is locked" (and with a timeout, it would have slept in SQLite's growing steps).
    other = PersistentSQLiteEngine(path=engine.path, timeout=0)
    update = "UPDATE counter SET value = value + 1 WHERE name = ? RETURNING value"
    finished: list[str] = []
    try:
        await other.start()
        inside = asyncio.Event()

        async def long_transaction() -> None:
            async with engine.transaction(transaction_type=TransactionType.immediate):
                await Counter.update({Counter.value: 10}).where(Counter.name == "clicks")
                inside.set()
                await asyncio.sleep(0.1)
            finished.append("transaction")

        async def other_write() -> None:
            await other.write_batch([(update, ["clicks"], True)])
            finished.append("other process")

        transaction = asyncio.create_task(long_transaction())
        await inside.wait()
        await asyncio.gather(other_write(), transaction)
        assert finished == ["transaction", "other process"]
        assert await Counter.select(Counter.value).first() == {"value": 11}
        await engine.write_batch([(update, ["clicks"], True)])  # and the lock came back to the first one
        assert await Counter.select(Counter.value).first() == {"value": 12}
    finally:
        await other.stop()
        await engine.stop()


async def test_a_writer_frees_the_lock_file_before_it_replies(
    engine: PersistentSQLiteEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Handing results back to the waiting coroutines needs the GIL, which the event loop may be holding;
    # the other processes' writers must not wait for that as well.
    free_when_replying: list[bool] = []
    hand_back = sqlite_pool._hand_back
    lock_path = sqlite_pool.writer_lock_path(engine.path)
    assert lock_path is not None
    probe = os.open(lock_path, os.O_RDWR | os.O_CREAT)  # another process's writer, as far as flock can tell

    def replying(*reply: Any) -> None:
        try:
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            free_when_replying.append(False)
        else:
            fcntl.flock(probe, fcntl.LOCK_UN)
            free_when_replying.append(True)
        hand_back(*reply)

    monkeypatch.setattr(sqlite_pool, "_hand_back", replying)
    update = "UPDATE counter SET value = value + 1 WHERE name = ? RETURNING value"
    try:
        await asyncio.gather(*(engine.write_batch([(update, ["clicks"], True)]) for _ in range(3)))
        assert free_when_replying == [True] * 3
        free_when_replying.clear()
        await _increment(engine)
        # A transaction keeps the lock from its BEGIN to its COMMIT; only the COMMIT's reply comes after.
        in_transaction = list(free_when_replying)
        assert await Counter.select(Counter.value).first() == {"value": 4}
        assert in_transaction[-1] is True
        assert in_transaction[:-1] and not any(in_transaction[:-1])
    finally:
        os.close(probe)
        await engine.stop()
