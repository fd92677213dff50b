"""`make bench`'s goals and verdicts: each figure beside its goal with PASS or FAIL, computed from the figures.

Rules: pure (standard library and bench.driver's result type); bench/run.py measures, this module judges.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.driver import LoadResult

CONCURRENCY = 20  # sessions stepping at once in every flow row
FLOOR_STEPS_PER_S = 150.0
FLOOR_P99_MS = 250.0
EMBED_GZ_BYTES = 2048
INTERACTIVE_MS = 300.0
DASHBOARD_P50_MS = 300.0
MAKE_TEST_SECONDS = 600.0
OPEN_BYTES = 25_000  # "25 KB" read strictly (not 25,600)
COLD_MS = 300.0
PREPARED_MS = 50.0
NETWORK_ROWS = ("bytes on open", "click → first step interactive, cold", "click → first step interactive, prepared")


def flow_row(name: str, database: str, workers: int, result: LoadResult) -> dict[str, Any]:
    """One flow row for results.json. It passes only with no error, ≥ the steps/s floor and p99 ≤ the ceiling."""
    valid = result.requests > 0 and result.error_count == 0
    passed = valid and result.steps_per_s >= FLOOR_STEPS_PER_S and result.ms("p99") <= FLOOR_P99_MS
    return {
        "name": name,
        "database": database,
        "workers": workers,
        "concurrency": result.concurrency,
        "steps_per_s": round(result.steps_per_s, 1),
        "p50_ms": round(result.ms("p50"), 1),
        "p90_ms": round(result.ms("p90"), 1),
        "p99_ms": round(result.ms("p99"), 1),
        "max_ms": round(result.ms("max"), 1),
        "requests": result.requests,
        "errors": {k: v for k, v in result.errors.items() if v},
        "pass": passed,
    }


@dataclass(frozen=True)
class Verdict:
    figure: str
    measured: str
    goal: str
    passed: bool | None  # None: not measured in this run

    @property
    def word(self) -> str:
        return "-" if self.passed is None else "PASS" if self.passed else "FAIL"


def _flow(row: dict[str, Any]) -> Verdict:
    measured = f"{row['steps_per_s']:.0f} steps/s, p99 {row['p99_ms']:.1f} ms"
    if row["errors"]:
        measured += f", errors {row['errors']}"
    goal = f"≥ {FLOOR_STEPS_PER_S:.0f} steps/s, p99 ≤ {FLOOR_P99_MS:.0f} ms"
    return Verdict(f"flow step, {row['name']}, {row['concurrency']} sessions", measured, goal, bool(row["pass"]))


def network_verdicts(network: dict[str, Any] | None) -> list[Verdict]:
    """bench/network.py's three figures (a slow phone network, CDP-emulated) beside their goals."""
    if network is None:
        return [Verdict(f"{row}, slow 4G", "not run", "", None) for row in NETWORK_ROWS]
    p = network["profile"]
    where = f"{p['rtt_ms']} ms RTT, {p['down_kbit_s'] / 1000:g}/{p['up_kbit_s'] / 1000:g} Mbit/s"
    size, cold, prepared = network["open_bytes"], network["cold_ms"], network["prepared_ms"]
    figures = [
        (f"{size:,} bytes", f"≤ {OPEN_BYTES:,} bytes", size <= OPEN_BYTES),
        (f"{cold:.0f} ms", f"≤ {COLD_MS:.0f} ms", cold <= COLD_MS),
        (f"{prepared:.0f} ms", f"≤ {PREPARED_MS:.0f} ms", prepared <= PREPARED_MS),
    ]
    return [
        Verdict(f"{row}, {where}", measured, goal, passed)
        for row, (measured, goal, passed) in zip(NETWORK_ROWS, figures, strict=True)
    ]


def verdicts(results: dict[str, Any]) -> list[Verdict]:
    """Every figure of a run with its goal and verdict, in the order the table prints them."""
    found = [_flow(row) for row in results["flow"]]
    found += [
        Verdict(f"flow step, {name}", "not run (no DATABASE_URL)", "", None) for name in results.get("flow_skipped", ())
    ]
    embed = results["embed_js_gzip_bytes"]
    found.append(Verdict("embed.js, gzip -9", f"{embed} bytes", f"≤ {EMBED_GZ_BYTES} bytes", embed <= EMBED_GZ_BYTES))
    interactive = results["widget_interactive_ms"]
    found.append(
        Verdict(
            "widget open → first step interactive",
            f"{interactive:.0f} ms",
            f"≤ {INTERACTIVE_MS:.0f} ms",
            interactive <= INTERACTIVE_MS,
        )
    )
    found += network_verdicts(results.get("network"))
    for d in results["dashboard"]:
        found.append(
            Verdict(
                f"admin dashboard, {d['database']}, {d['sessions']:,} sessions",
                f"p50 {d['p50_ms']:.0f} ms (filtered {d['filtered_p50_ms']:.0f} ms)",
                f"p50 ≤ {DASHBOARD_P50_MS:.0f} ms",
                d["p50_ms"] <= DASHBOARD_P50_MS,
            )
        )
    seconds = results["make_test_seconds"]
    found.append(
        Verdict(
            "last make test, wall time",
            "not recorded (run make test)" if seconds is None else f"{seconds:.0f} s",
            f"< {MAKE_TEST_SECONDS:.0f} s",
            None if seconds is None else seconds < MAKE_TEST_SECONDS,
        )
    )
    return found


def all_passed(results: dict[str, Any]) -> bool:
    """True when no measured figure failed its goal (figures not measured do not count)."""
    return not any(v.passed is False for v in verdicts(results))


def _rows(title: str, rows: list[Verdict], footer: str) -> str:
    head = ("figure", "measured", "goal", "verdict")
    widths = [max(len(head[i]), *(len((v.figure, v.measured, v.goal)[i]) for v in rows)) for i in range(3)]
    lines = [title, "  ".join(h.ljust(w) for h, w in zip(head, [*widths, 0], strict=True)).rstrip()]
    for v in rows:
        cells = (v.figure.ljust(widths[0]), v.measured.ljust(widths[1]), v.goal.ljust(widths[2]), v.word)
        lines.append("  ".join(cells))
    lines.append(footer)
    return "\n".join(lines)


def table(results: dict[str, Any]) -> str:
    return _rows(
        f"make bench at {results['commit']}: {results['wrk']}, {CONCURRENCY} sessions, "
        f"{results['seconds']} s per flow row",
        verdicts(results),
        "p50/p99: wrk's, with its coordinated-omission correction; results written to bench/results.json",
    )


def network_table(network: dict[str, Any]) -> str:
    """`python -m bench.run --only network`: the three network rows alone."""
    return _rows(
        f"bench network rows at {network['commit']}: median of {network['runs']} opens each, Chromium",
        network_verdicts(network),
        'bytes: cold opens, browser cache off; written to bench/results.json under "network"',
    )
