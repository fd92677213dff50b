"""Issue 25 item 4 in a real browser: a customer cancels, the win-back email (the demo mailbox, on the admin's
Emails page) carries a link that reactivates with 30% off, and the dashboard counts the win-back."""

from __future__ import annotations

import re

from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Page, expect

from tests.e2e.conftest import LiveServer
from tests.e2e.pages import AdminPage, HostPage


async def _violations(page: Page) -> list[str]:
    results = await Axe().run(page)
    return [v["id"] for v in results.response["violations"]]


async def test_a_cancelled_customer_comes_back_through_the_win_back_email(
    page: Page, own_live_server: LiveServer
) -> None:
    server = own_live_server
    widget = await HostPage(page, server.host_url).open("cus_demo_ada", test_mode=False)
    await widget.click("continue")
    await widget.click("cancel-now")  # cancelled at the period end: the win-back email is queued at once
    await expect(widget.step("done")).to_have_attribute("data-outcome", "cancelled")

    await AdminPage(page, server.url).login(server.admin_email, server.admin_password)
    await page.get_by_test_id("nav-emails").click()
    await page.get_by_role("link", name="We would love to have you back").first.click()
    await expect(page.get_by_test_id("email-to")).to_contain_text("ada@example.com")
    await page.get_by_test_id("email-text-toggle").click()
    text = await page.get_by_test_id("email-text").inner_text()
    found = re.search(r"https?://\S+/w/winback\?token=\S+", text)
    assert found, text

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

    await page.goto(f"{server.url}/admin/")
    tile = page.get_by_test_id("kpi-winback")
    await expect(tile.get_by_test_id("kpi-winback-count")).to_have_text("1 won back")
    await expect(tile.get_by_test_id("kpi-winback-mrr-usd")).to_have_text("$34.30 MRR won back (USD)")

    await page.goto(f"{server.host_url}/?customer=cus_demo_ada")  # the host app sees it renewing again
    await expect(page.get_by_test_id("subscription-status")).not_to_have_attribute("data-status", "cancel_scheduled")
