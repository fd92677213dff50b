"""Honest money: per-currency monthly amounts, net MRR retained, repeat flows and offers shown.

Hand-written. Adds flow_session's metric columns (currency, monthly_cents, retained_cents,
retained_later_cents, retained_from, paid_at, repeat, offers_shown) and the rollup's matching
dimensions and measures, as Piccolo's auto migration would (add_column). After the columns exist it
re-creates the rollup's update trigger so the new columns mark days dirty, backfills currency,
monthly_cents and offers_shown from the stored JSON, and marks every day dirty so the next refresh
rebuilds the rollup. Older saves keep a net MRR retained of 0 (the offer's terms were not stored).
"""

from __future__ import annotations

import json
from typing import Any

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import Column
from piccolo.columns.column_types import BigInt, Boolean, Integer, Timestamptz, Varchar
from piccolo.columns.indexes import IndexMethod
from piccolo.engine.finder import engine_finder
from piccolo.table import Table

ID = "2026-12-07T10:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Metric columns: currency, monthly and retained amounts, repeat flows, offers shown"

# The 2026-11-23 trigger's columns plus this migration's: a change to any of them changes a figure.
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
_PER_MONTH = {"day": 365 / 12, "week": 52 / 12, "month": 1.0, "year": 1 / 12}  # as offers.value


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
    ("currency", Varchar, _params(length=3, default="")),
    ("monthly_cents", Integer, _params(default=0)),
    ("retained_cents", Integer, _params(default=0)),
    ("retained_later_cents", Integer, _params(default=0)),
    ("retained_from", Timestamptz, _params(default=None, null=True)),
    ("paid_at", Timestamptz, _params(default=None, null=True)),
    ("repeat", Boolean, _params(default=False)),
    ("offers_shown", Varchar, _params(length=255, default="")),
]
ROLLUP_COLUMNS: list[tuple[str, type[Column], dict[str, Any]]] = [
    ("currency", Varchar, _params(length=3, default="")),
    ("repeat", Boolean, _params(default=False)),
    ("offer_id", Varchar, _params(length=64, default="")),
    ("offers_shown", Varchar, _params(length=255, default="")),
    ("retained_day", Varchar, _params(length=10, default="")),
    ("monthly_cents", BigInt, _params(default=0)),
    ("retained_cents", BigInt, _params(default=0)),
    ("retained_later_cents", BigInt, _params(default=0)),
]


class _Session(Table, tablename="flow_session"):
    id = Varchar(length=40, primary_key=True)


async def _install() -> None:
    engine = engine_finder()
    assert engine is not None
    postgres = engine.engine_type == "postgres"
    for statement in POSTGRES if postgres else SQLITE:
        await engine.run_ddl(statement)
    rows = await _Session.raw("SELECT id, context, state, mrr_cents, billing_interval FROM flow_session")
    for row in rows:
        snapshot = (json.loads(row["context"] or "{}") or {}).get("snapshot") or {}
        shown = (json.loads(row["state"] or "{}") or {}).get("offers_shown") or []
        currency = str(snapshot.get("currency") or "")[:3].lower()
        monthly = round(int(row["mrr_cents"] or 0) * _PER_MONTH.get(str(row["billing_interval"] or ""), 1.0))
        await _Session.raw(
            "UPDATE flow_session SET currency = {}, monthly_cents = {}, offers_shown = {} WHERE id = {}",
            currency,
            monthly,
            ",".join(str(o) for o in shown)[:255],
            row["id"],
        )
    day = "to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')" if postgres else "substr(started_at, 1, 10)"
    conflict = " ON CONFLICT DO NOTHING" if postgres else ""
    verb = "INSERT" if postgres else "INSERT OR IGNORE"
    await engine.run_ddl(f"{verb} INTO rollup_dirty_day (day) SELECT DISTINCT {day} FROM flow_session{conflict}")


class _ThenInstall(MigrationManager):
    """Piccolo runs a migration's raw callables *before* its add_column steps; the trigger needs the columns."""

    async def run(self, backwards: bool = False) -> None:
        await super().run(backwards=backwards)
        if not backwards and not self.preview:
            await _install()


async def forwards() -> MigrationManager:
    manager = _ThenInstall(migration_id=ID, app_name="saveflow", description=DESCRIPTION)
    for table_class, tablename, columns in (
        ("FlowSession", "flow_session", SESSION_COLUMNS),
        ("DashboardRollup", "dashboard_rollup", ROLLUP_COLUMNS),
    ):
        for name, column_class, params in columns:
            manager.add_column(
                table_class_name=table_class,
                tablename=tablename,
                column_name=name,
                db_column_name=name,
                column_class_name=column_class.__name__,
                column_class=column_class,
                params=params,
                schema=None,
            )
    return manager
