"""Every metric the admin shows, defined once, in SQL that runs the same on SQLite and Postgres.

Rules: may import service.db.tables and piccolo. Definitions (shown on the dashboard in these words):
- session: a cancellation flow that started in the range (test sessions excluded unless asked for);
- saved: an offer was accepted AND billing applied it;
- cancelled: the cancellation reached billing;
- abandoned: closed without either; open: still in progress;
- save rate: saved ÷ (saved + cancelled); abandons and open sessions are not in the denominator;
- deflection rate: (saved + abandoned) ÷ finished; the share of finished sessions that did not cancel;
- verified save rate: verified saves ÷ (saved + cancelled), over sessions finished at least N days
  ago only, so young saves are not counted as lost or kept;
- MRR saved / lost: the monthly amount of the subscriptions saved / cancelled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from service.db.tables import FlowSession

FILTER_COLUMNS = {
    "plan": "plan",
    "segment": "segment_id",
    "version": "flow_version",
    "arm": "arm_id",
    "locale": "locale",
}


@dataclass(frozen=True, slots=True)
class Filters:
    start: datetime
    end: datetime
    plan: str = ""
    segment: str = ""
    version: str = ""
    arm: str = ""
    locale: str = ""
    include_test: bool = False

    def where(self, table: str = "") -> tuple[str, list[Any]]:
        """A WHERE clause with `{}` placeholders (Piccolo's raw-query style) and its values.

        `table` qualifies the columns (e.g. "s." when flow_session is joined as s).
        """
        clauses = [f"{table}started_at >= {{}}", f"{table}started_at < {{}}"]
        values: list[Any] = [self.start, self.end]
        for name, column in FILTER_COLUMNS.items():
            value = getattr(self, name)
            if value:
                clauses.append(f"{table}{column} = {{}}")
                values.append(int(value) if column == "flow_version" and value.isdigit() else value)
        if not self.include_test:
            clauses.append(f"{table}test_mode = {{}}")
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


_COUNTS = (
    "COUNT(*) AS sessions,"
    " SUM(CASE WHEN outcome = 'saved' THEN 1 ELSE 0 END) AS saved,"
    " SUM(CASE WHEN outcome = 'cancelled' THEN 1 ELSE 0 END) AS cancelled,"
    " SUM(CASE WHEN outcome = 'abandoned' THEN 1 ELSE 0 END) AS abandoned,"
    " SUM(CASE WHEN outcome IS NULL THEN 1 ELSE 0 END) AS open,"
    " SUM(CASE WHEN outcome = 'saved' THEN mrr_cents ELSE 0 END) AS mrr_saved_cents,"
    " SUM(CASE WHEN outcome = 'cancelled' THEN mrr_cents ELSE 0 END) AS mrr_lost_cents"
)


def _counts(row: dict[str, Any]) -> Counts:
    return Counts(**{k: int(row.get(k) or 0) for k in Counts.__dataclass_fields__})


async def _query(sql: str, values: list[Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = await FlowSession.raw(sql, *values)
    return rows


async def totals(filters: Filters) -> Counts:
    where, values = filters.where()
    rows = await _query(f"SELECT {_COUNTS} FROM flow_session WHERE {where}", values)  # noqa: S608 - bound values
    return _counts(rows[0]) if rows else Counts()


async def breakdown(filters: Filters, column: str, *, saved_only: bool = False) -> tuple[Breakdown, ...]:
    """Counts grouped by one column (`reason`, `offer_kind`, `segment_id`)."""
    if column not in ("reason", "offer_kind", "segment_id"):
        raise ValueError(column)
    where, values = filters.where()
    if saved_only:
        where += " AND outcome = 'saved'"
    sql = (
        f"SELECT COALESCE({column}, '') AS key, {_COUNTS} FROM flow_session WHERE {where}"  # noqa: S608
        f" GROUP BY COALESCE({column}, '') ORDER BY sessions DESC, key"
    )
    return tuple(Breakdown(str(r["key"]), _counts(r)) for r in await _query(sql, values))


async def trend(filters: Filters, bucket: str) -> tuple[Breakdown, ...]:
    """Counts per day, week or month; buckets are computed in Python so both databases agree."""
    where, values = filters.where()
    rows = await _query(
        f"SELECT started_at, outcome, mrr_cents FROM flow_session WHERE {where} ORDER BY started_at",  # noqa: S608
        values,
    )
    buckets: dict[str, dict[str, int]] = {}
    for row in rows:
        moment: datetime = row["started_at"]
        if bucket == "month":
            key = f"{moment:%Y-%m}"
        elif bucket == "week":
            year, week, _ = moment.isocalendar()
            key = f"{year}-W{week:02d}"
        else:
            key = f"{moment:%Y-%m-%d}"
        counts = buckets.setdefault(key, {"sessions": 0})
        counts["sessions"] += 1
        outcome = row["outcome"] or "open"
        counts[outcome] = counts.get(outcome, 0) + 1
        if outcome in ("saved", "cancelled"):
            name = "mrr_saved_cents" if outcome == "saved" else "mrr_lost_cents"
            counts[name] = counts.get(name, 0) + int(row["mrr_cents"] or 0)
    return tuple(Breakdown(key, _counts(counts)) for key, counts in buckets.items())


async def verified(filters: Filters, *, now: datetime, after: timedelta) -> Verified:
    where, values = filters.where()
    sql = (
        "SELECT SUM(CASE WHEN outcome IN ('saved', 'cancelled') THEN 1 ELSE 0 END) AS decided,"  # noqa: S608
        " SUM(CASE WHEN outcome = 'saved' AND verified_at IS NOT NULL THEN 1 ELSE 0 END) AS verified,"
        " SUM(CASE WHEN outcome = 'saved' AND save_lapsed_at IS NOT NULL THEN 1 ELSE 0 END) AS lapsed"
        f" FROM flow_session WHERE {where} AND finished_at <= {{}}"
    )
    rows = await _query(sql, [*values, now - after])
    row = rows[0] if rows else {}
    return Verified(int(row.get("decided") or 0), int(row.get("verified") or 0), int(row.get("lapsed") or 0))


FUNNEL = (
    ("Opened the flow", "Started"),
    ("Went past what they would lose", "Continued"),
    ("Gave a reason", "ReasonChosen"),
    ("Answered an offer", "OfferAccepted', 'OfferDeclined"),
    ("Accepted an offer", "OfferAccepted"),
    ("Confirmed the cancellation", "CancelConfirmed"),
)


async def funnel(filters: Filters) -> tuple[tuple[str, int], ...]:
    """How many sessions reached each step (distinct sessions with the step's event)."""
    where, values = filters.where("s.")
    result = []
    for label, types in FUNNEL:
        sql = (
            "SELECT COUNT(DISTINCT e.session) AS n FROM flow_event e JOIN flow_session s ON s.id = e.session"  # noqa: S608
            f" WHERE e.type IN ('{types}') AND {where}"  # constant event names; values are bound
        )
        rows = await _query(sql, values)
        result.append((label, int(rows[0]["n"] or 0) if rows else 0))
    return tuple(result)


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
    )
