"""Readiness: can this process reach its database, and has every shipped migration run there?"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from service.db.migrations import pending_migrations

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Readiness:
    """`database` is "ok", "unreachable" or "migrations pending"; `reason` says what to do when not ready."""

    database: str
    reason: str = ""

    @property
    def ready(self) -> bool:
        return self.database == "ok"


async def readiness() -> Readiness:
    """Two cheap reads: does Piccolo's migration table exist, and which migrations has it recorded."""
    try:
        pending = await pending_migrations()
    except Exception as exc:  # any driver error means "not reachable"; its type goes to the log
        log.error("health check: database unreachable: %r", exc)
        return Readiness("unreachable", "the database cannot be reached")
    if pending:
        log.warning("health check: %d migration(s) pending, first %s", len(pending), pending[0])
        return Readiness(
            "migrations pending",
            f"{len(pending)} database migration(s) not applied: run `python -m service migrate` "
            "or start with `serve --migrate`",
        )
    return Readiness("ok")
