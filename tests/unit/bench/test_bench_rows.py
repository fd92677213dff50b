"""`make bench`'s rows and verdicts: the req/s ratio (the goal, at every concurrency), the CPU ratio
against the baseline's row, p99 at the highest concurrency, and the retry of a row during which other
processes or the machine's own speed disturbed the figures."""

from __future__ import annotations

from collections.abc import Iterator

from bench.driver import CpuShare, LoadResult
from bench.machine import RETRIES, Machine, Measured
from bench.report import goal_summary
from bench.run import row


def _result(requests: int, server: float, postgres: float = 0.0, other: float = 0.0) -> LoadResult:
    cpu = CpuShare(wrk=0.05, server=server, postgres=postgres, kernel=0.04, other=other, idle=0.0, steal=0.0)
    latency = {"p50": 1_000.0, "p90": 2_000.0, "p99": 3_000.0, "max": 4_000.0}
    return LoadResult(50, 2, 4.0, requests, latency, {}, {"socket": 0}, cpu)


def _measured(requests: int, server: float, postgres: float = 0.0) -> Measured:
    return Measured(_result(requests, server, postgres), attempts=1, speed=1.0)


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


def _machine(probe_times_ms: list[float]) -> Machine:
    times: Iterator[float] = iter(probe_times_ms)
    return Machine(reference_ms=10.0, probe=lambda: next(times))


def test_a_row_is_run_again_when_the_machine_slowed_down_around_it() -> None:
    results = iter([_result(4_000, 0.5), _result(8_000, 0.5)])
    machine = _machine([10.0, 14.0, 10.2, 9.9])  # the first attempt ends on a machine 30 % slower

    measured = machine.least_disturbed(lambda: next(results))

    assert measured.attempts == 2
    assert measured.result.requests == 8_000
    assert 0.98 < measured.speed < 1.0


def test_a_row_on_a_steady_quiet_machine_runs_once() -> None:
    machine = _machine([10.0, 10.5])

    measured = machine.least_disturbed(lambda: _result(8_000, 0.5))

    assert measured.attempts == 1
    assert round(measured.speed, 2) == 0.95


def test_other_processes_busy_during_every_attempt_keep_the_least_disturbed_one() -> None:
    others = iter([0.4, 0.2, 0.3])
    machine = _machine([10.0] * 2 * (RETRIES + 1))

    measured = machine.least_disturbed(lambda: _result(8_000, 0.5, other=next(others)))

    assert measured.attempts == RETRIES + 1
    assert measured.result.cpu.other == 0.2
    assert measured.disturbance > 1  # still shown as disturbed


def _step_row(concurrency: int, ratio: float, p99_ms: float) -> dict[str, object]:
    return {
        "name": "widget step (SQLite, 2 workers)",
        "concurrency": concurrency,
        "ratio": ratio,
        "valid": True,
        "p99_ms": p99_ms,
        "raw_p99_ms": p99_ms,
        "server_cpu_us": 560.0,
        "database_cpu_us": None,
        "cpu_ratio": 0.47,
    }


def test_the_ratio_goal_is_checked_at_every_concurrency_and_p99_at_the_highest() -> None:
    baseline = {"name": "baseline", "concurrency": 50, "ratio": 1.0}
    runs = [baseline, _step_row(1, 0.31, 1.2), _step_row(10, 0.41, 11.0), _step_row(50, 0.42, 24.0)]

    [heading, verdict] = goal_summary(runs)

    assert "at each concurrency" in heading
    assert "ratio 0.310 / 0.410 / 0.420 at 1 / 10 / 50 connections -> NOT met at 1;" in verdict
    assert "p99 at 50 24.0 ms (raw 24.0 ms) -> met" in verdict


def test_a_configuration_meeting_every_goal_says_so() -> None:
    runs = [_step_row(1, 0.45, 1.0), _step_row(10, 0.5, 9.0), _step_row(50, 0.4, 26.0)]

    [_, verdict] = goal_summary(runs)

    assert "connections -> met;" in verdict
    assert "p99 at 50 26.0 ms (raw 26.0 ms) -> NOT met" in verdict
