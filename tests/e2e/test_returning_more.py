"""Issue 25 in a real browser: undoing a scheduled downgrade, the forever-free plan, and a paid exit interview."""

from __future__ import annotations

from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Page, expect

from tests.e2e.conftest import LiveServer
from tests.e2e.pages import AdminPage, HostPage, WidgetPage


async def no_axe_violations(page: Page) -> None:
    handle = await page.get_by_test_id("saveflow-iframe").element_handle()
    inner = await handle.content_frame() if handle else None
    assert inner is not None
    results = await Axe().run(inner)
    assert not results.response["violations"], results.generate_report()


async def test_a_customer_with_a_downgrade_scheduled_keeps_the_current_plan(
    page: Page, own_live_server: LiveServer
) -> None:
    # CS makes the Starter downgrade wait for the period end, so taking it leaves a scheduled change behind.
    admin = AdminPage(page, own_live_server.url)
    await admin.login(own_live_server.admin_email, own_live_server.admin_password)
    await page.get_by_test_id("nav-flows").click()
    await expect(page.get_by_test_id("offer-1-id")).to_have_value("downgrade-starter")
    await page.get_by_test_id("offer-1-at_period_end").check()
    await page.get_by_test_id("note").fill("Starter from the period end")
    await page.get_by_test_id("publish-structured").click()
    await expect(page.get_by_test_id("version-row").first).to_contain_text("Starter from the period end")

    host = HostPage(page, own_live_server.host_url)
    widget = await host.open("cus_demo_ada", test_mode=False)
    await widget.click("continue")
    await widget.choose_reason("too_expensive")
    await widget.click("accept-offer-downgrade-starter")
    await expect(widget.step("done")).to_have_attribute("data-outcome", "saved")
    await widget.click("close-widget")

    widget = await host.open("cus_demo_ada", test_mode=False)  # back before the period ends
    await widget.expect_step("downgrade-scheduled")
    await expect(widget.step("downgrade-scheduled").locator("h1")).to_contain_text(
        "Your plan changes to Starter ($19/month) on"
    )
    await expect(widget.frame.get_by_test_id("cancel-now")).to_be_visible()  # cancelling stays two clicks away
    await no_axe_violations(page)
    await widget.click("undo-downgrade")
    await expect(widget.step("done")).to_have_attribute("data-outcome", "kept")
    await expect(widget.frame.get_by_test_id("done-summary")).to_contain_text("You stay on your current plan")
    await widget.click("close-widget")

    widget = await host.open("cus_demo_ada", test_mode=False)  # nothing is scheduled any more
    await widget.expect_step("loss-aversion")


async def test_a_customer_not_using_it_moves_to_the_free_plan_and_keeps_the_account(
    page: Page, own_live_server: LiveServer
) -> None:
    host = HostPage(page, own_live_server.host_url)
    widget = await host.open("cus_demo_ada", test_mode=False)
    await widget.click("continue")
    await widget.choose_reason("not_using")
    value = widget.frame.get_by_test_id("offer-value-free-plan")
    await expect(value).to_have_text("Free forever — your account and data stay")
    await no_axe_violations(page)
    await widget.click("accept-offer-free-plan")
    await expect(widget.step("done")).to_have_attribute("data-outcome", "saved")
    await expect(widget.frame.get_by_test_id("done-summary")).to_contain_text("Free plan at $0/month")
    await widget.click("close-widget")
    await expect(page.get_by_test_id("subscription-status")).to_have_attribute("data-status", "active")


async def test_a_paid_exit_interview_still_cancels_and_lands_in_the_call_queue_and_dashboard(
    page: Page, own_live_server: LiveServer
) -> None:
    host = HostPage(page, own_live_server.host_url)
    widget: WidgetPage = await host.open("cus_demo_grace", test_mode=False)  # Grace reads German
    await widget.click("continue")
    await widget.choose_reason("competitor", "Wir wechseln zu X")
    await expect(widget.frame.get_by_test_id("accept-offer-exit-interview")).to_have_text("Gespräch buchen")
    await widget.click("accept-offer-exit-interview")
    await widget.expect_step("confirm")  # the call is booked; the cancel still needs the customer's word
    await expect(widget.frame.get_by_test_id("exit-interview-booking")).to_be_visible()
    await no_axe_violations(page)
    await widget.click("confirm-cancel")
    await expect(widget.step("done")).to_have_attribute("data-outcome", "cancelled")
    await widget.click("close-widget")
    await expect(page.get_by_test_id("demo-result")).to_contain_text("Outcome: cancelled")

    admin = AdminPage(page, own_live_server.url)
    await admin.login(own_live_server.admin_email, own_live_server.admin_password)
    await expect(page.get_by_test_id("kpi-exit-interview")).to_have_text("1 exit interview")
    await page.goto(f"{own_live_server.url}/admin/operations")
    await expect(page.get_by_test_id("task-owed")).to_have_text("Send after the call: $25 gift card")
