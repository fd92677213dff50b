"""Issue 25, pause options in a real browser, on the in-memory billing and on Stripe (FakeStripe over HTTP): an
editor sets a pause to start at the period end with two lengths, and a customer picks the second; billing, the
done screen and the host app agree on the date billing resumes."""

from __future__ import annotations

from datetime import datetime

from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Page, expect

from offers.apply import add_months
from service.i18n import date_text
from tests.e2e.conftest import LiveServer
from tests.e2e.pages import AdminPage, HostPage


async def _status(page: Page, server: LiveServer, customer: str) -> dict[str, str | None]:
    headers = {"Authorization": f"Bearer {server.api_key}"}
    response = await page.request.get(f"{server.url}/api/v1/customers/{customer}/status", headers=headers)
    assert response.ok, await response.text()
    body: dict[str, str | None] = await response.json()
    return body


async def test_a_customer_picks_the_second_length_of_a_pause_starting_at_the_period_end(
    page: Page, billing_server: LiveServer
) -> None:
    admin = AdminPage(page, billing_server.url)
    await admin.login(billing_server.admin_email, billing_server.admin_password)
    await page.get_by_test_id("nav-flows").click()
    await page.get_by_test_id("offer-0-lengths").fill("2 weeks, 1 month")
    await page.get_by_test_id("offer-0-starts").select_option("period_end")
    await page.get_by_test_id("note").fill("Pause from the period end")
    await page.get_by_test_id("publish-structured").click()
    await expect(page.get_by_test_id("version-row").first).to_contain_text("Pause from the period end")

    widget = await HostPage(page, billing_server.host_url).open("cus_demo_ada", test_mode=False)
    await widget.click("continue")
    await widget.choose_reason("too_expensive")
    before = await _status(page, billing_server, "cus_demo_ada")  # known to the service once a session started
    assert before["paused_until"] is None and before["current_period_end"]
    period_end = datetime.fromisoformat(before["current_period_end"])
    resumes = add_months(period_end, 1)  # the second length, counted from the end of the paid period
    card = widget.frame.get_by_test_id("offer-card-pause")
    await expect(card.get_by_test_id("offer-value-pause-2-months")).to_have_text(
        f"Your paid period runs to {date_text(period_end, 'en')}; then no charges while paused"
    )
    await expect(card.get_by_test_id("pause-length-pause-2-months-1")).to_be_checked()  # works without JS too
    second = card.get_by_test_id("pause-length-pause-2-months-2")
    await expect(second.locator("xpath=..")).to_contain_text(f"1 month: no charges until {date_text(resumes, 'en')}")
    handle = await page.get_by_test_id("saveflow-iframe").element_handle()
    inner = await handle.content_frame() if handle else None
    assert inner is not None
    results = await Axe().run(inner)
    assert not results.response["violations"], results.generate_report()
    await second.check()
    await widget.click("accept-offer-pause-2-months")

    await expect(widget.step("done")).to_have_attribute("data-outcome", "saved")
    await expect(widget.frame.get_by_test_id("done-summary")).to_contain_text(
        f"Your paid period runs to {date_text(period_end, 'en')}. Then your subscription pauses, "
        f"and billing resumes on {date_text(resumes, 'en')}"
    )
    after = await _status(page, billing_server, "cus_demo_ada")
    assert after["paused_until"] is not None and datetime.fromisoformat(after["paused_until"]) == resumes
    await widget.click("close-widget")
    await expect(page.get_by_test_id("demo-result")).to_have_text("Outcome: saved (pause)")
    await expect(page.get_by_test_id("subscription-status")).to_have_text(f"Paused until {date_text(resumes, 'en')}.")
