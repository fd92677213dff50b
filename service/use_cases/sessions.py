"""Session use cases: start or resume a session, and handle one user event in the cosmicpython shape.

Rules: may import flows, offers (ports, never providers), service.db.engine, service.repositories,
service.security and service.use_cases. `handle_event` is the one way to load, decide and save:
load once in a unit of work → decide → save state, event, pending billing work and outbox (commit) →
call billing outside the transaction → feed the result back through decide → save (commit) → return.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import msgspec

from flows import (
    CustomerContext,
    Event,
    FlowDefinition,
    FlowState,
    InvalidTransition,
    SessionId,
    Started,
    decide,
    initial_state,
)
from flows.events import TimedOut
from flows.experiments import assign_arm
from flows.model import USER_STEPS
from flows.segments import Scalar, pick_segment
from offers import (
    ALL_CAPABILITIES,
    BillingProvider,
    Capability,
    EligibilityPolicy,
    SubscriptionSnapshot,
    SubscriptionStatus,
)
from offers.value import already_cancelling, monthly_cents
from service.db.engine import unit_of_work
from service.repositories import flows as flow_repo
from service.repositories import sessions as session_repo
from service.repositories.sessions import SessionNotFound, StoredSession
from service.security import FLOW_TOKEN_LIFETIME, EmbedClaims, TokenError, TokenProblem
from service.use_cases.billing_effects import call_billing, record_outcome
from service.use_cases.step_writes import count_once, save_step

__all__ = [
    "FlowNotConfigured",
    "SessionNotFound",
    "SessionView",
    "abandon_idle_sessions",
    "handle_event",
    "load_session",
    "open_session",
    "session_history",
    "start_preview_session",
    "start_session",
]

Clock = Callable[[], datetime]
DEFAULT_FLOW_KEY = "default"


class FlowNotConfigured(Exception):
    """No published flow version exists (run the migrations and `python -m service seed`)."""


@dataclass(frozen=True, slots=True)
class SessionView:
    """What the widget needs to render the current step."""

    session: StoredSession
    definition: FlowDefinition

    @property
    def state(self) -> FlowState:
        return self.session.state


def new_session_id() -> SessionId:
    return SessionId("ses_" + secrets.token_urlsafe(18))


def customer_attributes(claims: EmbedClaims, snapshot: SubscriptionSnapshot, locale: str) -> dict[str, Scalar]:
    """What segment rules see: billing facts first, then the host's token attributes (which win)."""
    derived: dict[str, Scalar] = {
        "trialing": snapshot.status is SubscriptionStatus.TRIALING,
        "currency": snapshot.currency,
        "interval": snapshot.interval,
        "mrr_cents": monthly_cents(snapshot.amount_cents, snapshot.interval, snapshot.interval_count),
        "locale": locale,
    }
    if claims.first_name:
        derived["first_name"] = claims.first_name  # a merge field for the flow's copy
    return {**derived, **claims.attrs}


@dataclass(frozen=True, slots=True)
class PinnedFlow:
    """An admin preview: this (draft) version and a synthesised subscription; billing is never read."""

    version_id: int
    definition: FlowDefinition
    snapshot: SubscriptionSnapshot


@dataclass(frozen=True, slots=True)
class FlowChoice:
    version_id: int
    definition: FlowDefinition
    segment_id: str | None
    experiment_id: str | None
    arm_id: str | None
    holdout: bool


async def choose_flow(customer_id: str, attributes: dict[str, Scalar]) -> FlowChoice:
    """First matching segment picks the flow; a running experiment on it picks the version (and holdout)."""
    segment = pick_segment(await flow_repo.segments_by_priority(), attributes)
    flow_key = segment.flow_key if segment else DEFAULT_FLOW_KEY
    segment_id = segment.id if segment else None
    experiment = await flow_repo.running_experiment(flow_key)
    if experiment is not None:
        arm = assign_arm(experiment, customer_id)
        definition = await flow_repo.definition_of_version(arm.flow_version_id)
        return FlowChoice(arm.flow_version_id, definition, segment_id, experiment.id, arm.id, arm.holdout)
    published = await flow_repo.published_version(flow_key) or await flow_repo.published_version(DEFAULT_FLOW_KEY)
    if published is None:
        raise FlowNotConfigured(flow_key)
    return FlowChoice(published[0], published[1], segment_id, None, None, False)


async def start_session(
    claims: EmbedClaims, *, billing: BillingProvider, clock: Clock, locale: str = "en", prepared: bool = False
) -> SessionView:
    """Start the session a verified embed token asks for, or resume it if this token started it.

    `prepared`: the host preloads the widget before the user asks for it; the session counts (in every
    list and figure) only from `open_session`, or from the user's first action in it.
    """
    existing = await session_repo.find_by_jti(claims.jti)
    if existing is not None:
        view = await _resume(existing, claims)
        return view if prepared else await open_session(view.session.id, clock=clock)
    # Reads happen before the write transaction so it stays short.
    snapshot = await billing.get_subscription(claims.subscription_id)
    attributes = customer_attributes(claims, snapshot, locale)
    choice = await choose_flow(claims.sub, attributes)
    return await _begin(
        claims,
        snapshot,
        attributes,
        choice,
        clock=clock,
        locale=locale,
        prepared=prepared,
        capabilities=billing.capabilities,
    )


async def open_session(session_id: str, *, clock: Clock) -> SessionView:
    """The user opened a prepared widget (a no-op when it is open already): it now counts, and its idle
    clock starts now."""
    async with unit_of_work():
        session = await session_repo.get(session_id, for_update=True)
        if session is None:
            raise SessionNotFound(session_id)
        if session.opened_at is None:
            now = clock()
            await session_repo.mark_opened(session_id, now)
            session = dataclasses.replace(session, opened_at=now)
            await count_once(session)
    return SessionView(session, await flow_repo.definition_of_version(session.flow_version_id))


async def start_preview_session(claims: EmbedClaims, pinned: PinnedFlow, *, clock: Clock, locale: str) -> SessionView:
    """A test-mode session on `pinned` (a draft an admin previews); never routed, never reads billing."""
    attributes = customer_attributes(claims, pinned.snapshot, locale)
    choice = FlowChoice(pinned.version_id, pinned.definition, None, None, None, False)
    return await _begin(claims, pinned.snapshot, attributes, choice, clock=clock, locale=locale, preview=True)


async def _begin(
    claims: EmbedClaims,
    snapshot: SubscriptionSnapshot,
    attributes: dict[str, Scalar],
    choice: FlowChoice,
    *,
    clock: Clock,
    locale: str,
    preview: bool = False,
    prepared: bool = False,
    capabilities: frozenset[Capability] = ALL_CAPABILITIES,
) -> SessionView:
    test_mode = claims.test or preview
    history = await session_repo.redemptions_of(claims.sub)
    now = clock()
    country = attributes.get("country")
    context = CustomerContext(
        snapshot=snapshot,
        history=history,
        holdout=choice.holdout,
        test_mode=test_mode,
        country=country if isinstance(country, str) else None,
        preview=preview,
        policy=EligibilityPolicy(capabilities=capabilities),  # offers the billing system cannot make are hidden
    )
    session_id = new_session_id()
    started = Started(at=now)
    decision = decide(choice.definition, initial_state(session_id), started, context)
    stored = StoredSession(
        id=session_id,
        token_jti=claims.jti,
        customer_id=claims.sub,
        subscription_id=claims.subscription_id,
        flow_version_id=choice.version_id,
        state=decision.state,
        context=context,
        losses_json=msgspec.json.encode(claims.losses).decode(),
        attrs_json=msgspec.json.encode(attributes).decode(),
        locale=locale,
        email=claims.email,
        test_mode=test_mode,
        started_at=now,
        segment_id=choice.segment_id,
        experiment_id=choice.experiment_id,
        arm_id=choice.arm_id,
        opened_at=None if prepared else now,
    )
    try:
        async with unit_of_work():
            plan = str(attributes.get("plan", snapshot.price_id))
            interval = str(attributes.get("interval", snapshot.interval))[:16]
            await session_repo.add(
                stored, choice.definition, mrr_cents=snapshot.amount_cents, plan=plan, interval=interval, now=now
            )
            await session_repo.append_event(session_id, decision.state.version, started)
            await session_repo.save_metric_facts(session_id, start_facts(snapshot, decision.state))
            await count_once(stored)
    except Exception:
        # Two tabs racing with the same token: the unique jti lets exactly one insert win.
        raced = await session_repo.find_by_jti(claims.jti)
        if raced is None:
            raise
        return await _resume(raced, claims)
    return SessionView(stored, choice.definition)


def start_facts(snapshot: SubscriptionSnapshot, state: FlowState) -> dict[str, object]:
    """Money is per currency and monthly; a flow for a subscription already set to cancel is a repeat, and
    the billing period it started in groups it with the subscription's other flows (`count_once`)."""
    return {
        "currency": snapshot.currency.lower()[:3],
        "monthly_cents": monthly_cents(snapshot.amount_cents, snapshot.interval, snapshot.interval_count),
        "repeat": already_cancelling(snapshot),
        "cancelling_at_start": already_cancelling(snapshot),
        "period_end": snapshot.current_period_end,
        "offers_shown": ",".join(state.offers_shown)[:255],
    }


async def abandon_idle_sessions(
    *, idle_after: timedelta, billing: BillingProvider, clock: Clock, limit: int = 200
) -> int:
    """End sessions nobody touched for `idle_after` as abandoned (TimedOut), so none stays open forever.

    Only steps the user sees: a pending billing call is the billing sweep's to settle. A prepared widget
    never opened does not time out (the user may open it later); it is forgotten once it no longer can be.
    """
    now = clock()
    # A prepared widget's page can open it only while its flow token lives; after that it never will.
    async with unit_of_work():
        await session_repo.delete_unopened(now - FLOW_TOKEN_LIFETIME, limit)
    steps = tuple(step.value for step in USER_STEPS)
    ended = 0
    for session_id in await session_repo.idle_session_ids(now - idle_after, steps, limit):
        try:
            await handle_event(session_id, TimedOut(at=now), billing=billing, clock=clock)
        except (InvalidTransition, SessionNotFound):  # it moved on (or went) since the listing
            continue
        ended += 1
    return ended


async def _resume(session: StoredSession, claims: EmbedClaims) -> SessionView:
    if session.customer_id != claims.sub or session.subscription_id != claims.subscription_id:
        raise TokenError(TokenProblem.REUSED, "jti already used for another customer")
    return SessionView(session, await flow_repo.definition_of_version(session.flow_version_id))


async def load_session(session_id: str) -> SessionView:
    """The session as stored, for rendering its current step."""
    session = await session_repo.get(session_id)
    if session is None:
        raise SessionNotFound(session_id)
    return SessionView(session, await flow_repo.definition_of_version(session.flow_version_id))


async def session_history(session_id: str) -> tuple[SessionView, list[Event]]:
    """The session and its event log, oldest first."""
    view = await load_session(session_id)
    return view, await session_repo.events_of(session_id)


async def handle_event(session_id: str, event: Event, *, billing: BillingProvider, clock: Clock) -> SessionView:
    """Apply a user's event; run and settle any billing effect it causes.

    Concurrent events on one session queue on its row lock (Postgres) or the write lock (SQLite), so
    each decides from the state the previous one saved: a double-clicked "Accept" finds the offer
    already pending and is refused as an invalid transition.

    Raises:
        SessionNotFound, InvalidTransition, InvalidInput: nothing was changed.
    """
    async with unit_of_work():
        session = await session_repo.get(session_id, for_update=True)
        if session is None:
            raise SessionNotFound(session_id)
        definition = await flow_repo.definition_of_version(session.flow_version_id)
        decision = decide(definition, session.state, event, session.context)
        session = await save_step(session, definition, decision.state, event, clock(), decision.effects)
    for effect in decision.effects:
        outcome = await call_billing(session, effect, billing, clock)
        async with unit_of_work():
            session = await record_outcome(session, definition, outcome, clock)
    return SessionView(session, definition)
