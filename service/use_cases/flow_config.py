"""Flow configuration use cases: publish a definition, store a draft, manage segments, run experiments.

Rules: may import flows, service.db.engine and service.repositories. Every write is validated by the
pure checks first, so an invalid configuration is refused with plain-language problems and never
reaches a running session.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from flows import FlowDefinition, validate_definition
from flows.experiments import Experiment, validate_experiment
from flows.segments import Segment, describe, segment_problems, validate_segment
from flows.validation import catalogue_problems
from offers import BillingCatalogue, BillingError, BillingProvider, Catalogue
from service.db.engine import unit_of_work
from service.repositories import flows as flow_repo
from service.repositories import reports
from service.use_cases.staff import record_audit

if TYPE_CHECKING:
    from datetime import datetime

log = logging.getLogger(__name__)


class ConfigInvalid(ValueError):
    """The configuration cannot be saved; `problems` are sentences to show the admin."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


async def publish_flow(definition: FlowDefinition, now: datetime, note: str = "") -> int:
    """Store `definition` as the next immutable published version of its flow; returns the version id."""
    problems = validate_definition(definition)
    if problems:
        raise ConfigInvalid(problems)
    async with unit_of_work():
        return await flow_repo.publish_version(definition, now, note)


async def save_draft(definition: FlowDefinition, now: datetime, note: str = "") -> int:
    """Store `definition` as a draft an admin can preview; customers are never routed to a draft."""
    problems = validate_definition(definition)
    if problems:
        raise ConfigInvalid(problems)
    async with unit_of_work():
        return await flow_repo.save_draft(definition, now, note)


async def save_segment(segment: Segment, priority: int, now: datetime) -> None:
    problems = validate_segment(segment)
    if await flow_repo.published_version(segment.flow_key) is None:
        problems.append(f"Flow {segment.flow_key!r} has no published version yet.")
    if problems:
        raise ConfigInvalid(problems)
    async with unit_of_work():
        await flow_repo.save_segment(segment, priority, now)


async def start_experiment(experiment: Experiment, name: str, now: datetime) -> None:
    problems = validate_experiment(experiment)
    for arm in experiment.arms:
        status = await flow_repo.version_status(arm.flow_version_id)
        if status is None:
            problems.append(f"Arm {arm.id!r} points at flow version {arm.flow_version_id}, which does not exist.")
        elif status == flow_repo.DRAFT:  # an arm is served to real customers: drafts are for previews only
            problems.append(f"Arm {arm.id!r} points at a draft; publish it first.")
    if await flow_repo.running_experiment(experiment.flow_key) is not None:
        problems.append(f"Flow {experiment.flow_key!r} already has a running experiment; stop it first.")
    if problems:
        raise ConfigInvalid(problems)
    async with unit_of_work():
        await flow_repo.start_experiment(experiment, name, now)


# admin: the staff's changes, each audited in the same unit of work as the change itself.
async def read_catalogue(billing: BillingProvider) -> Catalogue | None:
    """What billing can list of its prices and coupons; None when it cannot list them, or not right now
    (publishing then goes ahead on the other checks: an unreachable billing API must not lock the editor)."""
    if not isinstance(billing, BillingCatalogue):
        return None
    try:
        return await billing.catalogue()
    except BillingError as exc:
        log.warning("billing catalogue unavailable, offer ids not checked: %s", exc)
        return None


async def publish_flow_by(
    actor: str, definition: FlowDefinition, now: datetime, note: str = "", *, catalogue: Catalogue | None = None
) -> int:
    """`publish_flow` for the staff user `actor`; the audit entry names the version it replaces. With a
    `catalogue` (read_catalogue), offers naming a price or coupon billing does not have are refused too."""
    if catalogue is not None and (problems := catalogue_problems(definition, catalogue)):
        raise ConfigInvalid(problems)
    async with unit_of_work():
        before = await reports.latest_published(definition.key)
        version_id = await publish_flow(definition, now, note)
        target = f"{definition.key} version {version_id}"
        previous = str(before.version.number) if before else ""
        await record_audit(actor, "flow.publish", target, before=previous, after=note, now=now)
    return version_id


async def roll_back_flow(actor: str, version_id: int, now: datetime) -> int | None:
    """Publish a copy of an earlier published version; its new version id, or None if there is no
    such published version (a draft is published from the editor, not rolled back to)."""
    async with unit_of_work():
        found = (await reports.stored_versions([version_id])).get(version_id)
        if found is None or found.version.status == flow_repo.DRAFT:
            return None
        old = found.version
        definition = await flow_repo.definition_of_version(version_id)
        new_id = await publish_flow(definition, now, note=f"Rollback to version {old.number}")
        target = f"{old.flow_key} version {old.number}"
        await record_audit(actor, "flow.rollback", target, after=f"new version id {new_id}", now=now)
    return new_id


async def start_experiment_by(actor: str, experiment: Experiment, name: str, now: datetime) -> None:
    async with unit_of_work():
        await start_experiment(experiment, name, now)
        await record_audit(actor, "experiment.start", experiment.id, after=name, now=now)


async def stop_experiment(actor: str, experiment_id: str, *, winner: str, now: datetime) -> bool:
    """Stop an experiment; a named winning arm (never the holdout) has its flow version republished as
    the flow's newest version, so every customer gets it. False if there is no such experiment."""
    async with unit_of_work():
        arms = await flow_repo.experiment_arms(experiment_id)
        if arms is None:
            return False
        await flow_repo.stop_experiment(experiment_id, winner_arm=winner or None, now=now)
        chosen = next((arm for arm in arms if arm.id == winner and not arm.holdout), None)
        if chosen is not None:
            definition = await flow_repo.definition_of_version(chosen.flow_version_id)
            await publish_flow(definition, now, note=f"Promoted arm {winner} of {experiment_id}")
        await record_audit(actor, "experiment.stop", experiment_id, after=f"winner: {winner or 'none'}", now=now)
    return True


async def publish_flow_json_by(
    actor: str, text: str, now: datetime, note: str = "", *, catalogue: Catalogue | None = None
) -> int:
    """`publish_flow_by` for a definition in its stored JSON form (the admin's JSON editor).

    Raises:
        ValueError: the text is not a flow definition (ConfigInvalid: one that fails validation).
    """
    return await publish_flow_by(actor, flow_repo.definition_from_json(text), now, note, catalogue=catalogue)


# admin: segments. Checks come first (pure ones, then the database's), so a refused change writes
# nothing; each change and its audit entry commit in one unit of work.
class SegmentInvalid(ConfigInvalid):
    """A segment that cannot be saved; `fields` pairs each problem with the form field it is about."""

    def __init__(self, found: list[tuple[str, str]]) -> None:
        super().__init__([message for _, message in found])
        self.fields = tuple(found)


async def _check_segment(segment: Segment, *, new: bool) -> None:
    found = segment_problems(segment)
    if segment.flow_key.strip() and await flow_repo.published_version(segment.flow_key) is None:
        found.append(("flow_key", f"Flow {segment.flow_key!r} has no published version yet; publish it first."))
    exists = await flow_repo.segment_priority(segment.id) is not None
    if new and exists:
        found.append(("id", f"There is already a segment with the id {segment.id!r}; pick another."))
    if not new and not exists:
        found.append(("id", f"There is no segment {segment.id!r} any more; it may have just been deleted."))
    if found:
        raise SegmentInvalid(found)


async def create_segment_by(actor: str, segment: Segment, now: datetime) -> None:
    """Add `segment` after every existing one (it is tried last), audited.

    Raises:
        SegmentInvalid: what to fix, per field; nothing was written.
    """
    if problems := segment_problems(segment):
        raise SegmentInvalid(problems)
    async with unit_of_work():
        await _check_segment(segment, new=True)
        await flow_repo.save_segment(segment, await flow_repo.next_segment_priority(), now)
        await record_audit(actor, "segment.create", segment.id, after=describe(segment), now=now)


async def update_segment_by(actor: str, segment: Segment, now: datetime) -> None:
    """Change a segment's name, flow and conditions (its id and position stay), audited.

    Raises:
        SegmentInvalid: what to fix, per field (also when the segment is gone); nothing was written.
    """
    if problems := segment_problems(segment):
        raise SegmentInvalid(problems)
    async with unit_of_work():
        await _check_segment(segment, new=False)
        before = next((s for s in await flow_repo.segments_by_priority() if s.id == segment.id), None)
        await flow_repo.update_segment(segment)
        was = describe(before) if before else ""
        await record_audit(actor, "segment.update", segment.id, before=was, after=describe(segment), now=now)


async def move_segment_by(actor: str, segment_id: str, steps: int, now: datetime) -> bool:
    """Move a segment `steps` places earlier (negative) or later in the priority order, audited.

    Returns False when there is no such segment; a move past either end stops there.
    """
    async with unit_of_work():
        order = [s.id for s in await flow_repo.segments_by_priority()]
        if segment_id not in order:
            return False
        old = order.index(segment_id)
        new = min(max(old + steps, 0), len(order) - 1)
        order.insert(new, order.pop(old))
        await flow_repo.renumber_segments(order)
        if new != old:
            before, after = f"position {old + 1}", f"position {new + 1}"
            await record_audit(actor, "segment.move", segment_id, before=before, after=after, now=now)
    return True


async def delete_segment_by(actor: str, segment_id: str, now: datetime) -> bool:
    """Delete a segment (its customers fall through to the next match, or the default flow), audited.

    Past sessions keep the segment's id in their records. Returns False when there is no such segment.
    """
    async with unit_of_work():
        gone = next((s for s in await flow_repo.segments_by_priority() if s.id == segment_id), None)
        if gone is None:
            return False
        await flow_repo.delete_segment(segment_id)
        await record_audit(actor, "segment.delete", segment_id, before=describe(gone), now=now)
    return True
