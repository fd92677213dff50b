"""Saving a decided step: the session's new state, its event, the billing work it queues and the webhooks
it causes, all in the caller's unit of work.

Rules: may import flows, offers.value, service.repositories, service.observability and
service.use_cases.outbound.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from flows.events import Started, TimedOut
from flows.model import Outcome, StepKind
from offers.value import counted_flows, retained_after
from service.observability import SESSIONS_FINISHED
from service.repositories import billing_ledger as ledger
from service.repositories import sessions as session_repo
from service.use_cases import outbound

if TYPE_CHECKING:
    from datetime import datetime

    from flows import Effect, Event, FlowDefinition, FlowState


async def save_step(
    session: session_repo.StoredSession,
    definition: FlowDefinition,
    new_state: FlowState,
    event: Event,
    now: datetime,
    effects: tuple[Effect, ...] = (),
) -> session_repo.StoredSession:
    """Write the step inside the caller's unit of work; returns the session as saved.

    Raises:
        session_repo.ConcurrentUpdate: the stored session is no longer the one `session` was loaded as.
    """
    await session_repo.save_state(session.id, new_state, definition, expected_version=session.state.version, now=now)
    await session_repo.append_event(session.id, new_state.version, event)
    opened = session.opened_at is None and not isinstance(event, (Started, TimedOut))
    if opened:  # the user acted in a prepared widget, so it is open (whether or not its "opened" ping came)
        await session_repo.mark_opened(session.id, now)
        session = dataclasses.replace(session, opened_at=now)
    for effect in effects:
        await ledger.add_pending(session.id, effect, now)  # committed before billing is called
    if not session.context.preview:  # a preview's made-up customer is nobody the host app knows
        about = {
            "customer_id": session.customer_id,
            "subscription_id": session.subscription_id,
            "test_mode": session.test_mode,
        }
        await outbound.queue_deliveries(definition, session.state, new_state, session=about, now=now)
    facts = metric_facts(session, definition, new_state)
    if facts:
        await session_repo.save_metric_facts(session.id, facts)
    if opened or new_state.outcome != session.state.outcome:
        await count_once(session)
    if new_state.outcome is not None and session.state.outcome is None and not _undo_failed(session.state, new_state):
        SESSIONS_FINISHED.labels(new_state.outcome.value).inc()
    return dataclasses.replace(session, state=new_state)


def _undo_failed(before: FlowState, after: FlowState) -> bool:
    """Back on its cancelled done screen after billing did not undo the cancel (flows.undo_cancel): that
    session finished, and was counted, when it cancelled. (A reactivation counts, beside that cancellation.)"""
    return before.step is StepKind.OFFER_PENDING and after.outcome is Outcome.CANCELLED


def metric_facts(session: session_repo.StoredSession, definition: FlowDefinition, new: FlowState) -> dict[str, Any]:
    """The metric columns this step changes: the offers shown, and at a save what the customer now pays."""
    facts: dict[str, Any] = {}
    if new.offers_shown != session.state.offers_shown:
        facts["offers_shown"] = ",".join(new.offers_shown)[:255]
    offer = definition.accepted(new)  # as accepted: a pause counts 0 until the date of its chosen length
    if new.outcome is not None and session.state.outcome is None and offer is not None:
        retained = retained_after(offer, session.context.snapshot, started_at=session.started_at)
        facts.update(
            retained_cents=retained.now_cents,
            retained_later_cents=retained.later_cents,
            retained_from=retained.later_from,
        )
    return facts


async def count_once(session: session_repo.StoredSession) -> None:
    """Re-pick the one flow of the session's subscription and billing period that counts (the others are
    repeats), after a flow of that period started, opened or changed outcome. Call inside the unit of work."""
    period_end = session.context.snapshot.current_period_end
    flows = await session_repo.flows_in_period(session.subscription_id, period_end, test_mode=session.test_mode)
    await session_repo.set_repeat(counted_flows(flows), flows)
