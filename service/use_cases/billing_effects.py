"""Billing effects: call the provider for a committed effect, record its outcome on the ledger and feed
it back through `flows.decide`; and sweep the operations a crash left pending, with their own keys.

Rules: may import flows, offers (ports and apply, never providers), service.db.engine,
service.repositories and service.use_cases.step_writes. The effect was committed as pending before
any of this runs (step_writes.save_step).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flows import (
    ApplyOffer,
    CancelApplied,
    CancelFailed,
    Effect,
    Event,
    FlowDefinition,
    InvalidTransition,
    OfferApplied,
    OfferFailed,
    decide,
)
from offers import BillingError, BillingProvider, ProviderUnavailable, TrainingOffer, apply_offer
from service.db.engine import unit_of_work
from service.observability import BILLING_CALLS
from service.repositories import billing_ledger as ledger
from service.repositories import flows as flow_repo
from service.repositories import follow_ups
from service.repositories import sessions as session_repo
from service.use_cases.step_writes import save_step

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class BillingOutcome:
    """What one billing call did: the event to feed back, and what the ledger row records."""

    event: Event
    status: str  # applied | failed
    summary: str
    error: str


async def call_billing(
    session: session_repo.StoredSession, effect: Effect, billing: BillingProvider, clock: Clock
) -> BillingOutcome:
    """Run one committed effect against billing (never inside a transaction: it may take seconds)."""
    outcome = await _call(session, effect, billing, clock)
    BILLING_CALLS.labels("offer" if isinstance(effect, ApplyOffer) else "cancel", outcome.status).inc()
    return outcome


async def record_outcome(
    session: session_repo.StoredSession,
    definition: FlowDefinition,
    effect: Effect,
    outcome: BillingOutcome,
    clock: Clock,
) -> session_repo.StoredSession:
    """Settle the ledger row and feed the outcome back through decide; call inside a unit of work.

    `session` is the state the effect was committed with. If the ledger row is no longer pending, the
    request and the sweep raced and the other one settled it (the billing call was idempotent): the
    session is then read back as the winner saved it.
    """
    now = clock()
    if not await ledger.finish(
        effect.idempotency_key, status=outcome.status, summary=outcome.summary, error=outcome.error, now=now
    ):
        current = await session_repo.get(session.id)
        return current or session
    try:
        decision = decide(definition, session.state, outcome.event, session.context)
    except InvalidTransition:
        log.warning("billing result %s no longer fits session %s", type(outcome.event).__name__, session.id)
        return session
    saved = await save_step(session, definition, decision.state, outcome.event, now)
    offer = effect.offer if isinstance(effect, ApplyOffer) else None
    if isinstance(offer, TrainingOffer) and isinstance(outcome.event, OfferApplied) and not session.test_mode:
        note = " — ".join(filter(None, (decision.state.reason, decision.state.comment)))
        await follow_ups.add_task(
            session.id, customer_id=session.customer_id, email=session.email, offer_id=offer.id, note=note, now=now
        )
    return saved


async def _call(
    session: session_repo.StoredSession, effect: Effect, billing: BillingProvider, clock: Clock
) -> BillingOutcome:
    now = clock()
    if isinstance(effect, ApplyOffer):
        offer_id = effect.offer.id
        if session.test_mode:
            return BillingOutcome(
                OfferApplied(at=now, offer_id=offer_id, summary="Test mode: billing unchanged"), "applied", "test", ""
            )
        try:
            # Dates are computed from the session start: exactly what the offer card promised the user.
            result = await apply_offer(
                billing,
                effect.offer,
                session.context.snapshot,
                now=session.started_at,
                idempotency_key=effect.idempotency_key,
            )
        except BillingError as exc:
            definitive = not isinstance(exc, ProviderUnavailable)
            log.warning("offer %s failed for %s: %s", offer_id, session.id, type(exc).__name__)
            failed = OfferFailed(at=clock(), offer_id=offer_id, definitive=definitive, error=type(exc).__name__)
            return BillingOutcome(failed, "failed", "", f"{type(exc).__name__}: {exc}")
        applied = OfferApplied(at=clock(), offer_id=offer_id, summary=result.summary)
        return BillingOutcome(applied, "applied", result.summary, "")
    if session.test_mode:
        return BillingOutcome(CancelApplied(at=now, effective_at=now), "applied", "test", "")
    try:
        snapshot = await billing.cancel(
            session.subscription_id,
            at_period_end=effect.at_period_end,
            reason=effect.reason,
            comment=effect.comment,
            idempotency_key=effect.idempotency_key,
        )
    except BillingError as exc:
        definitive = not isinstance(exc, ProviderUnavailable)
        log.warning("cancel failed for %s: %s", session.id, type(exc).__name__)
        return BillingOutcome(
            CancelFailed(at=clock(), definitive=definitive, error=type(exc).__name__), "failed", "", str(exc)
        )
    effective = snapshot.current_period_end if effect.at_period_end else (snapshot.canceled_at or clock())
    return BillingOutcome(
        CancelApplied(at=clock(), effective_at=effective), "applied", f"Cancels {effective:%Y-%m-%d}", ""
    )


SWEEP_LEASE_SECONDS = 120


async def sweep_pending(
    *, billing: BillingProvider, clock: Clock, older_than: timedelta = timedelta(seconds=30)
) -> int:
    """Finish billing operations left `pending` by a crash, reusing their idempotency keys."""
    now = clock()
    async with unit_of_work():
        claimed = await ledger.claim_pending(now, older_than=now - older_than, lease_seconds=SWEEP_LEASE_SECONDS)
    for op in claimed:
        try:
            await _finish(op, billing=billing, clock=clock)
        except Exception:
            log.exception("sweep could not finish %s; its lease expires and a later sweep retries", op.idempotency_key)
    return len(claimed)


async def _finish(op: ledger.PendingOperation, *, billing: BillingProvider, clock: Clock) -> None:
    session = await session_repo.get(op.session_id)
    if session is None:
        raise session_repo.SessionNotFound(op.session_id)
    outcome = await call_billing(session, op.effect, billing, clock)
    async with unit_of_work():
        # Read again under the lock: the session can only have moved by this operation's own result.
        current = await session_repo.get(op.session_id, for_update=True)
        if current is None:
            raise session_repo.SessionNotFound(op.session_id)
        definition = await flow_repo.definition_of_version(current.flow_version_id)
        await record_outcome(current, definition, op.effect, outcome, clock)
