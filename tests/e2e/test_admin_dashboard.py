"""The dashboard and experiments pages at 1280x800: the dashboard's filters are selects of the values
that exist (each with "All"), no table cell is clipped, screenshots for a person, and axe is clean."""

from __future__ import annotations

from pathlib import Path

from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, expect

from tests.e2e.conftest import LiveServer
from tests.e2e.pages import AdminPage, HostPage
from tests.e2e.test_admin_layout import OVERFLOW

FILTERS = ("plan", "interval", "segment", "version", "arm", "locale")


async def _with_data(page: Page, live_server: LiveServer) -> None:
    """One finished test-mode session, so the rollup has values for the filters to offer."""
    widget = await HostPage(page, live_server.host_url).open("cus_demo_ada", test_mode=True)
    await widget.click("continue")
    await widget.choose_reason("other", "Filters should list what exists")
    await widget.click("confirm-cancel")
    await expect(widget.step("done")).to_be_visible()


async def _serious_violations(page: Page) -> list[str]:
    results = await Axe().run(page)
    return [v["id"] for v in results.response["violations"] if v["impact"] in ("serious", "critical")]


async def test_dashboard_and_experiments_fit_with_select_filters(
    browser: Browser, live_server: LiveServer, tmp_path: Path
) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    try:
        await _with_data(page, live_server)
        await AdminPage(page, live_server.url).login(live_server.admin_email, live_server.admin_password)
        await page.goto(f"{live_server.url}/admin?include_test=true")
        for name in FILTERS:
            select = page.locator(f'form[data-testid="dashboard-filters"] select[name="{name}"]')
            await expect(select).to_have_count(1)
            await expect(select.locator("option").first).to_have_text("All")
            await expect(select.locator("option").first).to_have_attribute("value", "")
        plans = page.get_by_test_id("filter-plan").locator("option")
        assert await plans.count() >= 2, "the plan of the session above is offered"
        languages = await page.get_by_test_id("filter-locale").locator("option").all_inner_texts()
        assert "English" in languages, languages
        await page.screenshot(path=str(tmp_path / "dashboard-1280.png"), full_page=True)
        assert await page.evaluate(OVERFLOW) == [], "dashboard at 1280px"
        assert await _serious_violations(page) == [], "dashboard"

        await page.get_by_test_id("nav-experiments").click()
        await expect(page.get_by_test_id("experiment-definitions")).to_be_visible()
        await page.screenshot(path=str(tmp_path / "experiments-1280.png"), full_page=True)
        assert await page.evaluate(OVERFLOW) == [], "experiments at 1280px"
        assert await _serious_violations(page) == [], "experiments"
    finally:
        await context.close()
