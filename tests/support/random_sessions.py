"""Randomised save-flow sessions with known outcomes, and an independent recount of the dashboard.

Rules: standard library plus the offer and flow *vocabulary* (offers.model, flows.model,
flows.experiments.assign_arm for the arm a customer is bucketed into; that is an input the test
needs to script the walk, not a metric). Nothing here reads the database: the test records what it
did in a `Ledger`, and `recount` applies issue 23's definitions to that ledger literally:

- outcome: saved (accepted an offer that changed billing), kept ("Keep my subscription" or a
  no-billing offer such as training/contact), cancelled, abandoned (closed, or idle for
  `IDLE_AFTER`), open (none of those yet);
- each subscription counts at most once per billing period: a flow for a subscription that is
  already set to cancel is labelled a repeat and counted in no outcome and no money figure;
- money is monthly (yearly / 12) and per currency, never summed across currencies;
- net MRR retained: what a saved customer pays after the offer (downgrade: the new price;
  discount: the discounted price while it lasts; pause: 0 until billing resumes; trial extension:
  0 until the first paid invoice);
- verified: a paid invoice after the save and the subscription still active N days later;
- offer funnel: shown → accepted → verified; reason rows: sessions → saved → kept → cancelled.

Every price is chosen so these definitions give whole cents (yearly prices are multiples of 120),
so the comparison is exact and no rounding convention is assumed.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from flows.experiments import Arm, Experiment, assign_arm
from flows.model import FlowDefinition, FollowUp, ReasonDef, ReasonId
from offers.model import (
    DiscountOffer,
    DowngradeOffer,
    Offer,
    OfferCopy,
    OfferId,
    PauseOffer,
    TrainingOffer,
    TrialExtensionOffer,
)

IDLE_AFTER = timedelta(minutes=30)  # the default inactivity timeout
CURRENCIES = ("usd", "eur")
INTERVALS = ("month", "year")
PLANS = ("pro", "team")  # customers' plans; "starter" is the downgrade target only
# Whole-unit amounts: 30 % off and / 12 both give whole cents.
AMOUNTS: dict[tuple[str, str], dict[str, int]] = {
    ("usd", "month"): {"pro": 4900, "team": 9900, "starter": 1900},
    ("usd", "year"): {"pro": 46800, "team": 94800, "starter": 22800},
    ("eur", "month"): {"pro": 4500, "team": 8900, "starter": 1500},
    ("eur", "year"): {"pro": 43200, "team": 86400, "starter": 14400},
}
COUPON = "save30_3m"
DISCOUNT_PERCENT = 30
DISCOUNT_MONTHS = 3
PAUSE_MONTHS = 2

PAUSE = OfferId("rs-pause-2m")
DOWNGRADE = OfferId("rs-downgrade-starter")
DISCOUNT = OfferId("rs-discount-30")
TRIAL = OfferId("rs-trial-14")
TRAINING = OfferId("rs-training")
CONTACT = OfferId("rs-contact")
BILLING_OFFERS = (PAUSE, DOWNGRADE, DISCOUNT, TRIAL)  # accepting one of these is a save
NO_BILLING_OFFERS = (TRAINING, CONTACT)  # accepting one of these is "kept"
ALL_OFFERS = (*BILLING_OFFERS, *NO_BILLING_OFFERS)

EXPENSIVE, TEMPORARY, NOT_USING, MISSING, OTHER = (
    ReasonId("too_expensive"),
    ReasonId("temporary"),
    ReasonId("not_using"),
    ReasonId("missing_features"),
    ReasonId("other"),
)
REASONS = (EXPENSIVE, TEMPORARY, NOT_USING, MISSING, OTHER)


# ------------------------------------------------------------------------------------ catalogue
@dataclass(frozen=True, slots=True)
class PriceSpec:
    plan: str
    currency: str
    interval: str
    amount_cents: int

    @property
    def id(self) -> str:
        return f"price_rs_{self.plan}_{self.currency}_{self.interval}"

    @property
    def monthly_cents(self) -> int:
        return monthly(self.amount_cents, self.interval)


def monthly(amount_cents: int, interval: str) -> int:
    if interval == "month":
        return amount_cents
    assert interval == "year" and amount_cents % 12 == 0, (amount_cents, interval)
    return amount_cents // 12


def price_of(plan: str, currency: str, interval: str) -> PriceSpec:
    return PriceSpec(plan, currency, interval, AMOUNTS[(currency, interval)][plan])


def all_prices() -> list[PriceSpec]:
    return [price_of(p, c, i) for (c, i), plans in AMOUNTS.items() for p in plans]


def flow_key(currency: str, interval: str) -> str:
    return f"rs_{currency}_{interval}"


def _copy(title: str) -> OfferCopy:
    return OfferCopy(title=title, body=f"{title}.", accept_label=title)


def definition(currency: str, interval: str, *, variant: str) -> FlowDefinition:
    """One flow per currency and interval (the downgrade names a price); variant "b" ranks the
    too-expensive offers the other way round (an experiment arm)."""
    starter = price_of("starter", currency, interval)
    offers: tuple[Offer, ...] = (
        PauseOffer(id=PAUSE, copy=_copy("Pause two months"), months=PAUSE_MONTHS),
        DowngradeOffer(
            id=DOWNGRADE,
            copy=_copy("Switch to Starter"),
            price_id=starter.id,
            plan_name="Starter",
            amount_cents=starter.amount_cents,
        ),
        DiscountOffer(
            id=DISCOUNT,
            copy=_copy("30% off"),
            coupon_id=COUPON,
            percent_off=DISCOUNT_PERCENT,
            duration_months=DISCOUNT_MONTHS,
        ),
        TrialExtensionOffer(id=TRIAL, copy=_copy("Two more weeks"), days=14),
        TrainingOffer(id=TRAINING, copy=_copy("A free training"), booking_url="https://example.com/book"),
        TrainingOffer(id=CONTACT, copy=_copy("Talk to support"), booking_url="https://example.com/support"),
    )
    return FlowDefinition(
        key=flow_key(currency, interval),
        reasons=tuple(
            ReasonDef(
                id=r,
                label=r.replace("_", " ").capitalize(),
                offer_ids=offer_ranking(r, variant),
                follow_up=FollowUp.REQUIRED if r == OTHER else FollowUp.OPTIONAL,
            )
            for r in REASONS
        ),
        offers=offers,
        max_offers=2,
    )


def offer_ranking(reason: ReasonId, variant: str) -> tuple[OfferId, ...]:
    return {
        EXPENSIVE: (DISCOUNT, DOWNGRADE) if variant == "a" else (DOWNGRADE, DISCOUNT),
        TEMPORARY: (PAUSE,),
        NOT_USING: (TRIAL, TRAINING),
        MISSING: (CONTACT,),
        OTHER: (),
    }[reason]


# Experiments: on usd/month three arms (two variants and a holdout), on eur/year two arms.
EXPERIMENTS: dict[str, tuple[str, tuple[tuple[str, int, str, bool], ...]]] = {
    # flow key → (experiment id, ((arm id, weight, variant, holdout), …))
    flow_key("usd", "month"): (
        "rs_exp_price_order",
        (("a", 1, "a", False), ("b", 1, "b", False), ("hold", 1, "a", True)),
    ),
    flow_key("eur", "year"): ("rs_exp_holdout", (("a", 3, "a", False), ("hold", 1, "a", True))),
}


def experiment_of(key: str, version_ids: dict[tuple[str, str], int]) -> Experiment | None:
    """The running experiment on flow `key` given the version id of each (flow key, variant)."""
    if key not in EXPERIMENTS:
        return None
    experiment_id, arms = EXPERIMENTS[key]
    return Experiment(
        id=experiment_id,
        flow_key=key,
        arms=tuple(Arm(a, w, version_ids[(key, v)], holdout=h) for a, w, v, h in arms),
    )


# ------------------------------------------------------------------------------------ what sessions do
class Intent(StrEnum):
    SAVE = "save"  # accept `target` (a billing offer)
    KEEP_OFFER = "keep_offer"  # accept `target` (training / contact)
    KEEP_BUTTON = "keep_button"  # "Keep my subscription"
    CANCEL = "cancel"  # decline every offer, confirm
    CANCEL_LINK = "cancel_link"  # the always-visible cancel link on the first step, then confirm
    CLOSE = "close"  # close the widget at `stop_at`
    IDLE = "idle"  # stop at `stop_at` and never come back
    REPEAT_CANCEL = "repeat_cancel"  # a second flow on a subscription already set to cancel: cancel again
    REPEAT_CLOSE = "repeat_close"
    REPEAT_IDLE = "repeat_idle"


REPEATS = (Intent.REPEAT_CANCEL, Intent.REPEAT_CLOSE, Intent.REPEAT_IDLE)
STOP_STEPS = ("loss_aversion", "survey", "offer", "confirm")


@dataclass(frozen=True, slots=True)
class Subscription:
    id: str
    customer_id: str
    price: PriceSpec
    trialing: bool
    period_end: datetime
    trial_end: datetime | None


@dataclass(frozen=True, slots=True)
class Walk:
    """One session to run: who, what they intend, and the path there (all chosen up front)."""

    n: int
    subscription: Subscription
    intent: Intent
    reason: ReasonId | None = None
    target: OfferId | None = None  # the offer to accept
    stop_at: str = ""  # CLOSE / IDLE: the step to stop on
    test_mode: bool = False
    locale: str = "en"
    fresh: bool = False  # in the last batch: an idle stop there is still "open" at the first checkpoint
    fail_first: bool = False  # billing refuses the first accept (definitively): not a save
    billing: str = ""  # after a save: paid | past_due | unpaid | cancelled ("" = drawn at random)


def eligible(offer: OfferId, sub: Subscription, *, cancelling: bool, holdout: bool) -> bool:
    """The offer rules this catalogue meets (offers.eligibility's, restated): the holdout arm and a
    subscription set to cancel see none; a pause needs a paying subscription, a trial extension a trial."""
    if holdout or cancelling:
        return False
    if offer == PAUSE:
        return not sub.trialing
    if offer == TRIAL:
        return sub.trialing
    return True


def shown_offers(
    reason: ReasonId, variant: str, sub: Subscription, *, cancelling: bool, holdout: bool
) -> tuple[OfferId, ...]:
    ranked = offer_ranking(reason, variant)
    return tuple(o for o in ranked if eligible(o, sub, cancelling=cancelling, holdout=holdout))[:2]


# ------------------------------------------------------------------------------------ the ledger
@dataclass
class Record:
    """What one session did, as the test drove it (never read back from the service)."""

    walk: Walk
    session_id: str
    segment: str
    arm: str
    holdout: bool
    repeat: bool  # the subscription was already set to cancel when this flow started
    started_at: datetime
    last_activity: datetime
    reason: ReasonId | None = None
    shown: list[OfferId] = field(default_factory=list)
    accepted: OfferId | None = None
    terminal: str | None = None  # saved | kept | cancelled | abandoned, when the walk ended it
    finished_at: datetime | None = None
    events: list[str] = field(default_factory=list)  # the event types this test sent, in order

    @property
    def price(self) -> PriceSpec:
        return self.walk.subscription.price

    @property
    def currency(self) -> str:
        return self.price.currency


@dataclass(frozen=True, slots=True)
class BillingFact:
    """Something billing did after the flows (the test applies it at the provider and sends the webhook)."""

    at: datetime
    subscription_id: str
    kind: str  # invoice_paid | payment_failed | cancel_effective | pause_resumed | discount_ended
    status: str = ""  # payment_failed: the status it left (past_due | unpaid)


@dataclass
class Ledger:
    records: list[Record] = field(default_factory=list)
    facts: list[BillingFact] = field(default_factory=list)

    def facts_of(self, subscription_id: str, until: datetime) -> list[BillingFact]:
        return [f for f in self.facts if f.subscription_id == subscription_id and f.at <= until]


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


# ------------------------------------------------------------------------------------ the generator
@dataclass
class Generator:
    """Chooses subscriptions and walks from a seeded `random.Random` (no hypothesis, fully repeatable)."""

    rng: random.Random
    start: datetime
    n: int = 0
    subscriptions: list[Subscription] = field(default_factory=list)

    def subscription(self, *, trialing: bool | None = None, interval: str = "") -> Subscription:
        self.n += 1
        rng = self.rng
        currency, interval, plan = rng.choice(CURRENCIES), interval or rng.choice(INTERVALS), rng.choice(PLANS)
        is_trial = rng.random() < 0.2 if trialing is None else trialing
        # Period ends: monthly ones renew inside the verification window, yearly ones mostly not.
        days = rng.randint(2, 26) if interval == "month" else rng.choice([rng.randint(2, 26), rng.randint(40, 300)])
        sub = Subscription(
            id=f"sub_rs_{self.n:04d}",
            customer_id=f"cus_rs_{self.n:04d}",
            price=price_of(plan, currency, interval),
            trialing=is_trial,
            period_end=self.start + timedelta(days=days, hours=rng.randint(0, 23)),
            trial_end=self.start + timedelta(days=rng.randint(2, 9), hours=rng.randint(0, 23)) if is_trial else None,
        )
        self.subscriptions.append(sub)
        return sub

    def walk(self, sub: Subscription, *, holdout: bool, fresh: bool = False) -> Walk:
        """A random walk for a subscription's first flow; an offer to accept is one it will be shown."""
        rng = self.rng
        intents = [Intent.SAVE] * 6 + [Intent.KEEP_OFFER] * 2 + [Intent.CANCEL] * 4 + [Intent.CANCEL_LINK]
        intents += [Intent.CLOSE] * 2 + [Intent.IDLE] * 2 + [Intent.KEEP_BUTTON] * 2
        intent = rng.choice(intents)
        if intent in (Intent.SAVE, Intent.KEEP_OFFER) and holdout:
            intent = Intent.CANCEL  # the holdout arm is shown no offers
        target: OfferId | None = None
        if intent is Intent.SAVE:
            target = rng.choice([TRIAL] if sub.trialing else [PAUSE, DOWNGRADE, DISCOUNT])
        elif intent is Intent.KEEP_OFFER:
            target = rng.choice(NO_BILLING_OFFERS)
        test_mode = rng.random() < 0.06
        fail_first = intent is Intent.SAVE and not test_mode and rng.random() < 0.1
        return self.planned(sub, intent, target, fresh=fresh, test_mode=test_mode, fail_first=fail_first)

    def planned(
        self,
        sub: Subscription,
        intent: Intent,
        target: OfferId | None = None,
        *,
        stop_at: str = "",
        reason: ReasonId | None = None,
        fresh: bool = False,
        test_mode: bool = False,
        fail_first: bool = False,
        billing: str = "",
    ) -> Walk:
        """The walk `intent` asks for; what is not given (reason, where to stop) is drawn at random."""
        rng = self.rng
        self.n += 1
        if reason is None:
            reason = _reason_for(target) if target is not None else rng.choice(REASONS)
        if intent in (Intent.CLOSE, Intent.IDLE, Intent.REPEAT_CLOSE, Intent.REPEAT_IDLE) and not stop_at:
            stop_at = rng.choice(STOP_STEPS if intent in (Intent.CLOSE, Intent.IDLE) else REPEAT_STOPS)
        locale = rng.choice(["en", "en", "de"])
        return Walk(self.n, sub, intent, reason, target, stop_at, test_mode, locale, fresh, fail_first, billing)

    def repeat(self, sub: Subscription, intent: Intent | None = None) -> Walk:
        return self.planned(sub, intent or self.rng.choice(REPEATS))


@dataclass(frozen=True, slots=True)
class Stop:
    """One scripted walk of the tour; `billing` fixes what billing does after a save (else random)."""

    intent: Intent
    target: OfferId | None = None
    trialing: bool = False
    stop_at: str = ""
    fail_first: bool = False
    billing: str = ""  # paid | past_due | unpaid | cancelled


# The scripted part of every run, so each path is walked whatever the seed draws afterwards.
TOUR = (
    Stop(Intent.SAVE, PAUSE, billing="paid"),
    Stop(Intent.SAVE, PAUSE, billing="cancelled"),
    Stop(Intent.SAVE, DOWNGRADE, billing="paid"),
    Stop(Intent.SAVE, DISCOUNT, billing="past_due"),
    Stop(Intent.SAVE, DISCOUNT, billing="unpaid"),
    Stop(Intent.SAVE, TRIAL, trialing=True, billing="paid"),
    Stop(Intent.SAVE, DOWNGRADE, fail_first=True),
    Stop(Intent.KEEP_OFFER, TRAINING),
    Stop(Intent.KEEP_OFFER, CONTACT),
    Stop(Intent.KEEP_BUTTON),
    Stop(Intent.CANCEL),
    Stop(Intent.CANCEL_LINK),
    Stop(Intent.CANCEL, trialing=True),
    Stop(Intent.CLOSE, stop_at="offer"),
    Stop(Intent.IDLE, stop_at="survey"),
)
REPEAT_STOPS = ("loss_aversion", "survey", "confirm")


def _reason_for(offer: OfferId) -> ReasonId:
    return {
        PAUSE: TEMPORARY,
        DOWNGRADE: EXPENSIVE,
        DISCOUNT: EXPENSIVE,
        TRIAL: NOT_USING,
        TRAINING: NOT_USING,
        CONTACT: MISSING,
    }[offer]


def arm_for(experiment: Experiment | None, customer_id: str) -> tuple[str, str, bool]:
    """(experiment id, arm id, holdout) for this customer; the variant comes from `EXPERIMENTS`."""
    if experiment is None:
        return "", "", False
    arm = assign_arm(experiment, customer_id)
    return experiment.id, arm.id, arm.holdout


def variant_of(key: str, arm_id: str) -> str:
    if not arm_id:
        return "a"
    return next(v for a, _, v, _ in EXPERIMENTS[key][1] if a == arm_id)


# ------------------------------------------------------------------------------------ billing after the flows
def _add_months(moment: datetime, months: int) -> datetime:
    """Same day-of-month `months` later, clamped to the month's end (restated, not imported)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    last = (datetime(year + month // 12, month % 12 + 1, 1, tzinfo=moment.tzinfo) - timedelta(days=1)).day
    return moment.replace(year=year, month=month, day=min(moment.day, last))


def billing_facts(ledger: Ledger, rng: random.Random, *, horizon: datetime) -> list[BillingFact]:
    """What billing does to each counted subscription after its flow, up to `horizon`, oldest first.

    Cancellations take effect at period end. A save bills at its next invoice: period end for a
    downgrade or discount, the resumption for a pause (PAUSE_MONTHS after the start), the end of the
    extended trial; that invoice is paid or fails (past_due or unpaid), unless the customer cancelled
    outside the flow before. Discounts end after DISCOUNT_MONTHS. A status never changes back.
    """
    facts: list[BillingFact] = []
    for r in ledger.records:
        if r.walk.test_mode or r.repeat:
            continue
        sub = r.walk.subscription
        if r.terminal == "cancelled":
            facts.append(BillingFact(sub.period_end, sub.id, "cancel_effective"))
        if r.terminal != "saved":
            continue
        if r.accepted == PAUSE:
            invoice_at = _add_months(r.started_at, PAUSE_MONTHS)
            facts.append(BillingFact(invoice_at, sub.id, "pause_resumed"))
            invoice_at += timedelta(minutes=1)
        elif r.accepted == TRIAL:
            assert sub.trial_end is not None
            invoice_at = sub.trial_end + timedelta(days=14)
        else:
            invoice_at = sub.period_end
        if r.accepted == DISCOUNT:
            facts.append(BillingFact(_add_months(r.started_at, DISCOUNT_MONTHS), sub.id, "discount_ended"))
        draw = rng.random()
        then = r.walk.billing or (
            "cancelled" if draw < 0.1 else "paid" if draw < 0.8 else rng.choice(["past_due", "unpaid"])
        )
        if then == "cancelled":
            facts.append(BillingFact(r.started_at + timedelta(days=rng.randint(1, 20)), sub.id, "cancel_effective"))
        elif then == "paid":
            facts.append(BillingFact(invoice_at, sub.id, "invoice_paid"))
        else:
            facts.append(BillingFact(invoice_at, sub.id, "payment_failed", then))
    return sorted((f for f in facts if f.at <= horizon), key=lambda f: (f.at, f.subscription_id, f.kind))


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
