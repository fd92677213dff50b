"""Sample history for the demo: a few hundred past sessions walked through the real use cases.

Rules: the demo's shell only (`python -m service seed --sample-history`, which `make run` uses). Each
sample customer gets a subscription in a local in-memory provider and walks the published flow on a
back-dated clock, so sessions, events, billing operations and the dashboard rollup are exactly what
real traffic would leave. Saves old enough to verify are marked verified or lapsed, as the sweep
would have done.
"""

from __future__ import annotations

import dataclasses
import random
from datetime import datetime, timedelta

from flows import (
    CancelConfirmed,
    CancelRequested,
    Closed,
    Continued,
    Event,
    FeedbackGiven,
    FollowUp,
    InvalidInput,
    InvalidTransition,
    OfferAccepted,
    OfferDeclined,
    ReasonChosen,
    StepKind,
)
from offers.providers.memory import InMemoryBillingProvider, Price
from service import demo
from service.repositories import sessions as session_repo
from service.security import EmbedClaims
from service.use_cases import sessions

COMMENTS = (
    "We only use it a few weeks a year.",
    "Our budget was cut this quarter.",
    "Switching to a tool the rest of the company uses.",
    "Missing a Gantt view.",
    "Too many seats for a team our size.",
    "",
    "",
)


class _Clock:
    """A clock the seeding moves by hand, so every sample session happens in the past."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _next_event(rng: random.Random, view: sessions.SessionView, clock: _Clock, plan: str) -> Event:
    """What a customer of this temperament does on the step shown (save ~1/3, cancel ~1/2, else leave)."""
    state, definition = view.session.state, view.definition
    clock.now += timedelta(seconds=rng.randrange(5, 90))
    at = clock.now
    if rng.random() < 0.07:
        return Closed(at=at)
    if state.step is StepKind.LOSS_AVERSION:
        return Continued(at=at)
    if state.step is StepKind.SURVEY:
        reason = rng.choice(definition.reasons)
        said = [c for c in COMMENTS if c] if reason.follow_up is FollowUp.REQUIRED else COMMENTS
        return ReasonChosen(at=at, reason=reason.id, comment=rng.choice(said))
    if state.step is StepKind.OFFER and state.current_offer is not None:
        keen = 0.45 if plan == "starter" else 0.3
        if rng.random() < keen:
            return OfferAccepted(at=at, offer_id=state.current_offer)
        return OfferDeclined(at=at, offer_id=state.current_offer)
    if state.step is StepKind.FEEDBACK:
        return FeedbackGiven(at=at, text=rng.choice(COMMENTS))
    if state.step is StepKind.CONFIRM:
        return CancelConfirmed(at=at)
    return CancelRequested(at=at)


async def seed_history(now: datetime, *, count: int = 240, days: int = 60, verify_after_days: int = 30) -> int:
    """Walk `count` sample sessions started over the last `days`; returns how many were created."""
    rng = random.Random(20261123)  # noqa: S311 - reproducible sample data, not secrets
    clock = _Clock(now)
    billing = InMemoryBillingProvider(clock=clock)
    for price in demo.DEMO_PRICES:
        billing.add_price(Price(price.id, price.amount_cents, interval=price.interval))
    billing.coupons.update(demo.DEMO_COUPONS)
    for n in range(count):
        template = rng.choice(demo.DEMO_CUSTOMERS)
        price = rng.choice(demo.PAID_PRICES)
        clock.now = now - timedelta(days=rng.uniform(0, days))
        subscription = dataclasses.replace(
            demo.subscription_of(dataclasses.replace(template, price_id=price.id), clock.now),
            id=f"sub_sample_{n}",
            customer_id=f"cus_sample_{n}",
        )
        billing.add_subscription(subscription)
        plan = price.plan_name.lower()
        claims = EmbedClaims(
            sub=subscription.customer_id,
            subscription_id=subscription.id,
            jti=f"sample-history-{n:05d}",
            exp=0,
            iat=0,
            locale=template.locale,
            attrs={"plan": plan, "country": template.country},
        )
        view = await sessions.start_session(claims, billing=billing, clock=clock)
        for _ in range(12):
            if view.session.state.finished:
                break
            event = _next_event(rng, view, clock, plan)
            try:
                view = await sessions.handle_event(view.session.id, event, billing=billing, clock=clock)
            except (InvalidInput, InvalidTransition):  # the sample customer gives up, as people do
                view = await sessions.handle_event(view.session.id, Closed(at=clock.now), billing=billing, clock=clock)
        await _verify_if_mature(rng, view, now, timedelta(days=verify_after_days))
    return count


async def _verify_if_mature(rng: random.Random, view: sessions.SessionView, now: datetime, after: timedelta) -> None:
    state = view.session.state
    if state.outcome is None or state.outcome.value != "saved" or view.session.started_at > now - after:
        return
    await session_repo.backdate_save_verification(
        view.session.id, verified=rng.random() < 0.75, at=view.session.started_at + after
    )
