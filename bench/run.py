"""`make bench`: run every benchmark on this machine, print a table of figures with their goals, and
write bench/results.json. Servers are real uvicorn processes on loopback; the load comes from wrk, out of
process, driven by bench/driver.py and bench/wrk_flow.lua (each connection has its own widget session).

Figures: (a) bare Litestar baseline; (b) the widget step (token check, load, decide, persist, render)
at 1/10/50 concurrent connections on SQLite (1 and 2 workers) and on Postgres (2 workers), as a ratio to the
baseline with as many workers at the same concurrency, with p50/p99 and where the machine's CPU went;
(c) embed.js gzipped; (d) widget open → first step interactive in Chromium; (e) the admin dashboard
on 1 M sessions / 5 M events on SQLite and Postgres (bench/dashboard.py); (f) the last `make test` wall
time.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import math
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.driver import LoadResult, WrkMissing, run_load, start_flow_sessions, wrk_binary
from bench.machine import Machine, Measured
from bench.report import print_table

ROOT = Path(__file__).resolve().parents[1]
DURATION = max(1, math.ceil(float(os.environ.get("BENCH_SECONDS", "4"))))  # wrk takes whole seconds
CONCURRENCY = (1, 10, 50)
# Once per server before its first row, not reported: at the highest concurrency, so every worker has
# opened its database connections and filled its caches before anything is measured.
WARM_UP = (max(CONCURRENCY), 2)  # connections, seconds
SEVERAL_WORKERS = 2  # the multi-worker rows (SQLite and Postgres), against a baseline with as many
BASELINE = "baseline (bare Litestar + same-size template)"
CPUS = os.cpu_count() or 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - loopback only
                return
        except OSError as exc:
            if "405" in str(exc) or "Method Not Allowed" in str(exc):
                return
            time.sleep(0.1)
    raise RuntimeError(f"{url} never answered")


def start_server(
    app: str, port: int, env: dict[str, str], workers: int = 1, factory: bool = False
) -> subprocess.Popen[bytes]:
    args = [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--workers",
        str(workers),
        "--no-access-log",
    ]
    if factory:
        args.append("--factory")
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603


def stop_server(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    server.wait(timeout=10)


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def cpu_us_per_request(share: float, rps: float, cpus: int = CPUS) -> float | None:
    """Microseconds of one core that a share of the whole machine (all `cpus` = 1.0) comes to per request."""
    return share * cpus * 1e6 / rps if rps else None


def row(name: str, measured: Measured, baseline: dict[str, Any] | None, cpus: int = CPUS) -> dict[str, Any]:
    """One table row. With the `baseline` row for the same workers and concurrency: the req/s ratio (the
    goal), and the CPU ratio, the baseline's server CPU per request over this row's: the throughput ratio
    the service would reach with the cores to itself (database and load generator elsewhere)."""
    result = measured.result
    server_us = cpu_us_per_request(result.cpu.server, result.rps, cpus)
    database_us = cpu_us_per_request(result.cpu.postgres, result.rps, cpus)
    baseline_us = baseline["server_cpu_us"] if baseline else None
    return {
        "name": name,
        "concurrency": result.concurrency,
        "wrk_threads": result.wrk_threads,
        "rps": round(result.rps, 1),
        "ratio": round(result.rps / baseline["rps"], 3) if baseline else None,
        "p50_ms": round(result.ms("p50"), 2),
        "p90_ms": round(result.ms("p90"), 2),
        "p99_ms": round(result.ms("p99"), 2),
        "max_ms": round(result.ms("max"), 2),
        "raw_p50_ms": _round(result.raw_ms("p50")),
        "raw_p99_ms": _round(result.raw_ms("p99")),
        "requests": result.requests,
        "errors": result.error_count,
        "error_detail": {k: v for k, v in result.errors.items() if v},
        "valid": result.error_count == 0 and result.requests > 0,
        "cpu_share": result.cpu.as_dict(),
        "server_cpu_us": _round(server_us, 0),
        "database_cpu_us": _round(database_us, 0) if result.cpu.postgres else None,
        "cpu_ratio": round(baseline_us / server_us, 3) if baseline_us and server_us else None,
        "machine_speed": round(measured.speed, 3),
        "attempts": measured.attempts,
    }


def measure_baseline(machine: Machine, env: dict[str, str], workdir: Path, workers: int = 1) -> list[dict[str, Any]]:
    """The bare-Litestar rows; with `workers` > 1 the fair yardstick for a multi-worker service row."""
    port = free_port()
    server = start_server("bench.baseline_app:app", port, env, workers=workers)
    url = f"http://127.0.0.1:{port}/step"
    rows = []
    try:
        wait_healthy(url, server)

        def load(c: int, seconds: int) -> LoadResult:
            return run_load(url, c, seconds, sessions=None, server_pid=server.pid, postgres_port=None, workdir=workdir)

        load(*WARM_UP)
        for c in CONCURRENCY:
            measured = machine.least_disturbed(partial(load, c, DURATION))
            name = BASELINE if workers == 1 else f"{BASELINE[:-1]}, {workers} workers)"
            baseline_row = row(name, measured, None)
            baseline_row["ratio"] = baseline_row["cpu_ratio"] = 1.0  # the yardstick itself
            rows.append(baseline_row)
    finally:
        stop_server(server)
    return rows


def measure_service(
    machine: Machine,
    label: str,
    env: dict[str, str],
    workers: int,
    embed_secret: str,
    baseline: dict[int, dict[str, Any]],
    postgres_port: int | None,
    workdir: Path,
) -> list[dict[str, Any]]:
    for command in ("migrate", "seed"):
        subprocess.run([sys.executable, "-m", "service", command], cwd=ROOT, env=env, check=True, capture_output=True)  # noqa: S603
    port = free_port()
    server = start_server("service.asgi:create", port, env, workers=workers, factory=True)
    base = f"http://127.0.0.1:{port}"
    tag = "pg" if postgres_port else "sqlite"
    rows = []

    def load(c: int, seconds: int, sessions_label: str) -> LoadResult:
        # Fresh sessions for every run: each starts on a known step, none is left mid-request by an earlier run.
        sessions = start_flow_sessions(base, embed_secret, c, f"{tag}_{sessions_label}")
        return run_load(
            base,
            c,
            seconds,
            sessions=sessions,
            server_pid=server.pid,
            postgres_port=postgres_port,
            workdir=workdir,
        )

    try:
        wait_healthy(f"{base}/health", server)
        load(WARM_UP[0], WARM_UP[1], "warm")
        for c in CONCURRENCY:
            measured = machine.least_disturbed(partial(load, c, DURATION, f"c{c}"))
            rows.append(row(f"widget step ({label})", measured, baseline.get(c)))
    finally:
        stop_server(server)
    return rows


async def measure_interactive(base: str) -> float | None:
    """Median ms from SaveFlow.open() to the widget's first step reporting itself ready (5 runs)."""
    from playwright.async_api import async_playwright

    samples = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = await browser.new_page()
        for _ in range(5):
            await page.goto(f"{base}/?customer=cus_demo_ada&test=true")
            await page.wait_for_function("window.SaveFlow !== undefined")
            elapsed = await page.evaluate(
                """() => new Promise(resolve => {
                    const link = document.querySelector('[data-saveflow-open]');
                    const began = performance.now();
                    window.addEventListener('saveflow:step', () => resolve(performance.now() - began), {once: true});
                    window.SaveFlow.open({token: link.dataset.token, baseUrl: link.dataset.baseUrl});
                })"""
            )
            samples.append(float(elapsed))
            await page.keyboard.press("Escape")
        await browser.close()
    return statistics.median(samples)


def main() -> int:
    try:
        driver = subprocess.run([wrk_binary(), "-v"], capture_output=True, text=True, check=False).stdout  # noqa: S603
    except WrkMissing as exc:
        print(exc, file=sys.stderr)
        return 2
    results: dict[str, Any] = {
        "at": datetime.now(UTC).isoformat(),
        "driver": driver.splitlines()[0].split(" Copyright")[0] if driver else "wrk",
        "duration_s": DURATION,
        "cpus": CPUS,
        "runs": [],
    }
    env_base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SQLITE_PATH")}
    workdir = Path(tempfile.mkdtemp(prefix="saveflow-bench-"))
    embed_secret = secrets.token_urlsafe(48)
    env_base.update(
        SAVEFLOW_EMBED_SECRET=embed_secret,
        SAVEFLOW_API_KEY=secrets.token_urlsafe(48),
        SAVEFLOW_SESSION_SECRET=secrets.token_urlsafe(48),
        SAVEFLOW_SECRETS_FILE=str(workdir / "s.json"),
    )

    machine = Machine.calibrated()
    results["machine_reference_ms"] = round(machine.reference_ms, 2)
    results["runs"] += measure_baseline(machine, env_base, workdir)
    baseline = {r["concurrency"]: r for r in results["runs"]}

    sqlite_env = {**env_base, "SQLITE_PATH": str(workdir / "bench.sqlite")}
    sqlite_env["SAVEFLOW_PUBLIC_URL"] = "http://127.0.0.1:8000"
    results["runs"] += measure_service(
        machine, "SQLite, 1 worker", sqlite_env, 1, embed_secret, baseline, None, workdir
    )
    # Several workers against one: compare with a baseline that has as many workers.
    several_baseline = measure_baseline(machine, env_base, workdir, workers=SEVERAL_WORKERS)
    results["runs"] += several_baseline
    several = {r["concurrency"]: r for r in several_baseline}
    shared_env = {**sqlite_env, "SQLITE_PATH": str(workdir / "bench-workers.sqlite")}
    label = f"SQLite, {SEVERAL_WORKERS} workers"
    results["runs"] += measure_service(
        machine, label, shared_env, SEVERAL_WORKERS, embed_secret, several, None, workdir
    )
    database_url = os.environ.get("DATABASE_URL")
    if database_url:
        pg_env = {**env_base, "DATABASE_URL": database_url}
        label = f"Postgres, {SEVERAL_WORKERS} workers"
        port = urlsplit(database_url).port
        results["runs"] += measure_service(
            machine, label, pg_env, SEVERAL_WORKERS, embed_secret, several, port, workdir
        )

    embed = (ROOT / "service" / "static" / "embed.js").read_bytes()
    results["embed_js_gzip_bytes"] = len(gzip.compress(embed, compresslevel=9))

    port = free_port()
    demo_env = {**sqlite_env, "SAVEFLOW_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    server = start_server("service.asgi:create", port, demo_env, factory=True)
    try:
        wait_healthy(f"http://127.0.0.1:{port}/health", server)
        interactive = asyncio.run(measure_interactive(f"http://127.0.0.1:{port}"))
        results["widget_interactive_ms"] = round(interactive or 0, 1)
    finally:
        stop_server(server)

    from bench.dashboard import run_all as measure_dashboards  # imports this module: load it late

    dashboard_env = {**env_base, **({"DATABASE_URL": database_url} if database_url else {})}
    results["dashboard"] = asyncio.run(measure_dashboards(dashboard_env))

    last_test = ROOT / "var" / "make-test-seconds"
    results["make_test_seconds"] = float(last_test.read_text()) if last_test.exists() else None
    (ROOT / "bench" / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)
    invalid = [r for r in results["runs"] if not r["valid"]]
    for r in invalid:
        print(f"INVALID: {r['name']} at {r['concurrency']}: {r['error_detail'] or 'no requests'}", file=sys.stderr)
    return 1 if invalid else 0


if __name__ == "__main__":
    sys.exit(main())
