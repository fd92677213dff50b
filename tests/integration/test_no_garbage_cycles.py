"""A widget step frees what it allocates as it goes: it leaves no reference cycle for the garbage collector,
whose passes stall every request in flight (bench/README, session 5). SQLite and Postgres."""

from __future__ import annotations

import gc
from collections import Counter
from typing import Any

import httpx
from litestar import Litestar

from service.settings import Settings
from tests.conftest import FakeClock
from tests.integration.widget_client import start, step_of


async def _post_step(app: Litestar, session_id: str, intent: str, flow_token: str) -> tuple[int, str]:
    """One htmx step straight through the ASGI app, so only the app's own objects are counted."""
    status: list[int] = []
    body: list[bytes] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])
        elif message["type"] == "http.response.body":
            body.append(message.get("body", b""))

    path = f"/w/s/{session_id}/{intent}"
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver.local"),
            (b"hx-request", b"true"),
            (b"x-flow-token", flow_token.encode()),
            (b"content-length", b"0"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver.local", 80),
    }
    await app(scope, receive, send)  # type: ignore[arg-type]
    return status[0], b"".join(body).decode()


async def test_widget_steps_leave_no_reference_cycles(
    app: Litestar, client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    _, flow = await start(client, settings, clock)
    status, _ = await _post_step(app, flow.session_id, "continue", flow.flow_token)  # warm every cache
    assert status == 200
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)  # unreachable objects are kept in gc.garbage instead of freed
    try:
        steps = []
        for intent in ("back", "continue") * 3:
            status, html = await _post_step(app, flow.session_id, intent, flow.flow_token)
            steps.append((status, step_of(html)))
        gc.collect()
        left = Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert steps == [(200, "loss_aversion"), (200, "survey")] * 3  # real steps, each saved and rendered
    assert not left, f"objects only the garbage collector could free: {left.most_common(8)}"
