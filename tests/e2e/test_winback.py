"""Issue 25 items 4 and 5 in a real browser, on the in-memory billing and on Stripe (FakeStripe over HTTP): a
customer cancels, the win-back email reaches a real SMTP server (aiosmtpd), its link reactivates with 30% off,
and the dashboard counts the win-back."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.message import EmailMessage
from typing import cast

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Page, expect

from tests.e2e.conftest import BILLING_PROVIDERS, LiveServer, running_service
from tests.e2e.pages import AdminPage, HostPage
from tests.support.smtp import SmtpServer, smtp_server
from tests.support.stripe_http import FakeStripe
from tests.support.stripe_server import StripeServer, demo_stripe


@dataclass(frozen=True)
class Mailing:
    server: LiveServer
    smtp: SmtpServer
    stripe: FakeStripe | None  # None: the in-memory billing


@pytest.fixture(scope="module", name="mailing", params=BILLING_PROVIDERS)
async def fx_mailing(request: pytest.FixtureRequest) -> AsyncIterator[Mailing]:
    """A server of the module's own that sends its email to a local SMTP server, billing as BILLING_PROVIDERS pairs.
    The SMTP server runs in this event loop, so the service is started from a thread (it blocks meanwhile)."""
    async with smtp_server() as smtp:
        with contextlib.ExitStack() as stack:
            env, stripe = {"SMTP_URL": smtp.url}, None
            if request.param == "stripe":
                api = stack.enter_context(StripeServer(demo_stripe()))
                env, stripe = {**env, **api.env()}, api.fake
            service = running_service(f"saveflow-e2e-mail-{request.param}-", env)
            server = await asyncio.to_thread(stack.enter_context, service)
            yield Mailing(server, smtp, stripe)


async def _violations(page: Page) -> list[str]:
    results = await Axe().run(page)
    return [v["id"] for v in results.response["violations"]]


def _text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None, "no plain-text part"
    return str(cast("EmailMessage", part).get_content())


async def test_a_cancelled_customer_comes_back_through_the_win_back_email(page: Page, mailing: Mailing) -> None:
    server = mailing.server
    widget = await HostPage(page, server.host_url).open("cus_demo_ada", test_mode=False)
    await widget.click("continue")
    await widget.click("cancel-now")  # cancelled at the period end: the win-back email is queued at once
    await expect(widget.step("done")).to_have_attribute("data-outcome", "cancelled")

    message = await mailing.smtp.inbox.wait_for("We would love to have you back")  # sent by the worker
    assert message["To"] == "ada@example.com" and message["List-Unsubscribe"]
    assert "30% off for 3 months" in _text_of(message)  # the offer the link makes
    found = re.search(r"https?://\S+/w/winback\?token=\S+", _text_of(message))
    assert found, _text_of(message)

    response = await page.goto(found.group(0))
    assert response is not None and response.status == 200
    await expect(page.get_by_test_id("winback-deal")).to_have_text("30% off for 3 months")
    await expect(page.get_by_test_id("winback-value")).to_contain_text("$34.30 a month instead of $49")
    await expect(page.get_by_test_id("loss-value").first).to_be_visible()  # what Ada had
    assert await _violations(page) == []
    await page.get_by_test_id("winback-reactivate").click()
    await expect(page.get_by_test_id("winback-done")).to_be_visible()
    await expect(page.get_by_test_id("winback-summary")).to_have_text("Your subscription is active again.")
    assert await _violations(page) == []

    again = await page.goto(found.group(0))  # the link did its job: a friendly page, not a second reactivation
    assert again is not None and again.status == 410
    await expect(page.get_by_test_id("winback-used")).to_be_visible()

    await AdminPage(page, server.url).login(server.admin_email, server.admin_password)
    tile = page.get_by_test_id("kpi-winback")
    await expect(tile.get_by_test_id("kpi-winback-count")).to_have_text("1 won back")
    await expect(tile.get_by_test_id("kpi-winback-mrr-usd")).to_have_text("$34.30 MRR won back (USD)")

    await page.goto(f"{server.host_url}/?customer=cus_demo_ada")  # the host app sees it renewing again
    await expect(page.get_by_test_id("subscription-status")).not_to_have_attribute("data-status", "cancel_scheduled")
    if mailing.stripe is not None:  # what Stripe was asked: the cancel undone, then the coupon, each once
        ada = mailing.stripe.subscriptions["sub_demo_ada"]
        assert (ada["cancel_at_period_end"], ada["status"]) == (False, "active")
        assert [d["source"]["coupon"] for d in ada["discounts"]] == ["save30_3m"]
        writes = [w for w in mailing.stripe.writes() if w.path == "/v1/subscriptions/sub_demo_ada"]
        assert len(writes) == len({w.idempotency_key for w in writes}) == 3, writes  # cancel, undo, coupon
