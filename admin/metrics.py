"""Every metric the admin shows, defined once, as pure arithmetic over the per-day rollup's cells.

Rules: standard library only; admin.queries reads the cells (exact: dirty days are recomputed first)
and calls these folds. Definitions (shown on the dashboard in these words):
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
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable


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


@dataclass(frozen=True, slots=True)
class Cell:
    """One group of rollup rows: the dimensions the dashboard breaks down by, and their sums."""

    day: str
    reason: str
    offer_kind: str
    segment_id: str
    experiment_id: str
    holdout: bool
    outcome: str
    finished_day: str
    sessions: int
    mrr_cents: int
    verified: int
    lapsed: int
    reached: tuple[int, ...]  # per FUNNEL step after "opened", in order


FUNNEL = (
    ("Opened the flow", "sessions"),
    ("Went past what they would lose", "reached_continued"),
    ("Gave a reason", "reached_reason"),
    ("Answered an offer", "answered_offer"),
    ("Accepted an offer", "accepted_offer"),
    ("Confirmed the cancellation", "confirmed_cancel"),
)


# ---------------------------------------------------------------- pure folds over the cells
def count(selected: list[Cell]) -> Counts:
    by_outcome = dict.fromkeys(("saved", "cancelled", "abandoned", "open"), 0)
    mrr = {"saved": 0, "cancelled": 0}
    for cell in selected:
        by_outcome[cell.outcome] = by_outcome.get(cell.outcome, 0) + cell.sessions
        if cell.outcome in mrr:
            mrr[cell.outcome] += cell.mrr_cents
    return Counts(
        sessions=sum(c.sessions for c in selected),
        saved=by_outcome["saved"],
        cancelled=by_outcome["cancelled"],
        abandoned=by_outcome["abandoned"],
        open=by_outcome["open"],
        mrr_saved_cents=mrr["saved"],
        mrr_lost_cents=mrr["cancelled"],
    )


def group(selected: list[Cell], key: Callable[[Cell], str]) -> dict[str, list[Cell]]:
    groups: dict[str, list[Cell]] = {}
    for cell in selected:
        groups.setdefault(key(cell), []).append(cell)
    return groups


def breakdown_of(selected: list[Cell], column: str, *, saved_only: bool = False) -> tuple[Breakdown, ...]:
    """Counts grouped by `reason`, `offer_kind` or `segment_id`, biggest first; "" is "none"."""
    if column not in ("reason", "offer_kind", "segment_id"):
        raise ValueError(column)
    chosen = [c for c in selected if c.outcome == "saved"] if saved_only else selected
    rows = [Breakdown(key, count(part)) for key, part in group(chosen, lambda c: str(getattr(c, column))).items()]
    return tuple(sorted(rows, key=lambda b: (-b.counts.sessions, b.key)))


def bucket_of(day: str, bucket: str) -> str:
    """The trend period a UTC day belongs to: the day itself, its ISO week, or its month."""
    if bucket == "month":
        return day[:7]
    if bucket == "week":
        year, week, _ = date.fromisoformat(day).isocalendar()
        return f"{year}-W{week:02d}"
    return day


def trend_of(selected: list[Cell], bucket: str) -> tuple[Breakdown, ...]:
    """Counts per day, ISO week or month, oldest first."""
    ordered = sorted(selected, key=lambda c: c.day)
    return tuple(
        Breakdown(key, count(part)) for key, part in group(ordered, lambda c: bucket_of(c.day, bucket)).items()
    )


def maturity_cutoff(now: datetime, after: timedelta) -> str:
    """Sessions that finished before this UTC day are at least `after` old."""
    return f"{(now - after):%Y-%m-%d}"


def verified_of(selected: list[Cell], cutoff: str) -> Verified:
    mature = [c for c in selected if c.outcome in ("saved", "cancelled") and "" < c.finished_day < cutoff]
    saves = [c for c in mature if c.outcome == "saved"]
    return Verified(sum(c.sessions for c in mature), sum(c.verified for c in saves), sum(c.lapsed for c in saves))


def funnel_of(selected: list[Cell]) -> tuple[tuple[str, int], ...]:
    """How many sessions reached each step (each session counted once per step)."""
    reached = [sum(c.sessions for c in selected)] + [
        sum(c.reached[i] for c in selected) for i in range(len(FUNNEL) - 1)
    ]
    return tuple((label, n) for (label, _), n in zip(FUNNEL, reached, strict=True))


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


def holdout_of(selected: list[Cell]) -> Holdout | None:
    """The holdout comparison over experiments that had holdout sessions in range, or None."""
    held_out = {c.experiment_id for c in selected if c.experiment_id and c.holdout and c.sessions}
    if not held_out:
        return None
    within = [c for c in selected if c.experiment_id in held_out]
    return Holdout(holdout=count([c for c in within if c.holdout]), treated=count([c for c in within if not c.holdout]))


def dashboard_of(
    selected: list[Cell], filters: Filters, *, bucket: str, now: datetime, verify_after: timedelta
) -> Dashboard:
    """Every figure of the page from one pass over the cells."""
    return Dashboard(
        filters=filters,
        totals=count(selected),
        verified=verified_of(selected, maturity_cutoff(now, verify_after)),
        by_reason=breakdown_of(selected, "reason"),
        by_offer=breakdown_of(selected, "offer_kind", saved_only=True),
        by_segment=breakdown_of(selected, "segment_id"),
        trend=trend_of(selected, bucket),
        funnel=funnel_of(selected),
        holdout=holdout_of(selected),
    )
