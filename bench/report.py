"""`make bench`'s printed report: the table of every row, the goals and whether each is met."""

from __future__ import annotations

from typing import Any

from bench.machine import NOISY_OTHER_SHARE, RETRIES, SPEED_TOLERANCE

GOALS = {"ratio": 0.40, "p99_ms_at_50": 25.0, "embed_gz_bytes": 2048, "interactive_ms": 300.0}


def _shown(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _speed_moved(run: dict[str, Any]) -> bool:
    return abs(1 - float(run["machine_speed"])) > SPEED_TOLERANCE


def goal_summary(runs: list[dict[str, Any]]) -> list[str]:
    """The widget step's goals per configuration: the req/s ratio at every concurrency, p99 at the highest."""
    goal_ratio, goal_p99 = GOALS["ratio"], GOALS["p99_ms_at_50"]
    top = max((r["concurrency"] for r in runs), default=0)
    lines = [
        f"goals: widget step ratio ≥ {goal_ratio:.2f} of baseline at each concurrency; p99 ≤ {goal_p99:.0f} ms at {top}"
    ]
    steps: dict[str, list[dict[str, Any]]] = {}
    for r in runs:
        if not r["name"].startswith("baseline"):
            steps.setdefault(r["name"], []).append(r)
    for name, rows in steps.items():
        ratios = " / ".join(_shown(r["ratio"], ".3f") for r in rows)
        short = [r["concurrency"] for r in rows if not (r["valid"] and (r["ratio"] or 0) >= goal_ratio)]
        last = rows[-1]
        p99_met = last["valid"] and last["concurrency"] == top and last["p99_ms"] <= goal_p99
        database = f", the database {last['database_cpu_us']:.0f} µs" if last["database_cpu_us"] else ""
        lines.append(
            f"  {name}: ratio {ratios} at {' / '.join(str(r['concurrency']) for r in rows)} connections -> "
            f"{'met' if not short else 'NOT met at ' + ', '.join(map(str, short))}; "
            f"p99 at {last['concurrency']} {last['p99_ms']:.1f} ms (raw {_shown(last['raw_p99_ms'], '.1f')} ms) -> "
            f"{'met' if p99_met else 'NOT met'}; CPU per step at {last['concurrency']}: the server "
            f"{_shown(last['server_cpu_us'], '.0f')} µs{database}, cpu ratio {_shown(last['cpu_ratio'], '.2f')}"
        )
    return lines


def print_table(results: dict[str, Any]) -> None:
    cpu_columns = ("wrk", "server", "postgres", "kernel", "other", "idle")
    cpu_titles = " ".join(f"{t:>5}" for t in ("wrk", "srv", "pg", "krnl", "othr", "idle"))
    print(f"\nload: {results['driver']}, {results['duration_s']} s per row; CPU: % of all {results['cpus']} cores")
    header = (
        f"{'conns':>5} {'req/s':>7} {'ratio':>6} {'p50 ms':>7} {'p99 ms':>7} {'raw p99':>7} {'errors':>6}"
        f" {'srv µs':>6} {'cpu r.':>6} {'speed':>5}"
    )
    width = max(len(r["name"]) for r in results["runs"])
    print(f"{'benchmark':<{width}} {header}  {cpu_titles}")
    for r in results["runs"]:
        ratio = f"{r['ratio']:.2f}" if r["ratio"] is not None else "-"
        cpu = " ".join(f"{100 * r['cpu_share'][k]:>5.0f}" for k in cpu_columns)
        errors = f"{r['errors']}{'' if r['valid'] else '!'}"
        raw_p99, server_us, cpu_ratio = (
            _shown(r["raw_p99_ms"], ".1f"),
            _shown(r["server_cpu_us"], ".0f"),
            _shown(r["cpu_ratio"], ".2f"),
        )
        speed = f"{r['machine_speed']:.2f}{'!' if _speed_moved(r) else ''}"
        print(
            f"{r['name']:<{width}} {r['concurrency']:>5} {r['rps']:>7.0f} {ratio:>6} "
            f"{r['p50_ms']:>7.1f} {r['p99_ms']:>7.1f} {raw_p99:>7} {errors:>6} {server_us:>6} {cpu_ratio:>6}"
            f" {speed:>5}  {cpu}"
        )
    print("p50/p99: wrk's, with its coordinated-omission correction; raw p99: every flow request timed as sent")
    print(
        "srv µs: the server's CPU per request (µs of one core); cpu r.: the baseline's srv µs over the row's, "
        "the ratio the step would reach with the cores to itself (database and wrk elsewhere); speed: the machine's, "
        "around the row, against the run's start (a fixed Python workload, bench/machine.py)"
    )
    busy = [r for r in results["runs"] if r["cpu_share"]["other"] > NOISY_OTHER_SHARE]
    if busy:
        worst = max(r["cpu_share"]["other"] for r in busy)
        print(
            f"warning: other processes used up to {100 * worst:.0f} % of the machine during {len(busy)} row(s) "
            f"(column othr), even after up to {RETRIES} retries; those figures are low and noisy"
        )
    if moved := [r for r in results["runs"] if _speed_moved(r)]:
        print(
            f"warning: the machine itself ran at {min(r['machine_speed'] for r in moved):.2f} to "
            f"{max(r['machine_speed'] for r in moved):.2f} of its speed at the start around {len(moved)} row(s) "
            f"(column speed, marked !), even after up to {RETRIES} retries; ratios against those rows are unreliable"
        )
    print()
    for line in goal_summary(results["runs"]):
        print(line)
    print(f"embed.js gzipped: {results['embed_js_gzip_bytes']} bytes (goal ≤ {GOALS['embed_gz_bytes']})")
    print(
        f"widget open → first step interactive (Chromium, median of 5): {results['widget_interactive_ms']} ms "
        f"(goal ≤ {GOALS['interactive_ms']:.0f} ms)"
    )
    seconds = results["make_test_seconds"]
    print(
        f"make test wall time: {f'{seconds:.0f} s' if seconds else 'not recorded yet (run make test)'} (goal < 600 s)"
    )
    for d in results["dashboard"]:
        verdict = "met" if d["p50_ms"] <= d["goal_p50_ms"] else "NOT met"
        print(
            f"admin dashboard, {d['database']}, {d['sessions']:,} sessions / {d['events']:,} events: "
            f"p50 {d['p50_ms']} ms, max {d['max_ms']} ms, filtered p50 {d['filtered_p50_ms']} ms "
            f"(goal p50 ≤ {d['goal_p50_ms']:.0f} ms) -> {verdict}; bulk load {d['load_s']} s, "
            f"rollup rebuilt in {d['rollup_rebuild_s']} s"
        )
    print("results written to bench/results.json")
