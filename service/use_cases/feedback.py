"""CS triage of the customers' free-text answers: tag a session's feedback and mark it reviewed.

Rules: may import service.repositories and service.db.engine. The change and its audit entry commit
together in one unit of work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from service.db.engine import unit_of_work
from service.repositories import sessions
from service.use_cases.staff import record_audit

if TYPE_CHECKING:
    from datetime import datetime


def normalise_tags(raw: str) -> str:
    """'Pricing, onboarding,, pricing' → 'onboarding,pricing' (lower-case, unique, sorted, short)."""
    tags = {t.strip().lower()[:30] for t in raw.split(",") if t.strip()}
    return ",".join(sorted(tags))[:255]


async def triage_feedback(actor: str, session_id: str, *, tags: str, reviewed: bool, now: datetime) -> bool:
    """Replace the session's tags (normalised) and set or clear its review; False if no such session."""
    tags = normalise_tags(tags)
    async with unit_of_work():
        before = await sessions.feedback_tags(session_id)
        if before is None:
            return False
        await sessions.triage_feedback(session_id, tags=tags, reviewed_at=now if reviewed else None)
        await record_audit(
            actor,
            "feedback.triage",
            session_id,
            before=before,
            after=f"{tags}{' (reviewed)' if reviewed else ''}",
            now=now,
        )
    return True
