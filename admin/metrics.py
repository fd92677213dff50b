"""Every metric the admin shows, defined once, read from the exact per-day rollup (service/db/rollup.py).

Rules: may import service.db. Definitions (shown on the dashboard in these words):
- session: a cancellation flow that started in the range (whole UTC days; test sessions excluded
  unless asked for);
- saved: an offer was accepted AND billing applied it;
- cancelled: the cancellation reached billing;
- abandoned: closed without either; open: still in progress;
- save rate: saved ÷ (saved + cancelled); abandons and open sessions are not in the denominator;
- deflection rate: (saved + abandoned) ÷ finished; the share of finished sessions that did not cancel;
- verified save rate: verified saves ÷ (saved + cancelled), over sessions that finished before the
  start of the UTC day N days ago only, so every counted session is at least N days old;
- MRR saved / lost: the monthly amount of the subscriptions saved / cancelled;
- holdout: sessions an experiment showed no offers; compared with the same experiments' other arms
  by cancel rate (cancelled ÷ finished), the offers' effect without survivorship bias.
The rollup is refreshed (dirty days recomputed from the raw rows) before every read, so these
figures are exactly what the same SQL over flow_session would give.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from service.db.rollup import refresh_dirty_days
from service.db.tables import DashboardRollup

FILTER_COLUMNS = {
    "plan": "plan",
    "interval": "billing_interval",
    "segment": "segment_id",
    "version": "flow_version",
    "arm": "arm_id",
    "locale": "locale",
}


@dataclass(frozen=True, slots=True)
class Filters:
    start: date  # first UTC day, inclusive
    end: date  # last UTC day, exclusive
    plan: str = ""
    interval: str = ""
    segment: str = ""
    version: str = ""
    arm: str = ""
    locale: str = ""
    include_test: bool = False

    def where(self) -> tuple[str, list[Any]]:
        """A WHERE clause over dashboard_rollup with `{}` placeholders (Piccolo's raw style) and values."""
        clauses = ["day >= {}", "day < {}"]
        values: list[Any] = [f"{self.start:%Y-%m-%d}", f"{self.end:%Y-%m-%d}"]
        for name, column in FILTER_COLUMNS.items():
            value = getattr(self, name)
            if column == "flow_version":
                if value.isdigit():
                    clauses.append("flow_version = {}")
                    values.append(int(value))
                elif value:
                    clauses.append("1 = 0")  # not a version number: nothing matches
            elif value:
                clauses.append(f"{column} = {{}}")
                values.append(value)
        if not self.include_test:
            clauses.append("test_mode = {}")
            values.append(False)
        return " AND ".join(clauses), values


@dataclass(frozen=True, slots=True)
class Counts:
    sessions: int = 0
    saved: int = 0
    cancelled: int = 0
    abandoned: int = 0
    open: int = 0
    mrr_saved_cents: int = 0
    mrr_lost_cents: int = 0

    @property
    def decided(self) -> int:
        return self.saved + self.cancelled

    @property
    def save_rate(self) -> float | None:
        return self.saved / self.decided if self.decided else None

    @property
    def deflection_rate(self) -> float | None:
        finished = self.saved + self.cancelled + self.abandoned
        return (self.saved + self.abandoned) / finished if finished else None


@dataclass(frozen=True, slots=True)
class Verified:
    mature_decided: int
    verified: int
    lapsed: int

    @property
    def rate(self) -> float | None:
        return self.verified / self.mature_decided if self.mature_decided else None


@dataclass(frozen=True, slots=True)
class Breakdown:
    key: str
    counts: Counts


@dataclass(frozen=True, slots=True)
class Dashboard:
    filters: Filters
    totals: Counts
    verified: Verified
    by_reason: tuple[Breakdown, ...]
    by_offer: tuple[Breakdown, ...]
    by_segment: tuple[Breakdown, ...]
    trend: tuple[Breakdown, ...]
    funnel: tuple[tuple[str, int], ...] = field(default_factory=tuple)
    holdout: Holdout | None = None


_BY_OUTCOME = "outcome, SUM(sessions) AS n, SUM(mrr_cents) AS mrr"


def _add(counts: dict[str, int], row: dict[str, Any]) -> None:
    """Fold one (outcome, n, mrr) rollup row into a running Counts dict."""
    n, outcome = int(row["n"] or 0), str(row["outcome"])
    counts["sessions"] = counts.get("sessions", 0) + n
    counts[outcome] = counts.get(outcome, 0) + n
    if outcome in ("saved", "cancelled"):
        name = "mrr_saved_cents" if outcome == "saved" else "mrr_lost_cents"
        counts[name] = counts.get(name, 0) + int(row["mrr"] or 0)


def _counts(values: dict[str, int]) -> Counts:
    return Counts(**{k: int(values.get(k) or 0) for k in Counts.__dataclass_fields__})


async def _query(sql: str, values: list[Any]) -> list[dict[str, Any]]:
    """Run a read over the rollup after recomputing any day a write has marked dirty."""
    await refresh_dirty_days()
    rows: list[dict[str, Any]] = await DashboardRollup.raw(sql, *values)
    return rows


async def _grouped(filters: Filters, column: str, *, extra: str = "") -> dict[str, dict[str, int]]:
    where, values = filters.where()
    sql = (
        f"SELECT {column} AS key, {_BY_OUTCOME} FROM dashboard_rollup WHERE {where}{extra}"  # noqa: S608 - bound values
        f" GROUP BY {column}, outcome"
    )
    grouped: dict[str, dict[str, int]] = {}
    for row in await _query(sql, values):
        _add(grouped.setdefault(str(row["key"]), {}), row)
    return grouped


async def totals(filters: Filters) -> Counts:
    where, values = filters.where()
    counts: dict[str, int] = {}
    for row in await _query(f"SELECT {_BY_OUTCOME} FROM dashboard_rollup WHERE {where} GROUP BY outcome", values):  # noqa: S608
        _add(counts, row)
    return _counts(counts)


async def breakdown(filters: Filters, column: str, *, saved_only: bool = False) -> tuple[Breakdown, ...]:
    """Counts grouped by one column (`reason`, `offer_kind`, `segment_id`); "" is "none"."""
    if column not in ("reason", "offer_kind", "segment_id"):
        raise ValueError(column)
    grouped = await _grouped(filters, column, extra=" AND outcome = 'saved'" if saved_only else "")
    rows = [Breakdown(key, _counts(counts)) for key, counts in grouped.items()]
    return tuple(sorted(rows, key=lambda b: (-b.counts.sessions, b.key)))


def bucket_of(day: str, bucket: str) -> str:
    """The trend period a UTC day belongs to: the day itself, its ISO week, or its month."""
    if bucket == "month":
        return day[:7]
    if bucket == "week":
        year, week, _ = date.fromisoformat(day).isocalendar()
        return f"{year}-W{week:02d}"
    return day


async def trend(filters: Filters, bucket: str) -> tuple[Breakdown, ...]:
    """Counts per day, ISO week or month, oldest first."""
    buckets: dict[str, dict[str, int]] = {}
    for day, counts in sorted((await _grouped(filters, "day")).items()):
        merged = buckets.setdefault(bucket_of(day, bucket), {})
        for name, value in counts.items():
            merged[name] = merged.get(name, 0) + value
    return tuple(Breakdown(key, _counts(counts)) for key, counts in buckets.items())


def maturity_cutoff(now: datetime, after: timedelta) -> str:
    """Sessions that finished before this UTC day are at least `after` old."""
    return f"{(now - after):%Y-%m-%d}"


async def verified(filters: Filters, *, now: datetime, after: timedelta) -> Verified:
    where, values = filters.where()
    sql = (
        "SELECT SUM(sessions) AS decided,"  # noqa: S608 - bound values
        " SUM(CASE WHEN outcome = 'saved' THEN verified ELSE 0 END) AS verified,"
        " SUM(CASE WHEN outcome = 'saved' THEN lapsed ELSE 0 END) AS lapsed"
        f" FROM dashboard_rollup WHERE {where} AND outcome IN ('saved', 'cancelled')"
        " AND finished_day <> '' AND finished_day < {}"
    )
    rows = await _query(sql, [*values, maturity_cutoff(now, after)])
    row = rows[0] if rows else {}
    return Verified(int(row.get("decided") or 0), int(row.get("verified") or 0), int(row.get("lapsed") or 0))


FUNNEL = (
    ("Opened the flow", "sessions"),
    ("Went past what they would lose", "reached_continued"),
    ("Gave a reason", "reached_reason"),
    ("Answered an offer", "answered_offer"),
    ("Accepted an offer", "accepted_offer"),
    ("Confirmed the cancellation", "confirmed_cancel"),
)


async def funnel(filters: Filters) -> tuple[tuple[str, int], ...]:
    """How many sessions reached each step (each session counted once per step)."""
    where, values = filters.where()
    sums = ", ".join(f"SUM({column}) AS {column}" for _, column in FUNNEL)
    rows = await _query(f"SELECT {sums} FROM dashboard_rollup WHERE {where}", values)  # noqa: S608 - constants
    row = rows[0] if rows else {}
    return tuple((label, int(row.get(column) or 0)) for label, column in FUNNEL)


@dataclass(frozen=True, slots=True)
class Holdout:
    """Experiments with a holdout arm: how often customers cancelled without offers and with them."""

    holdout: Counts
    treated: Counts  # the same experiments' other arms

    @staticmethod
    def cancel_rate(counts: Counts) -> float | None:
        finished = counts.saved + counts.cancelled + counts.abandoned
        return counts.cancelled / finished if finished else None

    @property
    def holdout_cancel_rate(self) -> float | None:
        return self.cancel_rate(self.holdout)

    @property
    def treated_cancel_rate(self) -> float | None:
        return self.cancel_rate(self.treated)

    @property
    def prevented(self) -> float | None:
        """Cancellations the offers prevented among the treated finished sessions (can be negative)."""
        base, with_offers = self.holdout_cancel_rate, self.treated_cancel_rate
        if base is None or with_offers is None:
            return None
        return (base - with_offers) * (self.treated.saved + self.treated.cancelled + self.treated.abandoned)


async def holdout(filters: Filters) -> Holdout | None:
    """The holdout comparison over experiments that had holdout sessions in range, or None."""
    where, values = filters.where()
    sql = (
        f"SELECT experiment_id, holdout, {_BY_OUTCOME} FROM dashboard_rollup"  # noqa: S608 - bound values
        f" WHERE {where} AND experiment_id <> '' GROUP BY experiment_id, holdout, outcome"
    )
    rows = await _query(sql, values)
    with_holdout = {r["experiment_id"] for r in rows if r["holdout"] and int(r["n"] or 0)}
    if not with_holdout:
        return None
    held: dict[str, int] = {}
    treated: dict[str, int] = {}
    for row in rows:
        if row["experiment_id"] in with_holdout:
            _add(held if row["holdout"] else treated, row)
    return Holdout(holdout=_counts(held), treated=_counts(treated))


async def dashboard(filters: Filters, *, bucket: str, now: datetime, verify_after: timedelta) -> Dashboard:
    return Dashboard(
        filters=filters,
        totals=await totals(filters),
        verified=await verified(filters, now=now, after=verify_after),
        by_reason=await breakdown(filters, "reason"),
        by_offer=await breakdown(filters, "offer_kind", saved_only=True),
        by_segment=await breakdown(filters, "segment_id"),
        trend=await trend(filters, bucket),
        funnel=await funnel(filters),
        holdout=await holdout(filters),
    )
