"""Every metric the admin shows, defined once, as pure arithmetic over the per-day rollup's cells.

Rules: standard library only; admin.queries reads the cells (exact: dirty days are recomputed first)
and calls these folds. The dashboard prints DEFINITIONS verbatim, so the page and the code agree.

`admin.queries.dashboard(filters, bucket=, now=, verify_after=)` returns a frozen `Dashboard`:
- `filters`, `as_of` (UTC day money is valued on), `verify_days`, `currencies` (sorted codes seen);
- `totals: Counts` — sessions = saved + kept + cancelled + abandoned + open + repeat; rates as
  properties (`decided`, `save_rate`, `retention_rate`); `money` one `Money` per currency;
- `verified: Verified` — mature_decided, mature_saved, verified, lapsed; `rate`, `share_of_saves`;
- `by_reason`, `by_segment: tuple[Breakdown]` (key + Counts; rows add up to `totals`);
- `offers: tuple[OfferFunnel]` — offer_id, shown, accepted, saved, verified; `accept_rate`, `verified_rate`;
- `trend: tuple[Breakdown]` (one per day, ISO week or month, oldest first; they add up to `totals`);
- `reasons_over_time: tuple[ReasonPeriod]` — period, then (reason, sessions) pairs;
- `funnel: tuple[(step label, sessions)]` — sessions that reached each step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

OUTCOMES = ("saved", "kept", "cancelled", "abandoned", "open", "reactivated")
EXIT_INTERVIEW = "exit_interview"  # the offer kind whose cancellations the dashboard also shows on their own
DEFINITIONS: tuple[tuple[str, str], ...] = (
    (
        "Session",
        "a cancellation flow opened in the date range (whole UTC days, by start; a widget the host preloaded"
        " counts once the user opens it); test sessions left out",
    ),
    ("Saved", "accepted an offer that changes billing (pause, discount, downgrade, trial) and billing applied it"),
    ("Kept", "chose “Keep my subscription”, or took an offer that changes no billing (a call or training)"),
    ("Cancelled", "the cancellation reached billing"),
    (
        "Exit interview",
        "cancelled after taking a paid exit interview (a call for an incentive): one of the cancelled, so in"
        " the save rate and MRR lost as a cancellation",
    ),
    ("Abandoned", "closed the widget, or did nothing for the configured idle time (default 30 minutes)"),
    ("Open", "still in progress (younger than the idle time)"),
    (
        "Repeat",
        "a subscription counts once per billing period, as its strongest outcome (cancelled, saved, kept,"
        " open, abandoned; the latest among equals): its other flows in the period, and any flow for a"
        " subscription already set to cancel, are repeats, counted here only, never in an outcome, money"
        " or a funnel",
    ),
    ("Save rate", "saved ÷ (saved + kept + cancelled); abandoned, open and repeat flows are not in it"),
    (
        "Reactivated",
        "a customer already set to cancel came back and kept the subscription (billing undid the"
        " cancellation); counted on its own, never a repeat, and not in the save rate",
    ),
    ("Retention rate", "(saved + kept) ÷ (saved + kept + cancelled)"),
    ("Money", "monthly, per currency, never converted or added across currencies; yearly prices ÷ 12"),
    ("MRR at risk", "the monthly list price of the subscriptions whose flow was decided (saved, kept or cancelled)"),
    (
        "Net MRR retained",
        "what saved customers pay after the offer, valued today: a downgrade the new price; a discount the"
        " discounted price while it lasts; a pause 0 until billing resumes, then the resumed price; a trial"
        " extension 0 until the first paid invoice; a new amount counts from the first full day it applies",
    ),
    ("MRR lost", "the monthly list price of the cancelled subscriptions"),
    (
        "Verified save",
        "an invoice was paid after the save and the subscription was still active N days later; the rate"
        " counts only sessions that finished before the UTC day N days ago",
    ),
    ("Offer funnel", "shown: flows that saw it; accepted: flows it saved or kept; verified: its verified saves"),
)


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
class Money:
    """One currency's monthly amounts, in minor units (cents)."""

    currency: str
    at_risk_cents: int = 0  # list price of decided (saved + kept + cancelled) subscriptions
    retained_cents: int = 0  # net MRR retained by saves, valued on `as_of`
    saved_list_cents: int = 0  # list price of the saved subscriptions, before their offer
    kept_cents: int = 0  # list price of the kept subscriptions
    lost_cents: int = 0  # list price of the cancelled subscriptions
    reactivated_cents: int = 0  # list price of the subscriptions whose cancellation was undone (won back)


@dataclass(frozen=True, slots=True)
class Counts:
    sessions: int = 0
    saved: int = 0
    kept: int = 0
    cancelled: int = 0
    abandoned: int = 0
    open: int = 0
    repeat: int = 0
    reactivated: int = 0
    exit_interview: int = 0  # of `cancelled`: took a paid exit interview (the subscription still ended)
    money: tuple[Money, ...] = ()

    @property
    def decided(self) -> int:
        return self.saved + self.kept + self.cancelled

    @property
    def save_rate(self) -> float | None:
        return self.saved / self.decided if self.decided else None

    @property
    def retention_rate(self) -> float | None:
        return (self.saved + self.kept) / self.decided if self.decided else None

    def money_in(self, currency: str) -> Money:
        return next((m for m in self.money if m.currency == currency), Money(currency))


@dataclass(frozen=True, slots=True)
class Verified:
    mature_decided: int
    verified: int
    lapsed: int
    mature_saved: int = 0

    @property
    def rate(self) -> float | None:
        """Verified saves ÷ mature decided sessions: the save rate that survived N days of billing."""
        return self.verified / self.mature_decided if self.mature_decided else None

    @property
    def share_of_saves(self) -> float | None:
        return self.verified / self.mature_saved if self.mature_saved else None


@dataclass(frozen=True, slots=True)
class Breakdown:
    key: str
    counts: Counts


@dataclass(frozen=True, slots=True)
class OfferFunnel:
    offer_id: str
    shown: int  # flows that saw the offer
    accepted: int  # flows it ended as saved or kept
    verified: int  # its verified saves
    saved: int = 0  # of `accepted`, the saves (a no-billing offer keeps, it never saves)

    @property
    def accept_rate(self) -> float | None:
        return self.accepted / self.shown if self.shown else None

    @property
    def verified_rate(self) -> float | None:
        """Verified ÷ saved: the share of this offer's saves that still paid N days later."""
        return self.verified / self.saved if self.saved else None


@dataclass(frozen=True, slots=True)
class ReasonPeriod:
    period: str
    sessions: tuple[tuple[str, int], ...]  # (reason, sessions), every reason of the range, same order


@dataclass(frozen=True, slots=True)
class Dashboard:
    filters: Filters
    as_of: str
    verify_days: int
    currencies: tuple[str, ...]
    totals: Counts
    verified: Verified
    by_reason: tuple[Breakdown, ...]
    by_segment: tuple[Breakdown, ...]
    offers: tuple[OfferFunnel, ...]
    trend: tuple[Breakdown, ...]
    reasons_over_time: tuple[ReasonPeriod, ...]
    funnel: tuple[tuple[str, int], ...] = field(default_factory=tuple)


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
    currency: str = ""
    repeat: bool = False
    offer_id: str = ""
    offers_shown: str = ""  # comma-separated offer ids
    retained_day: str = ""  # first full UTC day `retained_later_cents` applies; "" = never (or not yet)
    monthly_cents: int = 0
    retained_cents: int = 0
    retained_later_cents: int = 0

    @property
    def status(self) -> str:
        """The one bucket a session counts in: its outcome, or "repeat"."""
        return "repeat" if self.repeat else self.outcome

    def retained_on(self, day: str) -> int:
        """Net MRR retained on `day` (saves only)."""
        if self.status != "saved":
            return 0
        switched = self.retained_day != "" and self.retained_day <= day
        return self.retained_later_cents if switched else self.retained_cents


FUNNEL = (
    ("Opened the flow", "sessions"),
    ("Went past what they would lose", "reached_continued"),
    ("Gave a reason", "reached_reason"),
    ("Answered an offer", "answered_offer"),
    ("Accepted an offer", "accepted_offer"),
    ("Confirmed the cancellation", "confirmed_cancel"),
)


# ---------------------------------------------------------------- pure folds over the cells
def money_of(selected: Iterable[Cell], as_of: str) -> tuple[Money, ...]:
    """One Money per currency present, sorted by code; repeat flows add nothing."""
    sums: dict[str, dict[str, int]] = {}
    for cell in selected:
        status = cell.status
        if status not in ("saved", "kept", "cancelled", "reactivated"):
            continue
        m = sums.setdefault(cell.currency, dict.fromkeys(("at_risk", "retained", "saved", "kept", "lost", "back"), 0))
        if status == "reactivated":  # won back: not at risk in this flow (its cancellation counted already)
            m["back"] += cell.monthly_cents
            continue
        m["at_risk"] += cell.monthly_cents
        m["retained"] += cell.retained_on(as_of)
        m["saved" if status == "saved" else "kept" if status == "kept" else "lost"] += cell.monthly_cents
    return tuple(
        Money(c, m["at_risk"], m["retained"], m["saved"], m["kept"], m["lost"], m["back"])
        for c, m in sorted(sums.items())
    )


def count(selected: list[Cell], as_of: str = "9999-12-31") -> Counts:
    """Sessions by status (they add up), and their money valued on `as_of` (default: after every change)."""
    by_status = dict.fromkeys((*OUTCOMES, "repeat"), 0)
    for cell in selected:
        by_status[cell.status] = by_status.get(cell.status, 0) + cell.sessions
    return Counts(
        sessions=sum(c.sessions for c in selected),
        saved=by_status["saved"],
        kept=by_status["kept"],
        cancelled=by_status["cancelled"],
        abandoned=by_status["abandoned"],
        open=by_status["open"],
        repeat=by_status["repeat"],
        reactivated=by_status["reactivated"],
        exit_interview=sum(c.sessions for c in selected if c.status == "cancelled" and c.offer_kind == EXIT_INTERVIEW),
        money=money_of(selected, as_of),
    )


def group(selected: list[Cell], key: Callable[[Cell], str]) -> dict[str, list[Cell]]:
    groups: dict[str, list[Cell]] = {}
    for cell in selected:
        groups.setdefault(key(cell), []).append(cell)
    return groups


def breakdown_of(selected: list[Cell], column: str, as_of: str = "9999-12-31") -> tuple[Breakdown, ...]:
    """Counts grouped by `reason`, `offer_kind` or `segment_id`, biggest first; "" is "none"."""
    if column not in ("reason", "offer_kind", "segment_id"):
        raise ValueError(column)
    parts = group(selected, lambda c: str(getattr(c, column))).items()
    rows = [Breakdown(key, count(part, as_of)) for key, part in parts]
    return tuple(sorted(rows, key=lambda b: (-b.counts.sessions, b.key)))


def bucket_of(day: str, bucket: str) -> str:
    """The trend period a UTC day belongs to: the day itself, its ISO week, or its month."""
    if bucket == "month":
        return day[:7]
    if bucket == "week":
        year, week, _ = date.fromisoformat(day).isocalendar()
        return f"{year}-W{week:02d}"
    return day


def trend_of(selected: list[Cell], bucket: str, as_of: str = "9999-12-31") -> tuple[Breakdown, ...]:
    """Counts per start day, ISO week or month, oldest first (money valued on `as_of`, like the totals)."""
    ordered = sorted(selected, key=lambda c: c.day)
    return tuple(
        Breakdown(key, count(part, as_of)) for key, part in group(ordered, lambda c: bucket_of(c.day, bucket)).items()
    )


def reasons_over_time(selected: list[Cell], bucket: str) -> tuple[ReasonPeriod, ...]:
    """Sessions per reason per period (repeat flows left out), reasons biggest first overall."""
    counted = [c for c in selected if not c.repeat]
    totals: dict[str, int] = {}
    for cell in counted:
        totals[cell.reason] = totals.get(cell.reason, 0) + cell.sessions
    reasons = sorted(totals, key=lambda r: (-totals[r], r))
    periods = group(sorted(counted, key=lambda c: c.day), lambda c: bucket_of(c.day, bucket))
    result = []
    for period, part in periods.items():
        per = dict.fromkeys(reasons, 0)
        for cell in part:
            per[cell.reason] += cell.sessions
        result.append(ReasonPeriod(period, tuple(per.items())))
    return tuple(result)


def offers_of(selected: list[Cell]) -> tuple[OfferFunnel, ...]:
    """Per offer: sessions that saw it, that it saved or kept, and its verified saves; most shown first."""
    shown: dict[str, int] = {}
    accepted: dict[str, int] = {}
    saved: dict[str, int] = {}
    verified: dict[str, int] = {}
    for cell in selected:
        if cell.repeat:
            continue
        for offer_id in filter(None, cell.offers_shown.split(",")):
            shown[offer_id] = shown.get(offer_id, 0) + cell.sessions
        if cell.offer_id and cell.outcome in ("saved", "kept"):
            accepted[cell.offer_id] = accepted.get(cell.offer_id, 0) + cell.sessions
            if cell.outcome == "saved":
                saved[cell.offer_id] = saved.get(cell.offer_id, 0) + cell.sessions
                verified[cell.offer_id] = verified.get(cell.offer_id, 0) + cell.verified
    ids = sorted(set(shown) | set(accepted), key=lambda o: (-shown.get(o, 0), o))
    return tuple(OfferFunnel(o, shown.get(o, 0), accepted.get(o, 0), verified.get(o, 0), saved.get(o, 0)) for o in ids)


def maturity_cutoff(now: datetime, after: timedelta) -> str:
    """Sessions that finished before this UTC day are at least `after` old."""
    return f"{(now - after):%Y-%m-%d}"


def verified_of(selected: list[Cell], cutoff: str) -> Verified:
    """Verified saves among decided sessions (not repeats) that finished before `cutoff`."""
    mature = [c for c in selected if c.status in ("saved", "kept", "cancelled") and "" < c.finished_day < cutoff]
    saves = [c for c in mature if c.status == "saved"]
    return Verified(
        mature_decided=sum(c.sessions for c in mature),
        verified=sum(c.verified for c in saves),
        lapsed=sum(c.lapsed for c in saves),
        mature_saved=sum(c.sessions for c in saves),
    )


def funnel_of(selected: list[Cell]) -> tuple[tuple[str, int], ...]:
    """How many sessions reached each step (each session counted once per step; repeat flows, for a
    subscription already leaving, are not in the funnel, as they are in no outcome)."""
    counted = [c for c in selected if not c.repeat]
    reached = [sum(c.sessions for c in counted)] + [sum(c.reached[i] for c in counted) for i in range(len(FUNNEL) - 1)]
    return tuple((label, n) for (label, _), n in zip(FUNNEL, reached, strict=True))


def dashboard_of(
    selected: list[Cell], filters: Filters, *, bucket: str, now: datetime, verify_after: timedelta
) -> Dashboard:
    """Every figure of the page from one pass over the cells."""
    as_of = f"{now:%Y-%m-%d}"
    return Dashboard(
        filters=filters,
        as_of=as_of,
        verify_days=verify_after.days,
        currencies=tuple(sorted({c.currency for c in selected if c.status in ("saved", "kept", "cancelled")})),
        totals=count(selected, as_of),
        verified=verified_of(selected, maturity_cutoff(now, verify_after)),
        by_reason=breakdown_of(selected, "reason", as_of),
        by_segment=breakdown_of(selected, "segment_id", as_of),
        offers=offers_of(selected),
        trend=trend_of(selected, bucket, as_of),
        reasons_over_time=reasons_over_time(selected, bucket),
        funnel=funnel_of(selected),
    )
