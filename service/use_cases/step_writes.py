"""Saving a decided step: its state (checked against the version it was decided from), its event, the
billing work and webhooks it causes, all or nothing; and what this process remembers of it afterwards.

Rules: may import flows, service.db and service.use_cases.{outbound, recent_sessions}.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from service.db import billing_ledger as ledger
from service.db import repositories as repo
from service.db.uow import in_transaction
from service.observability import SESSIONS_FINISHED
from service.use_cases import outbound
from service.use_cases.recent_sessions import recent

if TYPE_CHECKING:
    from datetime import datetime

    from flows import Effect, Event, FlowDefinition, FlowState


async def persist_step(
    session: repo.StoredSession,
    definition: FlowDefinition,
    new_state: FlowState,
    event: Event,
    now: datetime,
    effects: tuple[Effect, ...] = (),
) -> repo.StoredSession:
    """Save the new state (if the session is still at the version read), its event, the billing work it
    queues and the webhooks it causes: all or nothing, in the caller's transaction if there is one.

    Raises:
        repo.ConcurrentUpdate: another state was saved since `session` was read; nothing was written.
    """
    writes = [
        repo.save_state_statement(
            session.id,
            new_state,
            definition,
            expected_version=session.state.version,
            now=now,
            outcome_unchanged=new_state.outcome is session.state.outcome,
        ),
        repo.append_event_statement(session.id, new_state.version, event),
        *(ledger.pending_operation_statement(session.id, effect, now) for effect in effects),
    ]
    if not session.context.preview:  # a preview's fake customer is nobody the host app knows
        about = {
            "customer_id": session.customer_id,
            "subscription_id": session.subscription_id,
            "test_mode": session.test_mode,
        }
        writes += await outbound.deliveries(definition, session.state, new_state, session=about, now=now)
    try:
        await repo.write_step(writes)
    except repo.ConcurrentUpdate:
        recent.forget(session.id)
        raise
    saved = dataclasses.replace(session, state=new_state)
    if in_transaction():
        recent.forget(session.id)  # not committed yet: the caller's transaction may still roll back
    else:
        recent.remember(saved)
    if new_state.outcome is not None and session.state.outcome is None:
        SESSIONS_FINISHED.labels(new_state.outcome.value).inc()
    return saved
