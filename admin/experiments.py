"""Experiments in the admin: start one, read results per arm with confidence intervals and a
two-proportion z-test against the first arm, stop it, and promote the winner (republish its version).

Rules: the statistics are pure functions of the arm counts that admin.queries reads; writes go
through service.use_cases.flow_config (each audited there).
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from typing import Any

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from admin import auth, queries
from flows.experiments import Arm, Experiment
from service.deps import ClockDep
from service.use_cases.flow_config import ConfigInvalid, start_experiment_by, stop_experiment

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


def arm_results(arms: tuple[Arm, ...], counts: tuple[queries.ArmCounts, ...]) -> list[ArmResult]:
    """Each arm's save rate with its 95 % interval, and a test against the first arm (the control)."""
    results: list[ArmResult] = []
    control = counts[0] if counts else queries.ArmCounts()
    control_rate = control.saved / control.decided if control.decided else None
    for index, (arm, c) in enumerate(zip(arms, counts, strict=True)):
        low, high = wilson(c.saved, c.decided)
        p = None if index == 0 else two_proportion_p(c.saved, c.decided, control.saved, control.decided)
        rate = c.saved / c.decided if c.decided else None
        results.append(
            ArmResult(
                arm=arm.id,
                holdout=arm.holdout,
                sessions=c.sessions,
                saved=c.saved,
                decided=c.decided,
                verified=c.verified,
                mrr_saved_cents=c.mrr_saved_cents,
                low=low,
                high=high,
                p_value=p,
                verdict="control" if index == 0 else verdict(p, rate, control_rate, c.decided),
            )
        )
    return results


async def _render(request: Request[Any, Any, Any], problems: list[str], status: int = 200) -> Template:
    shown = []
    for experiment in await queries.experiments():
        counts = await queries.arm_counts(experiment.id, experiment.arms)
        shown.append({"row": experiment, "arms": experiment.arms, "results": arm_results(experiment.arms, counts)})
    # Arms run for real customers: never a preview draft.
    versions = await queries.published_versions()
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
        await start_experiment_by(request.state.staff.email, experiment, name, clock())
    except ConfigInvalid as exc:
        return await _render(request, exc.problems, 422)
    return Redirect(path="/admin/experiments", status_code=303)


@post("/experiments/{experiment_id:str}/stop", name="admin:experiments_stop", guards=[auth.at_least("editor")])
async def stop(request: Request[Any, Any, Any], experiment_id: FromPath[str], clock: ClockDep) -> Redirect:
    form = await request.form()
    winner = str(form.get("winner", ""))[:64]
    if not await stop_experiment(request.state.staff.email, experiment_id, winner=winner, now=clock()):
        raise NotFoundException("No such experiment.")
    return Redirect(path="/admin/experiments", status_code=303)


def experiment_handlers() -> list[Any]:
    return [experiments_page, start, stop]
