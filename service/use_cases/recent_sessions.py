"""The sessions this process saved last, so a user's next step can decide without reading its session back.

Rules: may import service.db. Never wrong, only sometimes stale, and stale is caught: every state write
checks the version it decided from, so a copy that another worker or tab has since moved on makes that
write fail (repositories.ConcurrentUpdate) and the step is decided again from a fresh read. Only writes
that are committed are remembered: a write inside a caller's transaction (which may still roll back)
makes the process forget the session instead.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING

from service.db.tables import FlowSession

if TYPE_CHECKING:
    from service.db import repositories as repo

CAPACITY = 4096  # sessions; a widget session is a few minutes of one user, and an entry is ~2 KB


class RecentSessions:
    """A bounded, least-recently-used map of session id → the session as this process last committed it."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self._capacity = capacity
        self._sessions: OrderedDict[tuple[int, str], repo.StoredSession] = OrderedDict()

    @staticmethod
    def _key(session_id: str) -> tuple[int, str]:
        # Keyed by database too: tests and tools may bind the tables to another engine.
        return id(FlowSession._meta.db), session_id

    def get(self, session_id: str) -> repo.StoredSession | None:
        key = self._key(session_id)
        session = self._sessions.get(key)
        if session is not None:
            self._sessions.move_to_end(key)
        return session

    def remember(self, session: repo.StoredSession) -> None:
        key = self._key(session.id)
        self._sessions[key] = session
        self._sessions.move_to_end(key)
        if len(self._sessions) > self._capacity:
            self._sessions.popitem(last=False)

    def forget(self, session_id: str) -> None:
        self._sessions.pop(self._key(session_id), None)

    def __len__(self) -> int:
        return len(self._sessions)


recent = RecentSessions()
