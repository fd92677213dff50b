"""Flow drafts: immutable `FlowVersion` rows with status "draft" that only admin previews run.

Rules: may import piccolo, service.db.* and flows. A draft has number 0, so the published numbering
(`repositories.publish_version`) is untouched, and session routing reads only "published" rows
(`repositories.published_version`). Like published versions, a draft never changes once stored
(`repositories.definition_of_version` caches by id); an identical draft is reused instead of copied.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from service.db import codec
from service.db.tables import BillingOperation, FlowSession, FlowVersion
from service.db.uow import unit_of_work

if TYPE_CHECKING:
    from datetime import datetime, timedelta

    from flows import FlowDefinition

DRAFT = "draft"
PUBLISHED = "published"
PREVIEW_SUBSCRIPTION = "sub_preview"  # the made-up subscription every admin preview session runs on


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


async def purge_previews(now: datetime, *, sessions_after: timedelta, drafts_after: timedelta, batch: int = 500) -> int:
    """Delete preview sessions older than `sessions_after` (with their events and billing records) and
    drafts older than `drafts_after` that no session runs on any more; returns how many rows went."""
    async with unit_of_work():
        rows = (
            await FlowSession.select(FlowSession.id)
            .where(
                (FlowSession.subscription_id == PREVIEW_SUBSCRIPTION) & (FlowSession.started_at < now - sessions_after)
            )
            .limit(batch)
        )
        ids = [r["id"] for r in rows]
        if ids:
            await BillingOperation.delete().where(BillingOperation.session.is_in(ids))
            await FlowSession.delete().where(FlowSession.id.is_in(ids))  # events and tasks cascade
        in_use = FlowSession.select(FlowSession.flow_version).distinct()
        stale = (
            await FlowVersion.delete()
            .where(
                (FlowVersion.status == DRAFT)
                & (FlowVersion.created_at < now - drafts_after)
                & FlowVersion.id.not_in(in_use)
            )
            .returning(FlowVersion.id)
        )
    return len(ids) + len(stale)
