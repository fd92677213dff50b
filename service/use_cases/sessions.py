"""Session use cases: start or resume a session, handle one user event (deciding from the remembered or
stored state; service.use_cases.step_writes saves it, service.use_cases.billing_effects runs its billing).

Rules: may import flows, offers (ports and apply, never providers), service.db and service.security.
Order of work, always: decide → persist state, event and pending billing operation (commit) →
call billing outside the transaction → feed the result back as an event (second commit).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import msgspec

from flows import (
    CustomerContext,
    Effect,
    Event,
    FlowDefinition,
    FlowState,
    InvalidTransition,
    SessionId,
    Started,
    decide,
    initial_state,
)
from flows.experiments import assign_arm
from flows.segments import Scalar, pick_segment
from offers import (
    BillingProvider,
    SubscriptionSnapshot,
    SubscriptionStatus,
)
from service.db import repositories as repo
from service.db.uow import unit_of_work
from service.security import EmbedClaims, TokenError, TokenProblem
from service.use_cases.billing_effects import run_effect
from service.use_cases.recent_sessions import recent
from service.use_cases.step_writes import persist_step

Clock = Callable[[], datetime]
DEFAULT_FLOW_KEY = "default"


class FlowNotConfigured(Exception):
    """No published flow version exists (run the migrations and `python -m service seed`)."""


@dataclass(frozen=True, slots=True)
class SessionView:
    """What the widget needs to render the current step."""

    session: repo.StoredSession
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
        "mrr_cents": snapshot.amount_cents,
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
    segment = pick_segment(await repo.segments_by_priority(), attributes)
    flow_key = segment.flow_key if segment else DEFAULT_FLOW_KEY
    segment_id = segment.id if segment else None
    experiment = await repo.running_experiment(flow_key)
    if experiment is not None:
        arm = assign_arm(experiment, customer_id)
        definition = await repo.definition_of_version(arm.flow_version_id)
        return FlowChoice(arm.flow_version_id, definition, segment_id, experiment.id, arm.id, arm.holdout)
    published = await repo.published_version(flow_key) or await repo.published_version(DEFAULT_FLOW_KEY)
    if published is None:
        raise FlowNotConfigured(flow_key)
    return FlowChoice(published[0], published[1], segment_id, None, None, False)


async def start_session(
    claims: EmbedClaims, *, billing: BillingProvider, clock: Clock, locale: str = "en"
) -> SessionView:
    """Start the session a verified embed token asks for, or resume it if this token started it."""
    existing = await repo.find_session_by_jti(claims.jti)
    if existing is not None:
        return await _resume(existing, claims)
    # Reads happen before the write transaction so it stays short.
    snapshot = await billing.get_subscription(claims.subscription_id)
    attributes = customer_attributes(claims, snapshot, locale)
    choice = await choose_flow(claims.sub, attributes)
    return await _begin(claims, snapshot, attributes, choice, clock=clock, locale=locale)


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
) -> SessionView:
    test_mode = claims.test or preview
    history = await repo.redemptions_of(claims.sub)
    now = clock()
    country = attributes.get("country")
    context = CustomerContext(
        snapshot=snapshot,
        history=history,
        holdout=choice.holdout,
        test_mode=test_mode,
        country=country if isinstance(country, str) else None,
        preview=preview,
    )
    session_id = new_session_id()
    started = Started(at=now)
    decision = decide(choice.definition, initial_state(session_id), started, context)
    stored = repo.StoredSession(
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
    )
    try:
        async with unit_of_work():
            plan = str(attributes.get("plan", snapshot.price_id))
            interval = str(attributes.get("interval", snapshot.interval))[:16]
            await repo.insert_session(
                stored, choice.definition, mrr_cents=snapshot.amount_cents, plan=plan, interval=interval, now=now
            )
            await repo.append_event(session_id, decision.state.version, started)
    except Exception:
        # Two tabs racing with the same token: the unique jti lets exactly one insert win.
        raced = await repo.find_session_by_jti(claims.jti)
        if raced is None:
            raise
        return await _resume(raced, claims)
    return SessionView(stored, choice.definition)


async def _resume(session: repo.StoredSession, claims: EmbedClaims) -> SessionView:
    if session.customer_id != claims.sub or session.subscription_id != claims.subscription_id:
        raise TokenError(TokenProblem.REUSED, "jti already used for another customer")
    return SessionView(session, await repo.definition_of_version(session.flow_version_id))


async def load_session(session_id: str) -> SessionView:
    session = await repo.get_session(session_id)
    if session is None:
        raise repo.SessionNotFound(session_id)
    return SessionView(session, await repo.definition_of_version(session.flow_version_id))


async def handle_event(session_id: str, event: Event, *, billing: BillingProvider, clock: Clock) -> SessionView:
    """Apply a user's event; run and settle any billing effect it causes.

    Raises:
        SessionNotFound, InvalidTransition, InvalidInput: nothing was changed.
    """
    view, effects = await _decide_and_persist(session_id, event, clock)
    if not effects:
        return view  # nothing else can have changed it: no need to read it back
    for effect in effects:
        await run_effect(session_id, effect, billing=billing, clock=clock)
    return await load_session(session_id)


# A step decides from the session as this process last saved it (recent_sessions), or else reads it
# without a lock, and saves only if nobody saved another state since (the UPDATE checks the version):
# one or two trips to the database, no lock held while deciding. A lost race, or a refused event on a
# remembered copy that may be stale, reads and decides again (a double click then finds its step already
# taken); after a few lost races the step takes the row lock, so it cannot lose again.
OPTIMISTIC_ATTEMPTS = 3


class _MaybeStale(Exception):
    """The event did not fit the remembered copy of the session; the database may know a later state."""


async def _decide_and_persist(session_id: str, event: Event, clock: Clock) -> tuple[SessionView, tuple[Effect, ...]]:
    for attempt in range(OPTIMISTIC_ATTEMPTS):
        try:
            return await _step(session_id, event, clock, remembered=attempt == 0)
        except (repo.ConcurrentUpdate, _MaybeStale):
            continue
    async with unit_of_work():
        return await _step(session_id, event, clock, remembered=False, for_update=True)


async def _step(
    session_id: str, event: Event, clock: Clock, *, remembered: bool, for_update: bool = False
) -> tuple[SessionView, tuple[Effect, ...]]:
    session = recent.get(session_id) if remembered else None
    from_memory = session is not None
    if session is None:
        session = await repo.get_session(session_id, for_update=for_update)
    if session is None:
        raise repo.SessionNotFound(session_id)
    definition = await repo.definition_of_version(session.flow_version_id)
    try:
        decision = decide(definition, session.state, event, session.context)
    except InvalidTransition:
        if from_memory:
            recent.forget(session_id)
            raise _MaybeStale from None
        raise
    saved = await persist_step(session, definition, decision.state, event, clock(), decision.effects)
    return SessionView(saved, definition), decision.effects
