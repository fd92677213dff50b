"""Write batches for the SQLite writer's thread: one batch all or nothing, and batches that queued up
behind each other committed as one group.

Rules: may import sqlite3 only. A batch is a list of (sql, parameters, must_return_rows) statements.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Sequence


class BatchAborted(Exception):
    """A `write_batch` statement that had to return rows returned none; nothing was written."""

    def __init__(self, index: int) -> None:
        super().__init__(f"statement {index} of the batch returned no rows")
        self.index = index


class WriteBatch:
    """(sql, parameters, must_return_rows) statements to apply all or nothing, as a writer-thread job.

    Run alone, it is its own IMMEDIATE transaction. The writer's thread commits batches that queued up
    one after another together (`commit_group`): one COMMIT and fsync for all, each batch inside a
    savepoint so that one failing rolls back only itself.
    """

    __slots__ = ("statements",)

    def __init__(self, statements: Sequence[tuple[str, Sequence[Any], bool]]) -> None:
        self.statements = statements

    def apply(self, connection: sqlite3.Connection) -> None:
        for index, (sql, parameters, must_return_rows) in enumerate(self.statements):
            if not connection.execute(sql, parameters).fetchall() and must_return_rows:
                raise BatchAborted(index)

    def __call__(self, connection: sqlite3.Connection) -> None:
        connection.execute("BEGIN IMMEDIATE")
        try:
            self.apply(connection)
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:  # SQLite may already have rolled back (e.g. a full disk)
                connection.execute("ROLLBACK")
            raise


def commit_group(connection: sqlite3.Connection, batches: Sequence[WriteBatch]) -> list[BaseException | None]:
    """Apply `batches` in one transaction, each all or nothing; what each caller gets (None: committed).

    If the transaction as a whole fails (BEGIN, COMMIT, or an error after which SQLite has rolled
    everything back, such as a full disk), every batch gets that error: none of them was written.
    """
    if len(batches) == 1:
        try:
            batches[0](connection)
        except BaseException as exc:
            return [exc]
        return [None]
    outcomes: list[BaseException | None] = []
    try:
        connection.execute("BEGIN IMMEDIATE")
        for batch in batches:
            connection.execute("SAVEPOINT batch")
            try:
                batch.apply(connection)
            except Exception as exc:  # this batch only, unless SQLite dropped the whole transaction
                if not connection.in_transaction:
                    raise
                connection.execute("ROLLBACK TO batch")
                outcomes.append(exc)
            else:
                outcomes.append(None)
            connection.execute("RELEASE batch")
        connection.execute("COMMIT")
    except BaseException as exc:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        return [exc] * len(batches)
    return outcomes
