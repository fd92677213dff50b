"""Issue 25 on Stripe: the browser walks that change billing, on a service that bills through Stripe's API
(its own stripe-python over loopback HTTP to FakeStripe), and what the service asked of Stripe.

test_thin_path.py and test_returning.py walk the same on the in-memory billing. Here the walks share one
Stripe-backed server (`stripe_live_server`: a start costs seconds of `make test`), each on a demo customer
that no other test here changes (Linus is still free): a pause has a 180-day cooldown, so Ada's save and
resume are one test.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playwright.async_api import Page

from tests.e2e import test_returning as returning
from tests.e2e import test_thin_path as thin_path
from tests.e2e.conftest import StripeLiveServer
from tests.support.stripe_http import Recorded


def _writes(server: StripeLiveServer, subscription_id: str) -> list[Recorded]:
    return [w for w in server.stripe.writes() if w.path == f"/v1/subscriptions/{subscription_id}"]


async def test_a_save_by_pause_and_resuming_it_on_stripe(page: Page, stripe_live_server: StripeLiveServer) -> None:
    await thin_path.test_cancel_click_losses_reason_pause_then_admin_shows_saved(page, stripe_live_server)
    (pause,) = _writes(stripe_live_server, "sub_demo_ada")
    assert pause.method == "post" and pause.idempotency_key
    resumes_at = datetime.fromtimestamp(int(pause.params["pause_collection[resumes_at]"]), UTC)
    assert timedelta(days=55) < resumes_at - datetime.now(UTC) < timedelta(days=63)  # two months from today

    await returning.resume_during_the_pause(page, stripe_live_server)
    (_, resume) = _writes(stripe_live_server, "sub_demo_ada")
    assert resume.params["pause_collection"] == ""  # Stripe unsets a field sent empty
    assert resume.idempotency_key and resume.idempotency_key != pause.idempotency_key
    assert stripe_live_server.stripe.subscriptions["sub_demo_ada"]["pause_collection"] is None


async def test_undoing_a_cancel_at_period_end_on_stripe(page: Page, stripe_live_server: StripeLiveServer) -> None:
    await returning.test_a_customer_set_to_cancel_at_period_end_undoes_the_cancel(page, stripe_live_server)
    (cancel, undo) = _writes(stripe_live_server, "sub_demo_grace")  # each sent once
    assert cancel.params["cancel_at_period_end"] == "true" and cancel.idempotency_key
    assert undo.params["cancel_at_period_end"] == "false"
    assert undo.idempotency_key and undo.idempotency_key != cancel.idempotency_key
    grace = stripe_live_server.stripe.subscriptions["sub_demo_grace"]
    assert (grace["cancel_at_period_end"], grace["cancel_at"], grace["status"]) == (False, None, "active")
