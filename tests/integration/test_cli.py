"""The command line a deployer uses: migrate, seed, create-admin, add-webhook, sweep, replay-webhooks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def cli(
    *args: str, env: dict[str, str], program: tuple[str, ...] = ("-m", "service")
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *program, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")), reason="runs against its own SQLite file")
def test_the_deployment_commands(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "SQLITE_PATH": str(tmp_path / "cli.sqlite"),
        "SAVEFLOW_SECRETS_FILE": str(tmp_path / "s.json"),
        "SAVEFLOW_DEMO": "0",
        "SAVEFLOW_NEW_ADMIN_PASSWORD": "a long enough password",
    }
    assert cli("migrate", env=env).returncode == 0
    seeded = cli("seed", env=env)
    assert "Published the default save flow" in seeded.stdout
    assert "login" not in seeded.stdout  # no demo admin outside demo mode
    assert "Published" not in cli("seed", env=env).stdout  # idempotent
    assert "Created admin ops@example.com" in cli("create-admin", "ops@example.com", env=env).stdout
    duplicate = cli("create-admin", "ops@example.com", env=env)
    assert duplicate.returncode == 2 and "already has an account" in duplicate.stderr
    hook = cli("add-webhook", "https://app.example.com/hooks", "--event", "session.completed", env=env)
    assert "whsec_" in hook.stdout
    refused = cli("add-webhook", "ftp://nope", env=env)
    assert refused.returncode == 2 and refused.stderr.startswith("error: The webhook URL must start with https://")
    assert "Finished 0 pending billing operation(s)." in cli("sweep", env=env).stdout
    assert "Replayed 0 failed webhook(s)." in cli("replay-webhooks", env=env).stdout
    assert "Recomputed the dashboard rollup for 0 day(s)." in cli("refresh-rollup", env=env).stdout


@pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")), reason="SQLite mode")
def test_several_workers_on_sqlite_are_refused_with_a_pointer_to_postgres(tmp_path: Path) -> None:
    env = {**os.environ, "SQLITE_PATH": str(tmp_path / "w.sqlite"), "SAVEFLOW_SECRETS_FILE": str(tmp_path / "s.json")}
    refused = cli("serve", "--workers", "2", "--port", "1", env=env)
    assert refused.returncode == 2
    assert "--workers 2 needs Postgres" in refused.stderr and "DATABASE_URL" in refused.stderr


@pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")), reason="runs against its own SQLite file")
def test_upgrading_a_database_with_sessions_backfills_the_rollup(tmp_path: Path) -> None:
    """A database from the first release keeps its history: intervals are backfilled, days rolled up."""
    import sqlite3

    env = {**os.environ, "SQLITE_PATH": str(tmp_path / "old.sqlite"), "SAVEFLOW_SECRETS_FILE": str(tmp_path / "s.json")}
    piccolo = ("-c", "from piccolo.main import main; main()")
    first = cli("migrations", "forwards", "saveflow", "2026-11-23T09:22:19:041883", env=env, program=piccolo)
    assert first.returncode == 0, first.stdout + first.stderr
    with sqlite3.connect(tmp_path / "old.sqlite") as db:
        db.execute(
            "INSERT INTO flow_version (flow_key, number, status, definition, note, created_at)"
            " VALUES ('default', 1, 'published', '{}', '', '2026-01-01 00:00:00+00:00')"
        )
        db.execute(
            "INSERT INTO flow_session (id, token_jti, customer_id, subscription_id, locale, flow_version, test_mode,"
            " step, outcome, mrr_cents, plan, holdout, state, context, losses, attrs, version, started_at,"
            " updated_at, feedback_tags) VALUES ('ses_old', 'j', 'c', 's', 'en', 1, 0, 'done', 'saved', 4900,"
            " 'team', 0, '{}', '{}', '[]', '{\"interval\": \"year\"}', 3, '2026-01-02 10:00:00+00:00',"
            " '2026-01-02 10:05:00+00:00', '')"
        )
    assert cli("migrate", env=env).returncode == 0
    with sqlite3.connect(tmp_path / "old.sqlite") as db:
        assert db.execute("SELECT billing_interval FROM flow_session").fetchone() == ("year",)
        assert db.execute("SELECT day FROM rollup_dirty_day").fetchall() == [("2026-01-02",)]
    assert "for 1 day(s)" in cli("refresh-rollup", env=env).stdout
    with sqlite3.connect(tmp_path / "old.sqlite") as db:
        assert db.execute("SELECT day, outcome, sessions, mrr_cents FROM dashboard_rollup").fetchall() == [
            ("2026-01-02", "saved", 1, 4900)
        ]
