"""The independent recount: every dashboard figure, from the ledger alone, by issue 23's definitions."""

# Nothing here reads the database or the service; the definitions, applied literally:
#
# - outcome: saved (accepted an offer that changed billing), kept ("Keep my subscription" or a
#   no-billing offer such as training/contact), cancelled, abandoned (closed, or idle for
#   `IDLE_AFTER`), open (none of those yet);
# - each subscription counts at most once per billing period: a flow for a subscription that is
#   already set to cancel is labelled a repeat and counted in no outcome and no money figure;
# - money is monthly (yearly / 12) and per currency, never summed across currencies;
# - net MRR retained: what a saved customer pays after the offer (downgrade: the new price;
#   discount: the discounted price while it lasts; pause: 0 until billing resumes; trial extension:
#   0 until the first paid invoice);
# - verified: a paid invoice after the save and the subscription still active N days later;
# - offer funnel: shown → accepted → verified; reason rows: sessions → saved → kept → cancelled.
#
# Every price is chosen so these definitions give whole cents (yearly prices are multiples of 120),
# so the comparison is exact and no rounding convention is assumed.

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tests.support.ledger import BillingFact, Ledger, Record
from tests.support.random_sessions import ALL_OFFERS, DISCOUNT, DISCOUNT_PERCENT, DOWNGRADE, PAUSE, TRIAL, price_of

IDLE_AFTER = timedelta(minutes=30)  # the default inactivity timeout


# ------------------------------------------------------------------------------------ the recount
@dataclass(frozen=True, slots=True)
class MoneyRow:
    """One currency's monthly cents (admin.metrics.Money, by the definitions, not by its code)."""

    at_risk: int = 0  # list price of decided (saved, kept, cancelled) subscriptions
    retained: int = 0  # net MRR retained by saves
    saved_list: int = 0  # list price of saved subscriptions before their offer
    kept: int = 0  # list price of kept subscriptions
    lost: int = 0  # list price of cancelled subscriptions


@dataclass(frozen=True, slots=True)
class Counts:
    sessions: int = 0  # = saved + kept + cancelled + abandoned + open + repeat
    saved: int = 0
    kept: int = 0
    cancelled: int = 0
    abandoned: int = 0
    open: int = 0
    repeat: int = 0
    money: dict[str, MoneyRow] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class VerifiedRow:
    mature_decided: int  # decided sessions that finished before the UTC day N days ago
    mature_saved: int
    verified: int
    lapsed: int


@dataclass(frozen=True, slots=True)
class OfferRow:
    shown: int  # flows that saw it
    accepted: int  # flows it ended as saved or kept
    saved: int  # of those, saves
    verified: int  # its verified saves


@dataclass(frozen=True, slots=True)
class Figures:
    """Every dashboard figure this test checks, in the issue's terms."""

    currencies: tuple[str, ...]
    totals: Counts
    verified: VerifiedRow
    offers: dict[str, OfferRow]
    by_reason: dict[str, Counts]
    by_segment: dict[str, Counts]
    trend: dict[str, Counts]
    reasons_over_time: dict[str, dict[str, int]]
    funnel: dict[str, int]


FUNNEL_STEPS = (
    ("Opened the flow", ""),
    ("Went past what they would lose", "Continued"),
    ("Gave a reason", "ReasonChosen"),
    ("Answered an offer", "OfferAccepted OfferDeclined"),
    ("Accepted an offer", "OfferAccepted"),
    ("Confirmed the cancellation", "CancelConfirmed"),
)
DECIDED = ("saved", "kept", "cancelled")


def status_at(r: Record, at: datetime) -> str:
    """The one bucket a session counts in at `at`: repeat, or its outcome (idle long enough: abandoned)."""
    if r.repeat:
        return "repeat"
    if r.terminal is not None:
        return r.terminal
    return "abandoned" if at - r.last_activity >= IDLE_AFTER else "open"


def _facts(r: Record, ledger: Ledger, at: datetime) -> list[BillingFact]:
    return ledger.facts_of(r.walk.subscription.id, at)


def verified_at(r: Record, ledger: Ledger, at: datetime, verify_after: timedelta) -> bool:
    """A paid invoice after the save, and still active `verify_after` later (judged at `at`).

    The scenario never lets a status change back, so "no ending fact by `at`" is "active N days later".
    """
    if r.repeat or r.terminal != "saved" or r.finished_at is None or at < r.finished_at + verify_after:
        return False
    facts = _facts(r, ledger, at)
    paid = any(f.kind == "invoice_paid" and f.at > r.finished_at for f in facts)
    ended = any(f.kind in ("payment_failed", "cancel_effective") for f in facts)
    return paid and not ended


def lapsed_at(r: Record, ledger: Ledger, at: datetime) -> bool:
    """A save whose subscription ended or went unpaid (admin.metrics' word; `past_due` is not yet lapsed)."""
    if r.repeat or r.terminal != "saved":
        return False
    facts = _facts(r, ledger, at)
    return any(f.kind == "cancel_effective" or (f.kind == "payment_failed" and f.status == "unpaid") for f in facts)


def retained_at(r: Record, ledger: Ledger, at: datetime) -> int:
    """What a saved customer pays per month under the offer's terms, valued at `at`.

    Valued by the offer's terms only (the issue defines it per offer); what billing did later is what
    verified retention measures, so a later failed payment or cancellation does not change it.
    """
    assert r.terminal == "saved" and r.accepted is not None
    facts = _facts(r, ledger, at)
    price = r.price
    if r.accepted == DOWNGRADE:
        return price_of("starter", price.currency, price.interval).monthly_cents
    if r.accepted == DISCOUNT:
        if any(f.kind == "discount_ended" for f in facts):
            return price.monthly_cents
        return price.monthly_cents * (100 - DISCOUNT_PERCENT) // 100
    if r.accepted == PAUSE:
        return price.monthly_cents if any(f.kind == "pause_resumed" for f in facts) else 0
    if r.accepted == TRIAL:
        return price.monthly_cents if any(f.kind == "invoice_paid" for f in facts) else 0
    raise AssertionError(r.accepted)


def _counts(rows: list[Record], ledger: Ledger, at: datetime) -> Counts:
    statuses = Counter(status_at(r, at) for r in rows)
    money: dict[str, dict[str, int]] = {}
    for r in rows:
        status = status_at(r, at)
        if status not in DECIDED:
            continue
        m = money.setdefault(r.currency, Counter())
        m["at_risk"] += r.price.monthly_cents
        if status == "saved":
            m["saved_list"] += r.price.monthly_cents
            m["retained"] += retained_at(r, ledger, at)
        elif status == "kept":
            m["kept"] += r.price.monthly_cents
        else:
            m["lost"] += r.price.monthly_cents
    return Counts(
        sessions=len(rows),
        saved=statuses["saved"],
        kept=statuses["kept"],
        cancelled=statuses["cancelled"],
        abandoned=statuses["abandoned"],
        open=statuses["open"],
        repeat=statuses["repeat"],
        money={c: MoneyRow(**m) for c, m in money.items()},
    )


def _by(rows: list[Record], key: Callable[[Record], str], ledger: Ledger, at: datetime) -> dict[str, Counts]:
    groups: dict[str, list[Record]] = defaultdict(list)
    for r in rows:
        groups[key(r)].append(r)
    return {k: _counts(part, ledger, at) for k, part in groups.items()}


def recount(
    ledger: Ledger, at: datetime, *, verify_after: timedelta, where: Filter | None = None, include_test: bool = False
) -> Figures:
    """The dashboard's figures at `at`, from the ledger alone."""
    where = where or Filter()
    chosen = [r for r in ledger.records if (include_test or not r.walk.test_mode) and where.matches(r)]
    counted = [r for r in chosen if not r.repeat]
    cutoff = (at - verify_after).date()
    mature = [
        r
        for r in counted
        if status_at(r, at) in DECIDED and r.finished_at is not None and r.finished_at.date() < cutoff
    ]
    mature_saves = [r for r in mature if r.terminal == "saved"]
    offers = {
        str(o): OfferRow(
            shown=sum(1 for r in counted if o in r.shown),
            accepted=sum(1 for r in counted if r.accepted == o and status_at(r, at) in ("saved", "kept")),
            saved=sum(1 for r in counted if r.accepted == o and status_at(r, at) == "saved"),
            verified=sum(1 for r in counted if r.accepted == o and verified_at(r, ledger, at, verify_after)),
        )
        for o in ALL_OFFERS
    }
    reasons = {r.reason or "" for r in counted}
    periods: dict[str, dict[str, int]] = {}
    for r in counted:
        period = periods.setdefault(f"{r.started_at:%Y-%m-%d}", dict.fromkeys(reasons, 0))
        period[r.reason or ""] += 1
    funnel = {
        label: sum(1 for r in counted if not events or any(e in r.events for e in events.split()))
        for label, events in FUNNEL_STEPS
    }
    return Figures(
        currencies=tuple(sorted({r.currency for r in counted if status_at(r, at) in DECIDED})),
        totals=_counts(chosen, ledger, at),
        verified=VerifiedRow(
            mature_decided=len(mature),
            mature_saved=len(mature_saves),
            verified=sum(1 for r in mature_saves if verified_at(r, ledger, at, verify_after)),
            lapsed=sum(1 for r in mature_saves if lapsed_at(r, ledger, at)),
        ),
        offers={k: v for k, v in offers.items() if v.shown or v.accepted},
        by_reason=_by(chosen, lambda r: r.reason or "", ledger, at),
        by_segment=_by(chosen, lambda r: r.segment, ledger, at),
        trend=_by(chosen, lambda r: f"{r.started_at:%Y-%m-%d}", ledger, at),
        reasons_over_time=periods,
        funnel=funnel,
    )


@dataclass(frozen=True, slots=True)
class Filter:
    """A dashboard filter, as the ledger understands it (empty: any)."""

    plan: str = ""
    interval: str = ""
    segment: str = ""
    arm: str = ""
    day: str = ""  # one UTC start day, YYYY-MM-DD

    def matches(self, r: Record) -> bool:
        return (
            (not self.day or f"{r.started_at:%Y-%m-%d}" == self.day)
            and (not self.plan or r.price.plan == self.plan)
            and (not self.interval or r.price.interval == self.interval)
            and (not self.segment or r.segment == self.segment)
            and (not self.arm or r.arm == self.arm)
        )


def diff(expected: Figures, got: Figures) -> str:
    """The figures that differ, one per line: `name[key]: expected … got …`."""
    lines: list[str] = []
    for name in ("currencies", "totals", "verified", "funnel"):
        want, have = getattr(expected, name), getattr(got, name)
        if want != have:
            lines.append(f"{name}: expected {want} got {have}")
    for name in ("offers", "by_reason", "by_segment", "trend", "reasons_over_time"):
        want_rows, have_rows = getattr(expected, name), getattr(got, name)
        for key in sorted(set(want_rows) | set(have_rows)):
            if want_rows.get(key) != have_rows.get(key):
                lines.append(f"{name}[{key!r}]: expected {want_rows.get(key)} got {have_rows.get(key)}")
    return "\n".join(["", *lines])
