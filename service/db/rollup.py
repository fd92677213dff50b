"""The dashboard rollup: recompute the days the triggers marked dirty, exactly, from the raw rows.

Only opened sessions count: a prepared widget nobody opened is no flow.

Rules: may import piccolo and service.db. Triggers (migration 2026-11-23T10:07:13) insert a session's
UTC start day into `rollup_dirty_day` whenever one of its metric columns or funnel events changes.
`refresh_dirty_days` deletes the mark *before* it re-aggregates the day in the same transaction, so
a change committed concurrently either is seen by the aggregate or marks the day dirty again (on
Postgres its insert waits for our delete to commit); a day can never be left stale and unmarked.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from service.db.engine import is_postgres, unit_of_work
from service.db.tables import DashboardRollup, RollupDirtyDay

DIMENSIONS = (
    "plan",
    "segment_id",
    "flow_version",
    "experiment_id",
    "arm_id",
    "holdout",
    "locale",
    "billing_interval",
    "test_mode",
    "reason",
    "offer_kind",
    "outcome",
    "finished_day",
    "currency",
    "repeat",
    "offer_id",
    "offers_shown",
    "retained_day",
)
MEASURES = (
    "sessions",
    "mrr_cents",
    "monthly_cents",
    "retained_cents",
    "retained_later_cents",
    "verified",
    "lapsed",
    "reached_continued",
    "reached_reason",
    "answered_offer",
    "accepted_offer",
    "confirmed_cancel",
)
FUNNEL_EVENTS = ("Continued", "ReasonChosen", "OfferAccepted", "OfferDeclined", "CancelConfirmed")


def _utc_day(column: str) -> str:
    if is_postgres():
        return f"COALESCE(to_char(s.{column} AT TIME ZONE 'UTC', 'YYYY-MM-DD'), '')"
    return f"COALESCE(substr(s.{column}, 1, 10), '')"


def _first_full_utc_day(column: str) -> str:
    """The first UTC day that starts at or after the moment in `column`: an amount that changes at
    22:00 (a pause resuming) counts from the next day, so no day is valued above what it billed."""
    if is_postgres():
        moment = f"(s.{column} AT TIME ZONE 'UTC')"
        day = f"date_trunc('day', {moment} + interval '1 day' - interval '1 microsecond')"
        return f"COALESCE(to_char({day}, 'YYYY-MM-DD'), '')"
    day = f"substr(s.{column}, 1, 10)"
    return f"COALESCE(CASE WHEN substr(s.{column}, 12, 8) > '00:00:00' THEN date({day}, '+1 day') ELSE {day} END, '')"


def _aggregate_sql() -> str:
    """INSERT … SELECT of one start day's rollup rows; placeholders: day, start, end, start, end."""
    flag = "MAX(CASE WHEN e.type IN ({types}) THEN 1 ELSE 0 END) AS {name}"
    flags = ", ".join(
        flag.format(types=", ".join(f"'{t}'" for t in types), name=name)
        for name, types in (
            ("continued", ("Continued",)),
            ("reason", ("ReasonChosen",)),
            ("answered", ("OfferAccepted", "OfferDeclined")),
            ("accepted", ("OfferAccepted",)),
            ("confirmed", ("CancelConfirmed",)),
        )
    )
    event_types = ", ".join(f"'{t}'" for t in FUNNEL_EVENTS)
    grouped = (
        "COALESCE(s.plan, ''), COALESCE(s.segment_id, ''), s.flow_version, COALESCE(s.experiment_id, ''),"
        " COALESCE(s.arm_id, ''), s.holdout, COALESCE(s.locale, ''), COALESCE(s.billing_interval, ''), s.test_mode,"
        f" COALESCE(s.reason, ''), COALESCE(s.offer_kind, ''), COALESCE(s.outcome, 'open'), {_utc_day('finished_at')},"
        " COALESCE(s.currency, ''), s.repeat, COALESCE(s.offer_id, ''), COALESCE(s.offers_shown, ''),"
        f" {_first_full_utc_day('retained_from')}"
    )
    return (
        f"INSERT INTO dashboard_rollup (day, {', '.join(DIMENSIONS)}, {', '.join(MEASURES)})"  # noqa: S608 - constants
        f" SELECT CAST({{}} AS VARCHAR(10)), {grouped}, COUNT(*), SUM(s.mrr_cents), SUM(s.monthly_cents),"
        " SUM(s.retained_cents), SUM(s.retained_later_cents),"
        " SUM(CASE WHEN s.verified_at IS NOT NULL THEN 1 ELSE 0 END),"
        " SUM(CASE WHEN s.save_lapsed_at IS NOT NULL THEN 1 ELSE 0 END),"
        " SUM(COALESCE(ev.continued, 0)), SUM(COALESCE(ev.reason, 0)), SUM(COALESCE(ev.answered, 0)),"
        " SUM(COALESCE(ev.accepted, 0)), SUM(COALESCE(ev.confirmed, 0))"
        " FROM flow_session s LEFT JOIN ("
        f"   SELECT e.session AS sid, {flags} FROM flow_event e JOIN flow_session d ON d.id = e.session"
        f"   WHERE d.started_at >= {{}} AND d.started_at < {{}} AND e.type IN ({event_types}) GROUP BY e.session"
        " ) ev ON ev.sid = s.id"
        f" WHERE s.started_at >= {{}} AND s.started_at < {{}} AND s.opened_at IS NOT NULL GROUP BY {grouped}"
    )


def day_bounds(day: str) -> tuple[datetime, datetime]:
    start = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC)
    return start, start + timedelta(days=1)


async def refresh_day(day: str) -> None:
    """Rebuild one start day's rollup rows from flow_session and flow_event (one transaction)."""
    start, end = day_bounds(day)
    async with unit_of_work():
        await RollupDirtyDay.delete().where(RollupDirtyDay.day == day)
        await DashboardRollup.delete().where(DashboardRollup.day == day)
        await DashboardRollup.raw(_aggregate_sql(), day, start, end, start, end)


async def refresh_dirty_days(limit: int | None = None) -> int:
    """Recompute every day marked dirty (oldest first, at most `limit`); returns how many."""
    query = RollupDirtyDay.select(RollupDirtyDay.day).order_by(RollupDirtyDay.day)
    if limit is not None:
        query = query.limit(limit)
    rows: list[dict[str, Any]] = await query
    for row in rows:
        day = str(row["day"])
        try:
            day_bounds(day)
        except ValueError:  # a malformed mark can't name rows; drop it rather than fail every read
            async with unit_of_work():
                await RollupDirtyDay.delete().where(RollupDirtyDay.day == day)
            continue
        await refresh_day(day)
    return len(rows)
