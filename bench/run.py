"""`make bench`: measure every figure on this machine, print each beside its goal, write bench/results.json.

Rules: may import the bench package, httpx, jwt and playwright; talks to the service only over HTTP and
its CLI. Figures: the widget step under 20 concurrent sessions on SQLite (1 worker) and Postgres
(2 workers, when DATABASE_URL is set); embed.js gzipped; widget open → first step interactive in
Chromium; the widget on an emulated slow phone network (bench/network.py); the admin dashboard on 1 M
sessions (bench/dashboard.py); the last `make test` wall time. `--only network` measures the network rows
alone and updates them in results.json. Exit status 1 when a measured figure misses its goal.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import math
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.dashboard import run_all as measure_dashboards
from bench.driver import WrkMissing, run_load, start_flow_sessions, wrk_binary
from bench.network import measure_network
from bench.report import CONCURRENCY, all_passed, flow_row, network_table, network_verdicts, table
from bench.server import ROOT, Server, service_cli

SECONDS = max(1, math.ceil(float(os.environ.get("BENCH_SECONDS", "10"))))  # wrk takes whole seconds
WARM_UP_SECONDS = 2  # once per server, own sessions, not reported: connections opened, caches filled
POSTGRES_WORKERS = 2  # SQLite is single-process: `serve --workers N` with N > 1 refuses it


def measure_flow(
    name: str, database: str, env: dict[str, str], workers: int, embed_secret: str, workdir: Path
) -> dict[str, Any]:
    """Migrate, seed and serve; warm up; then 20 fresh sessions step for SECONDS."""
    service_cli(env, "migrate")
    service_cli(env, "seed")
    with Server(env, workdir / f"server-{database}.log", workers=workers) as server:
        warm = start_flow_sessions(server.base_url, embed_secret, CONCURRENCY, f"{database}_warm")
        run_load(server.base_url, warm, WARM_UP_SECONDS, workdir)
        sessions = start_flow_sessions(server.base_url, embed_secret, CONCURRENCY, database)
        result = run_load(server.base_url, sessions, SECONDS, workdir)
    row = flow_row(name, database, workers, result)
    print(f"  flow step, {name}: {json.dumps(row)}", flush=True)
    return row


async def measure_interactive(base: str) -> float:
    """Median ms from SaveFlow.open() on the demo page to the widget's first step reporting itself (5 runs)."""
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


def commit() -> str:
    done = subprocess.run(
        ["git", "describe", "--always", "--dirty"],  # noqa: S607 - git from PATH, read only
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or "unknown"


def bench_env(workdir: Path) -> tuple[dict[str, str], str]:
    """The service's environment for a run (fresh secrets, no database chosen yet) and its embed secret."""
    embed_secret = secrets.token_urlsafe(48)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SQLITE_PATH")}
    env.update(
        SAVEFLOW_EMBED_SECRET=embed_secret,
        SAVEFLOW_API_KEY=secrets.token_urlsafe(48),
        SAVEFLOW_SESSION_SECRET=secrets.token_urlsafe(48),
        SAVEFLOW_SECRETS_FILE=str(workdir / "secrets.json"),
    )
    return env, embed_secret


def embed_gzip_bytes() -> int:
    return len(gzip.compress((ROOT / "service" / "static" / "embed.js").read_bytes(), compresslevel=9))


def network(base: str) -> dict[str, Any]:
    stamp = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "commit": commit()}
    return {**stamp, **asyncio.run(measure_network(base))}


def network_only() -> int:
    """Measure the three network rows (and embed.js's size) on a fresh SQLite service; keep the other figures."""
    workdir = Path(tempfile.mkdtemp(prefix="saveflow-bench-"))
    env, _ = bench_env(workdir)
    env["SQLITE_PATH"] = str(workdir / "bench.sqlite")
    service_cli(env, "migrate")
    service_cli(env, "seed")
    with Server(env, workdir / "server-network.log") as server:
        measured = network(server.base_url)
    path = ROOT / "bench" / "results.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    results["network"] = measured
    results["embed_js_gzip_bytes"] = embed_gzip_bytes()  # the widget's weight too: it is what the rows load
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(network_table(measured))
    return 1 if any(v.passed is False for v in network_verdicts(measured)) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["network"], help="measure only these rows")
    if parser.parse_args(argv).only == "network":
        return network_only()
    try:
        version = subprocess.run([wrk_binary(), "-v"], capture_output=True, text=True, check=False).stdout  # noqa: S603
    except WrkMissing as exc:
        print(exc, file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="saveflow-bench-"))
    env, embed_secret = bench_env(workdir)
    sqlite_env = {**env, "SQLITE_PATH": str(workdir / "bench.sqlite")}
    database_url = os.environ.get("DATABASE_URL")
    results: dict[str, Any] = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit(),
        "wrk": version.splitlines()[0].split(" Copyright")[0] if version else "wrk",
        "seconds": SECONDS,
        "flow": [measure_flow("SQLite, 1 worker", "sqlite", sqlite_env, 1, embed_secret, workdir)],
        "flow_skipped": [],
    }
    postgres = f"Postgres, {POSTGRES_WORKERS} workers"
    if database_url:
        pg_env = {**env, "DATABASE_URL": database_url}
        results["flow"].append(measure_flow(postgres, "postgres", pg_env, POSTGRES_WORKERS, embed_secret, workdir))
    else:
        results["flow_skipped"].append(postgres)

    results["embed_js_gzip_bytes"] = embed_gzip_bytes()
    with Server(sqlite_env, workdir / "server-demo.log") as server:
        results["widget_interactive_ms"] = round(asyncio.run(measure_interactive(server.base_url)), 1)
        results["network"] = network(server.base_url)
    dashboard_env = {**env, **({"DATABASE_URL": database_url} if database_url else {})}
    results["dashboard"] = asyncio.run(measure_dashboards(dashboard_env))
    last_test = ROOT / "var" / "make-test-seconds"
    results["make_test_seconds"] = float(last_test.read_text()) if last_test.exists() else None
    results["all_passed"] = all_passed(results)

    (ROOT / "bench" / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print()
    print(table(results))
    return 0 if results["all_passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
