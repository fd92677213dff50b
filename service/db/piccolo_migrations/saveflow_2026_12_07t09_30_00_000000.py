"""Admin login throttling per (email, client address): the login_throttle table.

Hand-written, as Piccolo's auto migration would write it (add_table, add_column), so later auto
migrations see the table. The pair is the primary key (`key` = "<address> <email>"): Piccolo adds a
two-column UNIQUE constraint with ALTER TABLE, which SQLite lacks, and a migration's raw SQL runs
before its tables are created. The old per-account lockout columns on staff_user stay, unused.
"""

from typing import Any

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import Column
from piccolo.columns.column_types import Integer, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-07T09:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "login_throttle: failed admin logins per (email, client address)"

TABLE = {"table_class_name": "LoginThrottle", "tablename": "login_throttle", "schema": None}


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
    ("key", Varchar, _params(length=400, default="", primary_key=True)),
    ("email", Varchar, _params(length=320, default="")),
    ("address", Varchar, _params(length=64, default="")),
    ("failures", Integer, _params(default=0)),
    ("locked_until", Timestamptz, _params(default=None, null=True)),
    ("updated_at", Timestamptz, _params(default=TimestamptzNow(), index=True)),
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="saveflow", description=DESCRIPTION)
    manager.add_table(class_name="LoginThrottle", tablename="login_throttle", schema=None, columns=None)
    for name, column_class, params in COLUMNS:
        manager.add_column(
            **TABLE,
            column_name=name,
            db_column_name=name,
            column_class_name=column_class.__name__,
            column_class=column_class,
            params=params,
        )
    return manager
