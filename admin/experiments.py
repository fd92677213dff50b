"""Experiments in the admin: start (weighted arms), compare cancel rates within each experiment, stop, promote.

Each arm is compared with its own experiment's control, never with figures pooled across experiments.
Rules: the statistics are pure functions (standard library only: math, statistics.NormalDist) of the arm
counts admin.queries reads; writes go through service.use_cases.flow_config (each audited there).

Definitions (the page states them too):
- n: customers with at least one customer session in the arm (test sessions left out). Customers, not
  sessions: the arm is drawn per customer, so a customer's second session is no new, independent trial.
- cancel rate: customers with a cancelled session ÷ n. Open and abandoned sessions stay in n: the arm was
  shown to them, and leaving them out would condition on an outcome the arm itself may change.
- control: the holdout arm when there is one, else the first arm.
Sources: Wilson score interval (Wilson 1927; Newcombe 1998a, Stat Med 17:857, method 3); difference
interval from the two Wilson intervals (Newcombe 1998b, Stat Med 17:873, method 10); the pooled
two-proportion z-test; per-arm sample size for a two-sided test of p1 = p2 (Fleiss, Levin & Paik,
*Statistical Methods for Rates and Proportions*, 3rd ed., eq. 4.14, without continuity correction).
"""

from __future__ import annotations

import dataclasses
import math
import secrets
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from admin import auth, queries
from flows.experiments import MAX_ARMS, Arm, Experiment
from service.deps import ClockDep
from service.use_cases.flow_config import ConfigInvalid, start_experiment_by, stop_experiment

_NORMAL = NormalDist()
Z_95 = _NORMAL.inv_cdf(0.975)
EFFECTS_PP = (2, 5, 10)  # minimum detectable effects offered on the page, in percentage points
DEFAULT_EFFECT_PP = 5
ALPHA, POWER = 0.05, 0.8
HEADERS = {"Vary": "HX-Request", "Cache-Control": "no-store"}
Interval = tuple[float, float]


# ------------------------------------------------------------------------------------ statistics (pure)
def wilson(successes: int, trials: int) -> Interval | None:
    """The Wilson score 95 % interval of successes/trials (None when there are no trials)."""
    if trials == 0:
        return None
    p, z2 = successes / trials, Z_95**2
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    margin = Z_95 * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials**2)) / (1 + z2 / trials)
    return max(0.0, centre - margin), min(1.0, centre + margin)


def newcombe_difference(s1: int, n1: int, s2: int, n2: int) -> Interval | None:
    """The 95 % interval of p1 - p2 from the two Wilson intervals (Newcombe 1998b, method 10)."""
    first, second = wilson(s1, n1), wilson(s2, n2)
    if first is None or second is None:
        return None
    p1, p2 = s1 / n1, s2 / n2
    (l1, u1), (l2, u2) = first, second
    low = p1 - p2 - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = p1 - p2 + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return max(-1.0, low), min(1.0, high)


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


def sample_size(p1: float, p2: float, *, alpha: float = ALPHA, power: float = POWER) -> int:
    """Customers per arm for a two-sided test at `alpha` to tell rates p1 and p2 apart with probability `power`
    (Fleiss, Levin & Paik eq. 4.14, no continuity correction)."""
    if not (0 <= p1 <= 1 and 0 <= p2 <= 1 and p1 != p2):
        raise ValueError("p1 and p2 must be two different proportions")
    z_alpha, z_power = _NORMAL.inv_cdf(1 - alpha / 2), _NORMAL.inv_cdf(power)
    mean = (p1 + p2) / 2
    root = z_alpha * math.sqrt(2 * mean * (1 - mean)) + z_power * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return math.ceil(root**2 / (p1 - p2) ** 2 - 1e-9)  # 1e-9: float noise must not push an exact integer up


def sample_size_per_arm(baseline: float, effect: float) -> int:
    """Customers per arm to detect a change of `effect` from `baseline`, up or down (the larger where both fit)."""
    if not (0 <= baseline <= 1 and 0 < effect <= 0.5):  # so at least one of the two directions fits
        raise ValueError("baseline must be in [0, 1] and effect in (0, 0.5]")
    return max(sample_size(baseline, other) for other in (baseline - effect, baseline + effect) if 0 <= other <= 1)


@dataclass(frozen=True, slots=True)
class ArmResult:
    arm: Arm
    counts: queries.ArmCounts
    is_control: bool
    rate: float | None  # cancel rate
    interval: Interval | None  # its Wilson 95 % interval
    difference: float | None  # rate minus the control's rate
    difference_interval: Interval | None  # Newcombe 95 %
    p_value: float | None  # pooled two-proportion z-test against the control
    verdict: str


@dataclass(frozen=True, slots=True)
class Comparison:
    """One experiment's arms against its own control; nothing here mixes in another experiment."""

    results: tuple[ArmResult, ...]
    control: Arm
    effect_pp: int
    baseline: float  # the control's observed cancel rate, or 0.5 before it has any customer
    needed: int  # customers each assigned arm needs for `effect_pp`
    smallest: int  # customers in the smallest assigned arm

    @property
    def enough(self) -> bool:
        return self.smallest >= self.needed


def _verdict(arm: Arm, interval: Interval | None, enough: bool) -> str:
    if arm.weight == 0:
        return "not assigned (weight 0)"
    if not enough:
        return "not enough data yet"
    if interval is None:
        return "no comparison"
    if interval[1] < 0:
        return "fewer cancellations than control"
    if interval[0] > 0:
        return "more cancellations than control"
    return "no difference detected"


def compare_arms(
    arms: tuple[Arm, ...], counts: tuple[queries.ArmCounts, ...], effect_pp: int = DEFAULT_EFFECT_PP
) -> Comparison:
    """Each arm's cancel rate and, against the control (holdout, else first arm), the difference and p-value."""
    control_index = next((i for i, arm in enumerate(arms) if arm.holdout), 0)
    control = counts[control_index]
    baseline = control.cancelled / control.customers if control.customers else 0.5
    needed = sample_size_per_arm(baseline, effect_pp / 100)
    smallest = min((c.customers for a, c in zip(arms, counts, strict=True) if a.weight > 0), default=0)
    enough = smallest >= needed
    results = []
    for index, (arm, c) in enumerate(zip(arms, counts, strict=True)):
        rate = c.cancelled / c.customers if c.customers else None
        is_control = index == control_index
        versus = (c.cancelled, c.customers, control.cancelled, control.customers)
        difference = None if is_control or rate is None or not control.customers else rate - baseline
        interval = None if is_control else newcombe_difference(*versus)
        p_value = None if is_control else two_proportion_p(*versus)
        verdict = "control" if is_control else _verdict(arm, interval, enough)
        own = wilson(c.cancelled, c.customers)
        results.append(ArmResult(arm, c, is_control, rate, own, difference, interval, p_value, verdict))
    return Comparison(tuple(results), arms[control_index], effect_pp, baseline, needed, smallest)


# ------------------------------------------------------------------------------------ the start form
@dataclass(frozen=True, slots=True)
class ArmRow:
    """One arm row of the start form, as typed (a row with a blank name is skipped)."""

    name: str = ""
    version: str = ""
    weight: str = ""


@dataclass(frozen=True, slots=True)
class Draft:
    """The start form's values, so a refused or growing form comes back as it was typed."""

    name: str
    flow_key: str
    rows: tuple[ArmRow, ...]
    holdout: int | None  # index of the holdout row


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def default_draft(versions: tuple[queries.VersionRecord, ...]) -> Draft:
    newest = str(versions[0].id) if versions else ""
    rows = (ArmRow("control", newest, "45"), ArmRow("variant", newest, "45"), ArmRow("holdout", newest, "10"))
    return Draft("", "default", rows, 2)


def draft_from(form: Any) -> Draft:
    count = min(max(_int(form.get("arm_rows")) or 0, 2), MAX_ARMS)
    rows = tuple(
        ArmRow(*(str(form.get(f"arm_{field}_{i}", "")).strip()[:64] for field in ("name", "version", "weight")))
        for i in range(count)
    )
    name, flow_key = str(form.get("name", "")).strip()[:120], str(form.get("flow_key", "")).strip()[:64]
    return Draft(name, flow_key or "default", rows, _int(form.get("holdout")))


def arms_of(draft: Draft) -> tuple[Arm, ...] | str:
    """The arms the filled-in rows describe, or a problem sentence."""
    arms = []
    for i, row in enumerate(draft.rows):
        if not row.name:
            continue
        version, weight = _int(row.version), _int(row.weight or "0")
        if version is None or weight is None:
            return f"Arm {row.name!r}: pick a flow version and a whole-number weight."
        arms.append(Arm(row.name, weight, version, holdout=i == draft.holdout))
    return tuple(arms)


# ------------------------------------------------------------------------------------ handlers
def _effect(value: str) -> int:
    chosen = _int(value)
    return chosen if chosen in EFFECTS_PP else DEFAULT_EFFECT_PP


async def _render(
    request: Request[Any, Any, Any],
    *,
    effect_pp: int = DEFAULT_EFFECT_PP,
    problems: tuple[str, ...] = (),
    draft: Draft | None = None,
    status: int = 200,
) -> Template:
    shown = []
    for experiment in await queries.experiments():
        counts = await queries.arm_counts(experiment.id, experiment.arms)
        shown.append({"row": experiment, "comparison": compare_arms(experiment.arms, counts, effect_pp)})
    versions = await queries.published_versions()  # arms run for real customers: never a preview draft
    context = {
        "experiments": shown,
        "versions": versions,
        "staff": request.state.staff,
        "problems": problems,
        "effects": EFFECTS_PP,
        "effect_pp": effect_pp,
        "draft": draft or default_draft(versions),
        "max_arms": MAX_ARMS,
    }
    return Template(template_name="admin/experiments.html", context=context, status_code=status, headers=HEADERS)


@get("/experiments", name="admin:experiments", guards=[auth.at_least("viewer")])
async def experiments_page(request: Request[Any, Any, Any], effect: FromQuery[str] = "") -> Template:
    return await _render(request, effect_pp=_effect(effect))


@post("/experiments", name="admin:experiments_start", guards=[auth.at_least("editor")])
async def start(request: Request[Any, Any, Any], clock: ClockDep) -> Template | Redirect:
    form = await request.form()
    draft = draft_from(form)
    if form.get("action") == "add-arm":  # no-JS growth: the same values and one more row
        rows = (*draft.rows, ArmRow()) if len(draft.rows) < MAX_ARMS else draft.rows
        return await _render(request, draft=dataclasses.replace(draft, rows=rows))
    arms = arms_of(draft)
    if isinstance(arms, str):
        return await _render(request, problems=(arms,), draft=draft, status=422)
    experiment = Experiment(f"exp_{secrets.token_hex(4)}", draft.flow_key, arms)
    try:
        await start_experiment_by(request.state.staff.email, experiment, draft.name or "Experiment", clock())
    except ConfigInvalid as exc:
        return await _render(request, problems=tuple(exc.problems), draft=draft, status=422)
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
