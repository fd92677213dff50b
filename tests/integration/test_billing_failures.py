"""Billing failures handled by what they mean (SQLite and Postgres): a 5xx spends its key, so re-read and
retry once under the next key; 401/403 are an operator fault that keeps the operation pending and the
user's offer open; a transient failure is never re-sent by the sweep once the user was sent back."""

from __future__ import annotations

from datetime import datetime

import httpx
from litestar import Litestar
from prometheus_client import REGISTRY

from flows import CancelConfirmed, CancelRequested, Continued, Notice, OfferAccepted, ReasonChosen, ReasonId, StepKind
from offers import OfferId, ProviderUnavailable, SubscriptionSnapshot
from offers.providers.memory import InMemoryBillingProvider
from service.db.tables import BillingOperation
from service.repositories import sessions as session_repo
from service.security import EmbedClaims
from service.use_cases import billing_effects, sessions
from tests.conftest import FakeClock
from tests.integration.test_admin_pages import login_as

PAUSE = OfferId("pause-2-months")
LEASE = billing_effects.BILLING_LEASE_SECONDS


async def _at_offer(billing: InMemoryBillingProvider, clock: FakeClock) -> str:
    claims = EmbedClaims(
        sub="cus_demo_ada", subscription_id="sub_demo_ada", jti=f"jti-{clock().timestamp()}", exp=0, iat=0
    )
    sid = (await sessions.start_session(claims, billing=billing, clock=clock)).session.id
    await sessions.handle_event(sid, Continued(at=clock()), billing=billing, clock=clock)
    await sessions.handle_event(
        sid, ReasonChosen(at=clock(), reason=ReasonId("too_expensive")), billing=billing, clock=clock
    )
    return sid


async def _accept(sid: str, billing: InMemoryBillingProvider, clock: FakeClock) -> sessions.SessionView:
    return await sessions.handle_event(sid, OfferAccepted(at=clock(), offer_id=PAUSE), billing=billing, clock=clock)


async def _ops() -> list[dict[str, object]]:
    return await BillingOperation.select(
        BillingOperation.idempotency_key, BillingOperation.attempt, BillingOperation.status
    ).order_by(BillingOperation.id)


def _key(sid: str, attempt: int, action: str = f"offer:{PAUSE}") -> str:
    return f"sf:{sid}:{action}:{attempt}"


def _auth_failures(action: str = "offer") -> float:
    return REGISTRY.get_sample_value("saveflow_billing_auth_failures_total", {"action": action}) or 0.0


def test_the_attempt_lease_outlasts_the_billing_http_timeout() -> None:
    from offers.providers.stripe import REQUEST_TIMEOUT_SECONDS

    # One call, then (after a 5xx) one re-read, both within the attempt's lease.
    assert LEASE > 2 * REQUEST_TIMEOUT_SECONDS


async def test_a_server_error_is_retried_once_under_the_next_key(
    app: Litestar, billing: InMemoryBillingProvider, clock: FakeClock
) -> None:
    sid = await _at_offer(billing, clock)
    billing.fail_next_with_server_error()  # Stripe stores the 500 and replays it for this key
    view = await _accept(sid, billing, clock)
    assert view.state.step is StepKind.DONE
    assert billing.subscriptions["sub_demo_ada"].paused_until is not None
    assert [c.idempotency_key for c in billing.calls if c.method == "pause"] == [_key(sid, 2)]
    assert await _ops() == [
        {"idempotency_key": _key(sid, 1), "attempt": 1, "status": "failed"},
        {"idempotency_key": _key(sid, 2), "attempt": 2, "status": "applied"},
    ]
    first = await BillingOperation.select(BillingOperation.error).where(BillingOperation.attempt == 1).first()
    assert first is not None
    assert "ProviderFailed" in first["error"]
    assert f"retried under {_key(sid, 2)}" in first["error"]


async def test_a_server_error_after_the_change_was_made_settles_as_applied(
    app: Litestar, billing: InMemoryBillingProvider, clock: FakeClock
) -> None:
    sid = await _at_offer(billing, clock)
    billing.fail_next_with_server_error(applied=True)  # applied, then answered 500
    view = await _accept(sid, billing, clock)
    assert view.state.step is StepKind.DONE
    assert [c.idempotency_key for c in billing.calls if c.method == "pause"] == [_key(sid, 1)]  # nothing re-sent
    assert await _ops() == [{"idempotency_key": _key(sid, 1), "attempt": 1, "status": "applied"}]


async def test_a_second_server_error_is_a_definitive_failure(
    app: Litestar, billing: InMemoryBillingProvider, clock: FakeClock
) -> None:
    sid = await _at_offer(billing, clock)
    billing.fail_next_with_server_error()
    billing.fail_next_with_server_error()
    view = await _accept(sid, billing, clock)
    assert view.state.step is not StepKind.OFFER_PENDING
    assert view.state.notice is Notice.OFFER_UNAVAILABLE
    assert view.state.attempt(f"offer:{PAUSE}") == 2
    assert billing.subscriptions["sub_demo_ada"].paused_until is None
    assert [op["status"] for op in await _ops()] == ["failed", "failed"]


async def test_a_second_server_error_after_the_change_was_made_settles_as_applied(
    app: Litestar, billing: InMemoryBillingProvider, clock: FakeClock
) -> None:
    """A 5xx does not mean nothing happened: the retry's change is found on a re-read, so the ledger
    agrees with billing and the user is not offered a second thing on top."""
    sid = await _at_offer(billing, clock)
    billing.fail_next_with_server_error()
    billing.fail_next_with_server_error(applied=True)
    view = await _accept(sid, billing, clock)
    assert view.state.step is StepKind.DONE
    assert billing.subscriptions["sub_demo_ada"].paused_until is not None
    assert [op["status"] for op in await _ops()] == ["failed", "applied"]


async def test_a_cancellation_server_error_is_retried_under_the_next_key(
    app: Litestar, billing: InMemoryBillingProvider, clock: FakeClock
) -> None:
    sid = await _at_offer(billing, clock)
    view = await sessions.handle_event(sid, CancelRequested(at=clock()), billing=billing, clock=clock)
    assert view.state.step is StepKind.CONFIRM
    billing.fail_next_with_server_error()
    view = await sessions.handle_event(sid, CancelConfirmed(at=clock()), billing=billing, clock=clock)
    assert view.state.step is StepKind.DONE
    assert billing.subscriptions["sub_demo_ada"].cancel_at_period_end
    assert [(op["idempotency_key"], op["status"]) for op in await _ops()] == [
        (_key(sid, 1, "cancel"), "failed"),
        (_key(sid, 2, "cancel"), "applied"),
    ]


async def test_refused_credentials_keep_the_operation_pending_and_the_offer_open(
    app: Litestar, billing: InMemoryBillingProvider, clock: FakeClock, client: httpx.AsyncClient
) -> None:
    sid = await _at_offer(billing, clock)
    before = _auth_failures()
    billing.fail_next_with_auth_error()
    view = await _accept(sid, billing, clock)
    # The user is back at the same offer with "try again in a moment", not moved on.
    assert (view.state.step, view.state.current_offer, view.state.notice) == (
        StepKind.OFFER,
        PAUSE,
        Notice.OFFER_FAILED,
    )
    assert view.state.attempt(f"offer:{PAUSE}") == 1
    assert await _ops() == [{"idempotency_key": _key(sid, 1), "attempt": 1, "status": "pending"}]
    assert _auth_failures() == before + 1

    await login_as(client, "viewer", clock)
    page = (await client.get("/admin/operations")).text
    assert 'data-testid="billing-credentials-refused"' in page
    assert 'data-testid="credentials-refused-note">billing credentials refused' in page
    assert "ProviderAuthFailed" in page

    # The operator fixes the key; the user accepts again under the same key, which Stripe never stored.
    view = await _accept(sid, billing, clock)
    assert view.state.step is StepKind.DONE
    assert await _ops() == [{"idempotency_key": _key(sid, 1), "attempt": 1, "status": "applied"}]


async def test_a_sweep_meeting_a_key_in_flight_leaves_the_operation_for_later(
    app: Litestar, billing: InMemoryBillingProvider, clock: FakeClock
) -> None:
    sid = await _at_offer(billing, clock)
    await _commit_pending_offer(sid, billing, clock)  # a crash after the commit: the user waits on the pending step
    clock.advance(seconds=LEASE)
    billing.fail_next(ProviderUnavailable("409 idempotency_key_in_use (injected)"))
    assert await billing_effects.sweep_pending(billing=billing, clock=clock) == 1
    stored = await session_repo.get(sid)
    assert stored is not None
    assert stored.state.step is StepKind.OFFER_PENDING  # the sweep never reports a transient failure
    assert [op["status"] for op in await _ops()] == ["pending"]
    assert await billing_effects.sweep_pending(billing=billing, clock=clock) == 0  # its own lease now runs
    clock.advance(seconds=LEASE)
    assert await billing_effects.sweep_pending(billing=billing, clock=clock) == 1
    stored = await session_repo.get(sid)
    assert stored is not None
    assert stored.state.step is StepKind.DONE
    assert [op["status"] for op in await _ops()] == ["applied"]


async def test_the_sweep_never_resends_work_the_user_was_sent_back_from(
    app: Litestar, billing: InMemoryBillingProvider, clock: FakeClock
) -> None:
    sid = await _at_offer(billing, clock)
    billing.fail_next(ProviderUnavailable("read timed out (injected)"))  # never reached Stripe
    view = await _accept(sid, billing, clock)
    assert (view.state.step, view.state.notice) == (StepKind.OFFER, Notice.OFFER_FAILED)
    assert [op["status"] for op in await _ops()] == ["pending"]  # outcome unknown: not settled failed
    clock.advance(seconds=LEASE)
    assert await billing_effects.sweep_pending(billing=billing, clock=clock) == 1
    assert billing.calls == []  # the user may have moved on: only a read, no write
    row = await BillingOperation.select(BillingOperation.status, BillingOperation.error).first()
    assert row is not None
    assert row["status"] == "failed"
    assert row["error"].startswith("Abandoned")
    assert "ProviderUnavailable" in row["error"]
    stored = await session_repo.get(sid)
    assert stored is not None
    assert stored.state.step is StepKind.OFFER
    # Accepting again reopens the same key and applies it once.
    assert (await _accept(sid, billing, clock)).state.step is StepKind.DONE
    assert await _ops() == [{"idempotency_key": _key(sid, 1), "attempt": 1, "status": "applied"}]


async def test_the_sweep_settles_a_lost_response_as_applied_from_a_fresh_read(
    app: Litestar, billing: InMemoryBillingProvider, clock: FakeClock
) -> None:
    sid = await _at_offer(billing, clock)
    billing.lose_next_response()  # Stripe applied it; the answer never arrived
    view = await _accept(sid, billing, clock)
    assert view.state.step is StepKind.OFFER
    clock.advance(seconds=LEASE)
    assert await billing_effects.sweep_pending(billing=billing, clock=clock) == 1
    assert [op["status"] for op in await _ops()] == ["applied"]
    assert len(billing.calls) == 1
    assert (await _accept(sid, billing, clock)).state.step is StepKind.DONE  # replayed under the same key
    assert len(billing.calls) == 1


async def _commit_pending_offer(sid: str, billing: InMemoryBillingProvider, clock: FakeClock) -> None:
    """Accept the offer with a billing call that never happens (the process dies after the commit)."""

    class Died(BaseException):
        pass

    class DiesBeforeCalling(InMemoryBillingProvider):
        async def pause(
            self, subscription_id: str, *, resumes_at: datetime, behavior: str, idempotency_key: str, **_: object
        ) -> SubscriptionSnapshot:
            raise Died

    dying = DiesBeforeCalling(clock=clock, subscriptions=billing.subscriptions, prices=billing.prices)
    try:
        await _accept(sid, dying, clock)
    except Died:
        return
    raise AssertionError("the billing call should have died")
