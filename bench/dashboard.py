"""Dashboard benchmark: bulk-load 1 M sessions / 5 M events, rebuild the rollup, time the admin page.

Rules: may import the bench package, httpx, asyncpg and the trigger migration (to restore the triggers
after a load that dropped them). Run alone with `python -m bench.dashboard` (SQLite; Postgres too when
DATABASE_URL is set) or as part of `make bench`. Sessions spread over the last 365 days with skewed,
realistic mixes (most customers on two plans, English first, a quarter saved). The bulk load bypasses
the triggers (as a restore or an import would), marks every day dirty, and times `python -m service
refresh-rollup`: the cost of rebuilding the rollup from scratch. Then a real server answers GET /admin
(the default view: last 30 days, test sessions excluded) for a logged-in admin, timed over HTTP.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import secrets
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from bench.server import Server, service_cli

if TYPE_CHECKING:
    from collections.abc import Iterator

SESSIONS = int(os.environ.get("BENCH_DASHBOARD_SESSIONS", "1000000"))
EVENTS_PER_SESSION = 5
REQUESTS = 20
BATCH = 50_000

SESSION_COLUMNS = (
    "id",
    "token_jti",
    "customer_id",
    "subscription_id",
    "email",
    "locale",
    "flow_version",
    "test_mode",
    "step",
    "outcome",
    "reason",
    "offer_id",
    "offer_kind",
    "mrr_cents",
    "plan",
    "billing_interval",
    "segment_id",
    "experiment_id",
    "arm_id",
    "holdout",
    "state",
    "context",
    "losses",
    "attrs",
    "version",
    "started_at",
    "updated_at",
    "finished_at",
    "verified_at",
    "save_lapsed_at",
    "feedback_tags",
    "feedback_reviewed_at",
    "opened_at",
)
EVENT_COLUMNS = ("session", "seq", "type", "payload", "at")

PLANS = (("starter", 900, 30), ("team", 4900, 45), ("business", 9900, 20), ("enterprise", 29900, 5))
REASONS = (("too_expensive", 35), ("missing_feature", 20), ("competitor", 15), ("not_using", 20), ("other", 10))
OFFERS = (
    ("pause-2-months", "pause", 40),
    ("discount-30-3-months", "discount", 30),
    ("downgrade-starter", "downgrade", 20),
)
OUTCOMES = (("saved", 25), ("cancelled", 45), ("abandoned", 27), (None, 3))
LOCALES = (("en", 70), ("de", 15), ("fr", 10), ("es", 5))


def _pick(rng: random.Random, table: tuple[tuple[Any, ...], ...]) -> tuple[Any, ...]:
    return rng.choices(table, weights=[row[-1] for row in table])[0]


def generate(now: datetime, count: int, version_id: int) -> Iterator[tuple[tuple[Any, ...], list[tuple[Any, ...]]]]:
    """Deterministic session rows and their five events each."""
    rng = random.Random(20261123)  # noqa: S311 - reproducible data, not secrets
    span = 365 * 86_400
    for n in range(count):
        started = now - timedelta(seconds=rng.randrange(span))
        plan, mrr, _ = _pick(rng, PLANS)
        outcome = _pick(rng, OUTCOMES)[0]
        reason = _pick(rng, REASONS)[0]
        offer_id, offer_kind = (None, None)
        if outcome == "saved":
            offer_id, offer_kind, _ = _pick(rng, OFFERS)
        finished = started + timedelta(seconds=rng.randrange(30, 900)) if outcome else None
        mature = finished is not None and finished < now - timedelta(days=30)
        verified = finished if outcome == "saved" and mature and rng.random() < 0.7 else None
        lapsed = finished if outcome == "saved" and mature and verified is None and rng.random() < 0.5 else None
        experiment = rng.random() < 0.2
        arm = rng.choice(("a", "b", "holdout")) if experiment else None
        segment = rng.choices((None, "smb", "enterprise"), weights=(60, 30, 10))[0]
        state = json.dumps({"session_id": f"ses_{n}", "step": "done" if outcome else "survey", "reason": reason})
        row = (
            f"ses_{n:08d}",
            f"jti_{n:08d}",
            f"cus_{n % 400_000}",
            f"sub_{n % 400_000}",
            None,
            _pick(rng, LOCALES)[0],
            version_id,
            rng.random() < 0.02,
            "done" if outcome else "survey",
            outcome,
            reason,
            offer_id,
            offer_kind,
            mrr,
            plan,
            "year" if rng.random() < 0.2 else "month",
            segment,
            "exp-1" if experiment else None,
            arm,
            arm == "holdout",
            state,
            '{"snapshot": {}}',
            "[]",
            "{}",
            EVENTS_PER_SESSION,
            started,
            finished or started,
            finished,
            verified,
            lapsed,
            "",
            None,
            started,
        )
        final = {"saved": "OfferApplied", "cancelled": "CancelConfirmed", "abandoned": "Closed"}.get(outcome or "", "")
        kinds = ["Started", "Continued", "ReasonChosen", "OfferAccepted" if outcome == "saved" else "OfferDeclined"]
        kinds.append(final or "ReasonChosen")
        events = [
            (row[0], seq, kind, '{"at": "' + started.isoformat() + '"}', started + timedelta(seconds=seq * 20))
            for seq, kind in enumerate(kinds)
        ]
        yield row, events


def _batches(now: datetime, version_id: int) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
    sessions: list[tuple[Any, ...]] = []
    events: list[tuple[Any, ...]] = []
    for row, row_events in generate(now, SESSIONS, version_id):
        sessions.append(row)
        events.extend(row_events)
        if len(sessions) >= BATCH:
            yield sessions, events
            sessions, events = [], []
    if sessions:
        yield sessions, events


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return str(value.astimezone(UTC))  # Piccolo's own SQLite encoding
    return value


def load_sqlite(path: str, now: datetime) -> None:
    from service.db.piccolo_migrations import saveflow_2026_11_23t10_07_13_000000 as triggers

    db = sqlite3.connect(path)
    db.execute("PRAGMA synchronous=OFF")
    names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")]
    for name in names:  # a bulk import bypasses the triggers and marks every day dirty at the end
        db.execute(f"DROP TRIGGER {name}")
    version_id = db.execute("SELECT MAX(id) FROM flow_version").fetchone()[0]
    session_sql = (
        f"INSERT INTO flow_session ({', '.join(SESSION_COLUMNS)}) VALUES ({', '.join('?' * len(SESSION_COLUMNS))})"  # noqa: S608
    )
    event_sql = f"INSERT INTO flow_event ({', '.join(EVENT_COLUMNS)}) VALUES (?, ?, ?, ?, ?)"  # noqa: S608
    for sessions, events in _batches(now, version_id):
        db.executemany(session_sql, ([_sqlite_value(v) for v in row] for row in sessions))
        db.executemany(event_sql, ([_sqlite_value(v) for v in row] for row in events))
        db.commit()
    db.execute(
        "INSERT OR IGNORE INTO rollup_dirty_day (day) SELECT DISTINCT substr(started_at, 1, 10) FROM flow_session"
    )
    for statement in triggers.SQLITE:
        db.execute(statement)
    db.commit()
    db.execute("ANALYZE")
    db.close()


async def load_postgres(dsn: str, now: datetime) -> None:
    import asyncpg

    db = await asyncpg.connect(dsn)
    try:
        version_id = await db.fetchval("SELECT MAX(id) FROM flow_version")
        await db.execute("ALTER TABLE flow_session DISABLE TRIGGER USER; ALTER TABLE flow_event DISABLE TRIGGER USER")
        for sessions, events in _batches(now, version_id):
            await db.copy_records_to_table("flow_session", records=sessions, columns=SESSION_COLUMNS)
            await db.copy_records_to_table("flow_event", records=events, columns=EVENT_COLUMNS)
        await db.execute("ALTER TABLE flow_session ENABLE TRIGGER USER; ALTER TABLE flow_event ENABLE TRIGGER USER")
        await db.execute(
            "INSERT INTO rollup_dirty_day (day) SELECT DISTINCT to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
            " FROM flow_session ON CONFLICT DO NOTHING"
        )
        await db.execute("ANALYZE")
    finally:
        await db.close()


async def fresh_postgres_database(dsn: str) -> str:
    """A new empty database on the cluster of `dsn`, so the other rows' data does not mix in."""
    import asyncpg

    name = "dashboard_bench"
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name}")
        await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()
    return re.sub(r"/[^/]*$", f"/{name}", dsn)


async def time_dashboard(env: dict[str, str], log: Path) -> dict[str, float]:
    with Server(env, log) as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=120) as client:
            login = await client.get("/admin/login")
            token = re.search(r'name="_csrf_token" value="([^"]+)"', login.text)
            if token is None:
                raise RuntimeError("no CSRF token on the login page")
            await client.post(
                "/admin/login",
                data={
                    "email": "bench@example.com",
                    "password": env["SAVEFLOW_NEW_ADMIN_PASSWORD"],
                    "_csrf_token": token.group(1),
                },
            )
            timings: dict[str, list[float]] = {"default": [], "filtered": []}
            for name, params in (("default", {}), ("filtered", {"plan": "team", "interval": "month", "locale": "en"})):
                for attempt in range(REQUESTS + 2):
                    started = time.perf_counter()
                    response = await client.get(
                        "/admin", params=params, headers={"HX-Request": "true"} if params else {}
                    )
                    elapsed = (time.perf_counter() - started) * 1000
                    if response.status_code != 200 or "kpi-sessions" not in response.text:
                        raise RuntimeError(f"dashboard answered {response.status_code}")
                    if attempt >= 2:  # the first two warm the caches
                        timings[name].append(elapsed)
    return {
        "p50_ms": round(statistics.median(timings["default"]), 1),
        "max_ms": round(max(timings["default"]), 1),
        "filtered_p50_ms": round(statistics.median(timings["filtered"]), 1),
    }


async def measure(label: str, env: dict[str, str], workdir: Path) -> dict[str, Any]:
    now = datetime.now(UTC)
    service_cli(env, "migrate")
    service_cli(env, "seed")
    service_cli(env, "create-admin", "bench@example.com")  # its password: SAVEFLOW_NEW_ADMIN_PASSWORD
    started = time.perf_counter()
    if env.get("DATABASE_URL"):
        await load_postgres(env["DATABASE_URL"], now)
    else:
        load_sqlite(env["SQLITE_PATH"], now)
    loaded = time.perf_counter() - started
    started = time.perf_counter()
    service_cli(env, "refresh-rollup")
    rebuilt = time.perf_counter() - started
    figures = await time_dashboard(env, workdir / f"server-dashboard-{label.lower()}.log")
    result = {
        "database": label,
        "sessions": SESSIONS,
        "events": SESSIONS * EVENTS_PER_SESSION,
        "load_s": round(loaded, 1),
        "rollup_rebuild_s": round(rebuilt, 1),
        **figures,
    }
    print(f"  dashboard on {label}: {json.dumps(result)}", flush=True)
    return result


def bench_env(base: dict[str, str], workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in base.items() if k not in ("DATABASE_URL", "SQLITE_PATH")}
    env.setdefault("SAVEFLOW_EMBED_SECRET", secrets.token_urlsafe(48))
    env.setdefault("SAVEFLOW_API_KEY", secrets.token_urlsafe(48))
    env.setdefault("SAVEFLOW_SESSION_SECRET", secrets.token_urlsafe(48))
    env.setdefault("SAVEFLOW_SECRETS_FILE", str(workdir / "s.json"))
    env.update(SAVEFLOW_DEMO="0", SAVEFLOW_NEW_ADMIN_PASSWORD=secrets.token_urlsafe(16))
    return env


async def run_all(base_env: dict[str, str]) -> list[dict[str, Any]]:
    """Every dashboard row this machine can run: SQLite always, Postgres when DATABASE_URL is set."""
    workdir = Path(tempfile.mkdtemp(prefix="saveflow-dashboard-bench-"))
    env = bench_env(base_env, workdir)
    results = [await measure("SQLite", {**env, "SQLITE_PATH": str(workdir / "dashboard.sqlite")}, workdir)]
    if base_env.get("DATABASE_URL"):
        dsn = await fresh_postgres_database(base_env["DATABASE_URL"])
        results.append(await measure("Postgres", {**env, "DATABASE_URL": dsn}, workdir))
    return results


if __name__ == "__main__":
    print(json.dumps(asyncio.run(run_all(dict(os.environ))), indent=2))
