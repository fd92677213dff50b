"""The recount test's driver: set-up, and walking sessions through the real use cases into the ledger."""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

import httpx

from flows import (
    CancelConfirmed,
    CancelRequested,
    Closed,
    Continued,
    Event,
    FlowState,
    OfferAccepted,
    OfferDeclined,
    Outcome,
    ReasonChosen,
    StepKind,
)
from flows.events import Kept
from flows.experiments import Experiment
from flows.model import Notice
from flows.segments import Condition, Op, Segment
from offers import ProviderRejected, SubscriptionSnapshot, SubscriptionStatus
from offers.providers.memory import InMemoryBillingProvider, Price
from service.repositories import flows as flow_repo
from service.security import EmbedClaims
from service.settings import Settings
from service.use_cases import sessions
from tests.conftest import FakeClock
from tests.support import ledger as lg
from tests.support import random_sessions as rs

MAIN_WALKS = 44
FRESH_WALKS = 5


@dataclass
class Harness:
    seed: int
    rng: random.Random
    client: httpx.AsyncClient
    billing: InMemoryBillingProvider
    clock: FakeClock
    settings: Settings
    start: datetime
    gen: rs.Generator
    experiments: dict[str, Experiment | None] = field(default_factory=dict)
    ledger: lg.Ledger = field(default_factory=lg.Ledger)
    cancelling: set[str] = field(default_factory=set)  # subscriptions set to cancel by a (non-test) flow
    repeated: set[str] = field(default_factory=set)
    mismatches: list[str] = field(default_factory=list)
    events: int = 0  # Stripe events sent

    @property
    def verify_after(self) -> timedelta:
        return timedelta(days=self.settings.verify_saves_after_days)

    @property
    def idle_after(self) -> timedelta:
        return timedelta(minutes=self.settings.abandon_after_minutes)

    def move_to(self, at: datetime) -> None:
        assert at >= self.clock(), (at, self.clock())
        self.clock.advance(seconds=(at - self.clock()).total_seconds())


# ------------------------------------------------------------------------------------ set-up
async def set_up(
    seed: int,
    client: httpx.AsyncClient,
    billing: InMemoryBillingProvider,
    clock: FakeClock,
    settings: Settings,
    *,
    start: time,
) -> Harness:
    """Tomorrow at `start` UTC: prices, the coupon, one flow per currency and interval (two variants
    where an experiment runs), a segment routing each subscription to its flow, two experiments."""
    assert (settings.abandon_after_minutes, settings.verify_saves_after_days) == (30, 30), "the issue's defaults"
    tomorrow = datetime.combine(clock().date() + timedelta(days=1), start, tzinfo=UTC)
    clock.advance(seconds=(tomorrow - clock()).total_seconds())
    h = Harness(
        seed,
        random.Random(seed),
        client,
        billing,
        clock,
        settings,
        clock(),
        rs.Generator(random.Random(~seed), clock()),
    )
    for p in rs.all_prices():
        h.billing.add_price(Price(p.id, p.amount_cents, currency=p.currency, interval=p.interval))
    h.billing.coupons.add(rs.COUPON)
    now = h.clock()
    version_ids: dict[tuple[str, str], int] = {}
    for priority, (currency, interval) in enumerate(rs.AMOUNTS):
        key = rs.flow_key(currency, interval)
        # Variant "b" exists only for experiment arms; a flow without an experiment runs "a".
        for variant in ("b", "a") if key in rs.EXPERIMENTS else ("a",):
            version_ids[(key, variant)] = await flow_repo.publish_version(
                rs.definition(currency, interval, variant=variant), now, note=f"recount {variant}"
            )
        conditions = (Condition("currency", Op.EQ, currency), Condition("interval", Op.EQ, interval))
        await flow_repo.save_segment(Segment(segment_id(key), f"{currency} {interval}", key, conditions), priority, now)
    for key in (rs.flow_key(c, i) for c, i in rs.AMOUNTS):
        experiment = rs.experiment_of(key, version_ids)
        h.experiments[key] = experiment
        if experiment is not None:
            await flow_repo.start_experiment(experiment, experiment.id, now)
    return h


def segment_id(key: str) -> str:
    return f"seg_{key}"


def add_subscription(h: Harness, sub: rs.Subscription) -> None:
    h.billing.add_subscription(
        SubscriptionSnapshot(
            id=sub.id,
            customer_id=sub.customer_id,
            status=SubscriptionStatus.TRIALING if sub.trialing else SubscriptionStatus.ACTIVE,
            price_id=sub.price.id,
            amount_cents=sub.price.amount_cents,
            currency=sub.price.currency,
            interval=sub.price.interval,
            current_period_end=sub.period_end,
            trial_end=sub.trial_end,
        )
    )


# ------------------------------------------------------------------------------------ walking
async def drive(h: Harness, walk: rs.Walk) -> lg.Record:
    """Walk one session through the use cases as `walk` intends, recording what was done."""
    sub = walk.subscription
    key = rs.flow_key(sub.price.currency, sub.price.interval)
    experiment_id, arm_id, holdout = rs.arm_for(h.experiments[key], sub.customer_id)
    repeat = sub.id in h.cancelling
    claims = EmbedClaims(
        sub=sub.customer_id,
        subscription_id=sub.id,
        jti=f"jti-rs-{walk.n:05d}-{secrets.token_hex(4)}",
        exp=0,
        iat=0,
        test=walk.test_mode,
        attrs={"plan": sub.price.plan, "interval": sub.price.interval, "mrr_cents": sub.price.amount_cents},
    )
    h.clock.advance(seconds=h.rng.randint(20, 150))
    view = await sessions.start_session(claims, billing=h.billing, clock=h.clock, locale=walk.locale)
    # Routing as set up (inputs, not metrics): a mismatch means the scenario itself is wrong.
    assert (view.session.segment_id, view.session.experiment_id or "", view.session.arm_id or "") == (
        segment_id(key),
        experiment_id,
        arm_id,
    )
    rec = lg.Record(
        walk=walk,
        session_id=view.session.id,
        segment=segment_id(key),
        arm=arm_id,
        holdout=holdout,
        repeat=repeat,
        started_at=h.clock(),
        last_activity=h.clock(),
    )
    h.ledger.records.append(rec)
    state = view.state

    async def send(make: Callable[[datetime], Event]) -> FlowState:
        h.clock.advance(seconds=h.rng.randint(3, 40))
        event = make(h.clock())
        rec.events.append(type(event).__name__)
        done = await sessions.handle_event(rec.session_id, event, billing=h.billing, clock=h.clock)
        rec.last_activity = h.clock()
        return done.state

    async def finish(outcome: str, make: Callable[[datetime], Event]) -> lg.Record:
        ended = await send(make)
        assert ended.outcome is Outcome(outcome), (walk, ended)
        rec.terminal, rec.finished_at = outcome, h.clock()
        if outcome == "cancelled" and not walk.test_mode:
            h.cancelling.add(sub.id)
        return rec

    async def stop() -> lg.Record:
        if walk.intent in (rs.Intent.CLOSE, rs.Intent.REPEAT_CLOSE):
            return await finish("abandoned", lambda at: Closed(at=at))
        return rec  # IDLE: left where it is, for the idle sweep (or still open)

    if view.session.context.snapshot.cancel_at_period_end:
        # Already set to cancel: the flow opens on keeping the subscription, and nothing can be cancelled
        # twice. These walks leave it to end: closed at once, or left for the idle sweep.
        assert state.step is StepKind.ENDING, state
        if walk.intent in (rs.Intent.IDLE, rs.Intent.REPEAT_IDLE):
            return rec
        return await finish("abandoned", lambda at: Closed(at=at))
    if state.step is StepKind.PAUSED:  # a pause taken earlier: these walks go on the usual way to cancel
        state = await send(lambda at: Continued(at=at))
    assert state.step is StepKind.LOSS_AVERSION, state
    if walk.intent is rs.Intent.CANCEL_LINK:
        state = await send(lambda at: CancelRequested(at=at))
        assert state.step is StepKind.CONFIRM, state
        return await finish("cancelled", lambda at: CancelConfirmed(at=at))
    if walk.stop_at == "loss_aversion":
        return await stop()
    state = await send(lambda at: Continued(at=at))
    assert state.step is StepKind.SURVEY, state
    if walk.stop_at == "survey":
        return await stop()
    assert walk.reason is not None
    reason = walk.reason
    state = await send(lambda at: ReasonChosen(at=at, reason=reason, comment="see notes" if reason == rs.OTHER else ""))
    rec.reason = reason
    variant = rs.variant_of(key, arm_id)
    trial_end, chosen_at = view.session.context.snapshot.trial_end, rec.last_activity  # when routing ran
    for offer in rs.shown_offers(
        reason, variant, sub, cancelling=repeat, holdout=holdout, trial_end=trial_end, now=chosen_at
    ):
        assert (state.step, state.current_offer) == (StepKind.OFFER, offer), (walk, state)
        rec.shown.append(offer)
        if offer == walk.target and walk.fail_first:
            h.billing.fail_next(ProviderRejected("card declined (injected)"))
            state = await send(lambda at, o=offer: OfferAccepted(at=at, offer_id=o))  # type: ignore[misc]
            assert state.outcome is None and state.notice is Notice.OFFER_UNAVAILABLE, (walk, state)
            continue  # the next offer, or the confirm step: this walk goes on to cancel
        if offer == walk.target:
            rec.accepted = offer
            kind = "saved" if offer in rs.BILLING_OFFERS else "kept"
            return await finish(kind, lambda at, o=offer: OfferAccepted(at=at, offer_id=o))  # type: ignore[misc]
        if walk.stop_at == "offer":
            return await stop()
        if walk.intent is rs.Intent.KEEP_BUTTON and h.rng.random() < 0.5:
            return await finish("kept", lambda at: Kept(at=at))
        state = await send(lambda at, o=offer: OfferDeclined(at=at, offer_id=o))  # type: ignore[misc]
    assert state.step is StepKind.CONFIRM, (walk, state)
    assert walk.target is None or walk.fail_first, f"the scenario expected {walk.target} to be shown: {walk}"
    if walk.stop_at in ("offer", "confirm"):
        return await stop()
    if walk.intent is rs.Intent.KEEP_BUTTON:
        return await finish("kept", lambda at: Kept(at=at))
    return await finish("cancelled", lambda at: CancelConfirmed(at=at))


async def walk_all(h: Harness) -> None:
    """The tour (every path once), random walks with repeat flows mixed in, a gap longer than the
    idle timeout, then a fresh batch whose idle walks are still open at the first checkpoint."""
    first_cancels: list[rs.Subscription] = []
    for stop in rs.TOUR:
        # A save whose billing is scripted is monthly: its next invoice falls in the verification window.
        interval = "month" if stop.billing else ""
        sub = h.gen.subscription(trialing=stop.trialing, interval=interval)
        while stop.target is not None and holdout_of(h, sub):  # the holdout arm is shown no offers
            sub = h.gen.subscription(trialing=stop.trialing, interval=interval)
        add_subscription(h, sub)
        walk = h.gen.planned(
            sub, stop.intent, stop.target, stop_at=stop.stop_at, fail_first=stop.fail_first, billing=stop.billing
        )
        await drive(h, walk)
        if stop.intent in (rs.Intent.CANCEL, rs.Intent.CANCEL_LINK):
            first_cancels.append(sub)
    for sub, again in zip(first_cancels, rs.REPEATS, strict=True):
        h.repeated.add(sub.id)
        await drive(h, h.gen.repeat(sub, again))
    for _ in range(MAIN_WALKS):
        sub = h.gen.subscription()
        add_subscription(h, sub)
        await drive(h, h.gen.walk(sub, holdout=holdout_of(h, sub)))
        waiting = sorted(h.cancelling - h.repeated)
        if waiting and h.rng.random() < 0.3:
            chosen = h.rng.choice(waiting)
            h.repeated.add(chosen)
            await drive(h, h.gen.repeat(next(s for s in h.gen.subscriptions if s.id == chosen)))
    h.clock.advance(minutes=45)
    for i in range(FRESH_WALKS):
        sub = h.gen.subscription()
        add_subscription(h, sub)
        if i == 0:
            walk = h.gen.planned(sub, rs.Intent.IDLE, stop_at="loss_aversion", fresh=True)
        else:
            walk = h.gen.walk(sub, holdout=holdout_of(h, sub), fresh=True)
        await drive(h, walk)
    newest = max(r.last_activity for r in h.ledger.records if r.walk.fresh)
    assert h.clock() - newest < h.idle_after - timedelta(minutes=5), "the fresh batch ran too long"


def holdout_of(h: Harness, sub: rs.Subscription) -> bool:
    return rs.arm_for(h.experiments[rs.flow_key(sub.price.currency, sub.price.interval)], sub.customer_id)[2]
