"""The thin path in a real browser: host page → widget → save by pause → admin shows it saved."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.e2e.conftest import LiveServer
from tests.e2e.pages import AdminPage, HostPage


async def test_cancel_click_losses_reason_pause_then_admin_shows_saved(page: Page, own_live_server: LiveServer) -> None:
    live_server = own_live_server  # this walk really pauses Ada: other tests must not see it
    widget = await HostPage(page, live_server.host_url).open("cus_demo_ada", test_mode=False)

    await widget.expect_step("loss-aversion")
    losses = widget.frame.get_by_test_id("loss")
    await expect(losses).to_have_count(3)
    await expect(losses.first).to_contain_text("128")
    await expect(losses.first).to_contain_text("projects")
    await expect(widget.frame.get_by_test_id("cancel-now")).to_have_count(0)  # "Continue to cancel" is the one way on

    await widget.click("continue")
    await widget.expect_step("survey")
    await expect(widget.frame.get_by_test_id("cancel-now")).to_be_visible()  # the way out is there from now on
    await widget.choose_reason("too_expensive", "We lost a client")
    await widget.expect_step("offer")
    await expect(widget.frame.get_by_test_id("offer-card-pause")).to_be_visible()

    await widget.click("accept-offer-pause-2-months")
    await widget.expect_step("done")
    await expect(widget.step("done")).to_have_attribute("data-outcome", "saved")
    await expect(widget.frame.get_by_test_id("done-summary")).to_contain_text(
        "Your subscription is paused. Billing resumes on"
    )

    await widget.click("close-widget")
    await expect(page.get_by_test_id("saveflow-modal")).to_be_hidden()  # (a hover may prepare the next, hidden)
    await expect(page.get_by_test_id("demo-result")).to_have_text("Outcome: saved (pause)")

    admin = AdminPage(page, live_server.url)
    await admin.login(live_server.admin_email, live_server.admin_password)
    row = (await admin.sessions()).filter(has_text="ada@example.com").first
    # The admin speaks in words; the ids stay on the cells for tools.
    await expect(row.get_by_test_id("session-outcome")).to_have_text("Saved")
    await expect(row.get_by_test_id("session-outcome")).to_have_attribute("data-outcome", "saved")
    await expect(row.get_by_test_id("session-reason")).not_to_have_text("too_expensive")  # its label instead
    await expect(row.get_by_test_id("session-reason")).to_have_attribute("data-reason", "too_expensive")
    await expect(row.get_by_test_id("session-offer")).to_have_attribute("data-offer", "pause-2-months")


async def test_without_javascript_the_flow_works_as_a_full_page(page: Page, own_live_server: LiveServer) -> None:
    # This really cancels Grace: on the module's own server, so no other test meets her set to cancel.
    await page.goto(f"{own_live_server.url}/?customer=cus_demo_grace")
    href = await page.get_by_test_id("cancel-subscription").get_attribute("href")
    assert href and "/w/start?token=" in href
    context = await page.context.browser.new_context(java_script_enabled=False)  # type: ignore[union-attr]
    try:
        plain = await context.new_page()
        await plain.goto(href)
        await expect(plain.get_by_test_id("step-loss-aversion")).to_be_visible()
        await plain.get_by_test_id("continue").click()
        await plain.get_by_test_id("cancel-now").click()  # two clicks from step 1, without JavaScript too
        await expect(plain.get_by_test_id("step-done")).to_have_attribute("data-outcome", "cancelled")
    finally:
        await context.close()
