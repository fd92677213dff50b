"""Experiments from the admin: start, results per arm (holdout included), stop and promote the winner."""

from __future__ import annotations

import dataclasses
import re

import httpx

from flows import default_definition
from service.db.tables import Experiment, FlowSession
from service.repositories import flows as repo
from service.settings import Settings
from service.use_cases.flow_config import publish_flow
from tests.conftest import FakeClock
from tests.integration.test_admin_pages import login_as
from tests.integration.widget_client import start, step_of


async def test_start_measure_and_promote(client: httpx.AsyncClient, settings: Settings, clock: FakeClock) -> None:
    control = await repo.published_version("default")
    assert control is not None
    variant = await publish_flow(dataclasses.replace(default_definition(), max_offers=1), clock(), note="one offer")
    token = await login_as(client, "editor", clock)
    bad = await client.post("/admin/experiments", data={"name": "x", "control": "nope", "_csrf_token": token})
    assert bad.status_code == 422 and "whole-number weights" in bad.text
    form = {
        "name": "Holdout check",
        "flow_key": "default",
        "control": control[0],
        "control_weight": "1",
        "variant": variant,
        "variant_weight": "0",
        "holdout_weight": "1",
        "_csrf_token": token,
    }
    assert (await client.post("/admin/experiments", data=form)).status_code == 303
    twice = await client.post("/admin/experiments", data=form)
    assert twice.status_code == 422
    assert "already has a running experiment" in twice.text

    arms_seen = set()
    for customer in ("cus_demo_ada", "cus_demo_grace", "cus_demo_linus"):
        _, flow = await start(client, settings, clock, customer_id=customer)
        await flow.post("continue")
        page = await flow.post("reason", {"reason": "competitor"})
        row = (
            await FlowSession.select(FlowSession.arm_id, FlowSession.holdout)
            .where(FlowSession.id == flow.session_id)
            .first()
        )
        assert row is not None
        arms_seen.add(row["arm_id"])
        assert (step_of(page.text) == "confirm") == row["holdout"]  # the holdout never sees an offer
        await flow.post("cancel")
        await flow.post("confirm")
    results = await client.get("/admin/experiments")
    assert "Holdout check" in results.text
    for arm in arms_seen:
        assert f'data-arm="{arm}"' in results.text
    assert "too early" in results.text

    (experiment,) = await Experiment.select(Experiment.id)
    stopped = await client.post(
        f"/admin/experiments/{experiment['id']}/stop", data={"winner": "variant", "_csrf_token": token}
    )
    assert stopped.status_code == 303
    latest = await repo.published_version("default")
    assert latest is not None and latest[1].max_offers == 1  # the variant's definition is now live
    assert re.search(r"winner: variant", (await client.get("/admin/experiments")).text)
