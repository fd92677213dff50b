"""Flow drafts: immutable `FlowVersion` rows with status "draft" that only admin previews run.

Rules: may import piccolo, service.db.* and flows. A draft has number 0, so the published numbering
(`repositories.publish_version`) is untouched, and session routing reads only "published" rows
(`repositories.published_version`). Like published versions, a draft never changes once stored
(`repositories.definition_of_version` caches by id); an identical draft is reused instead of copied.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from service.db import codec
from service.db.tables import FlowVersion

if TYPE_CHECKING:
    from datetime import datetime

    from flows import FlowDefinition

DRAFT = "draft"
PUBLISHED = "published"


async def save_draft(definition: FlowDefinition, now: datetime, note: str = "") -> int:
    """Store `definition` as a draft of its flow (or find the identical one); returns its version id."""
    text = codec.definition_to_json(definition)
    same = (
        await FlowVersion.select(FlowVersion.id)
        .where(
            (FlowVersion.flow_key == definition.key) & (FlowVersion.status == DRAFT) & (FlowVersion.definition == text)
        )
        .first()
    )
    if same is not None:
        found: int = same["id"]
        return found
    rows = await FlowVersion.insert(
        FlowVersion(flow_key=definition.key, number=0, status=DRAFT, definition=text, note=note[:500], created_at=now)
    ).returning(FlowVersion.id)
    version_id: int = rows[0]["id"]
    return version_id


async def version_status(version_id: int) -> str | None:
    """ "draft", "published" (or "archived"), or None when there is no such version."""
    row = await FlowVersion.select(FlowVersion.status).where(FlowVersion.id == version_id).first()
    return str(row["status"]) if row else None
