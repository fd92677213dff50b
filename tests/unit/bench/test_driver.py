"""The wrk report the flow script prints is read into one result; every flow problem counts as an error."""

from __future__ import annotations

import json

import pytest

from bench.driver import LoadResult

_REPORT = {
    "requests": 3_000,
    "duration_us": 10_000_000,
    "errors": {"connect": 0, "read": 0, "write": 0, "status": 1, "timeout": 0},
    "latency_us": {"p50": 21_000, "p90": 35_000, "p99": 80_500, "max": 120_000},
    "script": {"bad_status": 2, "unattributed": 0, "unexpected_step": 3, "starved": 0},
}


def test_the_json_line_is_found_among_wrk_s_own_report() -> None:
    stdout = f"Running 10s test @ http://127.0.0.1:8000\nWRK_JSON {json.dumps(_REPORT)}\nRequests/sec: 300.00\n"

    result = LoadResult.from_wrk(20, stdout)

    assert result.steps_per_s == 300.0
    assert result.ms("p99") == 80.5
    assert result.errors["status"] == 2  # the script also counts 1xx; the larger count is kept
    assert result.errors["unexpected_step"] == 3
    assert result.error_count == 5


def test_a_run_without_the_json_line_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="no WRK_JSON line"):
        LoadResult.from_wrk(20, "unable to connect to 127.0.0.1:8000 Connection refused\n")
