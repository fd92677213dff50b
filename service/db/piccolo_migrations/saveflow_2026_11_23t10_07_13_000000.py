"""Rollup triggers: mark a start day dirty whenever its sessions or their funnel events change.

Hand-written (raw SQL per engine), after the auto migration that adds the tables. It also backfills
flow_session.billing_interval from the stored token attributes and marks every existing day dirty,
so the first refresh builds the rollup from the raw rows.
"""

from __future__ import annotations

import json

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns import Varchar
from piccolo.engine.finder import engine_finder
from piccolo.table import Table

ID = "2026-11-23T10:07:13:000000"
VERSION = "1.38.0"
DESCRIPTION = "Rollup dirty-day triggers and billing_interval backfill"

# A change to any of these columns changes some dashboard figure.
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
)
FUNNEL_EVENTS = "('Continued', 'ReasonChosen', 'OfferAccepted', 'OfferDeclined', 'CancelConfirmed')"

SQLITE = [
    "CREATE TRIGGER IF NOT EXISTS rollup_session_insert AFTER INSERT ON flow_session BEGIN"
    " INSERT OR IGNORE INTO rollup_dirty_day (day) VALUES (substr(NEW.started_at, 1, 10)); END",
    "CREATE TRIGGER IF NOT EXISTS rollup_session_update AFTER UPDATE ON flow_session WHEN "
    + " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in WATCHED)
    + " BEGIN"
    " INSERT OR IGNORE INTO rollup_dirty_day (day) VALUES (substr(NEW.started_at, 1, 10));"
    " INSERT OR IGNORE INTO rollup_dirty_day (day) VALUES (substr(OLD.started_at, 1, 10)); END",
    "CREATE TRIGGER IF NOT EXISTS rollup_session_delete AFTER DELETE ON flow_session BEGIN"
    " INSERT OR IGNORE INTO rollup_dirty_day (day) VALUES (substr(OLD.started_at, 1, 10)); END",
    f"CREATE TRIGGER IF NOT EXISTS rollup_event_insert AFTER INSERT ON flow_event WHEN NEW.type IN {FUNNEL_EVENTS}"
    " BEGIN INSERT OR IGNORE INTO rollup_dirty_day (day)"
    " SELECT substr(started_at, 1, 10) FROM flow_session WHERE id = NEW.session; END",
]

_PG_DAY = "to_char({}.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
POSTGRES = [
    "CREATE OR REPLACE FUNCTION saveflow_rollup_session() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    " IF TG_OP <> 'DELETE' THEN INSERT INTO rollup_dirty_day (day) VALUES ("
    + _PG_DAY.format("NEW")
    + ") ON CONFLICT DO NOTHING; END IF;"
    " IF TG_OP <> 'INSERT' THEN INSERT INTO rollup_dirty_day (day) VALUES ("
    + _PG_DAY.format("OLD")
    + ") ON CONFLICT DO NOTHING; END IF;"
    " RETURN NULL; END $$",
    "CREATE OR REPLACE FUNCTION saveflow_rollup_event() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    " INSERT INTO rollup_dirty_day (day) SELECT "
    + _PG_DAY.format("s")
    + " FROM flow_session s WHERE s.id = NEW.session ON CONFLICT DO NOTHING; RETURN NULL; END $$",
    "DROP TRIGGER IF EXISTS rollup_session_insert ON flow_session",
    "CREATE TRIGGER rollup_session_insert AFTER INSERT OR DELETE ON flow_session"
    " FOR EACH ROW EXECUTE FUNCTION saveflow_rollup_session()",
    "DROP TRIGGER IF EXISTS rollup_session_update ON flow_session",
    "CREATE TRIGGER rollup_session_update AFTER UPDATE ON flow_session FOR EACH ROW WHEN ("
    + " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in WATCHED)
    + ") EXECUTE FUNCTION saveflow_rollup_session()",
    "DROP TRIGGER IF EXISTS rollup_event_insert ON flow_event",
    "CREATE TRIGGER rollup_event_insert AFTER INSERT ON flow_event FOR EACH ROW"
    f" WHEN (NEW.type IN {FUNNEL_EVENTS}) EXECUTE FUNCTION saveflow_rollup_event()",
]


class _Session(Table, tablename="flow_session"):
    id = Varchar(length=40, primary_key=True)


async def _install() -> None:
    engine = engine_finder()
    assert engine is not None
    postgres = engine.engine_type == "postgres"
    for statement in POSTGRES if postgres else SQLITE:
        await engine.run_ddl(statement)
    rows = await _Session.raw("SELECT id, attrs FROM flow_session WHERE billing_interval = ''")
    for row in rows:
        interval = json.loads(row["attrs"] or "{}").get("interval")
        if isinstance(interval, str) and interval:
            await _Session.raw("UPDATE flow_session SET billing_interval = {} WHERE id = {}", interval[:16], row["id"])
    day = "to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')" if postgres else "substr(started_at, 1, 10)"
    conflict = " ON CONFLICT DO NOTHING" if postgres else ""
    verb = "INSERT" if postgres else "INSERT OR IGNORE"
    await engine.run_ddl(f"{verb} INTO rollup_dirty_day (day) SELECT DISTINCT {day} FROM flow_session{conflict}")


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="saveflow", description=DESCRIPTION)
    manager.add_raw(_install)
    return manager
