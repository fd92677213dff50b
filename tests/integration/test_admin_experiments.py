"""Experiments from the admin: start with any number of weighted arms, compare cancel rates (holdout
included) within the experiment, pick the effect size to plan for, stop and promote the winner."""

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
from tests.integration.test_experiment_truth import read_page
from tests.integration.widget_client import start, step_of


def arm_form(token: str, *rows: tuple[str, int, str], holdout: str = "", name: str = "Four arms") -> dict[str, str]:
    form = {"name": name, "flow_key": "default", "arm_rows": str(len(rows)), "holdout": holdout, "_csrf_token": token}
    for i, (arm, version, weight) in enumerate(rows):
        form |= {f"arm_name_{i}": arm, f"arm_version_{i}": str(version), f"arm_weight_{i}": weight}
    return form


async def test_the_start_form_grows_and_keeps_what_was_typed(client: httpx.AsyncClient, clock: FakeClock) -> None:
    token = await login_as(client, "editor", clock)
    page = await client.get("/admin/experiments")
    assert "HX-Request" in page.headers["vary"]
    assert 'data-testid="arm-name-2"' in page.text and 'data-testid="arm-name-3"' not in page.text
    form = arm_form(token, ("control", 1, "45"), ("variant", 1, "45"), ("holdout", 1, "10"), holdout="2")
    grown = await client.post("/admin/experiments", data={**form, "action": "add-arm"})
    assert grown.status_code == 200
    assert 'data-testid="arm-name-3"' in grown.text
    assert 'name="arm_name_1" value="variant"' in grown.text
    assert re.search(r'name="holdout" value="2" checked', grown.text)
    assert await Experiment.count() == 0  # growing the form starts nothing

    bad = await client.post("/admin/experiments", data=arm_form(token, ("control", 1, "lots"), ("b", 1, "1")))
    assert bad.status_code == 422 and "whole-number weight" in bad.text
    assert 'name="arm_weight_0" value="lots"' in bad.text  # the form comes back as typed
    holdout_only = arm_form(token, ("a", 1, "0"), ("h", 1, "5"), holdout="1")
    refused = await client.post("/admin/experiments", data=holdout_only)
    assert refused.status_code == 422 and "other than the holdout" in refused.text


async def test_start_measure_and_promote(client: httpx.AsyncClient, settings: Settings, clock: FakeClock) -> None:
    control = await repo.published_version("default")
    assert control is not None
    variant = await publish_flow(dataclasses.replace(default_definition(), max_offers=1), clock(), note="one offer")
    token = await login_as(client, "editor", clock)
    rows = (
        ("control", control[0], "1"),
        ("variant", variant, "1"),
        ("variant-b", variant, "1"),
        ("holdout", control[0], "1"),
    )
    form = arm_form(token, *rows, holdout="3")
    assert (await client.post("/admin/experiments", data=form)).status_code == 303
    twice = await client.post("/admin/experiments", data=form)
    assert twice.status_code == 422
    assert "already has a running experiment" in twice.text

    cancelled_by: dict[str, set[str]] = {}
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
        assert (step_of(page.text) == "confirm") == row["holdout"]  # the holdout never sees an offer
        if step_of(page.text) != "confirm":
            await flow.post("cancel")
        await flow.post("confirm")
        cancelled_by.setdefault(row["arm_id"], set()).add(customer)
    _, again = await start(client, settings, clock, customer_id="cus_demo_ada")  # same customer, same arm
    await again.post("close")

    html = (await client.get("/admin/experiments")).text
    ((experiment_id, shown),) = read_page(html).items()
    assert set(shown) == {"control", "variant", "variant-b", "holdout"}
    for arm, customers in cancelled_by.items():
        # Ada's second session (closed) is the same customer in the same arm: counted once, still cancelled.
        assert (int(shown[arm]["data-n"]), int(shown[arm]["data-cancelled"])) == (len(customers), len(customers))
    assert sum(int(r["data-n"]) for r in shown.values()) == 3
    assert sum(int(r["data-sessions"]) for r in shown.values()) == 4
    assert "Not enough data yet" in html
    assert "Customers with a cancelled session ÷ n" in html  # the definition is on the page
    assert re.search(r'data-arm="holdout"[^>]*data-diff=""', html)  # the holdout is the control
    assert '<th scope="row">holdout <span class="badge">holdout</span> <span class="badge">control</span>' in html

    needed = {
        e: re.search(r'data-needed="(\d+)"', (await client.get(f"/admin/experiments?effect={e}")).text) for e in (2, 10)
    }
    two, ten = (int(m.group(1)) for m in needed.values() if m)
    assert two > ten > 0
    nonsense = await client.get("/admin/experiments?effect=7")
    assert 'value="5" selected' in nonsense.text  # only the offered sizes; anything else is the default

    (experiment,) = await Experiment.select(Experiment.id)
    assert experiment["id"] == experiment_id
    stopped = await client.post(
        f"/admin/experiments/{experiment_id}/stop", data={"winner": "variant", "_csrf_token": token}
    )
    assert stopped.status_code == 303
    latest = await repo.published_version("default")
    assert latest is not None and latest[1].max_offers == 1  # the variant's definition is now live
    assert re.search(r"winner: variant", (await client.get("/admin/experiments")).text)
