"""Win-back: the winback table, one row per cancelled session whose customer reactivated through the link.

Hand-written, as Piccolo's auto migration would write it (add_table, add_column). `session` and
`idempotency_key` are UNIQUE, declared with their columns so they are part of CREATE TABLE (SQLite
cannot add a constraint later): a link is used once, and a key names one win-back.
"""

from typing import Any

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import Column
from piccolo.columns.column_types import Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-07T15:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Win-back: reactivations through the win-back link (winback)"


def _params(**overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "null": False,
        "primary_key": False,
        "unique": False,
        "index": False,
        "index_method": IndexMethod.btree,
        "choices": None,
        "db_column_name": None,
        "secret": False,
    }
    params.update(overrides)
    return params


COLUMNS: list[tuple[str, type[Column], dict[str, Any]]] = [
    ("id", Serial, _params(primary_key=True)),
    ("session", Varchar, _params(length=40, default="", unique=True)),
    ("customer_id", Varchar, _params(length=255, default="", index=True)),
    ("subscription_id", Varchar, _params(length=255, default="")),
    ("new_subscription_id", Varchar, _params(length=255, default="")),
    ("idempotency_key", Varchar, _params(length=255, default="", unique=True)),
    ("offer", Text, _params(default="")),
    ("snapshot", Text, _params(default="")),
    ("decided_at", Timestamptz, _params(default=TimestamptzNow())),
    ("status", Varchar, _params(length=16, default="pending", index=True)),
    ("error", Text, _params(default="")),
    ("currency", Varchar, _params(length=3, default="")),
    ("list_cents", Integer, _params(default=0)),
    ("won_back_cents", Integer, _params(default=0)),
    ("claimed_until", Timestamptz, _params(default=None, null=True)),
    ("created_at", Timestamptz, _params(default=TimestamptzNow(), index=True)),
    ("settled_at", Timestamptz, _params(default=None, null=True)),
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="saveflow", description=DESCRIPTION)
    manager.add_table(class_name="Winback", tablename="winback", schema=None, columns=None)
    for name, column_class, params in COLUMNS:
        manager.add_column(
            table_class_name="Winback",
            tablename="winback",
            column_name=name,
            db_column_name=name,
            column_class_name=column_class.__name__,
            column_class=column_class,
            params=params,
            schema=None,
        )
    return manager
