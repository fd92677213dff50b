"""GET /health: is the process up and can it reach its database?"""

from __future__ import annotations

from litestar import get
from litestar.response import Response

from service.use_cases.health import database_reachable


@get("/health", name="health", tags=["operations"])
async def health() -> Response[dict[str, str]]:
    if await database_reachable():
        return Response({"status": "ok", "database": "ok"})
    return Response({"status": "unavailable", "database": "unreachable"}, status_code=503)
