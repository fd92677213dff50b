"""GET /health: is the process up and can it reach its database?"""

from __future__ import annotations

import logging

from litestar import get
from litestar.response import Response

from service.db.tables import FlowVersion

log = logging.getLogger(__name__)


@get("/health", name="health", tags=["operations"])
async def health() -> Response[dict[str, str]]:
    try:
        await FlowVersion.raw("SELECT 1")
    except Exception as exc:  # any driver error means "not reachable"; the type goes to the log
        log.error("health check: database unreachable: %r", exc)
        return Response({"status": "unavailable", "database": "unreachable"}, status_code=503)
    return Response({"status": "ok", "database": "ok"})
