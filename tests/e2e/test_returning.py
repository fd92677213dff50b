"""Issue 25 in a real browser, on the in-memory billing and on Stripe (FakeStripe over HTTP): a customer who
cancelled comes back and keeps the subscription; a paused one resumes now, or extends the pause. On Stripe,
what the service asked of Stripe too: each change sent once, under a key of its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Page, expect

from offers.apply import add_length
from offers.model import PauseLength, PauseUnit
from service.i18n import date_text
from tests.e2e.conftest import LiveServer
from tests.e2e.pages import HostPage
from tests.support.stripe_http import Recorded


async def test_a_customer_set_to_cancel_at_period_end_undoes_the_cancel(page: Page, billing_server: LiveServer) -> None:
    host = HostPage(page, billing_server.host_url)
    widget = await host.open("cus_demo_grace", test_mode=False)
    await widget.click("continue")
    await widget.click("cancel-now")  # two clicks: cancelled at the period end
    await expect(widget.step("done")).to_have_attribute("data-outcome", "cancelled")
    await widget.click("close-widget")
    await expect(page.get_by_test_id("demo-result")).to_have_text("Outcome: cancelled")

    widget = await host.open("cus_demo_grace", test_mode=False)  # back again
    await widget.expect_step("ending")
    await expect(widget.step("ending").locator("h1")).to_contain_text("Ihr Abonnement endet am")  # Grace reads German
    await expect(widget.frame.get_by_test_id("cancel-now")).to_have_count(0)  # nothing to cancel twice
    handle = await page.get_by_test_id("saveflow-iframe").element_handle()
    inner = await handle.content_frame() if handle else None
    assert inner is not None
    results = await Axe().run(inner)
    assert not results.response["violations"], results.generate_report()
    await widget.click("reactivate")
    await expect(widget.step("done")).to_have_attribute("data-outcome", "reactivated")
    await expect(widget.frame.get_by_test_id("done-title")).to_have_text("Ihr Abonnement läuft weiter")
    await widget.click("close-widget")
    await expect(page.get_by_test_id("demo-result")).to_have_text("Outcome: reactivated (reactivate)")
    status = page.get_by_test_id("subscription-status")
    await expect(status).not_to_have_attribute("data-status", "cancel_scheduled")
    if billing_server.stripe is not None:
        (cancel, undo) = _writes(billing_server, "sub_demo_grace")  # each sent once
        assert cancel.params["cancel_at_period_end"] == "true" and cancel.idempotency_key
        assert undo.params["cancel_at_period_end"] == "false"
        assert undo.idempotency_key and undo.idempotency_key != cancel.idempotency_key
        grace = billing_server.stripe.subscriptions["sub_demo_grace"]
        assert (grace["cancel_at_period_end"], grace["cancel_at"], grace["status"]) == (False, None, "active")


def _writes(server: LiveServer, subscription_id: str) -> list[Recorded]:
    assert server.stripe is not None
    return [w for w in server.stripe.writes() if w.path == f"/v1/subscriptions/{subscription_id}"]


async def test_a_paused_customer_resumes_now(page: Page, billing_server: LiveServer) -> None:
    host = HostPage(page, billing_server.host_url)
    widget = await host.open("cus_demo_ada", test_mode=False)
    await widget.click("continue")
    await widget.choose_reason("too_expensive")
    await widget.click("accept-offer-pause-2-months")  # a real pause
    await expect(widget.step("done")).to_have_attribute("data-outcome", "saved")
    await widget.click("close-widget")
    await expect(page.get_by_test_id("demo-result")).to_have_text("Outcome: saved (pause)")
    if billing_server.stripe is not None:
        (pause,) = _writes(billing_server, "sub_demo_ada")
        assert pause.method == "post" and pause.idempotency_key
        resumes_at = datetime.fromtimestamp(int(pause.params["pause_collection[resumes_at]"]), UTC)
        assert timedelta(days=55) < resumes_at - datetime.now(UTC) < timedelta(days=63)  # two months from today
    await resume_during_the_pause(page, billing_server)
    if billing_server.stripe is not None:
        (pause, resume) = _writes(billing_server, "sub_demo_ada")
        assert resume.params["pause_collection"] == ""  # Stripe unsets a field sent empty
        assert resume.idempotency_key and resume.idempotency_key != pause.idempotency_key
        assert billing_server.stripe.subscriptions["sub_demo_ada"]["pause_collection"] is None


async def resume_during_the_pause(page: Page, server: LiveServer) -> None:
    """Ada, paused by a save, comes back and resumes now."""
    widget = await HostPage(page, server.host_url).open("cus_demo_ada", test_mode=False)  # back during the pause
    await widget.expect_step("paused")
    await expect(widget.frame.get_by_test_id("cancel-now")).to_be_visible()  # cancelling stays two clicks away
    handle = await page.get_by_test_id("saveflow-iframe").element_handle()
    inner = await handle.content_frame() if handle else None
    assert inner is not None
    results = await Axe().run(inner)
    assert not results.response["violations"], results.generate_report()
    await widget.click("resume")
    await expect(widget.step("done")).to_have_attribute("data-outcome", "kept")
    await widget.click("close-widget")
    await expect(page.get_by_test_id("subscription-status")).to_have_attribute("data-status", "active")


async def paused_until(page: Page, server: LiveServer, customer: str) -> datetime:
    """Billing's own answer (GET /api/v1/customers/{id}/status), as the host backend reads it."""
    headers = {"Authorization": f"Bearer {server.api_key}"}
    response = await page.request.get(f"{server.url}/api/v1/customers/{customer}/status", headers=headers)
    assert response.ok, await response.text()
    value = (await response.json())["paused_until"]
    assert value, "not paused"
    return datetime.fromisoformat(value)


async def test_a_paused_customer_extends_the_pause_and_sees_the_new_date(
    page: Page, billing_server: LiveServer
) -> None:
    host = HostPage(page, billing_server.host_url)
    widget = await host.open("cus_demo_grace", test_mode=False)  # Grace (German) has never paused
    await widget.click("continue")
    await widget.choose_reason("too_expensive")
    await widget.click("accept-offer-pause-2-months")  # the preselected first length: 2 months
    await expect(widget.step("done")).to_have_attribute("data-outcome", "saved")
    await widget.click("close-widget")
    before = await paused_until(page, billing_server, "cus_demo_grace")

    widget = await host.open("cus_demo_grace", test_mode=False)  # back during the pause
    await widget.expect_step("paused")
    await expect(widget.frame.get_by_test_id("extend-pause")).to_have_text("Pause verlängern")
    await expect(widget.frame.get_by_test_id("pause-length-extend-pause-1")).to_be_checked()
    handle = await page.get_by_test_id("saveflow-iframe").element_handle()
    inner = await handle.content_frame() if handle else None
    assert inner is not None
    results = await Axe().run(inner)
    assert not results.response["violations"], results.generate_report()
    await widget.frame.get_by_test_id("pause-length-extend-pause-2").check()  # 3 more months
    await widget.click("extend-pause")
    await expect(widget.step("done")).to_have_attribute("data-outcome", "saved")
    extended = add_length(before, PauseLength(3, PauseUnit.MONTHS))
    assert await paused_until(page, billing_server, "cus_demo_grace") == extended
    summary = widget.frame.get_by_test_id("done-summary")
    new_date = date_text(extended, "de")
    await expect(summary).to_contain_text(f"Ihre Pause ist verlängert. Die Abrechnung läuft ab {new_date}")
    await widget.click("close-widget")
    status = page.get_by_test_id("subscription-status")
    await expect(status).to_have_text(f"Paused until {date_text(extended, 'en')}.")
    if billing_server.stripe is not None:  # the pause, then its extension: each sent once
        (pause, extend) = [
            w for w in _writes(billing_server, "sub_demo_grace") if "pause_collection[resumes_at]" in w.params
        ]
        assert extend.idempotency_key and extend.idempotency_key != pause.idempotency_key
        assert int(extend.params["pause_collection[resumes_at]"]) == int(extended.timestamp())
