"""Issue 25 in a real browser: a customer who cancelled comes back and keeps the subscription."""

from __future__ import annotations

from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Page, expect

from tests.e2e.conftest import LiveServer
from tests.e2e.pages import HostPage


async def test_a_customer_set_to_cancel_at_period_end_undoes_the_cancel(
    page: Page, own_live_server: LiveServer
) -> None:
    host = HostPage(page, own_live_server.host_url)
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


async def test_a_paused_customer_resumes_now(page: Page, own_live_server: LiveServer) -> None:
    host = HostPage(page, own_live_server.host_url)
    widget = await host.open("cus_demo_ada", test_mode=False)
    await widget.click("continue")
    await widget.choose_reason("too_expensive")
    await widget.click("accept-offer-pause-2-months")  # a real pause
    await expect(widget.step("done")).to_have_attribute("data-outcome", "saved")
    await widget.click("close-widget")
    await expect(page.get_by_test_id("demo-result")).to_have_text("Outcome: saved (pause)")

    widget = await host.open("cus_demo_ada", test_mode=False)  # back during the pause
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
