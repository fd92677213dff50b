"""The widget's step partial response: sent with its headers already encoded, and still merged with
any headers or cookies added to it or by a Litestar layer."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import Cookie

from service.http.widget import StepPartial


async def _sent(response: Any) -> tuple[int, dict[str, str], list[str], bytes]:
    messages: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        messages.append(message)

    async def receive() -> Any:
        return {"type": "http.request", "body": b"", "more_body": False}

    await response({"type": "http"}, receive, send)
    start, body = messages
    headers = [(k.decode(), v.decode()) for k, v in start["headers"]]
    cookies = [v for k, v in headers if k == "set-cookie"]
    return start["status"], {k.lower(): v for k, v in headers if k != "set-cookie"}, cookies, body["body"]


def _request() -> Request[Any, Any, Any]:
    return Request({"type": "http", "method": "POST", "path": "/", "headers": [], "query_string": b""})  # type: ignore[arg-type]


async def test_a_step_partial_sends_its_own_headers() -> None:
    body = "<section>é</section>".encode()
    status, headers, cookies, sent = await _sent(StepPartial(body, 422).to_asgi_response(None, _request()))
    assert (status, sent, cookies) == (422, body, [])
    assert headers == {
        "content-type": "text/html; charset=utf-8",
        "vary": "HX-Request",
        "cache-control": "no-store",
        "content-length": str(len(body)),
    }


async def test_headers_and_cookies_a_layer_adds_are_merged_not_dropped() -> None:
    response = StepPartial(b"<p>ok</p>", 200).to_asgi_response(
        None, _request(), headers={"X-Layer": "yes"}, cookies=[Cookie(key="k", value="v")]
    )
    status, headers, cookies, sent = await _sent(response)
    assert (status, sent) == (200, b"<p>ok</p>")
    assert headers["x-layer"] == "yes" and headers["vary"] == "HX-Request" and headers["cache-control"] == "no-store"
    assert headers["content-type"].startswith("text/html") and headers["content-length"] == "9"
    assert len(cookies) == 1 and cookies[0].startswith("k=v")


async def test_headers_added_to_a_step_partial_are_sent() -> None:
    partial = StepPartial(b"<p>late</p>", 503)
    partial.headers["Retry-After"] = "5"
    status, headers, _, _ = await _sent(partial.to_asgi_response(None, _request()))
    assert status == 503 and headers["retry-after"] == "5" and headers["cache-control"] == "no-store"
