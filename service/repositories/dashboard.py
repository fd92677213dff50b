"""The dashboard rollup's read side: `dashboard_rollup` rows filtered and summed for the admin's metrics.

Rules: may import piccolo and service.db (tables, rollup). admin.queries calls `refresh` before each
read, so the sums are exact, and gives them their meaning (admin.metrics).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from piccolo.query.functions.aggregate import Sum

from service.db.rollup import MEASURES, refresh_dirty_days
from service.db.tables import DashboardRollup


@dataclass(frozen=True, slots=True)
class RollupFilter:
    """Which rollup rows to read: start days in [start, end), and exact values of the set dimensions."""

    start: date
    end: date
    plan: str = ""
    billing_interval: str = ""
    segment_id: str = ""
    flow_version: int | None = None
    arm_id: str = ""
    locale: str = ""
    include_test: bool = False


@dataclass(frozen=True, slots=True)
class RollupCell:
    """One group of rollup rows: the dimensions the dashboard breaks down by, and their sums."""

    day: str
    reason: str
    offer_kind: str
    segment_id: str
    experiment_id: str
    holdout: bool
    outcome: str
    finished_day: str
    currency: str
    repeat: bool
    offer_id: str
    offers_shown: str
    retained_day: str
    sessions: int
    mrr_cents: int
    monthly_cents: int
    retained_cents: int
    retained_later_cents: int
    verified: int
    lapsed: int
    reached_continued: int
    reached_reason: int
    answered_offer: int
    accepted_offer: int
    confirmed_cancel: int


_KEYS = (
    "day",
    "reason",
    "offer_kind",
    "segment_id",
    "experiment_id",
    "holdout",
    "outcome",
    "finished_day",
    "currency",
    "repeat",
    "offer_id",
    "offers_shown",
    "retained_day",
)


async def refresh() -> int:
    """Recompute the days the triggers marked dirty from the raw rows; returns how many.

    The rollup's own maintenance (service.db.rollup), which opens one transaction per day itself.
    """
    return await refresh_dirty_days()


async def rollup_cells(where: RollupFilter) -> tuple[RollupCell, ...]:
    """The filtered rollup, summed over the dimensions the dashboard does not show (`refresh` first)."""
    column = DashboardRollup._meta.get_column_by_name
    keys = [column(name) for name in _KEYS]
    query = DashboardRollup.select(*keys, *(Sum(column(name), alias=name) for name in MEASURES)).where(
        (DashboardRollup.day >= f"{where.start:%Y-%m-%d}") & (DashboardRollup.day < f"{where.end:%Y-%m-%d}")
    )
    for name, value in (
        ("plan", where.plan),
        ("billing_interval", where.billing_interval),
        ("segment_id", where.segment_id),
        ("arm_id", where.arm_id),
        ("locale", where.locale),
    ):
        if value:
            query = query.where(column(name) == value)
    if where.flow_version is not None:
        query = query.where(DashboardRollup.flow_version == where.flow_version)
    if not where.include_test:
        query = query.where(DashboardRollup.test_mode == False)  # noqa: E712 - Piccolo column comparison
    rows: list[dict[str, Any]] = await query.group_by(*keys)
    return tuple(_to_cell(r) for r in rows)


def _to_cell(r: dict[str, Any]) -> RollupCell:
    sums = [int(r[name] or 0) for name in MEASURES]
    return RollupCell(
        r["day"],
        r["reason"],
        r["offer_kind"],
        r["segment_id"],
        r["experiment_id"],
        bool(r["holdout"]),
        r["outcome"],
        r["finished_day"],
        r["currency"],
        bool(r["repeat"]),
        r["offer_id"],
        r["offers_shown"],
        r["retained_day"],
        *sums,
    )


@dataclass(frozen=True, slots=True)
class DimensionValues:
    """The distinct non-empty values of the rollup's filter dimensions, sorted."""

    plans: tuple[str, ...]
    intervals: tuple[str, ...]
    segments: tuple[str, ...]
    versions: tuple[int, ...]
    arms: tuple[tuple[str, str], ...]  # (experiment_id, arm_id)
    locales: tuple[str, ...]


async def dimension_values() -> DimensionValues:
    """Every value the dashboard's filters can match: distinct rollup dimensions, test rows included."""

    async def distinct(name: str) -> list[Any]:
        column = DashboardRollup._meta.get_column_by_name(name)
        rows = await DashboardRollup.select(column.as_alias("value")).distinct()
        return sorted(r["value"] for r in rows if r["value"] not in (None, ""))

    arms = await DashboardRollup.select(DashboardRollup.experiment_id, DashboardRollup.arm_id).distinct()
    return DimensionValues(
        plans=tuple(await distinct("plan")),
        intervals=tuple(await distinct("billing_interval")),
        segments=tuple(await distinct("segment_id")),
        versions=tuple(v for v in sorted(await distinct("flow_version"), reverse=True) if v),
        arms=tuple(sorted({(r["experiment_id"], r["arm_id"]) for r in arms if r["arm_id"]})),
        locales=tuple(await distinct("locale")),
    )
