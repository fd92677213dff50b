"""Operations visibility: JSON logs carrying a request id, and Prometheus metrics at /metrics.

Rules: may import prometheus_client, litestar and service.security. Each request gets an id (the
caller's `X-Request-ID` when it is sane, else a new one); it is echoed in the response and added to
every log line written while the request runs. Bearer tokens never reach a log: a filter redacts
`token`-like query parameters in our lines and in uvicorn's access lines, which are JSON lines too.
/metrics answers only the API key (`Authorization: Bearer …`, which Prometheus scrape configs support)
or an address in SAVEFLOW_METRICS_ALLOW. With several workers, `serve` points PROMETHEUS_MULTIPROC_DIR at
a directory of its own before any worker starts; /metrics then sums every worker's counters from there.
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
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

from service.security import address_allowed, api_key_presented

if TYPE_CHECKING:
    from litestar.connection import ASGIConnection
    from litestar.handlers.base import BaseRouteHandler
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

    from service.settings import Settings

request_id: ContextVar[str] = ContextVar("request_id", default="")
# prometheus_client's own variable, read as it reads it: once, when the metrics below are created.
MULTIPROCESS_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
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
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5:
            client, method, path, _, status = record.args  # uvicorn's '%s - "%s %s HTTP/%s" %d'
            entry.update(client=client, method=method, path=path, status=status)
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
    """JSON lines on stderr (or `stream`), tokens redacted, uvicorn's lines included.

    Runs again in each worker when the app is created, after uvicorn's own logging set-up: uvicorn's
    loggers lose the text handlers that set-up gave them and write through the root's JSON handler. The
    access logger keeps a redacting filter of its own too, for a handler someone adds to it later.
    """
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactTokens())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactTokens) for f in access.filters):
        access.addFilter(RedactTokens())


def uvicorn_log_config() -> dict[str, Any]:
    """`uvicorn.run(log_config=…)`: the same JSON lines from uvicorn's supervisor and its workers from
    their first line (uvicorn applies it in each process before the app exists)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": RedactTokens}},
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "filters": ["redact"],
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": "INFO"},
        "loggers": {name: {"handlers": [], "propagate": True} for name in UVICORN_LOGGERS},
    }


def _route_label(scope: Scope) -> str:
    """The matched route's template (`/w/s/{session_id}/{intent}`), so ids never become labels."""
    template = scope.get("path_template")  # set by Litestar's router once the request matched a route
    return str(template) if template else "unmatched"


@lru_cache(maxsize=4096)  # one per route, method and status
def _request_metrics(route: str, method: str, status: int) -> tuple[Counter, Histogram]:
    return REQUESTS.labels(route, method, str(status)), LATENCY.labels(route)


def request_context_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or request_id.get():  # an outer layer already took it (service.asgi)
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


def _scrape_registry() -> CollectorRegistry:
    """This process's metrics, or with several workers every worker's, summed from their files."""
    if not MULTIPROCESS_DIR:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=MULTIPROCESS_DIR)  # type: ignore[no-untyped-call]
    return registry


def metrics_process_exit() -> None:
    """Called as a worker stops: with several workers, its live gauges leave /metrics (its counters stay
    counted, so totals never go backwards when a worker is replaced)."""
    if MULTIPROCESS_DIR:
        multiprocess.mark_process_dead(os.getpid(), path=MULTIPROCESS_DIR)  # type: ignore[no-untyped-call]


@get("/metrics", name="metrics", include_in_schema=False, sync_to_thread=False, guards=[metrics_readers_only])
def metrics() -> Response[bytes]:
    body = generate_latest(_scrape_registry())
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})
