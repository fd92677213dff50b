"""Billing effects: run a committed effect against billing, settle its ledger row and feed the result back
through `flows.decide`; and sweep the operations whose attempt lease ran out, with their own keys.

Rules: may import flows, offers (ports and apply, never providers), service.db.engine,
service.repositories, service.observability and service.use_cases.step_writes. The effect was committed
as pending, with its attempt clock, before any of this runs (step_writes.save_step).

What each provider answer means (offers.ports):
- success → `applied`; a definitive refusal (rejected, not applicable, …) → `failed`, the user moves on.
- ProviderUnavailable (timeout, 409 key in flight): the outcome is unknown. The row stays pending for
  the same key; a request sends its user back to try again, the sweep leaves the session alone.
- ProviderFailed (5xx): Stripe replays it for the key, so the key is spent. Re-read the subscription:
  the change is there → `applied`; absent → settle this key `failed`, commit the next attempt's key as
  pending and try that once. A second 5xx is a definitive failure.
- ProviderAuthFailed (401/403): our credentials, an operator fault. The row stays pending, the user
  keeps the offer with a "try again" notice, the Operations page and /metrics show it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

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
from flows.billing_checks import change_is_in_effect, session_awaits
from flows.effects import next_attempt
from offers import (
    BillingError,
    BillingProvider,
    ProviderAuthFailed,
    ProviderFailed,
    ProviderUnavailable,
    SubscriptionSnapshot,
    TrainingOffer,
    apply_offer,
)
from offers.model import ExitInterviewOffer
from service.db.engine import unit_of_work
from service.observability import BILLING_AUTH_FAILURES, BILLING_CALLS
from service.repositories import billing_ledger as ledger
from service.repositories import flows as flow_repo
from service.repositories import follow_ups
from service.repositories import sessions as session_repo
from service.use_cases.step_writes import save_step

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

# A billing attempt's lease: longer than the billing HTTP client's timeout (a test checks it against
# offers.providers.stripe.REQUEST_TIMEOUT_SECONDS), so the sweep never takes over a live request.
BILLING_LEASE_SECONDS = ledger.ATTEMPT_LEASE_SECONDS

APPLIED, FAILED, UNAVAILABLE, AUTH_FAILED, SERVER_ERROR = "applied", "failed", "unavailable", "auth_failed", "5xx"
LEFT_PENDING = (UNAVAILABLE, AUTH_FAILED)  # the row stays pending, for a retry with the same key


@dataclass(frozen=True, slots=True)
class BillingOutcome:
    """What one billing attempt did: the event to feed back, and what its ledger row records."""

    effect: Effect  # the attempt this belongs to (after a 5xx, the retry under the next key)
    event: Event
    result: str  # applied | failed settle the row; unavailable | auth_failed leave it pending
    summary: str
    error: str


async def call_billing(
    session: session_repo.StoredSession, effect: Effect, billing: BillingProvider, clock: Clock
) -> BillingOutcome:
    """Run one committed effect against billing (never inside a transaction: it may take seconds).

    After a server error this re-reads the subscription and may commit and run the next attempt.
    """
    outcome = await _attempt(session, effect, billing, clock)
    if outcome.result != SERVER_ERROR:
        return outcome
    return await _after_server_error(session, outcome, billing, clock)


async def record_outcome(
    session: session_repo.StoredSession,
    definition: FlowDefinition,
    outcome: BillingOutcome,
    clock: Clock,
    *,
    user_waiting: bool = True,
) -> session_repo.StoredSession:
    """Settle (or annotate) the ledger row and feed the outcome back through decide; call inside a unit
    of work.

    `session` is the state the effect was committed with. If the row is no longer pending, the request
    and the sweep raced and the other one settled it (the billing call was idempotent): the session is
    then read back as the winner saved it. A transient outcome is fed back only to a waiting user: a
    sweep's 409 means the request still runs, and it will answer.
    """
    now = clock()
    key = outcome.effect.idempotency_key
    if outcome.result in LEFT_PENDING:
        still_pending = await ledger.note_error(key, error=outcome.error, now=now)
        if not still_pending or not (user_waiting or outcome.result == AUTH_FAILED):
            return await session_repo.get(session.id) or session
    elif not await ledger.finish(key, status=outcome.result, summary=outcome.summary, error=outcome.error, now=now):
        return await session_repo.get(session.id) or session
    try:
        decision = decide(definition, session.state, outcome.event, session.context)
    except InvalidTransition:
        log.warning("billing result %s no longer fits session %s", type(outcome.event).__name__, session.id)
        return session
    saved = await save_step(session, definition, decision.state, outcome.event, now)
    offer = outcome.effect.offer if isinstance(outcome.effect, ApplyOffer) else None
    if isinstance(offer, TrainingOffer | ExitInterviewOffer) and isinstance(outcome.event, OfferApplied):
        if session.test_mode:
            return saved
        # An exit interview's task holds the incentive CS owes once the call is held.
        owed = f"{follow_ups.OWED}{offer.incentive}" if isinstance(offer, ExitInterviewOffer) else None
        note = " — ".join(filter(None, (owed, decision.state.reason, decision.state.comment)))
        await follow_ups.add_task(
            session.id, customer_id=session.customer_id, email=session.email, offer_id=offer.id, note=note, now=now
        )
    return saved


def _action(effect: Effect) -> str:
    return "offer" if isinstance(effect, ApplyOffer) else "cancel"


def _applied(effect: Effect, *, summary: str, effective_at: datetime, clock: Clock) -> BillingOutcome:
    if isinstance(effect, ApplyOffer):
        return BillingOutcome(
            effect, OfferApplied(at=clock(), offer_id=effect.offer.id, summary=summary), APPLIED, summary, ""
        )
    event = CancelApplied(at=clock(), effective_at=effective_at)
    return BillingOutcome(effect, event, APPLIED, summary or f"Cancels {effective_at:%Y-%m-%d}", "")


def _not_applied(effect: Effect, result: str, error: str, clock: Clock) -> BillingOutcome:
    """A failure outcome; only `failed` is definitive (the machine then needs a fresh key to retry)."""
    definitive = result in (FAILED, SERVER_ERROR)
    name = error.split(":", 1)[0]
    event: Event
    if isinstance(effect, ApplyOffer):
        event = OfferFailed(at=clock(), offer_id=effect.offer.id, definitive=definitive, error=name)
    else:
        event = CancelFailed(at=clock(), definitive=definitive, error=name)
    return BillingOutcome(effect, event, result, "", error)


def _failure_kind(exc: BillingError) -> str:
    if isinstance(exc, ProviderUnavailable):
        return UNAVAILABLE
    if isinstance(exc, ProviderAuthFailed):
        return AUTH_FAILED
    if isinstance(exc, ProviderFailed):
        return SERVER_ERROR
    return FAILED


def _cancel_effective_at(effect: Effect, snapshot: SubscriptionSnapshot, clock: Clock) -> datetime:
    at_period_end = not isinstance(effect, ApplyOffer) and effect.at_period_end
    return snapshot.current_period_end if at_period_end else (snapshot.canceled_at or clock())


def _count(effect: Effect, result: str) -> None:
    BILLING_CALLS.labels(_action(effect), result).inc()
    if result == AUTH_FAILED:
        BILLING_AUTH_FAILURES.labels(_action(effect)).inc()


async def _attempt(
    session: session_repo.StoredSession, effect: Effect, billing: BillingProvider, clock: Clock
) -> BillingOutcome:
    """One provider call under the effect's own key."""
    if session.test_mode:
        return _applied(effect, summary="test", effective_at=clock(), clock=clock)
    try:
        if isinstance(effect, ApplyOffer):
            # Dates are computed from the session start: exactly what the offer card promised the user.
            result = await apply_offer(
                billing,
                effect.offer,
                session.context.snapshot,
                now=session.started_at,
                idempotency_key=effect.idempotency_key,
            )
            outcome = _applied(effect, summary=result.summary, effective_at=clock(), clock=clock)
        else:
            snapshot = await billing.cancel(
                session.subscription_id,
                at_period_end=effect.at_period_end,
                reason=effect.reason,
                comment=effect.comment,
                idempotency_key=effect.idempotency_key,
            )
            outcome = _applied(
                effect, summary="", effective_at=_cancel_effective_at(effect, snapshot, clock), clock=clock
            )
    except BillingError as exc:
        kind = _failure_kind(exc)
        log.warning("%s %s for %s: %s", _action(effect), kind, session.id, type(exc).__name__)
        outcome = _not_applied(effect, kind, f"{type(exc).__name__}: {exc}", clock)
    _count(effect, outcome.result)
    return outcome


async def _after_server_error(
    session: session_repo.StoredSession, first: BillingOutcome, billing: BillingProvider, clock: Clock
) -> BillingOutcome:
    """The key is spent: look whether the change is there; if not, retry once under the next key."""
    effect = first.effect
    try:
        live = await billing.get_subscription(session.subscription_id)
    except BillingError as exc:
        # Unknown: keep this key pending. Its replay meets the same 5xx, and the next read decides.
        kind = AUTH_FAILED if isinstance(exc, ProviderAuthFailed) else UNAVAILABLE
        if kind == AUTH_FAILED:
            BILLING_AUTH_FAILURES.labels(_action(effect)).inc()
        return _not_applied(effect, kind, f"{first.error}; re-read failed: {type(exc).__name__}: {exc}", clock)
    if change_is_in_effect(effect, before=session.context.snapshot, after=live, started_at=session.started_at):
        summary = "Found in effect when re-read after a server error"
        return _applied(effect, summary=summary, effective_at=_cancel_effective_at(effect, live, clock), clock=clock)
    retry = next_attempt(effect, session.id)
    async with unit_of_work():
        await session_repo.get(session.id, for_update=True)  # one party starts the next attempt
        error = f"{first.error}; not in effect on re-read, retried under {retry.idempotency_key}"
        if not await ledger.finish(effect.idempotency_key, status=FAILED, summary="", error=error, now=clock()):
            return _not_applied(effect, FAILED, first.error, clock)  # settled elsewhere: read back
        await ledger.add_pending(session.id, retry, clock())  # committed before the retry runs
    second = await _attempt(session, retry, billing, clock)
    if second.result != SERVER_ERROR:
        return second
    # A 5xx does not say nothing happened: read once more before calling it a failure.
    try:
        live = await billing.get_subscription(session.subscription_id)
    except BillingError as exc:
        kind = AUTH_FAILED if isinstance(exc, ProviderAuthFailed) else UNAVAILABLE  # pending: the sweep decides
        return _not_applied(retry, kind, f"{second.error}; re-read failed: {type(exc).__name__}: {exc}", clock)
    if change_is_in_effect(retry, before=session.context.snapshot, after=live, started_at=session.started_at):
        summary = "Found in effect when re-read after a second server error"
        return _applied(retry, summary=summary, effective_at=_cancel_effective_at(retry, live, clock), clock=clock)
    return _not_applied(retry, FAILED, f"{second.error}; failed again under a fresh key, not in effect", clock)


async def sweep_pending(*, billing: BillingProvider, clock: Clock) -> int:
    """Finish billing operations whose attempt lease ran out (a crash, or a transient failure).

    A row is claimed only once its attempt's lease has expired, so a request still executing it (its
    HTTP call times out well within the lease) is never raced.
    """
    now = clock()
    async with unit_of_work():
        claimed = await ledger.claim_pending(now, lease_seconds=BILLING_LEASE_SECONDS)
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
    if not session_awaits(session.state, op.effect):
        await _settle_unawaited(op, session, billing=billing, clock=clock)
        return
    outcome = await call_billing(session, op.effect, billing, clock)
    async with unit_of_work():
        # Read again under the lock: the session can only have moved by this operation's own result.
        current = await session_repo.get(op.session_id, for_update=True)
        if current is None:
            raise session_repo.SessionNotFound(op.session_id)
        definition = await flow_repo.definition_of_version(current.flow_version_id)
        await record_outcome(current, definition, outcome, clock, user_waiting=False)


async def _settle_unawaited(
    op: ledger.PendingOperation, session: session_repo.StoredSession, *, billing: BillingProvider, clock: Clock
) -> None:
    """The user was sent back or moved on: never send the change again, only find out whether it happened.

    Settles only if no attempt started since the claim (the user may have accepted again meanwhile).
    """
    effect = op.effect
    applied = False
    if not session.test_mode:
        try:
            live = await billing.get_subscription(session.subscription_id)
        except BillingError as exc:
            if isinstance(exc, ProviderAuthFailed):
                BILLING_AUTH_FAILURES.labels(_action(effect)).inc()
            async with unit_of_work():
                await ledger.note_error(op.idempotency_key, error=f"{type(exc).__name__}: {exc}", now=clock())
            return
        applied = change_is_in_effect(
            effect, before=session.context.snapshot, after=live, started_at=session.started_at
        )
    status, summary, error = (
        (APPLIED, "Found in effect at billing after the session moved on", "")
        if applied
        else (
            FAILED,
            "",
            f"Abandoned: the session moved on before billing confirmed it (last error: {op.error or '-'})",
        )
    )
    async with unit_of_work():
        await ledger.finish(
            op.idempotency_key,
            status=status,
            summary=summary,
            error=error,
            now=clock(),
            attempt_started_at=op.attempt_started_at,
        )
