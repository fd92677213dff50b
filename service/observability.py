"""Operations visibility: JSON logs carrying a request id, and Prometheus metrics at /metrics.

Rules: may import prometheus_client, litestar and service.security. Each request gets an id (the
caller's `X-Request-ID` when it is sane, else a new one); it is echoed in the response and added to
every log line written while the request runs. Bearer tokens never reach a log: a filter redacts
`token`-like query parameters in our lines and in uvicorn's access lines. /metrics answers only the
API key (`Authorization: Bearer …`, which Prometheus scrape configs support) or an address in
SAVEFLOW_METRICS_ALLOW.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import secrets
import time
from contextvars import ContextVar
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import unquote_plus

from litestar import get
from litestar.enums import ScopeType
from litestar.exceptions import NotAuthorizedException
from litestar.response import Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

from service.security import address_allowed, api_key_presented

if TYPE_CHECKING:
    from litestar.connection import ASGIConnection
    from litestar.handlers.base import BaseRouteHandler
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

    from service.settings import Settings

request_id: ContextVar[str] = ContextVar("request_id", default="")
_SANE_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


class _RequestIds:
    """New request ids: a random prefix per process and a counter (16 hex digits), unique per process
    and, with the prefix renewed in each forked worker, across workers."""

    def __init__(self) -> None:
        self.renew()
        os.register_at_fork(after_in_child=self.renew)  # forked workers must not share a prefix

    def renew(self) -> None:
        self._prefix = secrets.token_hex(4)
        self._counter = itertools.count(1)

    def new(self) -> str:
        return f"{self._prefix}{next(self._counter) & 0xFFFFFFFF:08x}"


_request_ids = _RequestIds()

REQUESTS = Counter("saveflow_http_requests_total", "HTTP requests", ["route", "method", "status"])
LATENCY = Histogram(
    "saveflow_http_request_seconds",
    "HTTP request latency",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
SESSIONS_FINISHED = Counter("saveflow_sessions_finished_total", "Flows that reached an outcome", ["outcome"])
BILLING_CALLS = Counter("saveflow_billing_calls_total", "Billing writes and how they ended", ["action", "result"])
BILLING_AUTH_FAILURES = Counter(
    "saveflow_billing_auth_failures_total",
    "Billing calls refused our credentials (401/403): an operator fault",
    ["action"],
)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, and the exception if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if rid := request_id.get():
            entry["request_id"] = rid
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


# A query parameter whose name ends in "token" (token, flow_token, access_token…) carries a bearer secret.
# Names are compared percent-decoded, as the app reads them (`%74oken=` is `token=`).
_QUERY_PARAM = re.compile(r"(^|[?&;\s])([^=?&;#\s]+)=([^&;#\s\"']+)")
REDACTED = "[redacted]"


def _redact_param(match: re.Match[str]) -> str:
    if unquote_plus(match.group(2)).lower().endswith("token"):
        return f"{match.group(1)}{match.group(2)}={REDACTED}"
    return match.group(0)


def redact_tokens(text: str) -> str:
    """`text` with the value of every token-like query parameter replaced by [redacted]."""
    return _QUERY_PARAM.sub(_redact_param, text) if "=" in text else text


class RedactTokens(logging.Filter):
    """Redacts bearer tokens in a record's message and arguments, keeping their shape (uvicorn's access
    formatter unpacks its five arguments)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_tokens(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact_tokens(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: redact_tokens(v) if isinstance(v, str) else v for k, v in record.args.items()}
        return True


def configure_logging(level: int = logging.INFO, stream: TextIO | None = None) -> None:
    """JSON lines on stderr (or `stream`), tokens redacted; also redacts uvicorn's access log lines.

    uvicorn's access logger keeps its own handler and does not propagate, so it gets the filter itself
    (a logger's filters survive uvicorn's logging set-up, which runs before the app is created).
    """
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactTokens())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactTokens) for f in access.filters):
        access.addFilter(RedactTokens())


def _route_label(scope: Scope) -> str:
    """The matched route's template (`/w/s/{session_id}/{intent}`), so ids never become labels."""
    template = scope.get("path_template")  # set by Litestar's router once the request matched a route
    return str(template) if template else "unmatched"


@lru_cache(maxsize=4096)  # one per route, method and status
def _request_metrics(route: str, method: str, status: int) -> tuple[Counter, Histogram]:
    return REQUESTS.labels(route, method, str(status)), LATENCY.labels(route)


def request_context_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        incoming = next((v for k, v in scope["headers"] if k == b"x-request-id"), b"").decode("latin-1")
        rid = incoming if _SANE_ID.fullmatch(incoming) else _request_ids.new()
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                # Appended: nothing else writes this header.
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            route = _route_label(scope)
            requests, latency = _request_metrics(route, scope["method"], status)
            requests.inc()
            latency.observe(time.perf_counter() - started)
            request_id.reset(token)

    return middleware


def metrics_readers_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """The guard of /metrics: the API key as a bearer token, or a client address on the allow-list."""
    settings: Settings = connection.app.state.settings
    if api_key_presented(connection.headers.get("authorization"), settings.api_key):
        return
    if settings.metrics_allow and address_allowed(
        connection.client.host if connection.client else None, settings.metrics_allow
    ):
        return
    raise NotAuthorizedException("Send the API key as 'Authorization: Bearer <key>' (or see SAVEFLOW_METRICS_ALLOW).")


@get("/metrics", name="metrics", include_in_schema=False, sync_to_thread=False, guards=[metrics_readers_only])
def metrics() -> Response[bytes]:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})
