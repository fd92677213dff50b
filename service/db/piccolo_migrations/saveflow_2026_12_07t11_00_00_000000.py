"""Counting once: the billing period a flow started in, whether it was already cancelling, and when it opened.

Hand-written. Adds flow_session.period_end, cancelling_at_start and opened_at (add_column, as Piccolo's
auto migration would), then re-creates the rollup's update trigger so a session's first opening marks
its day dirty (the rollup counts opened sessions only). Existing sessions were all opened when they
started, and their `repeat` flag meant "already set to cancel", so both are backfilled from there.
Older sessions have no period_end: each counts on its own, as before.
"""

from __future__ import annotations

from typing import Any

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import Column
from piccolo.columns.column_types import Boolean, Timestamptz
from piccolo.columns.indexes import IndexMethod
from piccolo.engine.finder import engine_finder

ID = "2026-12-07T11:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Count each subscription once per billing period; prepared widgets count once opened"

# The 2026-12-07T10:00 trigger's columns plus opened_at: a session's first opening changes the figures.
WATCHED = (
    "started_at",
    "outcome",
    "reason",
    "offer_kind",
    "mrr_cents",
    "plan",
    "billing_interval",
    "segment_id",
    "flow_version",
    "experiment_id",
    "arm_id",
    "holdout",
    "locale",
    "test_mode",
    "finished_at",
    "verified_at",
    "save_lapsed_at",
    "offer_id",
    "currency",
    "monthly_cents",
    "retained_cents",
    "retained_later_cents",
    "retained_from",
    "repeat",
    "offers_shown",
    "opened_at",
)
SQLITE = [
    "DROP TRIGGER IF EXISTS rollup_session_update",
    "CREATE TRIGGER rollup_session_update AFTER UPDATE ON flow_session WHEN "
    + " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in WATCHED)
    + " BEGIN"
    " INSERT OR IGNORE INTO rollup_dirty_day (day) VALUES (substr(NEW.started_at, 1, 10));"
    " INSERT OR IGNORE INTO rollup_dirty_day (day) VALUES (substr(OLD.started_at, 1, 10)); END",
]
POSTGRES = [
    "DROP TRIGGER IF EXISTS rollup_session_update ON flow_session",
    "CREATE TRIGGER rollup_session_update AFTER UPDATE ON flow_session FOR EACH ROW WHEN ("
    + " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in WATCHED)
    + ") EXECUTE FUNCTION saveflow_rollup_session()",
]
BACKFILL = "UPDATE flow_session SET opened_at = started_at, cancelling_at_start = repeat"


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


SESSION_COLUMNS: list[tuple[str, type[Column], dict[str, Any]]] = [
    ("period_end", Timestamptz, _params(default=None, null=True)),
    ("cancelling_at_start", Boolean, _params(default=False)),
    ("opened_at", Timestamptz, _params(default=None, null=True)),
]


async def _install() -> None:
    engine = engine_finder()
    assert engine is not None
    # The backfill runs before the trigger exists: every session was opened, so no figure changes.
    await engine.run_ddl(BACKFILL)
    for statement in POSTGRES if engine.engine_type == "postgres" else SQLITE:
        await engine.run_ddl(statement)


class _ThenInstall(MigrationManager):
    """Piccolo runs a migration's raw callables *before* its add_column steps; the trigger needs the columns."""

    async def run(self, backwards: bool = False) -> None:
        await super().run(backwards=backwards)
        if not backwards and not self.preview:
            await _install()


async def forwards() -> MigrationManager:
    manager = _ThenInstall(migration_id=ID, app_name="saveflow", description=DESCRIPTION)
    for name, column_class, params in SESSION_COLUMNS:
        manager.add_column(
            table_class_name="FlowSession",
            tablename="flow_session",
            column_name=name,
            db_column_name=name,
            column_class_name=column_class.__name__,
            column_class=column_class,
            params=params,
            schema=None,
        )
    return manager
