"""The session store's hot-path statements: optimistic concurrency and the event log."""

from __future__ import annotations

import dataclasses
import os
import secrets
from datetime import timedelta

import asyncpg
import pytest
from litestar import Litestar

from flows import Continued, Outcome, ReasonId, StepKind
from flows.effects import CancelSubscription
from offers.providers.memory import InMemoryBillingProvider
from service.db import billing_ledger as ledger
from service.db import repositories as repo
from service.db.tables import BillingOperation, FlowEvent, FlowSession
from service.db.uow import Insert, Statement
from service.security import EmbedClaims
from service.use_cases import sessions
from service.use_cases.step_writes import persist_step
from tests.conftest import FakeClock


async def test_a_stale_write_is_refused_and_changes_nothing(
    app: Litestar, billing: InMemoryBillingProvider, clock: FakeClock
) -> None:
    claims = EmbedClaims(sub="cus_demo_ada", subscription_id="sub_demo_ada", jti=secrets.token_hex(8), exp=0, iat=0)
    sid = (await sessions.start_session(claims, billing=billing, clock=clock)).session.id
    stored = await repo.get_session(sid)
    assert stored is not None
    definition = await repo.definition_of_version(stored.flow_version_id)
    newer = dataclasses.replace(stored.state, step=StepKind.SURVEY, version=stored.state.version + 1)

    with pytest.raises(repo.ConcurrentUpdate):
        await repo.save_state(sid, newer, definition, expected_version=stored.state.version + 5, now=clock())
    assert (await FlowSession.select(FlowSession.step).where(FlowSession.id == sid).first()) == {
        "step": "loss_aversion"
    }

    await repo.save_state(sid, newer, definition, expected_version=stored.state.version, now=clock())
    await repo.append_event(sid, newer.version, Continued(at=clock()))
    reloaded = await repo.get_session(sid)
    assert reloaded is not None and reloaded.state.step is StepKind.SURVEY
    assert [type(e).__name__ for e in await repo.events_of(sid)] == ["Started", "Continued"]
    assert await FlowEvent.count().where(FlowEvent.session == sid) == 2


async def _started_session(billing: InMemoryBillingProvider, clock: FakeClock) -> repo.StoredSession:
    claims = EmbedClaims(sub="cus_demo_ada", subscription_id="sub_demo_ada", jti=secrets.token_hex(8), exp=0, iat=0)
    sid = (await sessions.start_session(claims, billing=billing, clock=clock)).session.id
    stored = await repo.get_session(sid)
    assert stored is not None
    return stored


async def test_a_step_is_written_whole_or_not_at_all(
    app: Litestar, billing: InMemoryBillingProvider, clock: FakeClock
) -> None:
    """State, event and billing work go together (on Postgres, as one statement guarded by the state's
    version check): a stale step leaves no event and no billing operation behind."""
    stored = await _started_session(billing, clock)
    definition = await repo.definition_of_version(stored.flow_version_id)
    done = dataclasses.replace(stored.state, step=StepKind.DONE, version=stored.state.version + 1)
    cancel = CancelSubscription(at_period_end=True, reason="too_expensive", comment="ünïcode ✓", idempotency_key="k-1")

    def batch(expected_version: int) -> list[Statement]:
        return [
            repo.save_state_statement(stored.id, done, definition, expected_version=expected_version, now=clock()),
            repo.append_event_statement(stored.id, done.version, Continued(at=clock())),
            ledger.pending_operation_statement(stored.id, cancel, clock()),
        ]

    with pytest.raises(repo.ConcurrentUpdate):
        await repo.write_step(batch(stored.state.version + 1))
    assert await FlowEvent.count().where(FlowEvent.session == stored.id) == 1
    assert await BillingOperation.count() == 0
    assert (await repo.get_session(stored.id)).state == stored.state  # type: ignore[union-attr]

    await repo.write_step(batch(stored.state.version))
    assert (await repo.get_session(stored.id)).state == done  # type: ignore[union-attr]
    assert [type(e).__name__ for e in await repo.events_of(stored.id)] == ["Started", "Continued"]
    later = clock() + timedelta(seconds=1)
    pending = await ledger.claim_pending_operations(clock(), older_than=later, lease_seconds=60)
    assert [(p.session_id, p.idempotency_key, p.effect) for p in pending] == [(stored.id, "k-1", cancel)]


@pytest.mark.skipif(not os.environ.get("DATABASE_URL"), reason="Postgres enforces VARCHAR lengths; SQLite does not")
async def test_an_overlong_value_is_refused_not_cut_short(
    app: Litestar, billing: InMemoryBillingProvider, clock: FakeClock
) -> None:
    stored = await _started_session(billing, clock)
    definition = await repo.definition_of_version(stored.flow_version_id)
    newer = dataclasses.replace(stored.state, step=StepKind.SURVEY, version=stored.state.version + 1)
    too_long = Insert.into(FlowEvent, ("session", "seq", "type", "payload", "at")).statement(
        stored.id, newer.version, "x" * 41, "{}", clock()
    )
    guard = repo.save_state_statement(stored.id, newer, definition, expected_version=stored.state.version, now=clock())
    with pytest.raises(asyncpg.StringDataRightTruncationError):
        await repo.write_step([guard, too_long])
    assert (await repo.get_session(stored.id)).state == stored.state  # type: ignore[union-attr]
    assert await FlowEvent.count().where(FlowEvent.session == stored.id) == 1


async def test_the_outcome_column_follows_the_state_and_is_left_alone_while_it_stays(
    app: Litestar, billing: InMemoryBillingProvider, clock: FakeClock
) -> None:
    """Most steps keep the outcome: their UPDATE leaves the column out (SQLite would otherwise rewrite its
    index entry, a page in every commit), and the columns it does write still get their own values."""
    stored = await _started_session(billing, clock)
    definition = await repo.definition_of_version(stored.flow_version_id)
    survey = dataclasses.replace(stored.state, step=StepKind.SURVEY, reason=ReasonId("too_expensive"), version=2)
    kept = repo.save_state_statement(
        stored.id, survey, definition, expected_version=1, now=clock(), outcome_unchanged=True
    )
    assert (
        "outcome" not in kept.sql
        and "outcome" in repo.save_state_statement(stored.id, survey, definition, expected_version=1, now=clock()).sql
    )

    async def columns() -> dict[str, object]:
        query = FlowSession.select(FlowSession.step, FlowSession.outcome, FlowSession.reason, FlowSession.version)
        row = await query.where(FlowSession.id == stored.id).first()
        assert row is not None
        return row

    saved = await persist_step(stored, definition, survey, Continued(at=clock()), clock())
    assert await columns() == {"step": "survey", "outcome": None, "reason": "too_expensive", "version": 2}
    done = dataclasses.replace(survey, step=StepKind.DONE, outcome=Outcome.SAVED, version=3)
    saved = await persist_step(saved, definition, done, Continued(at=clock()), clock())
    assert await columns() == {"step": "done", "outcome": "saved", "reason": "too_expensive", "version": 3}
    closed = dataclasses.replace(done, version=4)
    await persist_step(saved, definition, closed, Continued(at=clock()), clock())
    assert await columns() == {"step": "done", "outcome": "saved", "reason": "too_expensive", "version": 4}
