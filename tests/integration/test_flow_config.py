"""Saving flow configuration: invalid definitions, segments and experiments are refused with reasons."""

from __future__ import annotations

import dataclasses

import pytest
from litestar import Litestar

from flows import ReasonId, default_definition
from flows.experiments import Arm, Experiment
from flows.segments import Condition, Op, Segment
from offers import OfferId
from service.db.tables import Experiment as ExperimentRow
from service.db.tables import FlowVersion
from service.db.tables import Segment as SegmentRow
from service.repositories import flows as repo
from service.use_cases.flow_config import ConfigInvalid, publish_flow, save_segment, start_experiment
from tests.conftest import FakeClock


async def test_an_invalid_definition_is_refused_and_nothing_is_stored(app: Litestar, clock: FakeClock) -> None:
    base = default_definition()
    broken = dataclasses.replace(
        base, reasons=(dataclasses.replace(base.reasons[0], offer_ids=(OfferId("ghost"),)), *base.reasons[1:])
    )
    before = await FlowVersion.count()
    with pytest.raises(ConfigInvalid) as refused:
        await publish_flow(broken, clock())
    assert any("ghost" in p for p in refused.value.problems)
    assert await FlowVersion.count() == before


async def test_a_valid_definition_becomes_the_next_version(app: Litestar, clock: FakeClock) -> None:
    version_id = await publish_flow(dataclasses.replace(default_definition(), max_offers=1), clock(), note="one offer")
    published = await repo.published_version("default")
    assert published is not None
    assert published[0] == version_id
    assert published[1].max_offers == 1


async def test_segments_with_bad_rules_or_unknown_flows_are_refused(app: Litestar, clock: FakeClock) -> None:
    with pytest.raises(ConfigInvalid) as bad_rule:
        await save_segment(Segment("s", "S", "default", (Condition("mrr_cents", Op.GT, "lots"),)), 1, clock())
    assert "compares numbers" in bad_rule.value.problems[0]
    with pytest.raises(ConfigInvalid) as no_flow:
        await save_segment(Segment("s", "S", "nowhere"), 1, clock())
    assert "has no published version" in no_flow.value.problems[0]
    assert await SegmentRow.count() == 0
    await save_segment(Segment("s", "S", "default", (Condition("tenure_months", Op.LT, 3),)), 1, clock())
    assert [s.id for s in await repo.segments_by_priority()] == ["s"]


async def test_experiments_need_real_versions_and_only_one_runs_per_flow(app: Litestar, clock: FakeClock) -> None:
    published = await repo.published_version("default")
    assert published is not None
    good = Experiment("e1", "default", (Arm("a", 1, published[0]), Arm("b", 1, published[0], holdout=True)))
    with pytest.raises(ConfigInvalid) as missing:
        await start_experiment(Experiment("e0", "default", (Arm("a", 1, 999), Arm("b", 1, published[0]))), "x", clock())
    assert "does not exist" in missing.value.problems[0]
    await start_experiment(good, "Holdout test", clock())
    with pytest.raises(ConfigInvalid) as twice:
        await start_experiment(dataclasses.replace(good, id="e2"), "again", clock())
    assert "already has a running experiment" in twice.value.problems[0]
    assert await ExperimentRow.count() == 1
    assert ReasonId("too_expensive") in {r.id for r in published[1].reasons}
