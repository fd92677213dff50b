"""`make bench`'s verdicts: the flow floor (≥ 150 steps/s, p99 ≤ 250 ms, no error) and the other goals."""

from __future__ import annotations

from typing import Any

from bench.driver import LoadResult
from bench.report import all_passed, flow_row, table, verdicts


def _load(requests: int, p99_ms: float, seconds: float = 10.0, **errors: int) -> LoadResult:
    latency = {"p50": 20_000.0, "p90": 40_000.0, "p99": p99_ms * 1000, "max": p99_ms * 1500}
    return LoadResult(20, seconds, requests, latency, {"connect": 0, "status": 0, **errors})


def _row(requests: int, p99_ms: float, **errors: int) -> dict[str, Any]:
    return flow_row("SQLite, 1 worker", "sqlite", 1, _load(requests, p99_ms, **errors))


def test_a_row_exactly_at_the_floor_passes() -> None:
    row = _row(requests=1_500, p99_ms=250.0)

    assert row["steps_per_s"] == 150.0
    assert row["pass"] is True


def test_a_row_at_149_steps_per_second_fails() -> None:
    assert _row(requests=1_490, p99_ms=40.0)["pass"] is False


def test_a_row_with_p99_at_251_ms_fails() -> None:
    assert _row(requests=4_000, p99_ms=251.0)["pass"] is False


def test_steps_per_second_come_from_the_requests_over_wrk_s_own_duration() -> None:
    row = flow_row("Postgres, 2 workers", "postgres", 2, _load(requests=3_000, p99_ms=30.0, seconds=10.1))

    assert row["steps_per_s"] == 297.0
    assert row["workers"] == 2
    assert row["concurrency"] == 20


def test_a_fast_row_with_any_error_fails_and_names_it() -> None:
    row = _row(requests=4_000, p99_ms=30.0, unexpected_step=1)

    assert row["pass"] is False
    assert row["errors"] == {"unexpected_step": 1}


def test_a_row_without_requests_fails() -> None:
    assert flow_row("SQLite, 1 worker", "sqlite", 1, LoadResult(20, 10.0, 0, {}, {}))["pass"] is False


def _results(flow: list[dict[str, Any]], **figures: Any) -> dict[str, Any]:
    dashboard = {"database": "SQLite", "sessions": 1_000_000, "p50_ms": 220.0, "filtered_p50_ms": 90.0}
    return {
        "commit": "abc1234",
        "wrk": "wrk 4.1.0",
        "seconds": 10,
        "flow": flow,
        "flow_skipped": [],
        "embed_js_gzip_bytes": 1_900,
        "widget_interactive_ms": 120.0,
        "dashboard": [dashboard],
        "make_test_seconds": 300.0,
        **figures,
    }


def test_the_table_prints_pass_or_fail_beside_each_flow_goal() -> None:
    results = _results([_row(4_000, 40.0), {**_row(1_490, 40.0), "name": "Postgres, 2 workers"}])

    lines = table(results).splitlines()

    sqlite = next(line for line in lines if "SQLite, 1 worker" in line)
    postgres = next(line for line in lines if "Postgres, 2 workers" in line)
    assert "400 steps/s, p99 40.0 ms" in sqlite
    assert "≥ 150 steps/s, p99 ≤ 250 ms" in sqlite
    assert sqlite.endswith("PASS")
    assert postgres.endswith("FAIL")
    assert all_passed(results) is False


def test_a_run_meeting_every_goal_passes_and_unmeasured_figures_do_not_count() -> None:
    results = _results([_row(4_000, 40.0)], flow_skipped=["Postgres, 2 workers"], make_test_seconds=None)

    words = {v.figure: v.word for v in verdicts(results)}

    assert words["flow step, Postgres, 2 workers"] == "-"
    assert words["last make test, wall time"] == "-"
    assert all_passed(results) is True


def test_the_other_goals_fail_past_their_limits() -> None:
    dashboard = {"database": "Postgres", "sessions": 1_000_000, "p50_ms": 301.0, "filtered_p50_ms": 90.0}
    results = _results(
        [_row(4_000, 40.0)],
        embed_js_gzip_bytes=2_049,
        widget_interactive_ms=300.5,
        dashboard=[dashboard],
        make_test_seconds=600.0,
    )

    failed = [v.figure for v in verdicts(results) if v.passed is False]

    assert failed == [
        "embed.js, gzip -9",
        "widget open → first step interactive",
        "admin dashboard, Postgres, 1,000,000 sessions",
        "last make test, wall time",
    ]
