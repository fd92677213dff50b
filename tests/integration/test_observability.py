"""Operations: every response carries a request id, logs are JSON lines with it, /metrics counts."""

from __future__ import annotations

import json
import logging
import os

import httpx
from litestar import Litestar

from service.observability import JsonFormatter, _request_ids, request_id
from service.settings import Settings
from tests.conftest import FakeClock
from tests.integration.widget_client import start


async def test_request_ids_are_echoed_or_created(client: httpx.AsyncClient) -> None:
    given = await client.get("/health", headers={"X-Request-ID": "req-from-proxy-123"})
    assert given.headers["x-request-id"] == "req-from-proxy-123"
    made = await client.get("/health", headers={"X-Request-ID": "bad id with spaces"})
    assert made.headers["x-request-id"] != "bad id with spaces" and len(made.headers["x-request-id"]) == 16
    others = {(await client.get("/health")).headers["x-request-id"] for _ in range(20)}
    assert len(others | {made.headers["x-request-id"]}) == 21  # every request its own id


def test_a_forked_worker_makes_request_ids_of_its_own() -> None:
    read, write = os.pipe()
    parent_ids = [_request_ids.new() for _ in range(3)]
    child = os.fork()
    if child == 0:  # the worker: report its first id and leave at once
        os.write(write, _request_ids.new().encode())
        os._exit(0)
    os.waitpid(child, 0)
    child_id = os.read(read, 64).decode()
    os.close(read)
    os.close(write)
    assert len(child_id) == 16 and child_id[:8] != parent_ids[0][:8]


def test_log_lines_are_json_with_the_request_id() -> None:
    token = request_id.set("abc123abc123")
    try:
        record = logging.LogRecord("service.x", logging.WARNING, __file__, 1, "billing slow: %s", ("sub_1",), None)
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id.reset(token)
    assert line["message"] == "billing slow: sub_1"
    assert (line["level"], line["request_id"], line["logger"]) == ("warning", "abc123abc123", "service.x")


async def test_metrics_count_requests_outcomes_and_billing_calls(
    app: Litestar, client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    _, flow = await start(client, settings, clock)
    await flow.post("continue")
    await flow.post("reason", {"reason": "too_expensive"})
    await flow.post("offers/pause-2-months/accept")
    text = (await client.get("/metrics", headers={"Authorization": f"Bearer {settings.api_key}"})).text
    assert 'route="/w/s/{session_id}/{intent}",status="200"' in text
    assert 'saveflow_sessions_finished_total{outcome="saved"}' in text
    assert 'saveflow_billing_calls_total{action="offer",result="applied"}' in text
    assert "ses_" not in text  # session ids never become label values
