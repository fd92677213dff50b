"""Graceful shutdown: on SIGTERM the server finishes the request in flight, then exits cleanly."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import jwt
import pytest

from tests.support.servers import free_port, wait_until_healthy

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")), reason="holds the SQLite write lock from outside")
def test_sigterm_lets_the_step_in_flight_finish_and_exits_cleanly(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    database = tmp_path / "shutdown.sqlite"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(SQLITE_PATH=str(database), SAVEFLOW_SECRETS_FILE=str(tmp_path / "s.json"), SAVEFLOW_PUBLIC_URL=url)
    for command in ("migrate", "seed"):
        subprocess.run([sys.executable, "-m", "service", command], cwd=ROOT, env=env, check=True, capture_output=True)
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "service", "serve", "--port", str(port)], cwd=ROOT, env=env, stdout=out, stderr=out
        )
    try:
        wait_until_healthy(url, server, log)
        secret = json.loads((tmp_path / "s.json").read_text())["embed_secret"]
        now = int(time.time())
        claims = {"sub": "cus_demo_ada", "subscription_id": "sub_demo_ada", "iat": now, "exp": now + 600}
        token = jwt.encode({**claims, "jti": "shutdown-1", "test": True}, secret, algorithm="HS256")
        with httpx.Client(base_url=url, timeout=30) as client:
            page = client.get("/w/start", params={"token": token})
            sid = re.search(r'data-session-id="([^"]+)"', page.text)
            flow = re.search(r'name="flow_token" value="([^"]+)"', page.text)
            assert sid and flow, page.text

            # Another process holds the write lock, so the next step waits inside the server.
            blocker = sqlite3.connect(database, timeout=30)
            blocker.execute("BEGIN IMMEDIATE")
            result: dict[str, httpx.Response] = {}
            step = threading.Thread(
                target=lambda: result.update(
                    answer=client.post(
                        f"/w/s/{sid.group(1)}/continue", headers={"X-Flow-Token": flow.group(1), "HX-Request": "true"}
                    )
                )
            )
            step.start()
            time.sleep(0.5)
            server.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            assert server.poll() is None, "the server must wait for the request in flight"
            blocker.rollback()
            blocker.close()
            step.join(timeout=30)
        assert result["answer"].status_code == 200
        assert 'data-step="survey"' in result["answer"].text
        # uvicorn re-raises the signal once it has shut down, so "terminated by SIGTERM" is a clean exit.
        assert server.wait(timeout=20) in (0, -signal.SIGTERM)
        assert b"shutdown complete" in log.read_bytes()
        with sqlite3.connect(database) as db:  # the step was committed, not cut off
            assert db.execute("SELECT step FROM flow_session").fetchone() == ("survey",)
    finally:
        if server.poll() is None:
            server.kill()
