"""Health probes: /health/live (the process answers), /health/ready and its alias /health (it can serve)."""

from __future__ import annotations

from litestar import get
from litestar.response import Response

from service.use_cases.health import readiness


@get("/health/live", name="health-live", tags=["operations"], sync_to_thread=False)
def health_live() -> Response[dict[str, str]]:
    """Liveness: the process runs its event loop. No database access, so a database outage never gets a
    healthy process restarted."""
    return Response({"status": "ok"}, headers={"Cache-Control": "no-store"})


@get(["/health/ready", "/health"], name="health-ready", tags=["operations"])
async def health_ready() -> Response[dict[str, str]]:
    """Readiness: the database answers and no migration is pending; 503 with a reason otherwise. `/health`
    is the same check, kept for load balancers configured before the split."""
    state = await readiness()
    if state.ready:
        return Response({"status": "ok", "database": "ok"}, headers={"Cache-Control": "no-store"})
    return Response(
        {"status": "unavailable", "database": state.database, "reason": state.reason},
        status_code=503,
        headers={"Cache-Control": "no-store", "Retry-After": "5"},
    )
