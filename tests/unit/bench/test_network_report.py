"""`make bench`'s three network rows: bytes on open ≤ 25,000, cold ≤ 300 ms, prepared ≤ 50 ms, or "not run"."""

from __future__ import annotations

from typing import Any

from bench.report import all_passed, network_table, network_verdicts, table, verdicts
from tests.unit.bench.test_report import _results, _row


def _network(open_bytes: int = 22_800, cold_ms: float = 226.0, prepared_ms: float = 30.0) -> dict[str, Any]:
    return {
        "at": "2026-12-07T07:00:00+00:00",
        "commit": "abc1234",
        "profile": {"rtt_ms": 150, "down_kbit_s": 1600, "up_kbit_s": 750},
        "runs": 5,
        "open_bytes": open_bytes,
        "cold_ms": cold_ms,
        "prepared_ms": prepared_ms,
    }


def test_figures_exactly_at_their_goals_pass() -> None:
    rows = network_verdicts(_network(open_bytes=25_000, cold_ms=300.0, prepared_ms=50.0))

    assert [v.word for v in rows] == ["PASS", "PASS", "PASS"]
    assert [v.goal for v in rows] == ["≤ 25,000 bytes", "≤ 300 ms", "≤ 50 ms"]
    assert rows[0].figure == "bytes on open, 150 ms RTT, 1.6/0.75 Mbit/s"


def test_each_figure_fails_just_past_its_goal() -> None:
    rows = network_verdicts(_network(open_bytes=25_001, cold_ms=300.4, prepared_ms=50.1))

    assert [v.word for v in rows] == ["FAIL", "FAIL", "FAIL"]
    assert [v.measured for v in rows] == ["25,001 bytes", "300 ms", "50 ms"]  # rounded for print, judged exactly


def test_one_slow_figure_fails_the_whole_run() -> None:
    results = _results([_row(4_000, 40.0)], network=_network(prepared_ms=64.0))

    words = [v.word for v in verdicts(results) if v.figure.startswith("click → first step interactive")]

    assert words == ["PASS", "FAIL"]
    assert all_passed(results) is False


def test_a_run_without_the_network_rows_prints_them_as_not_run() -> None:
    results = _results([_row(4_000, 40.0)])

    lines = [line for line in table(results).splitlines() if "slow 4G" in line]

    assert len(lines) == 3 and all(line.rstrip().endswith("-") and "not run" in line for line in lines)
    assert all_passed(results) is True


def test_the_network_only_table_prints_the_three_rows_with_their_verdicts() -> None:
    lines = network_table(_network()).splitlines()

    assert lines[0].startswith("bench network rows at abc1234: median of 5 opens each")
    assert [line.split()[-1] for line in lines[2:5]] == ["PASS", "PASS", "PASS"]
    assert "22,800 bytes" in lines[2] and "226 ms" in lines[3] and "30 ms" in lines[4]
