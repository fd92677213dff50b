"""Flow configuration use cases: publish a definition, store a draft, save a segment, start an experiment.

Rules: may import flows and service.db. Every write is validated by the pure checks first, so an
invalid configuration is refused with plain-language problems and never reaches a running session.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flows import FlowDefinition, validate_definition
from flows.experiments import Experiment, validate_experiment
from flows.segments import Segment, validate_segment
from service.db import flow_drafts
from service.db import repositories as repo
from service.db.uow import unit_of_work

if TYPE_CHECKING:
    from datetime import datetime


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
        return await repo.publish_version(definition, now, note)


async def save_draft(definition: FlowDefinition, now: datetime, note: str = "") -> int:
    """Store `definition` as a draft an admin can preview; customers are never routed to a draft."""
    problems = validate_definition(definition)
    if problems:
        raise ConfigInvalid(problems)
    async with unit_of_work():
        return await flow_drafts.save_draft(definition, now, note)


async def save_segment(segment: Segment, priority: int, now: datetime) -> None:
    problems = validate_segment(segment)
    if await repo.published_version(segment.flow_key) is None:
        problems.append(f"Flow {segment.flow_key!r} has no published version yet.")
    if problems:
        raise ConfigInvalid(problems)
    async with unit_of_work():
        await repo.save_segment(segment, priority, now)


async def start_experiment(experiment: Experiment, name: str, now: datetime) -> None:
    problems = validate_experiment(experiment)
    for arm in experiment.arms:
        status = await flow_drafts.version_status(arm.flow_version_id)
        if status is None:
            problems.append(f"Arm {arm.id!r} points at flow version {arm.flow_version_id}, which does not exist.")
        elif status == flow_drafts.DRAFT:  # an arm is served to real customers: drafts are for previews only
            problems.append(f"Arm {arm.id!r} points at a draft; publish it first.")
    if await repo.running_experiment(experiment.flow_key) is not None:
        problems.append(f"Flow {experiment.flow_key!r} already has a running experiment; stop it first.")
    if problems:
        raise ConfigInvalid(problems)
    async with unit_of_work():
        await repo.start_experiment(experiment, name, now)
