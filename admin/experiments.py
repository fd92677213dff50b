"""Experiments in the admin: start one, read results per arm with confidence intervals and a
two-proportion z-test against the first arm, stop it, and promote the winner (republish its version)."""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from typing import Any

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from admin import auth
from flows.experiments import Arm, Experiment
from service.db import codec
from service.db.tables import Experiment as ExperimentRow
from service.db.tables import FlowSession, FlowVersion
from service.deps import ClockDep
from service.use_cases.flow_config import ConfigInvalid, publish_flow, start_experiment

Z_95 = 1.959964


@dataclass(frozen=True, slots=True)
class ArmResult:
    arm: str
    holdout: bool
    sessions: int
    saved: int
    decided: int
    verified: int
    mrr_saved_cents: int
    low: float | None  # 95 % Wilson interval of the save rate
    high: float | None
    p_value: float | None  # vs. the first arm
    verdict: str

    @property
    def save_rate(self) -> float | None:
        return self.saved / self.decided if self.decided else None

    @property
    def mrr_per_exposure_cents(self) -> float | None:
        return self.mrr_saved_cents / self.sessions if self.sessions else None


def wilson(successes: int, trials: int) -> tuple[float | None, float | None]:
    if trials == 0:
        return None, None
    p = successes / trials
    centre = (p + Z_95**2 / (2 * trials)) / (1 + Z_95**2 / trials)
    margin = Z_95 * math.sqrt(p * (1 - p) / trials + Z_95**2 / (4 * trials**2)) / (1 + Z_95**2 / trials)
    return max(0.0, centre - margin), min(1.0, centre + margin)


def two_proportion_p(s1: int, n1: int, s2: int, n2: int) -> float | None:
    """Two-sided p-value of the pooled two-proportion z-test (None when it is undefined)."""
    if min(n1, n2) == 0:
        return None
    pooled = (s1 + s2) / (n1 + n2)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if spread == 0:
        return None
    z = (s1 / n1 - s2 / n2) / spread
    return math.erfc(abs(z) / math.sqrt(2))


def verdict(p_value: float | None, rate: float | None, control: float | None, decided: int) -> str:
    if decided < 30:
        return "too early (fewer than 30 decided sessions)"
    if p_value is None or rate is None or control is None:
        return "no comparison"
    if p_value < 0.05:
        return "better than control" if rate > control else "worse than control"
    return "no significant difference yet"


async def arm_results(experiment_id: str, arms: tuple[Arm, ...]) -> list[ArmResult]:
    rows = await FlowSession.raw(
        "SELECT arm_id, COUNT(*) AS sessions,"
        " SUM(CASE WHEN outcome = 'saved' THEN 1 ELSE 0 END) AS saved,"
        " SUM(CASE WHEN outcome IN ('saved', 'cancelled') THEN 1 ELSE 0 END) AS decided,"
        " SUM(CASE WHEN outcome = 'saved' AND verified_at IS NOT NULL THEN 1 ELSE 0 END) AS verified,"
        " SUM(CASE WHEN outcome = 'saved' THEN mrr_cents ELSE 0 END) AS mrr"
        " FROM flow_session WHERE experiment_id = {} AND test_mode = {} GROUP BY arm_id",
        experiment_id,
        False,
    )
    by_arm = {r["arm_id"]: r for r in rows}
    results: list[ArmResult] = []
    control: dict[str, Any] | None = None
    for index, arm in enumerate(arms):
        r = by_arm.get(arm.id, {})
        saved, decided = int(r.get("saved") or 0), int(r.get("decided") or 0)
        if index == 0:
            control = {"saved": saved, "decided": decided}
        low, high = wilson(saved, decided)
        p = (
            None
            if index == 0 or control is None
            else two_proportion_p(saved, decided, control["saved"], control["decided"])
        )
        control_rate = control["saved"] / control["decided"] if control and control["decided"] else None
        results.append(
            ArmResult(
                arm=arm.id,
                holdout=arm.holdout,
                sessions=int(r.get("sessions") or 0),
                saved=saved,
                decided=decided,
                verified=int(r.get("verified") or 0),
                mrr_saved_cents=int(r.get("mrr") or 0),
                low=low,
                high=high,
                p_value=p,
                verdict="control"
                if index == 0
                else verdict(p, saved / decided if decided else None, control_rate, decided),
            )
        )
    return results


async def _render(request: Request[Any, Any, Any], problems: list[str], status: int = 200) -> Template:
    rows = await ExperimentRow.select().order_by(ExperimentRow.started_at, ascending=False)
    shown = []
    for row in rows:
        arms = codec.arms_from_json(row["arms"])
        shown.append({"row": row, "arms": arms, "results": await arm_results(row["id"], arms)})
    versions = (
        await FlowVersion.select(FlowVersion.id, FlowVersion.flow_key, FlowVersion.number, FlowVersion.note)
        .where(FlowVersion.status == "published")  # arms run for real customers: never a preview draft
        .order_by(FlowVersion.id, ascending=False)
    )
    context = {"experiments": shown, "versions": versions, "staff": request.state.staff, "problems": problems}
    return Template(
        template_name="admin/experiments.html",
        context=context,
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


@get("/experiments", name="admin:experiments", guards=[auth.at_least("viewer")])
async def experiments_page(request: Request[Any, Any, Any]) -> Template:
    return await _render(request, [])


@post("/experiments", name="admin:experiments_start", guards=[auth.at_least("editor")])
async def start(request: Request[Any, Any, Any], clock: ClockDep) -> Template | Redirect:
    form = await request.form()
    try:
        control, variant = int(str(form.get("control", ""))), int(str(form.get("variant", "")))
        weights = [int(str(form.get(k) or 0)) for k in ("control_weight", "variant_weight", "holdout_weight")]
    except ValueError:
        return await _render(request, ["Pick two flow versions and whole-number weights."], 422)
    arms = [Arm("control", weights[0], control), Arm("variant", weights[1], variant)]
    if weights[2]:
        arms.append(Arm("holdout", weights[2], control, holdout=True))
    name = str(form.get("name", ""))[:120] or "Experiment"
    experiment = Experiment(f"exp_{secrets.token_hex(4)}", str(form.get("flow_key", "default"))[:64], tuple(arms))
    try:
        await start_experiment(experiment, name, clock())
    except ConfigInvalid as exc:
        return await _render(request, exc.problems, 422)
    await auth.audit(request.state.staff, "experiment.start", experiment.id, after=name, now=clock())
    return Redirect(path="/admin/experiments", status_code=303)


@post("/experiments/{experiment_id:str}/stop", name="admin:experiments_stop", guards=[auth.at_least("editor")])
async def stop(request: Request[Any, Any, Any], experiment_id: FromPath[str], clock: ClockDep) -> Redirect:
    form = await request.form()
    row = await ExperimentRow.select().where(ExperimentRow.id == experiment_id).first()
    if row is None:
        raise NotFoundException("No such experiment.")
    winner = str(form.get("winner", ""))
    arms = {a.id: a for a in codec.arms_from_json(row["arms"])}
    await ExperimentRow.update(
        {ExperimentRow.status: "stopped", ExperimentRow.stopped_at: clock(), ExperimentRow.winner_arm: winner or None}
    ).where(ExperimentRow.id == experiment_id)
    if winner in arms and not arms[winner].holdout:
        version = (
            await FlowVersion.select(FlowVersion.definition)
            .where(FlowVersion.id == arms[winner].flow_version_id)
            .first()
        )
        if version is not None:
            await publish_flow(
                codec.definition_from_json(version["definition"]),
                clock(),
                note=f"Promoted arm {winner} of {experiment_id}",
            )
    await auth.audit(
        request.state.staff, "experiment.stop", experiment_id, after=f"winner: {winner or 'none'}", now=clock()
    )
    return Redirect(path="/admin/experiments", status_code=303)


def experiment_handlers() -> list[Any]:
    return [experiments_page, start, stop]
