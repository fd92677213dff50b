"""Operations as an operator meets them: health probes, `serve --migrate`, JSON logs, /metrics across workers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from service.app import create_app
from service.db.engine import close_engine, open_engine
from service.db.migrations import known_migrations
from service.settings import DatabaseSettings
from tests.conftest import FakeClock, database_settings, make_settings
from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
API_KEY = "k" * 48
ON_POSTGRES = database_settings().is_postgres


@contextlib.contextmanager
def fresh_database(tmp_path: Path) -> Iterator[tuple[DatabaseSettings, dict[str, str]]]:
    """An empty database of the suite's kind (a new SQLite file, or a new Postgres database, dropped after),
    with the environment the CLI needs to reach it."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SQLITE_PATH") and "STRIPE" not in k}
    env.update(SAVEFLOW_SECRETS_FILE=str(tmp_path / "secrets.json"), SAVEFLOW_DEMO="0", SAVEFLOW_API_KEY=API_KEY)
    if not ON_POSTGRES:
        env["SQLITE_PATH"] = str(tmp_path / "fresh.sqlite")
        yield DatabaseSettings(sqlite_path=env["SQLITE_PATH"]), env
        return
    import asyncpg

    base, name = os.environ["DATABASE_URL"], "ops_" + uuid.uuid4().hex[:10]

    async def execute(statement: str) -> None:
        conn = await asyncpg.connect(base)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    def admin(statement: str) -> None:  # on a thread of its own: async tests use this too
        with ThreadPoolExecutor(1) as thread:
            thread.submit(asyncio.run, execute(statement)).result()

    admin(f'CREATE DATABASE "{name}"')
    env["DATABASE_URL"] = base.rsplit("/", 1)[0] + "/" + name
    try:
        yield DatabaseSettings(url=env["DATABASE_URL"]), env
    finally:
        admin(f'DROP DATABASE "{name}" WITH (FORCE)')


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


async def test_ready_waits_for_every_migration_and_live_for_nothing(tmp_path: Path, clock: FakeClock) -> None:
    with fresh_database(tmp_path) as (database, env):
        app = create_app(make_settings(database=database), clock=clock)
        await open_engine(app.state.engine)
        try:
            transport = httpx.ASGITransport(app=cast("Any", app))
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as client:
                assert (await client.get("/health/live")).json() == {"status": "ok"}
                for path in ("/health/ready", "/health"):  # /health is the same check
                    unready = await client.get(path)
                    assert unready.status_code == 503, path
                    assert unready.json()["database"] == "migrations pending"
                    assert f"{len(known_migrations())} database migration(s) not applied" in unready.json()["reason"]

                migrated = cli("migrate", env=env)
                assert migrated.returncode == 0, migrated.stdout + migrated.stderr
                ready = await client.get("/health/ready")
                assert (ready.status_code, ready.json()) == (200, {"status": "ok", "database": "ok"})

                # The newest migration forgotten (a deploy whose `migrate` did not run): not ready again.
                newest = known_migrations()[-1]  # an id from our own migration files
                await app.state.engine.run_ddl(f"DELETE FROM migration WHERE name = '{newest}'")  # noqa: S608
                one_left = await client.get("/health/ready")
                assert one_left.status_code == 503 and "1 database migration(s)" in one_left.json()["reason"]
                assert (await client.get("/health/live")).status_code == 200
        finally:
            await close_engine(app.state.engine)


@contextlib.contextmanager
def serving(*args: str, env: dict[str, str], log: Path) -> Iterator[httpx.Client]:
    """`python -m service serve <args>` on a free port until /health/live answers, and a client of it that
    opens a new connection for each request (so any worker may take it). Stopped on exit."""
    port = free_port()
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", limits=httpx.Limits(max_keepalive_connections=0))
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "service", "serve", "--port", str(port), *args],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=out,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, f"serve exited early:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"serve did not answer:\n{log.read_text()}"
            with contextlib.suppress(httpx.TransportError):
                if client.get("/health/live", timeout=1).status_code == 200:
                    break
            time.sleep(0.05)
        yield client
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=30)


def json_lines(log: Path) -> list[dict[str, Any]]:
    """Every line the server wrote, each parsed as JSON (a line that is not JSON fails the test here)."""
    lines = log.read_text().splitlines()
    assert lines
    return [json.loads(line) for line in lines]


@pytest.mark.skipif(ON_POSTGRES, reason="runs against its own SQLite file; the worker test covers Postgres")
def test_serve_migrate_then_json_logs_carry_request_ids_and_no_tokens(tmp_path: Path) -> None:
    secret = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXBheWxvYWQ.c2lnbmF0dXJl"
    log = tmp_path / "server.log"
    with fresh_database(tmp_path) as (_, env), serving("--migrate", env=env, log=log) as server:
        assert server.get("/health/ready").status_code == 200  # migrated before it served
        server.get("/w/start", params={"token": secret, "lang": "en"}, headers={"X-Request-ID": "ops-test-0001"})
        missing = server.get("/no/such/page", params={"flow_token": secret})  # no route: no app middleware
    lines = json_lines(log)
    assert secret not in log.read_text()
    assert any(line["logger"] == "service.migrate" and "Running" in line["message"] for line in lines)
    access = {line.get("request_id"): line for line in lines if line["logger"] == "uvicorn.access"}
    assert access["ops-test-0001"]["path"] == "/w/start?token=[redacted]&lang=en"
    assert access["ops-test-0001"]["status"] == 401
    assert any(line.get("request_id") == "ops-test-0001" and line["logger"].startswith("service.") for line in lines)
    assert access[missing.headers["x-request-id"]]["path"] == "/no/such/page?flow_token=[redacted]"


def _requests_counted(server: httpx.Client, route: str) -> float:
    scrape = server.get("/metrics", headers={"Authorization": f"Bearer {API_KEY}"})
    assert scrape.status_code == 200
    for family in text_string_to_metric_families(scrape.text):
        for sample in family.samples:
            if sample.name == "saveflow_http_requests_total" and sample.labels["route"] == route:
                return sample.value
    return 0.0


@pytest.mark.postgres
@pytest.mark.skipif(not ON_POSTGRES, reason="several workers need Postgres (SQLite is single-process)")
def test_metrics_add_up_across_two_workers(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    workers: set[str] = set()
    with (
        fresh_database(tmp_path) as (_, env),
        serving("--workers", "2", "--migrate", env={**env, "TMPDIR": str(tmp_path)}, log=log) as server,
    ):
        assert server.get("/health/ready").status_code == 200
        made = _requests_counted(server, "/health/live")  # the start-up wait's

        def live() -> None:
            nonlocal made
            time.sleep(0.01)  # both workers idle: the kernel wakes both for the next connection, either may take it
            workers.add(server.get("/health/live").headers["x-request-id"][:8])  # the worker's id prefix
            made += 1

        while len(workers) < 2 and made < 200:
            live()
        expected, seen = [], []
        for _ in range(6):
            for _ in range(5):
                live()
            expected.append(made)
            seen.append(_requests_counted(server, "/health/live"))
        (shared,) = tmp_path.glob("saveflow-metrics-*")  # serve's own directory, shared by the workers
        assert len(list(shared.glob("counter_*.db"))) == 2
    assert not list(tmp_path.glob("saveflow-metrics-*"))  # removed when serve stopped
    assert len(workers) == 2, "one worker took every connection: the scrapes proved nothing"
    assert seen == expected  # every scrape counts every worker's requests: none missing, never backwards
    json_lines(log)  # the supervisor's and both workers' lines are JSON too
