"""The dashboard rollup stays exact: random sessions, edits and deletes, checked against a recount.

Sessions are written straight into flow_session / flow_event (as any code path, or a DBA, could),
with rollup refreshes interleaved, so both the triggers and the incremental refresh are exercised.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar

from admin import metrics, queries
from service.db.rollup import refresh_dirty_days
from service.db.tables import DashboardRollup, FlowEvent, FlowSession, FlowVersion, RollupDirtyDay

BASE = datetime(2026, 3, 1, tzinfo=UTC)
AS_OF = f"{BASE + timedelta(days=5):%Y-%m-%d}"  # some retained amounts have switched by then, some not
OFFER_IDS = ["pause-1", "discount-20", "call-us"]
EVENTS = ("Started", "Continued", "ReasonChosen", "OfferDeclined", "OfferAccepted", "CancelConfirmed", "Closed")


@dataclass
class Row:
    id: str
    started_at: datetime
    plan: str
    interval: str
    segment: str | None
    locale: str
    test_mode: bool
    experiment: str | None
    holdout: bool
    reason: str | None = None
    outcome: str | None = None
    offer_kind: str | None = None
    mrr: int = 0
    finished_at: datetime | None = None
    verified: bool = False
    lapsed: bool = False
    events: list[str] = field(default_factory=list)
    currency: str = "usd"
    monthly: int = 0
    repeat: bool = False
    offer_id: str | None = None
    shown: tuple[str, ...] = ()
    retained: int = 0
    retained_later: int = 0
    retained_from: datetime | None = None


def _random_row(rng: random.Random, n: int) -> Row:
    # Start times cluster around midnight now and then, to catch off-by-one-day bugs.
    day = rng.randrange(0, 6)
    second = rng.choice([0, 1, 86_399, rng.randrange(86_400)])
    return Row(
        id=f"ses_{n:05d}",
        started_at=BASE + timedelta(days=day, seconds=second),
        plan=rng.choice(["starter", "team"]),
        interval=rng.choice(["month", "year"]),
        segment=rng.choice([None, "smb", "ent"]),
        locale=rng.choice(["en", "de"]),
        test_mode=rng.random() < 0.15,
        experiment=rng.choice([None, "exp1"]),
        holdout=False,
        mrr=rng.choice([0, 900, 4900, 9900]),
        events=["Started"],
        currency=rng.choice(["usd", "eur", "jpy"]),
        monthly=rng.choice([0, 75, 900, 4900]),
        repeat=rng.random() < 0.1,
    )


def _advance(rng: random.Random, row: Row) -> None:
    """Move a session on by a random legal-looking step (event plus denormalised columns)."""
    if row.outcome is not None:
        if row.outcome == "saved" and rng.random() < 0.5:
            row.verified, row.lapsed = (True, False) if rng.random() < 0.7 else (False, True)
        return
    finish = row.started_at + timedelta(minutes=rng.choice([1, 30, 60 * 30]))
    choice = rng.random()
    if "Continued" not in row.events:
        row.events.append("Continued")
    elif row.reason is None:
        row.reason = rng.choice(["too_expensive", "competitor", "missing_feature"])
        row.events.append("ReasonChosen")
        row.shown = tuple(rng.sample(OFFER_IDS, rng.randrange(0, 3)))
    elif choice < 0.3 and row.shown:
        row.events += ["OfferAccepted"]
        row.outcome, row.offer_kind, row.finished_at = "saved", rng.choice(["pause", "discount"]), finish
        row.offer_id = rng.choice(row.shown)
        row.retained, row.retained_later = rng.choice([0, 500]), rng.choice([500, 900])
        row.retained_from = rng.choice([None, BASE + timedelta(days=rng.randrange(0, 12))])
    elif choice < 0.4 and row.shown:
        row.events += ["OfferAccepted"]
        row.outcome, row.offer_kind, row.finished_at = "kept", "training", finish
        row.offer_id = rng.choice(row.shown)
    elif choice < 0.45:
        row.events.append("Closed")
        row.outcome, row.finished_at = "kept", finish
    elif choice < 0.6:
        row.events += ["OfferDeclined", "CancelConfirmed"]
        row.outcome, row.finished_at = "cancelled", finish
    elif choice < 0.8:
        row.events.append("Closed")
        row.outcome, row.finished_at = "abandoned", finish


async def _insert(row: Row, version_id: int) -> None:
    await FlowSession.insert(
        FlowSession(
            id=row.id,
            token_jti=f"jti-{row.id}",
            customer_id=f"cus-{row.id}",
            subscription_id=f"sub-{row.id}",
            locale=row.locale,
            flow_version=version_id,
            test_mode=row.test_mode,
            step="loss_aversion",
            mrr_cents=row.mrr,
            plan=row.plan,
            billing_interval=row.interval,
            segment_id=row.segment,
            experiment_id=row.experiment,
            arm_id=("holdout" if row.holdout else "a") if row.experiment else None,
            holdout=row.holdout,
            state="{}",
            context="{}",
            started_at=row.started_at,
            updated_at=row.started_at,
            opened_at=row.started_at,
            currency=row.currency,
            monthly_cents=row.monthly,
            repeat=row.repeat,
        )
    )
    await _write_events(row, 0)


async def _write_events(row: Row, already: int) -> None:
    for seq, kind in enumerate(row.events[already:], start=already):
        await FlowEvent.insert(FlowEvent(session=row.id, seq=seq, type=kind, payload="{}", at=row.started_at))


async def _update(row: Row, before_events: int) -> None:
    await FlowSession.update(
        {
            FlowSession.reason: row.reason,
            FlowSession.outcome: row.outcome,
            FlowSession.offer_kind: row.offer_kind,
            FlowSession.finished_at: row.finished_at,
            FlowSession.verified_at: row.finished_at if row.verified else None,
            FlowSession.save_lapsed_at: row.finished_at if row.lapsed else None,
            FlowSession.offer_id: row.offer_id,
            FlowSession.offers_shown: ",".join(row.shown),
            FlowSession.retained_cents: row.retained,
            FlowSession.retained_later_cents: row.retained_later,
            FlowSession.retained_from: row.retained_from,
        }
    ).where(FlowSession.id == row.id)
    await _write_events(row, before_events)


def _matches(row: Row, f: metrics.Filters) -> bool:
    return (
        f.start <= row.started_at.date() < f.end
        and (not f.plan or row.plan == f.plan)
        and (not f.interval or row.interval == f.interval)
        and (not f.segment or row.segment == f.segment)
        and (not f.locale or row.locale == f.locale)
        and (f.include_test or not row.test_mode)
    )


def _status(r: Row) -> str:
    return "repeat" if r.repeat else (r.outcome or "open")


def _first_full_day(moment: datetime) -> str:
    """The first UTC day starting at or after `moment`: a new amount counts from there."""
    at_midnight = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return f"{at_midnight if at_midnight == moment else at_midnight + timedelta(days=1):%Y-%m-%d}"


def _retained(r: Row, as_of: str) -> int:
    if _status(r) != "saved":
        return 0
    switched = r.retained_from is not None and _first_full_day(r.retained_from) <= as_of
    return r.retained_later if switched else r.retained


def _expected_money(rows: list[Row], as_of: str) -> tuple[metrics.Money, ...]:
    decided = [r for r in rows if _status(r) in ("saved", "kept", "cancelled")]
    return tuple(
        metrics.Money(
            currency,
            at_risk_cents=sum(r.monthly for r in mine),
            retained_cents=sum(_retained(r, as_of) for r in mine),
            saved_list_cents=sum(r.monthly for r in mine if _status(r) == "saved"),
            kept_cents=sum(r.monthly for r in mine if _status(r) == "kept"),
            lost_cents=sum(r.monthly for r in mine if _status(r) == "cancelled"),
        )
        for currency in sorted({r.currency for r in decided})
        for mine in [[r for r in decided if r.currency == currency]]
    )


def _expected_counts(rows: list[Row], as_of: str = AS_OF) -> metrics.Counts:
    status = [_status(r) for r in rows]
    return metrics.Counts(
        sessions=len(rows),
        saved=status.count("saved"),
        kept=status.count("kept"),
        cancelled=status.count("cancelled"),
        abandoned=status.count("abandoned"),
        open=status.count("open"),
        repeat=status.count("repeat"),
        money=_expected_money(rows, as_of),
    )


def _random_filters(rng: random.Random) -> metrics.Filters:
    first = BASE.date() + timedelta(days=rng.randrange(0, 4))
    return metrics.Filters(
        start=first,
        end=first + timedelta(days=rng.randrange(1, 4)),
        plan=rng.choice(["", "team"]),
        interval=rng.choice(["", "year"]),
        segment=rng.choice(["", "smb"]),
        locale=rng.choice(["", "de"]),
        include_test=rng.random() < 0.5,
    )


async def _check(rows: list[Row], f: metrics.Filters) -> None:
    chosen = [r for r in rows if _matches(r, f)]
    assert metrics.count(await queries.cells(f), AS_OF) == _expected_counts(chosen), f
    by_reason = {b.key: b.counts for b in metrics.breakdown_of(await queries.cells(f), "reason", AS_OF)}
    reasons = {r.reason or "" for r in chosen}
    assert by_reason == {k: _expected_counts([r for r in chosen if (r.reason or "") == k]) for k in reasons}
    trend = {b.key: b.counts.sessions for b in metrics.trend_of(await queries.cells(f), "day")}
    days = {f"{r.started_at:%Y-%m-%d}" for r in chosen}
    assert trend == {d: sum(1 for r in chosen if f"{r.started_at:%Y-%m-%d}" == d) for d in days}
    funnel = dict(metrics.funnel_of(await queries.cells(f)))
    in_funnel = [r for r in chosen if not r.repeat]  # repeat flows are in no outcome and no funnel
    assert funnel["Opened the flow"] == len(in_funnel)
    assert funnel["Gave a reason"] == sum(1 for r in in_funnel if "ReasonChosen" in r.events)
    assert funnel["Answered an offer"] == sum(
        1 for r in in_funnel if {"OfferAccepted", "OfferDeclined"} & set(r.events)
    )
    assert funnel["Confirmed the cancellation"] == sum(1 for r in in_funnel if "CancelConfirmed" in r.events)
    now = BASE + timedelta(days=9, hours=5)
    verified = metrics.verified_of(await queries.cells(f), metrics.maturity_cutoff(now, timedelta(days=5)))
    cutoff: date = (now - timedelta(days=5)).date()
    mature = [
        r
        for r in chosen
        if _status(r) in ("saved", "kept", "cancelled") and r.finished_at and r.finished_at.date() < cutoff
    ]
    assert verified.mature_decided == len(mature)
    assert verified.mature_saved == sum(1 for r in mature if _status(r) == "saved")
    assert verified.verified == sum(1 for r in mature if _status(r) == "saved" and r.verified)
    assert verified.lapsed == sum(1 for r in mature if _status(r) == "saved" and r.lapsed)
    counted = [r for r in in_funnel if not r.repeat]
    offers = {o.offer_id: (o.shown, o.accepted, o.verified) for o in metrics.offers_of(await queries.cells(f))}
    expected = {
        o: (
            sum(1 for r in counted if o in r.shown),
            sum(1 for r in counted if r.offer_id == o and r.outcome in ("saved", "kept")),
            sum(1 for r in counted if r.offer_id == o and r.outcome == "saved" and r.verified),
        )
        for o in {o for r in counted for o in r.shown}
    }
    assert offers == expected
    over_time = metrics.reasons_over_time(await queries.cells(f), "day")
    assert {(p.period, k): n for p in over_time for k, n in p.sessions if n} == {
        (d, k): n
        for d in {f"{r.started_at:%Y-%m-%d}" for r in counted}
        for k in {r.reason or "" for r in counted}
        if (n := sum(1 for r in counted if f"{r.started_at:%Y-%m-%d}" == d and (r.reason or "") == k))
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_rollup_matches_a_recount_after_random_writes(app: Litestar, seed: int) -> None:
    rng = random.Random(seed)
    version_id = int((await FlowVersion.select(FlowVersion.id).first() or {"id": 0})["id"])
    rows: list[Row] = []
    for n in range(40):
        row = _random_row(rng, n)
        rows.append(row)
        await _insert(row, version_id)
    for round_ in range(4):
        for row in rng.sample(rows, 25):
            before = len(row.events)
            _advance(rng, row)
            await _update(row, before)
        if round_ == 2:  # a deleted session leaves every figure
            gone = rows.pop(rng.randrange(len(rows)))
            await FlowEvent.delete().where(FlowEvent.session == gone.id)
            await FlowSession.delete().where(FlowSession.id == gone.id)
        for _ in range(3):
            await _check(rows, _random_filters(rng))
    assert await RollupDirtyDay.count() == 0  # the reads above caught up with every write


async def test_a_change_marks_only_its_own_day_dirty(app: Litestar) -> None:
    version_id = int((await FlowVersion.select(FlowVersion.id).first() or {"id": 0})["id"])
    rows = [_random_row(random.Random(9), n) for n in range(2)]
    rows[0].started_at, rows[1].started_at = BASE, BASE + timedelta(days=2)
    for row in rows:
        await _insert(row, version_id)
    await refresh_dirty_days()
    assert await RollupDirtyDay.count() == 0
    rows[1].reason = "competitor"
    await _update(rows[1], len(rows[1].events))
    dirty: list[dict[str, Any]] = await RollupDirtyDay.select()
    assert [d["day"] for d in dirty] == [f"{rows[1].started_at:%Y-%m-%d}"]
    # An update that changes no metric column (the admin's feedback tags) marks nothing.
    await refresh_dirty_days()
    await FlowSession.update({FlowSession.feedback_tags: "pricing"}).where(FlowSession.id == rows[0].id)
    assert await RollupDirtyDay.count() == 0
    assert await DashboardRollup.count() == 2
