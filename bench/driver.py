"""The load for `make bench`: wrk (Debian package `wrk`) running bench/wrk_flow.lua out of process.

`run_load` runs wrk for a fixed time against one server at one concurrency, with `min(2, N)` wrk threads
and N connections, and returns req/s, latency percentiles, every error wrk or the script saw, and how the
machine's CPU was shared meanwhile (wrk, the server's processes, the Postgres cluster, anything else).

Flow runs need one started widget session per connection (`start_flow_sessions`); the Lua script keeps
each session in at most one in-flight request (see the comment at the top of bench/wrk_flow.lua).
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import resource
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import jwt

if TYPE_CHECKING:
    from collections.abc import Sequence

WRK_SCRIPT = Path(__file__).with_name("wrk_flow.lua")
MAX_WRK_THREADS = 2  # the machine has two cores, and the server under test needs them more than wrk does
WRK_TIMEOUT = "5s"  # wrk records latencies up to this and counts slower responses as timeouts
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class WrkMissing(RuntimeError):
    pass


def wrk_binary() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise WrkMissing("wrk is not installed: `make bench` installs it (Debian: apt-get install wrk)")
    return path


@dataclass(frozen=True)
class FlowSession:
    id: str
    flow_token: str
    step: str  # the step it shows now: loss_aversion or survey


@dataclass(frozen=True)
class CpuShare:
    """Shares of the whole machine (all cores together = 1.0) over one run."""

    wrk: float
    server: float  # uvicorn and its workers
    postgres: float  # the Postgres cluster (0 on SQLite)
    kernel: float  # interrupt and softirq time (loopback networking), charged to no process
    other: float  # every other process on the machine
    idle: float
    steal: float  # taken by the hypervisor

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 3) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class LoadResult:
    concurrency: int
    wrk_threads: int
    seconds: float
    requests: int
    latency_us: dict[str, float]  # wrk's percentiles (with its coordinated-omission correction)
    raw_latency_us: dict[str, float]  # flow runs only: every request timed by the script, uncorrected
    errors: dict[str, int]  # wrk's socket/status/timeout errors plus the script's flow problems
    cpu: CpuShare

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def ms(self, key: str) -> float:
        return self.latency_us[key] / 1000 if key in self.latency_us else math.nan

    def raw_ms(self, key: str) -> float | None:
        return self.raw_latency_us[key] / 1000 if key in self.raw_latency_us else None


def start_flow_sessions(base_url: str, embed_secret: str, count: int, label: str) -> list[FlowSession]:
    """Start `count` widget sessions the way the embed does: a signed embed token, then GET /w/start."""
    found: list[FlowSession] = []
    with httpx.Client(base_url=base_url, timeout=10) as client:
        for index in range(count):
            now = int(time.time())
            token = jwt.encode(
                {
                    "sub": f"cus_bench_{label}_{index}",
                    "subscription_id": "sub_demo_ada",
                    "iat": now,
                    "exp": now + 900,
                    "jti": secrets.token_urlsafe(12),
                    "test": True,
                },
                embed_secret,
                algorithm="HS256",
            )
            page = client.get("/w/start", params={"token": token})
            sid = re.search(r'data-session-id="([^"]+)"', page.text)
            flow = re.search(r'name="flow_token" value="([^"]+)"', page.text)
            step = re.search(r'data-step="([a-z_]+)"', page.text)
            if page.status_code != 200 or not sid or not flow or not step:
                raise RuntimeError(f"could not start a bench session: HTTP {page.status_code}")
            if step.group(1) not in ("loss_aversion", "survey"):
                raise RuntimeError(f"a bench session starts on {step.group(1)!r}, not loss_aversion or survey")
            found.append(FlowSession(sid.group(1), flow.group(1), step.group(1)))
    return found


def wrk_threads_for(concurrency: int) -> int:
    """At most MAX_WRK_THREADS, and a divisor of the concurrency (wrk gives each thread N / T connections)."""
    return max(t for t in range(1, min(MAX_WRK_THREADS, concurrency) + 1) if concurrency % t == 0)


def run_load(
    url: str,
    concurrency: int,
    seconds: int,
    *,
    sessions: Sequence[FlowSession] | None,
    server_pid: int,
    postgres_port: int | None,
    workdir: Path,
) -> LoadResult:
    """wrk against `url` (POST, empty body) or, given sessions, the flow step ⇄ back on those sessions."""
    threads = wrk_threads_for(concurrency)
    sessions_file = workdir / "wrk-sessions.txt"
    if sessions is None:
        mode = "fixed"
        sessions_file.write_text("")
    else:
        if len(sessions) != concurrency:
            raise ValueError(f"{len(sessions)} sessions for {concurrency} connections")
        mode = "flow"
        sessions_file.write_text("".join(f"{s.id} {s.flow_token} {s.step}\n" for s in sessions))
    args = [wrk_binary(), "-t", str(threads), "-c", str(concurrency), "-d", f"{seconds}s", "--latency"]
    args += ["--timeout", WRK_TIMEOUT, "-s", str(WRK_SCRIPT), url, "--", mode, str(sessions_file), str(threads)]

    before = _cpu_snapshot(server_pid, postgres_port)
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60, check=False)  # noqa: S603
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    after = _cpu_snapshot(server_pid, postgres_port)

    report = next((line for line in done.stdout.splitlines() if line.startswith("WRK_JSON ")), None)
    if done.returncode != 0 or report is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    data: dict[str, Any] = json.loads(report.removeprefix("WRK_JSON "))
    script: dict[str, int] = data["script"]
    errors = {**data["errors"]}
    # wrk counts statuses above 399; the script also counts 1xx. Keep whichever saw more.
    errors["status"] = max(errors["status"], script["bad_status"])
    for problem in ("unattributed", "unexpected_step", "starved"):
        errors[problem] = script[problem]

    wrk_cpu = (children_after.ru_utime + children_after.ru_stime) - (
        children_before.ru_utime + children_before.ru_stime
    )
    return LoadResult(
        concurrency=concurrency,
        wrk_threads=threads,
        seconds=data["duration_us"] / 1e6,
        requests=int(data["requests"]),
        latency_us={k: float(v) for k, v in data.get("latency_us", {}).items()},
        raw_latency_us={k: float(v) for k, v in data.get("raw_latency_us", {}).items()},
        errors={k: int(v) for k, v in errors.items()},
        cpu=_cpu_share(before, after, wrk_cpu),
    )


# --- where the CPU went ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Snapshot:
    at: float
    busy: float  # machine CPU seconds, all cores, in processes
    kernel: float  # in interrupts and softirqs
    idle: float
    steal: float
    server: float  # the server's process tree
    postgres: float  # the Postgres cluster's process tree


def _processes() -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, CPU seconds used so far)."""
    found: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        found[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS)
    return found


def _tree_cpu(processes: dict[int, tuple[int, float]], root: int | None) -> float:
    if root is None or root not in processes:
        return 0.0
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in processes.items():
        children.setdefault(parent, []).append(pid)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += processes[pid][1]
        todo += children.get(pid, [])
    return total


def _postmaster(port: int | None) -> int | None:
    """The pid of the Postgres server listening on `port` (tests/support/with-postgres.sh passes -p PORT)."""
    if port is None:
        return None
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if (
            argv
            and argv[0].endswith(b"/postgres")
            and any(a == b"-p" and b == str(port).encode() for a, b in itertools.pairwise(argv))
        ):
            return int(entry.name)
    return None


def _cpu_snapshot(server_pid: int, postgres_port: int | None) -> _Snapshot:
    fields = [int(v) / CLOCK_TICKS for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = fields
    processes = _processes()
    return _Snapshot(
        at=time.monotonic(),
        busy=user + nice + system,
        kernel=irq + softirq,
        idle=idle + iowait,
        steal=steal,
        server=_tree_cpu(processes, server_pid),
        postgres=_tree_cpu(processes, _postmaster(postgres_port)),
    )


def _cpu_share(before: _Snapshot, after: _Snapshot, wrk_cpu: float) -> CpuShare:
    capacity = (after.at - before.at) * (os.cpu_count() or 1)
    server = after.server - before.server
    postgres = after.postgres - before.postgres
    busy = after.busy - before.busy
    return CpuShare(
        wrk=wrk_cpu / capacity,
        server=server / capacity,
        postgres=postgres / capacity,
        kernel=(after.kernel - before.kernel) / capacity,
        other=max(0.0, busy - wrk_cpu - server - postgres) / capacity,
        idle=(after.idle - before.idle) / capacity,
        steal=(after.steal - before.steal) / capacity,
    )
