"""`make run` seeds sample history so a newcomer's dashboard is not empty; it goes through the real
use cases, so every figure, the funnel and the feedback page have something true to show."""

from __future__ import annotations

from datetime import timedelta

from litestar import Litestar

from admin import metrics, queries
from service.db.tables import BillingOperation, FlowSession
from service.demo_history import seed_history
from tests.conftest import FakeClock


async def test_sample_history_fills_every_dashboard_figure(app: Litestar, clock: FakeClock) -> None:
    assert await seed_history(clock(), count=60, days=60) == 60
    today = clock().date()
    board = await queries.dashboard(
        metrics.Filters(start=today - timedelta(days=60), end=today + timedelta(days=1)),
        bucket="week",
        now=clock(),
        verify_after=timedelta(days=30),
    )
    totals = board.totals
    assert totals.sessions == 60 and totals.saved > 0 and totals.cancelled > 0 and totals.abandoned > 0
    assert board.verified.mature_decided > 0 and board.verified.verified > 0
    assert len(board.trend) >= 8  # spread over the weeks, not all today
    assert dict(board.funnel)["Accepted an offer"] >= totals.saved
    assert await queries.feedback()  # sample comments reach the feedback page
    # Every save was applied through billing with its key, as a real one would be.
    saved = await FlowSession.count().where(FlowSession.outcome == "saved")
    assert await BillingOperation.count().where(BillingOperation.status == "applied") >= saved
