"""The service under test: run its CLI, serve it with `python -m service serve`, wait for /health.

Rules: standard library only. Servers listen on loopback; their output goes to a log file whose tail
is shown when one fails to start.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 30


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def service_cli(env: dict[str, str], *args: str) -> str:
    """Run `python -m service ARGS` and return its output; raise with its stderr when it fails."""
    done = subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "service", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"service {' '.join(args)} failed: {done.stderr[-2000:]}")
    return done.stdout


class Server:
    """`python -m service serve` on a free loopback port, as an operator starts it."""

    def __init__(self, env: dict[str, str], log: Path, workers: int = 1) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log = log
        args = ["serve", "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(workers)]
        env = {**env, "SAVEFLOW_PUBLIC_URL": self.base_url}
        with log.open("wb") as out:
            self.process = subprocess.Popen(  # noqa: S603 - our own CLI
                [sys.executable, "-m", "service", *args], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
            )

    def __enter__(self) -> Server:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited ({self.process.returncode}):\n{self._log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/health", timeout=1):  # noqa: S310 - loopback
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the server never answered /health:\n{self._log_tail()}")

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=40)  # the service drains requests in flight on SIGTERM

    def _log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:]
