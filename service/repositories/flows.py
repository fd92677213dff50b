"""Flow configuration: immutable flow versions (published or draft), segments and experiments.

Rules: may import piccolo, service.db and flows. A draft has number 0, so the published numbering is
untouched, and session routing reads only "published" rows. Versions never change once stored, so a
version's parsed definition is cached by id; an identical draft is reused instead of copied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from flows import FlowDefinition
from flows import experiments as exp
from flows import segments as seg
from service.db import codec
from service.db.tables import BillingOperation, Experiment, FlowSession, FlowVersion, Segment

if TYPE_CHECKING:
    from datetime import datetime, timedelta

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
    drafts older than `drafts_after` that no session runs on any more; returns how many rows went.
    Call inside a unit of work."""
    rows = (
        await FlowSession.select(FlowSession.id)
        .where((FlowSession.subscription_id == PREVIEW_SUBSCRIPTION) & (FlowSession.started_at < now - sessions_after))
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


# ------------------------------------------------------------------------------------ flow versions
async def published_version(flow_key: str) -> tuple[int, FlowDefinition] | None:
    row = (
        await FlowVersion.select(FlowVersion.id)
        .where((FlowVersion.flow_key == flow_key) & (FlowVersion.status == "published"))
        .order_by(FlowVersion.number, ascending=False)
        .first()
    )
    if row is None:
        return None
    return row["id"], await definition_of_version(row["id"])


@dataclass
class _VersionCache:
    """The parsed versions of one engine's database. Tests and tools bind the tables to other engines: a
    new engine starts a new cache (holding the engine keeps its id from being reused meanwhile)."""

    engine: object = None
    versions: dict[int, FlowDefinition] = field(default_factory=dict)


_cache = _VersionCache()


async def definition_of_version(version_id: int) -> FlowDefinition:
    """A version's definition. Versions never change, so each process reads one at most once per database."""
    engine = FlowVersion._meta.db
    if _cache.engine is not engine:  # the tables moved to another engine: its database, its versions
        _cache.engine, _cache.versions = engine, {}
    cached = _cache.versions.get(version_id)
    if cached is not None:
        return cached
    row = await FlowVersion.select(FlowVersion.definition).where(FlowVersion.id == version_id).first()
    if row is None:
        raise LookupError(f"flow version {version_id} does not exist")
    definition = _parse_definition(row["definition"])
    if len(_cache.versions) > 1024:
        _cache.versions.clear()
    _cache.versions[version_id] = definition
    return definition


@lru_cache(maxsize=256)
def _parse_definition(text: str) -> FlowDefinition:
    # Versions are immutable, so the parsed definition can be cached by its exact JSON text.
    return codec.definition_from_json(text)


async def publish_version(definition: FlowDefinition, now: datetime, note: str = "") -> int:
    latest = (
        await FlowVersion.select(FlowVersion.number)
        .where(FlowVersion.flow_key == definition.key)
        .order_by(FlowVersion.number, ascending=False)
        .first()
    )
    number = (latest["number"] if latest else 0) + 1
    rows = await FlowVersion.insert(
        FlowVersion(
            flow_key=definition.key,
            number=number,
            status="published",
            definition=codec.definition_to_json(definition),
            note=note,
            created_at=now,
            published_at=now,
        )
    ).returning(FlowVersion.id)
    version_id: int = rows[0]["id"]
    return version_id


# ------------------------------------------------------------------------------------ segments, experiments
async def segments_by_priority() -> tuple[seg.Segment, ...]:
    rows = await Segment.select().order_by(Segment.priority).order_by(Segment.id)
    return tuple(
        seg.Segment(
            id=r["id"],
            name=r["name"],
            flow_key=r["flow_key"],
            conditions=codec.conditions_from_json(r["conditions"]),
        )
        for r in rows
    )


async def save_segment(segment: seg.Segment, priority: int, now: datetime) -> None:
    await Segment.insert(
        Segment(
            id=segment.id,
            name=segment.name,
            priority=priority,
            flow_key=segment.flow_key,
            conditions=codec.dumps(segment.conditions),
            created_at=now,
        )
    )


async def running_experiment(flow_key: str) -> exp.Experiment | None:
    row = (
        await Experiment.select(Experiment.id, Experiment.flow_key, Experiment.arms)
        .where((Experiment.flow_key == flow_key) & (Experiment.status == "running"))
        .order_by(Experiment.started_at, ascending=False)
        .first()
    )
    if row is None:
        return None
    return exp.Experiment(id=row["id"], flow_key=row["flow_key"], arms=codec.arms_from_json(row["arms"]))


async def start_experiment(experiment: exp.Experiment, name: str, now: datetime) -> None:
    await Experiment.insert(
        Experiment(
            id=experiment.id,
            name=name,
            flow_key=experiment.flow_key,
            status="running",
            arms=codec.dumps(experiment.arms),
            started_at=now,
        )
    )


# admin
async def experiment_arms(experiment_id: str) -> tuple[exp.Arm, ...] | None:
    """The arms of an experiment, or None when there is no such experiment."""
    row = await Experiment.select(Experiment.arms).where(Experiment.id == experiment_id).first()
    return codec.arms_from_json(row["arms"]) if row else None


async def stop_experiment(experiment_id: str, *, winner_arm: str | None, now: datetime) -> None:
    await Experiment.update(
        {Experiment.status: "stopped", Experiment.stopped_at: now, Experiment.winner_arm: winner_arm}
    ).where(Experiment.id == experiment_id)


def definition_from_json(text: str) -> FlowDefinition:
    """A definition from its stored JSON form, which is exactly what the admin's JSON editor edits.

    Raises:
        ValueError: not JSON, or not a flow definition (the message says where).
    """
    return codec.definition_from_json(text)


# ------------------------------------------------------------------------------------ segment writes (admin)
SEGMENT_STEP = 10  # priorities are renumbered in steps of 10 on every reorder, so there is room between


async def segment_priority(segment_id: str) -> int | None:
    """The segment's priority (lower runs first), or None when there is no such segment."""
    row = await Segment.select(Segment.priority).where(Segment.id == segment_id).first()
    return int(row["priority"]) if row else None


async def next_segment_priority() -> int:
    """A priority after every existing segment's: a new segment is tried last."""
    row = await Segment.select(Segment.priority).order_by(Segment.priority, ascending=False).first()
    return (int(row["priority"]) if row else 0) + SEGMENT_STEP


async def update_segment(segment: seg.Segment) -> None:
    await Segment.update(
        {
            Segment.name: segment.name,
            Segment.flow_key: segment.flow_key,
            Segment.conditions: codec.dumps(segment.conditions),
        }
    ).where(Segment.id == segment.id)


async def renumber_segments(ordered_ids: list[str]) -> None:
    """Give the segments `ordered_ids` the priorities 10, 20, 30, … in that order."""
    for position, segment_id in enumerate(ordered_ids, start=1):
        await Segment.update({Segment.priority: position * SEGMENT_STEP}).where(Segment.id == segment_id)


async def delete_segment(segment_id: str) -> None:
    await Segment.delete().where(Segment.id == segment_id)
