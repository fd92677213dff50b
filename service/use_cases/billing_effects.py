"""Billing effects: call the provider for a committed effect, record its outcome as an event and on the
ledger, and sweep the operations a crash left pending (reusing their idempotency keys).

Rules: may import flows, offers (ports and apply, never providers) and service.db. The effect was
committed as pending before any of this runs (service.use_cases.step_writes).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from flows import (
    ApplyOffer,
    CancelApplied,
    CancelFailed,
    Effect,
    Event,
    InvalidTransition,
    OfferApplied,
    OfferFailed,
    decide,
)
from offers import BillingError, BillingProvider, ProviderUnavailable, TrainingOffer, apply_offer
from service.db import billing_ledger as ledger
from service.db import repositories as repo
from service.db.tables import FollowUpTask
from service.db.uow import unit_of_work
from service.observability import BILLING_CALLS
from service.use_cases.step_writes import persist_step

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


async def run_effect(session_id: str, effect: Effect, *, billing: BillingProvider, clock: Clock) -> None:
    """Call billing for one committed effect, then record the outcome as an event and on the operation."""
    session = await repo.get_session(session_id)
    if session is None:
        raise repo.SessionNotFound(session_id)
    result_event, status, summary, error = await _call_billing(session, effect, billing, clock)
    BILLING_CALLS.labels("offer" if isinstance(effect, ApplyOffer) else "cancel", status).inc()
    async with unit_of_work():
        if await ledger.operation_status(effect.idempotency_key) != "pending":
            return  # settled meanwhile (the request and the sweep raced); the billing call was idempotent
        await ledger.finish_operation(effect.idempotency_key, status=status, summary=summary, error=error, now=clock())
        current = await repo.get_session(session_id, for_update=True)
        if current is None:
            raise repo.SessionNotFound(session_id)
        definition = await repo.definition_of_version(current.flow_version_id)
        try:
            decision = decide(definition, current.state, result_event, current.context)
        except InvalidTransition:
            log.warning("billing result %s no longer fits session %s", type(result_event).__name__, session_id)
            return
        await persist_step(current, definition, decision.state, result_event, clock())
        offer = effect.offer if isinstance(effect, ApplyOffer) else None
        if isinstance(offer, TrainingOffer) and isinstance(result_event, OfferApplied) and not current.test_mode:
            state = decision.state
            note = " — ".join(filter(None, (state.reason, state.comment)))
            await FollowUpTask.insert(
                FollowUpTask(
                    session=session_id,
                    customer_id=current.customer_id,
                    email=current.email,
                    offer_id=offer.id,
                    note=note,
                    created_at=clock(),
                )
            )


async def _call_billing(
    session: repo.StoredSession, effect: Effect, billing: BillingProvider, clock: Clock
) -> tuple[Event, str, str, str]:
    now = clock()
    if isinstance(effect, ApplyOffer):
        offer_id = effect.offer.id
        if session.test_mode:
            return (
                OfferApplied(at=now, offer_id=offer_id, summary="Test mode: billing unchanged"),
                "applied",
                "test",
                "",
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
            return failed, "failed", "", f"{type(exc).__name__}: {exc}"
        return OfferApplied(at=clock(), offer_id=offer_id, summary=result.summary), "applied", result.summary, ""
    if session.test_mode:
        return CancelApplied(at=now, effective_at=now), "applied", "test", ""
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
        return CancelFailed(at=clock(), definitive=definitive, error=type(exc).__name__), "failed", "", str(exc)
    effective = snapshot.current_period_end if effect.at_period_end else (snapshot.canceled_at or clock())
    return CancelApplied(at=clock(), effective_at=effective), "applied", f"Cancels {effective:%Y-%m-%d}", ""


SWEEP_LEASE_SECONDS = 120


async def sweep_pending(
    *, billing: BillingProvider, clock: Clock, older_than: timedelta = timedelta(seconds=30)
) -> int:
    """Finish billing operations left `pending` by a crash, reusing their idempotency keys."""
    now = clock()
    async with unit_of_work():
        claimed = await ledger.claim_pending_operations(
            now, older_than=now - older_than, lease_seconds=SWEEP_LEASE_SECONDS
        )
    for op in claimed:
        try:
            await run_effect(op.session_id, op.effect, billing=billing, clock=clock)
        except Exception:
            log.exception("sweep could not finish %s; its lease expires and a later sweep retries", op.idempotency_key)
    return len(claimed)
