"""Readiness: can this process reach its database?"""

from __future__ import annotations

import logging

from service.db.engine import ping

log = logging.getLogger(__name__)


async def database_reachable() -> bool:
    try:
        await ping()
    except Exception as exc:  # any driver error means "not reachable"; its type goes to the log
        log.error("health check: database unreachable: %r", exc)
        return False
    return True
