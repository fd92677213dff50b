"""The session repository and the unit of work: version checks, whole-or-nothing steps, the event log."""

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
from service.db.engine import unit_of_work
from service.db.tables import BillingOperation, FlowEvent, FlowSession
from service.repositories import billing_ledger as ledger
from service.repositories import flows as flow_repo
from service.repositories import sessions as repo
from service.security import EmbedClaims
from service.use_cases import sessions
from service.use_cases.step_writes import save_step
from tests.conftest import FakeClock


async def _started_session(billing: InMemoryBillingProvider, clock: FakeClock) -> repo.StoredSession:
    claims = EmbedClaims(sub="cus_demo_ada", subscription_id="sub_demo_ada", jti=secrets.token_hex(8), exp=0, iat=0)
    sid = (await sessions.start_session(claims, billing=billing, clock=clock)).session.id
    stored = await repo.get(sid)
    assert stored is not None
    return stored


async def test_a_stale_write_is_refused_and_changes_nothing(
    app: Litestar, billing: InMemoryBillingProvider, clock: FakeClock
) -> None:
    stored = await _started_session(billing, clock)
    sid = stored.id
    definition = await flow_repo.definition_of_version(stored.flow_version_id)
    newer = dataclasses.replace(stored.state, step=StepKind.SURVEY, version=stored.state.version + 1)

    with pytest.raises(repo.ConcurrentUpdate):
        async with unit_of_work():
            await repo.save_state(sid, newer, definition, expected_version=stored.state.version + 5, now=clock())
    assert (await FlowSession.select(FlowSession.step).where(FlowSession.id == sid).first()) == {
        "step": "loss_aversion"
    }

    async with unit_of_work():
        await repo.save_state(sid, newer, definition, expected_version=stored.state.version, now=clock())
        await repo.append_event(sid, newer.version, Continued(at=clock()))
    reloaded = await repo.get(sid)
    assert reloaded is not None and reloaded.state.step is StepKind.SURVEY
    assert [type(e).__name__ for e in await repo.events_of(sid)] == ["Started", "Continued"]
    assert await FlowEvent.count().where(FlowEvent.session == sid) == 2


async def test_a_step_is_written_whole_or_not_at_all(
    app: Litestar, billing: InMemoryBillingProvider, clock: FakeClock
) -> None:
    """State, event and billing work go together: a stale step leaves no event and no billing operation."""
    stored = await _started_session(billing, clock)
    definition = await flow_repo.definition_of_version(stored.flow_version_id)
    done = dataclasses.replace(stored.state, step=StepKind.DONE, version=stored.state.version + 1)
    cancel = CancelSubscription(at_period_end=True, reason="too_expensive", comment="ünïcode ✓", idempotency_key="k-1")
    stale = dataclasses.replace(stored, state=dataclasses.replace(stored.state, version=stored.state.version + 1))

    with pytest.raises(repo.ConcurrentUpdate):
        async with unit_of_work():
            await save_step(stale, definition, done, Continued(at=clock()), clock(), (cancel,))
    assert await FlowEvent.count().where(FlowEvent.session == stored.id) == 1
    assert await BillingOperation.count() == 0
    assert (await repo.get(stored.id)).state == stored.state  # type: ignore[union-attr]

    async with unit_of_work():
        await save_step(stored, definition, done, Continued(at=clock()), clock(), (cancel,))
    assert (await repo.get(stored.id)).state == done  # type: ignore[union-attr]
    assert [type(e).__name__ for e in await repo.events_of(stored.id)] == ["Started", "Continued"]
    async with unit_of_work():
        assert await ledger.claim_pending(clock(), lease_seconds=60) == []  # its attempt's lease is running
    later = clock() + timedelta(seconds=ledger.ATTEMPT_LEASE_SECONDS + 1)
    async with unit_of_work():
        pending = await ledger.claim_pending(later, lease_seconds=60)
    assert [(p.session_id, p.idempotency_key, p.effect) for p in pending] == [(stored.id, "k-1", cancel)]


async def test_an_error_inside_a_unit_of_work_rolls_back_every_write(
    app: Litestar, billing: InMemoryBillingProvider, clock: FakeClock
) -> None:
    stored = await _started_session(billing, clock)
    definition = await flow_repo.definition_of_version(stored.flow_version_id)
    survey = dataclasses.replace(stored.state, step=StepKind.SURVEY, version=stored.state.version + 1)

    async def step_then_fail() -> None:
        async with unit_of_work():
            await save_step(stored, definition, survey, Continued(at=clock()), clock())
            raise RuntimeError("after the writes")

    with pytest.raises(RuntimeError, match="after the writes"):
        await step_then_fail()
    assert (await repo.get(stored.id)).state == stored.state  # type: ignore[union-attr]
    assert await FlowEvent.count().where(FlowEvent.session == stored.id) == 1


@pytest.mark.skipif(not os.environ.get("DATABASE_URL"), reason="Postgres enforces VARCHAR lengths; SQLite does not")
async def test_an_overlong_value_is_refused_not_cut_short(
    app: Litestar, billing: InMemoryBillingProvider, clock: FakeClock
) -> None:
    stored = await _started_session(billing, clock)
    definition = await flow_repo.definition_of_version(stored.flow_version_id)
    newer = dataclasses.replace(stored.state, step=StepKind.SURVEY, version=stored.state.version + 1)
    overlong = FlowEvent(session=stored.id, seq=newer.version, type="x" * 41, payload="{}", at=clock())

    async def step_with_an_overlong_event() -> None:
        async with unit_of_work():
            await repo.save_state(stored.id, newer, definition, expected_version=stored.state.version, now=clock())
            await FlowEvent.insert(overlong)

    with pytest.raises(asyncpg.StringDataRightTruncationError):
        await step_with_an_overlong_event()
    assert (await repo.get(stored.id)).state == stored.state  # type: ignore[union-attr]
    assert await FlowEvent.count().where(FlowEvent.session == stored.id) == 1


async def test_the_denormalised_columns_follow_the_state(
    app: Litestar, billing: InMemoryBillingProvider, clock: FakeClock
) -> None:
    stored = await _started_session(billing, clock)
    definition = await flow_repo.definition_of_version(stored.flow_version_id)
    survey = dataclasses.replace(stored.state, step=StepKind.SURVEY, reason=ReasonId("too_expensive"), version=2)

    async def columns() -> dict[str, object]:
        query = FlowSession.select(FlowSession.step, FlowSession.outcome, FlowSession.reason, FlowSession.version)
        row = await query.where(FlowSession.id == stored.id).first()
        assert row is not None
        return row

    async with unit_of_work():
        saved = await save_step(stored, definition, survey, Continued(at=clock()), clock())
    assert await columns() == {"step": "survey", "outcome": None, "reason": "too_expensive", "version": 2}
    done = dataclasses.replace(survey, step=StepKind.DONE, outcome=Outcome.SAVED, version=3)
    async with unit_of_work():
        await save_step(saved, definition, done, Continued(at=clock()), clock())
    assert await columns() == {"step": "done", "outcome": "saved", "reason": "too_expensive", "version": 3}
