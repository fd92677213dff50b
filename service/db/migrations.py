"""Which of the service's migrations the bound database has not run yet (for readiness), via Piccolo's API.

Rules: may import piccolo and service.db; reads only, so a probe never changes the database.

Piccolo's own `Migration` table finds its engine in piccolo_conf (the environment); the app binds its
engine from `Settings` (`bind_tables`). `_RanMigration` is the same table read through the app's engine,
so readiness looks at the database the app serves from, even when the two differ (tests).
"""

from __future__ import annotations

import functools

from piccolo.apps.migrations.commands.base import BaseMigrationManager
from piccolo.apps.migrations.tables import Migration

from service.db.engine import current_engine
from service.db.piccolo_app import APP_CONFIG


class _RanMigration(Migration, tablename=Migration._meta.tablename):
    """Piccolo's record of the migrations that ran, read through the engine the app's tables use."""


@functools.cache  # the files cannot change under a running process; importing them again would cost
def known_migrations() -> tuple[str, ...]:
    """The ids of the migrations shipped with this code, oldest first."""
    manager = BaseMigrationManager()
    modules = manager.get_migration_modules(APP_CONFIG.resolved_migrations_folder_path)
    return tuple(manager.get_migration_ids(modules))


async def pending_migrations() -> tuple[str, ...]:
    """The shipped migrations the database has not recorded as run (all of them on an empty database).
    Raises whatever the driver raises when the database is unreachable."""
    _RanMigration._meta.db = current_engine()
    if not await _RanMigration.table_exists():
        return known_migrations()
    ran = set(await _RanMigration.get_migrations_which_ran(app_name=APP_CONFIG.app_name))
    return tuple(m for m in known_migrations() if m not in ran)
