"""What can disturb a bench row besides the code under test: other processes, and the machine's own
speed (a busy host under this VM slows everything in it, and no process here shows it). Each row is
bracketed by a fixed pure-Python workload, timed against the same workload at the start of the run."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.driver import LoadResult

NOISY_OTHER_SHARE = 0.10  # other processes using more of the machine than this during a row disturb it
SPEED_TOLERANCE = 0.15  # so does the machine running this much slower (or faster) than at the start
RETRIES = 2  # a disturbed row is run again up to this many times; the least disturbed attempt is kept


def _workload() -> int:
    """A fixed mix of integer arithmetic, dict stores and string formatting (~18 ms on the bench machine)."""
    total, table = 0, {}
    for i in range(40_000):
        table[i & 1023] = f"{total:x}"
        total = (total + i * i) % 1_000_003
    return total + len(table)


def probe_ms(repeat: int = 3) -> float:
    """Wall time of the workload in ms, best of `repeat` (the best filters out a moment's preemption)."""
    best = float("inf")
    for _ in range(repeat):
        began = time.perf_counter()
        _workload()
        best = min(best, (time.perf_counter() - began) * 1e3)
    return best


@dataclass(frozen=True)
class Measured:
    result: LoadResult
    attempts: int
    speed: float  # the machine's speed around the kept attempt, relative to the run's start (1.0: the same)

    @property
    def disturbance(self) -> float:
        """Above 1: other processes or the machine's speed moved more than their tolerance."""
        return max(self.result.cpu.other / NOISY_OTHER_SHARE, abs(1 - self.speed) / SPEED_TOLERANCE)


@dataclass(frozen=True)
class Machine:
    reference_ms: float  # the workload at the start of the run
    probe: Callable[[], float] = field(default=probe_ms, repr=False)

    @classmethod
    def calibrated(cls) -> Machine:
        return cls(statistics.median(probe_ms() for _ in range(5)))

    def speed(self) -> float:
        return self.reference_ms / self.probe()

    def least_disturbed(self, run_once: Callable[[], LoadResult]) -> Measured:
        """Run once, and again (up to RETRIES times) while the attempt was disturbed; keep the least
        disturbed attempt. This selects on the disturbance, not on the result, and costs nothing on a
        quiet machine. The speed is the further from 1.0 of the probes just before and just after."""
        attempts: list[Measured] = []
        while not attempts or (attempts[-1].disturbance > 1 and len(attempts) <= RETRIES):
            before = self.speed()
            result = run_once()
            speed = max(before, self.speed(), key=lambda s: abs(1 - s))
            attempts.append(Measured(result, len(attempts) + 1, speed))
        kept = min(attempts, key=lambda a: a.disturbance)
        return Measured(kept.result, len(attempts), kept.speed)
