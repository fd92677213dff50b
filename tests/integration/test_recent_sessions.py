"""A step decides from the session as this process last saved it, and a stale copy (another worker or tab
moved the session on, or a transaction rolled back) never decides a step: SQLite and Postgres."""

from __future__ import annotations

import dataclasses

import pytest
from litestar import Litestar

from flows import Continued, InvalidTransition, SessionId, StepKind, WentBack, decide
from offers.providers.memory import InMemoryBillingProvider
from service.db import repositories as repo
from service.db.tables import FlowEvent
from service.db.uow import unit_of_work
from service.security import EmbedClaims
from service.use_cases import sessions
from service.use_cases.recent_sessions import RecentSessions
from tests.conftest import FakeClock


async def _started(billing: InMemoryBillingProvider, clock: FakeClock, jti: str) -> str:
    claims = EmbedClaims(sub="cus_demo_ada", subscription_id="sub_demo_ada", jti=jti, exp=0, iat=0)
    view = await sessions.start_session(claims, billing=billing, clock=clock)
    assert view.state.step is StepKind.LOSS_AVERSION
    return view.session.id


async def _another_worker_steps(session_id: str, *events: Continued | WentBack) -> None:
    """Saves steps the way another process would: through the database only, unseen by this one's memory."""
    for event in events:
        stored = await repo.get_session(session_id)
        assert stored is not None
        definition = await repo.definition_of_version(stored.flow_version_id)
        state = decide(definition, stored.state, event, stored.context).state
        await repo.write_step(
            [
                repo.save_state_statement(
                    session_id, state, definition, expected_version=stored.state.version, now=event.at
                ),
                repo.append_event_statement(session_id, state.version, event),
            ]
        )


async def _event_seqs(session_id: str) -> list[int]:
    rows = await FlowEvent.select(FlowEvent.seq).where(FlowEvent.session == session_id).order_by(FlowEvent.seq)
    return [row["seq"] for row in rows]


async def test_the_next_step_is_decided_without_reading_the_session_back(
    app: Litestar, billing: InMemoryBillingProvider, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = await _started(billing, clock, "jti-recent-0001")
    await sessions.handle_event(sid, Continued(at=clock()), billing=billing, clock=clock)
    reads: list[str] = []
    read = repo.get_session

    async def counted(session_id: str, *, for_update: bool = False) -> repo.StoredSession | None:
        reads.append(session_id)
        return await read(session_id, for_update=for_update)

    monkeypatch.setattr(repo, "get_session", counted)
    view = await sessions.handle_event(sid, WentBack(at=clock()), billing=billing, clock=clock)

    assert view.state.step is StepKind.LOSS_AVERSION
    assert reads == []
    stored = await read(sid)
    assert stored is not None and stored.state == view.state


async def test_a_copy_another_worker_made_stale_loses_on_the_version_check_and_the_step_is_decided_again(
    app: Litestar, billing: InMemoryBillingProvider, clock: FakeClock
) -> None:
    sid = await _started(billing, clock, "jti-recent-0002")
    survey = await sessions.handle_event(sid, Continued(at=clock()), billing=billing, clock=clock)
    # Another worker takes the user back and forward again: the same step, two versions later.
    await _another_worker_steps(sid, WentBack(at=clock()), Continued(at=clock()))

    view = await sessions.handle_event(sid, WentBack(at=clock()), billing=billing, clock=clock)

    assert view.state.step is StepKind.LOSS_AVERSION
    assert view.state.version == survey.state.version + 3
    assert await _event_seqs(sid) == list(range(1, view.state.version + 1))  # nothing overwritten or lost


async def test_an_event_the_stale_copy_refuses_is_decided_again_from_the_database(
    app: Litestar, billing: InMemoryBillingProvider, clock: FakeClock
) -> None:
    sid = await _started(billing, clock, "jti-recent-0003")
    await sessions.handle_event(sid, Continued(at=clock()), billing=billing, clock=clock)
    await _another_worker_steps(sid, WentBack(at=clock()))  # the user went back in another tab

    # "Continue" does not fit the survey this process remembers, but fits where the session really is.
    view = await sessions.handle_event(sid, Continued(at=clock()), billing=billing, clock=clock)

    assert view.state.step is StepKind.SURVEY


class RolledBack(Exception):
    pass


async def test_a_step_saved_in_a_transaction_that_rolls_back_is_not_remembered(
    app: Litestar, billing: InMemoryBillingProvider, clock: FakeClock
) -> None:
    sid = await _started(billing, clock, "jti-recent-0004")

    async def continue_then_roll_back() -> None:
        async with unit_of_work():
            await sessions.handle_event(sid, Continued(at=clock()), billing=billing, clock=clock)
            raise RolledBack

    with pytest.raises(RolledBack):
        await continue_then_roll_back()
    # Another worker then saves a state of the very version the rolled-back step had: were that step
    # remembered, its copy would pass the version check and decide from a survey nobody saved.
    stored = await repo.get_session(sid)
    assert stored is not None and stored.state.step is StepKind.LOSS_AVERSION
    definition = await repo.definition_of_version(stored.flow_version_id)
    same_step_next_version = dataclasses.replace(stored.state, version=stored.state.version + 1)
    await repo.save_state(sid, same_step_next_version, definition, expected_version=stored.state.version, now=clock())

    with pytest.raises(InvalidTransition):  # "back" does not fit loss aversion, where the session is
        await sessions.handle_event(sid, WentBack(at=clock()), billing=billing, clock=clock)


async def test_the_memory_is_bounded_and_forgets_the_least_recently_used_session_first(
    app: Litestar, billing: InMemoryBillingProvider, clock: FakeClock
) -> None:
    stored = await repo.get_session(await _started(billing, clock, "jti-recent-0005"))
    assert stored is not None
    a, b, c = (dataclasses.replace(stored, id=SessionId(name)) for name in ("ses_a", "ses_b", "ses_c"))
    memory = RecentSessions(capacity=2)
    memory.remember(a)
    memory.remember(b)
    assert memory.get("ses_a") is a  # a is now the most recently used
    memory.remember(c)

    assert len(memory) == 2
    assert memory.get("ses_b") is None
    assert memory.get("ses_a") is a and memory.get("ses_c") is c
    memory.forget("ses_a")
    assert memory.get("ses_a") is None
