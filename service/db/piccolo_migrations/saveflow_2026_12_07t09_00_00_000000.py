"""The billing operation's attempt clock: billing_operation.attempt_started_at.

Hand-written. With the existing `claimed_until` it forms the lease the sweep respects: a request or
the sweep that starts an attempt sets both in the same commit. Existing pending rows keep a null
start and no lease, so the next sweep may finish them, as before.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Timestamptz
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-07T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "billing_operation.attempt_started_at (the attempt clock)"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="saveflow", description=DESCRIPTION)

    manager.add_column(
        table_class_name="BillingOperation",
        tablename="billing_operation",
        column_name="attempt_started_at",
        db_column_name="attempt_started_at",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params={
            "default": None,
            "null": True,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    return manager
