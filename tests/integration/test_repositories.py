"""The session store's hot-path statements: optimistic concurrency and the event log."""

from __future__ import annotations

import dataclasses
import secrets

import pytest
from litestar import Litestar

from flows import Continued, StepKind
from offers.providers.memory import InMemoryBillingProvider
from service.db import repositories as repo
from service.db.tables import FlowEvent, FlowSession
from service.security import EmbedClaims
from service.use_cases import sessions
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
