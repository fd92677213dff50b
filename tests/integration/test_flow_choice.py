"""Which flow a session gets: segments, experiments (with holdout), and version pinning, end to end."""

from __future__ import annotations

import dataclasses

import httpx

from flows import ReasonDef, ReasonId, default_definition
from flows.experiments import Arm, Experiment, assign_arm
from flows.segments import Condition, Op, Segment
from service.db.tables import FlowSession
from service.repositories import flows as repo
from service.settings import Settings
from tests.conftest import FakeClock
from tests.integration.widget_client import start, step_of


async def _session_row(session_id: str) -> dict[str, object]:
    row = await FlowSession.select().where(FlowSession.id == session_id).first()
    assert row is not None
    return row


async def test_the_first_matching_segment_picks_its_flow(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    german = dataclasses.replace(
        default_definition(),
        key="dach",
        reasons=(ReasonDef(ReasonId("zu_teuer"), "Zu teuer", ()), *default_definition().reasons[-1:]),
    )
    await repo.publish_version(german, clock())
    await repo.save_segment(
        Segment("enterprise", "Enterprise", "default", (Condition("mrr_cents", Op.GTE, 50000),)), 10, clock()
    )
    await repo.save_segment(
        Segment("dach", "DACH", "dach", (Condition("country", Op.IN, ("DE", "AT", "CH")),)), 20, clock()
    )

    _, grace = await start(client, settings, clock, customer_id="cus_demo_grace")  # country DE
    survey = await grace.post("continue")
    assert "Zu teuer" in survey.text
    assert (await _session_row(grace.session_id))["segment_id"] == "dach"

    _, ada = await start(client, settings, clock, customer_id="cus_demo_ada")  # country US
    survey = await ada.post("continue")
    assert "Zu teuer" not in survey.text
    assert "too expensive" in survey.text
    assert (await _session_row(ada.session_id))["segment_id"] is None


async def test_an_experiment_records_the_arm_and_the_holdout_sees_no_offers(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    published = await repo.published_version("default")
    assert published is not None
    version_id = published[0]
    experiment = Experiment(
        "pause-test", "default", (Arm("offers", 0, version_id), Arm("holdout", 1, version_id, True))
    )
    await repo.start_experiment(experiment, "Pause vs nothing", clock())
    assert assign_arm(experiment, "cus_demo_ada").id == "holdout"

    _, flow = await start(client, settings, clock)
    await flow.post("continue")
    after_reason = await flow.post("reason", {"reason": "too_expensive"})
    assert step_of(after_reason.text) == "confirm"  # no offer for the holdout arm
    row = await _session_row(flow.session_id)
    assert (row["experiment_id"], row["arm_id"], row["holdout"]) == ("pause-test", "holdout", True)


async def test_a_session_keeps_the_version_it_started_with(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    _, flow = await start(client, settings, clock)
    before = (await _session_row(flow.session_id))["flow_version"]
    no_offers = dataclasses.replace(default_definition(), max_offers=0)
    await repo.publish_version(no_offers, clock())
    await flow.post("continue")
    offer = await flow.post("reason", {"reason": "too_expensive"})
    assert step_of(offer.text) == "offer"  # still the old version's routing
    assert (await _session_row(flow.session_id))["flow_version"] == before
    _, newer = await start(client, settings, clock)
    assert (await _session_row(newer.session_id))["flow_version"] != before
