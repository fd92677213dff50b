"""Randomised save-flow sessions: the offer and flow catalogue, the walks and their seeded generator."""

# Rules: standard library plus the offer and flow *vocabulary* (offers.model, flows.model,
# flows.experiments.assign_arm for the arm a customer is bucketed into; that is an input the test
# needs to script the walk, not a metric). Nothing here reads the database: the test records what it
# did in a `tests.support.ledger.Ledger`, and `tests.support.recount.recount` applies issue 23's
# definitions to that ledger literally.
#
# Every price is chosen so these definitions give whole cents (yearly prices are multiples of 120),
# so the comparison is exact and no rounding convention is assumed.

from __future__ import annotations

import random
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
    months,
)

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
        PauseOffer(id=PAUSE, copy=_copy("Pause two months"), lengths=months(PAUSE_MONTHS)),
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
    REPEAT_CANCEL = "repeat_cancel"  # a second flow on a subscription already set to cancel: leave it to end
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


TRIAL_SOON = timedelta(days=7)  # flows.routing's TRIAL_ENDING_SOON, restated


def shown_offers(
    reason: ReasonId,
    variant: str,
    sub: Subscription,
    *,
    cancelling: bool,
    holdout: bool,
    trial_end: datetime | None = None,
    now: datetime | None = None,
) -> tuple[OfferId, ...]:
    """`trial_end` (the session's snapshot) and `now` (when the reason was chosen): a trial ending within a
    week leads with the trial extension, whatever the reason."""
    ranked = offer_ranking(reason, variant)
    if sub.trialing and trial_end is not None and now is not None and now < trial_end <= now + TRIAL_SOON:
        ranked = (TRIAL, *(o for o in ranked if o != TRIAL))
    return tuple(o for o in ranked if eligible(o, sub, cancelling=cancelling, holdout=holdout))[:2]


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
