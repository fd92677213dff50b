"""Crash safety: the pending operation and its attempt clock are committed before billing is called, the
sweep finishes it exactly once and never while an attempt's lease runs, and concurrent clicks never
apply an offer twice (SQLite and Postgres)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from litestar import Litestar

from flows import (
    Continued,
    Event,
    InvalidInput,
    InvalidTransition,
    OfferAccepted,
    ReasonChosen,
    ReasonId,
    StepKind,
    replay,
)
from offers import OfferId, ProviderUnavailable, SubscriptionSnapshot
from offers.providers.memory import InMemoryBillingProvider
from service.db.tables import BillingOperation, FlowEvent, FlowSession
from service.repositories import flows as flow_repo
from service.repositories import sessions as session_repo
from service.security import EmbedClaims
from service.use_cases import billing_effects, sessions
from tests.conftest import FakeClock

PAUSE = OfferId("pause-2-months")
LEASE = billing_effects.BILLING_LEASE_SECONDS


class ProcessKilled(BaseException):
    """Stands in for the process dying mid-request (not an Exception: nothing may catch it)."""


class DiesBeforeCalling(InMemoryBillingProvider):
    async def pause(
        self, subscription_id: str, *, resumes_at: datetime, behavior: str, idempotency_key: str, **_: object
    ) -> SubscriptionSnapshot:
        raise ProcessKilled


async def _at_offer(billing: InMemoryBillingProvider, clock: FakeClock) -> str:
    claims = EmbedClaims(
        sub="cus_demo_ada", subscription_id="sub_demo_ada", jti=f"jti-{clock().timestamp()}", exp=0, iat=0
    )
    view = await sessions.start_session(claims, billing=billing, clock=clock)
    sid = view.session.id
    await sessions.handle_event(sid, Continued(at=clock()), billing=billing, clock=clock)
    await sessions.handle_event(
        sid, ReasonChosen(at=clock(), reason=ReasonId("too_expensive")), billing=billing, clock=clock
    )
    return sid


async def test_a_crash_after_commit_is_finished_once_by_the_sweep(
    app: Litestar, billing: InMemoryBillingProvider, clock: FakeClock
) -> None:
    sid = await _at_offer(billing, clock)
    dying = DiesBeforeCalling(clock=clock, subscriptions=billing.subscriptions, prices=billing.prices)
    with pytest.raises(ProcessKilled):
        await sessions.handle_event(sid, OfferAccepted(at=clock(), offer_id=PAUSE), billing=dying, clock=clock)

    # What survived the crash: the decision and the pending operation with its attempt clock, all committed.
    row = await FlowSession.select(FlowSession.step).where(FlowSession.id == sid).first()
    assert row == {"step": "offer_pending"}
    ops = await BillingOperation.select(
        BillingOperation.status,
        BillingOperation.idempotency_key,
        BillingOperation.attempt_started_at,
        BillingOperation.claimed_until,
    )
    assert ops == [
        {
            "status": "pending",
            "idempotency_key": f"sf:{sid}:offer:{PAUSE}:1",
            "attempt_started_at": clock(),
            "claimed_until": clock() + _seconds(LEASE),
        }
    ]
    assert billing.calls == []

    clock.advance(seconds=LEASE - 1)
    assert await billing_effects.sweep_pending(billing=billing, clock=clock) == 0  # the attempt's lease still runs
    clock.advance(seconds=1)
    assert await billing_effects.sweep_pending(billing=billing, clock=clock) == 1
    clock.advance(minutes=5)
    assert await billing_effects.sweep_pending(billing=billing, clock=clock) == 0
    assert [c.idempotency_key for c in billing.calls] == [f"sf:{sid}:offer:{PAUSE}:1"]
    final = await FlowSession.select(FlowSession.step, FlowSession.outcome).where(FlowSession.id == sid).first()
    assert final == {"step": "done", "outcome": "saved"}
    events = await FlowEvent.select(FlowEvent.type).where(FlowEvent.session == sid).order_by(FlowEvent.seq)
    assert [e["type"] for e in events][-2:] == ["OfferAccepted", "OfferApplied"]


async def test_a_sweep_racing_the_request_still_applies_once(
    app: Litestar, billing: InMemoryBillingProvider, clock: FakeClock
) -> None:
    sid = await _at_offer(billing, clock)
    billing.delay_next(0.3)  # the request's billing call is slow…
    request = asyncio.create_task(
        sessions.handle_event(sid, OfferAccepted(at=clock(), offer_id=PAUSE), billing=billing, clock=clock)
    )
    await asyncio.sleep(0.1)
    clock.advance(minutes=1)
    assert await billing_effects.sweep_pending(billing=billing, clock=clock) == 0  # a live request is never swept
    # Only a fake clock can outrun the lease (the HTTP timeout is shorter): the sweep then takes the
    # operation over while the request's call is in flight. Stripe answers 409 for the key in flight
    # (ProviderUnavailable), so the sweep leaves the row for later; or, if its call is served first, it
    # gets the result stored under the same key. Either way the offer is applied once and the user saved.
    clock.advance(seconds=LEASE)
    assert await billing_effects.sweep_pending(billing=billing, clock=clock) == 1
    view = await request
    assert view.state.step is StepKind.DONE
    assert len([c for c in billing.calls if c.method == "pause"]) == 1
    assert await BillingOperation.select(BillingOperation.status) == [{"status": "applied"}]
    stored = await session_repo.get(sid)
    assert stored is not None
    assert stored.state.outcome is not None
    assert stored.state.outcome.value == "saved"


async def test_a_reopened_retry_is_not_swept_while_its_attempt_runs(
    app: Litestar, billing: InMemoryBillingProvider, clock: FakeClock
) -> None:
    """The lease starts with the attempt, not with the row: a retry of an old row is as safe as a new one."""
    sid = await _at_offer(billing, clock)
    billing.fail_next(ProviderUnavailable("timeout"))
    failed = await sessions.handle_event(sid, OfferAccepted(at=clock(), offer_id=PAUSE), billing=billing, clock=clock)
    assert failed.state.step is StepKind.OFFER  # "try again in a moment"
    clock.advance(minutes=10)  # the row was created 10 minutes ago; the user now tries again
    billing.delay_next(0.3)
    retry = asyncio.create_task(
        sessions.handle_event(sid, OfferAccepted(at=clock(), offer_id=PAUSE), billing=billing, clock=clock)
    )
    await asyncio.sleep(0.1)
    clock.advance(seconds=31)
    assert await billing_effects.sweep_pending(billing=billing, clock=clock) == 0
    row = await BillingOperation.select(BillingOperation.attempt_started_at, BillingOperation.claimed_until).first()
    assert row == {
        "attempt_started_at": clock() - _seconds(31),
        "claimed_until": clock() - _seconds(31) + _seconds(LEASE),
    }
    view = await retry
    assert view.state.step is StepKind.DONE
    assert [c.idempotency_key for c in billing.calls] == [f"sf:{sid}:offer:{PAUSE}:1"]
    assert await BillingOperation.select(BillingOperation.status) == [{"status": "applied"}]


async def test_two_hundred_concurrent_accepts_apply_the_offer_once(
    app: Litestar, billing: InMemoryBillingProvider, clock: FakeClock
) -> None:
    sid = await _at_offer(billing, clock)

    async def accept() -> str:
        try:
            await sessions.handle_event(sid, OfferAccepted(at=clock(), offer_id=PAUSE), billing=billing, clock=clock)
        except InvalidTransition:
            return "refused"
        return "applied"

    results = await asyncio.gather(*(accept() for _ in range(200)))
    assert results.count("applied") == 1
    assert results.count("refused") == 199
    assert len(billing.calls) == 1
    assert await BillingOperation.count() == 1
    accepted = await FlowEvent.count().where((FlowEvent.session == sid) & (FlowEvent.type == "OfferAccepted"))
    assert accepted == 1


def _seconds(n: int) -> timedelta:

    return timedelta(seconds=n)


async def test_concurrent_steps_from_two_tabs_never_lose_an_update(
    app: Litestar, billing: InMemoryBillingProvider, clock: FakeClock
) -> None:
    """Each event decides from the state the previous one committed (row lock or write lock), so every
    event that was accepted is in the log exactly once and the stored state is the replay of the log."""
    claims = EmbedClaims(sub="cus_demo_ada", subscription_id="sub_demo_ada", jti="jti-races-0001", exp=0, iat=0)
    sid = (await sessions.start_session(claims, billing=billing, clock=clock)).session.id

    async def step(event: Event) -> str:
        try:
            await sessions.handle_event(sid, event, billing=billing, clock=clock)
        except (InvalidTransition, InvalidInput):
            return "refused"
        return "accepted"

    tabs: list[Event] = [Continued(at=clock()), ReasonChosen(at=clock(), reason=ReasonId("too_expensive"))] * 10
    results = await asyncio.gather(*(step(event) for event in tabs))
    stored = await session_repo.get(sid)
    assert stored is not None
    log = await session_repo.events_of(sid)
    definition = await flow_repo.definition_of_version(stored.flow_version_id)
    assert results.count("accepted") == len(log) - 1  # every accepted event, and only those, was logged
    assert [type(e).__name__ for e in log].count("Continued") == 1
    assert replay(definition, stored.context, sid, log) == stored.state
