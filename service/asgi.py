"""ASGI entry point: `uvicorn --factory service.asgi:create` builds the app from the environment."""

from __future__ import annotations

import gc
import os
from typing import TYPE_CHECKING

from service.app import create_app
from service.observability import configure_logging, request_context_middleware
from service.settings import Settings

if TYPE_CHECKING:
    from litestar.types import ASGIApp


def create() -> ASGIApp:
    configure_logging()  # JSON lines with the request id; tests keep pytest's own log capture
    app = create_app(Settings.from_env(os.environ))
    # What exists now (modules, routes, compiled templates) lives as long as the process, so the
    # garbage collector's full passes need not walk it again and again.
    gc.collect()
    gc.freeze()
    # Litestar runs the app's middleware on matched routes only: this outer layer gives every request,
    # a 404 or 405 too, its request id (response header, log lines, access line) and its count in /metrics.
    return request_context_middleware(app)
