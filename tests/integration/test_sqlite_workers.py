"""Two worker processes on one SQLite file (`serve --workers 2`): concurrent sessions started and clicked
through both serve without an error, and every session's stored state is exactly what its event log
says (no event lost, none applied twice), whichever worker wrote it."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import jwt
import pytest

from tests.support.servers import free_port, wait_until_healthy

pytestmark = pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")), reason="SQLite only")

ROOT = Path(__file__).resolve().parents[2]
SESSIONS = 24
CLICKS = 8  # per session: continue and back, alternately


async def _walk(client: httpx.AsyncClient, embed_secret: str, index: int) -> tuple[str, list[int]]:
    now = int(time.time())
    claims = {"sub": "cus_demo_ada", "subscription_id": "sub_demo_ada", "iat": now, "exp": now + 900}
    token = jwt.encode({**claims, "jti": f"workers-{index}", "test": True}, embed_secret, algorithm="HS256")
    page = await client.get("/w/start", params={"token": token})
    assert page.status_code == 200, page.text[:500]
    session_id = re.search(r'data-session-id="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    flow_token = re.search(r'name="flow_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    statuses = []
    for click in range(CLICKS):
        intent = "continue" if click % 2 == 0 else "back"
        response = await client.post(
            f"/w/s/{session_id}/{intent}", headers={"HX-Request": "true", "X-Flow-Token": flow_token}
        )
        statuses.append(response.status_code)
    return session_id, statuses


async def _walk_all(url: str, embed_secret: str) -> list[tuple[str, list[int]]]:
    # A client per session: each opens connections of its own, which the two workers accept between them
    # (the kernel hands each to whichever worker accepts first; `ss` counts them split about 30/20).
    async def one(index: int) -> tuple[str, list[int]]:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            return await _walk(client, embed_secret, index)

    return await asyncio.gather(*(one(i) for i in range(SESSIONS)))


def test_two_workers_on_one_sqlite_file_lose_and_double_nothing(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    database = tmp_path / "workers.sqlite"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SQLITE_PATH")}
    env.update(
        SAVEFLOW_PUBLIC_URL=url,
        SAVEFLOW_SECRETS_FILE=str(tmp_path / "secrets.json"),
        SAVEFLOW_DEMO="1",
        SQLITE_PATH=str(database),
    )
    for command in ("migrate", "seed"):
        subprocess.run(
            [sys.executable, "-m", "service", command], cwd=ROOT, env=env, check=True, capture_output=True, timeout=120
        )
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "service", "serve", "--port", str(port), "--workers", "2"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=out,
        )
    try:
        wait_until_healthy(url, server, log)
        embed_secret = json.loads((tmp_path / "secrets.json").read_text())["embed_secret"]
        walked = asyncio.run(_walk_all(url, embed_secret))
    finally:
        server.terminate()
        server.wait(timeout=30)

    assert all(statuses == [200] * CLICKS for _, statuses in walked), [s for _, s in walked]
    with sqlite3.connect(database) as db:
        for session_id, _ in walked:
            version, step = db.execute("SELECT version, step FROM flow_session WHERE id = ?", (session_id,)).fetchone()
            events = db.execute("SELECT seq FROM flow_event WHERE session = ? ORDER BY seq", (session_id,))
            seqs = [row[0] for row in events]
            # Started, then every click once: one event per version, none missing, none twice.
            assert seqs == list(range(1, CLICKS + 2)) and version == CLICKS + 1, (session_id, seqs, version)
            assert step == "loss_aversion"  # continue, back, … an even number of clicks ends where it began
