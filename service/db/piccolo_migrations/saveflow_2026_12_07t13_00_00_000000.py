"""Pause reminders: when the "pause ending" webhook and email went out for a saved pause session.

Hand-written. Adds flow_session.pause_reminded_at (add_column, as Piccolo's auto migration would). The
rollup's trigger does not watch it: a reminder changes no figure. Existing sessions start unreminded;
the sweep reads billing before reminding, so a pause that has already ended is marked, not reminded.
"""

from __future__ import annotations

from typing import Any

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Timestamptz
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-07T13:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Remind customers before a pause ends (flow_session.pause_reminded_at)"

PARAMS: dict[str, Any] = {
    "default": None,
    "null": True,
    "primary_key": False,
    "unique": False,
    "index": False,
    "index_method": IndexMethod.btree,
    "choices": None,
    "db_column_name": None,
    "secret": False,
}


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="saveflow", description=DESCRIPTION)
    manager.add_column(
        table_class_name="FlowSession",
        tablename="flow_session",
        column_name="pause_reminded_at",
        db_column_name="pause_reminded_at",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params=PARAMS,
        schema=None,
    )
    return manager
