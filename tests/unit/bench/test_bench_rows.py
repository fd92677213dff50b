"""`make bench`'s rows: the req/s ratio (the goal) and the CPU ratio against the baseline's row."""

from __future__ import annotations

from bench.driver import CpuShare, LoadResult
from bench.run import row


def _measured(requests: int, server: float, postgres: float = 0.0) -> tuple[LoadResult, int]:
    cpu = CpuShare(wrk=0.05, server=server, postgres=postgres, kernel=0.04, other=0.0, idle=0.0, steal=0.0)
    latency = {"p50": 1_000.0, "p90": 2_000.0, "p99": 3_000.0, "max": 4_000.0}
    result = LoadResult(50, 2, 4.0, requests, latency, {}, {"socket": 0}, cpu)
    return result, 1


def test_a_row_compares_throughput_and_cpu_per_request_with_its_baseline() -> None:
    baseline = row("baseline", _measured(requests=24_000, server=0.9), None, cpus=2)  # 6,000 req/s
    step = row("step", _measured(requests=8_000, server=0.6, postgres=0.3), baseline, cpus=2)  # 2,000 req/s

    assert baseline["server_cpu_us"] == 300  # 0.9 of 2 cores over 6,000 req/s
    assert step["ratio"] == 0.333
    assert step["server_cpu_us"] == 600  # 0.6 of 2 cores over 2,000 req/s
    assert step["database_cpu_us"] == 300
    assert step["cpu_ratio"] == 0.5  # with the cores to itself, the step would run at half the baseline's rate


def test_a_row_without_requests_has_no_cpu_figures_and_is_invalid() -> None:
    baseline = row("baseline", _measured(requests=24_000, server=0.9), None, cpus=2)
    failed = row("step", _measured(requests=0, server=0.1), baseline, cpus=2)

    assert failed["valid"] is False
    assert failed["server_cpu_us"] is None
    assert failed["cpu_ratio"] is None
    assert failed["database_cpu_us"] is None
