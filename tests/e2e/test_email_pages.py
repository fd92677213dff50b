"""The email pages in a browser: the admin's Emails page and the public unsubscribe page pass axe."""

from __future__ import annotations

from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Page, expect

from tests.e2e.conftest import LiveServer
from tests.e2e.pages import AdminPage


async def _violations(page: Page) -> list[str]:
    results = await Axe().run(page)
    return [v["id"] for v in results.response["violations"]]


async def test_the_emails_page_says_where_mail_goes_and_passes_axe(page: Page, live_server: LiveServer) -> None:
    await AdminPage(page, live_server.url).login(live_server.admin_email, live_server.admin_password)
    await page.get_by_test_id("nav-emails").click()
    await expect(page.get_by_test_id("email-mode")).to_contain_text("demo mailbox")
    await expect(page.get_by_test_id("emails")).to_be_visible()
    assert await _violations(page) == []


async def test_a_broken_unsubscribe_link_gets_a_friendly_page_that_passes_axe(
    page: Page, live_server: LiveServer
) -> None:
    response = await page.goto(f"{live_server.url}/email/unsubscribe?token=broken")
    assert response is not None and response.status == 400
    await expect(page.get_by_test_id("unsubscribe-invalid")).to_contain_text("This link does not work")
    assert await _violations(page) == []
