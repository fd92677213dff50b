"""The flow load for `make bench`: wrk (Debian package `wrk`) running bench/wrk_flow.lua out of process.

Rules: may import httpx and jwt (to start sessions the way a host app does). Each wrk connection steps
its own widget session back and forth (see the comment at the top of bench/wrk_flow.lua); a row is
valid only if every response was a 2xx/3xx showing the step its request leads to.
"""

from __future__ import annotations

import json
import math
import re
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
MAX_WRK_THREADS = 2  # the server under test needs the machine's cores more than wrk does
WRK_TIMEOUT = "5s"  # wrk counts slower responses as timeouts
FIRST_STEPS = ("loss_aversion", "survey")  # the steps the script knows how to leave


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
class LoadResult:
    concurrency: int
    seconds: float
    requests: int
    latency_us: dict[str, float]  # wrk's percentiles: p50, p90, p99, max
    errors: dict[str, int]  # wrk's socket/status/timeout errors plus the script's flow problems

    @property
    def steps_per_s(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def ms(self, key: str) -> float:
        return self.latency_us[key] / 1000 if key in self.latency_us else math.nan

    @classmethod
    def from_wrk(cls, concurrency: int, stdout: str) -> LoadResult:
        """Parse the `WRK_JSON {...}` line the script's done() prints among wrk's own report."""
        line = next((text for text in stdout.splitlines() if text.startswith("WRK_JSON ")), None)
        if line is None:
            raise RuntimeError(f"no WRK_JSON line in wrk's output: {stdout[-500:]}")
        data: dict[str, Any] = json.loads(line.removeprefix("WRK_JSON "))
        script: dict[str, int] = data["script"]
        errors = {k: int(v) for k, v in data["errors"].items()}
        # wrk counts statuses above 399; the script also counts 1xx. Keep whichever saw more.
        errors["status"] = max(errors["status"], script["bad_status"])
        for problem in ("unattributed", "unexpected_step", "starved"):
            errors[problem] = int(script[problem])
        return cls(
            concurrency=concurrency,
            seconds=data["duration_us"] / 1e6,
            requests=int(data["requests"]),
            latency_us={k: float(v) for k, v in data.get("latency_us", {}).items()},
            errors=errors,
        )


def start_flow_sessions(base_url: str, embed_secret: str, count: int, label: str) -> list[FlowSession]:
    """Start `count` widget sessions the way the embed does: a signed embed token, then GET /w/start."""
    found: list[FlowSession] = []
    with httpx.Client(base_url=base_url, timeout=10) as client:
        for index in range(count):
            now = int(time.time())
            claims = {
                "sub": f"cus_bench_{label}_{index}",
                "subscription_id": "sub_demo_ada",
                "iat": now,
                "exp": now + 900,
                "jti": secrets.token_urlsafe(12),
                "test": True,
            }
            page = client.get("/w/start", params={"token": jwt.encode(claims, embed_secret, algorithm="HS256")})
            sid = re.search(r'data-session-id="([^"]+)"', page.text)
            flow = re.search(r'name="flow_token" value="([^"]+)"', page.text)
            step = re.search(r'data-step="([a-z_]+)"', page.text)
            if page.status_code != 200 or not sid or not flow or not step:
                raise RuntimeError(f"could not start a bench session: HTTP {page.status_code}")
            if step.group(1) not in FIRST_STEPS:
                raise RuntimeError(f"a bench session starts on {step.group(1)!r}, not one of {FIRST_STEPS}")
            found.append(FlowSession(sid.group(1), flow.group(1), step.group(1)))
    return found


def run_load(base_url: str, sessions: Sequence[FlowSession], seconds: int, workdir: Path) -> LoadResult:
    """wrk for `seconds` with one connection per session, each stepping its session back and forth."""
    concurrency = len(sessions)
    threads = math.gcd(concurrency, MAX_WRK_THREADS)  # wrk gives each thread N / T connections
    sessions_file = workdir / "wrk-sessions.txt"
    sessions_file.write_text("".join(f"{s.id} {s.flow_token} {s.step}\n" for s in sessions))
    args = [wrk_binary(), "-t", str(threads), "-c", str(concurrency), "-d", f"{seconds}s", "--latency"]
    args += ["--timeout", WRK_TIMEOUT, "-s", str(WRK_SCRIPT), base_url, "--", str(sessions_file), str(threads)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60, check=False)  # noqa: S603
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    return LoadResult.from_wrk(concurrency, done.stdout)
