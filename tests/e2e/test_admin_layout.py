"""The admin's tables fit their boxes at 1280 px and on a phone (375 px): no cell's content overflows,
no table hides columns off to the side; screenshots for a person to look at (in the run's artifacts); axe
on each page, every violation whatever its impact."""

from __future__ import annotations

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, expect

from tests.e2e.conftest import LiveServer
from tests.e2e.pages import AdminPage, HostPage

PAGES = ("", "sessions", "feedback", "operations")  # "": the dashboard
SIZES = ((1280, 800), (375, 800))
# A closed <details> (a chart's table behind its toggle) draws nothing, and its boxes measure as wide: skipped.
OVERFLOW = """() => {
  const cut = [];
  const drawn = (element) => !element.closest("details:not([open])");
  for (const cell of document.querySelectorAll("main table td, main table th")) {
    const what = `${cell.dataset.label || cell.tagName}: ${cell.textContent.trim().slice(0, 60)}`;
    if (drawn(cell) && cell.scrollWidth > cell.clientWidth + 1) cut.push(what);
  }
  for (const box of document.querySelectorAll("main .table-wrap")) {
    const name = box.firstElementChild.dataset.testid;
    if (drawn(box) && box.scrollWidth > box.clientWidth + 1) cut.push(`table box ${name} scrolls sideways`);
  }
  if (document.documentElement.scrollWidth > window.innerWidth + 1) cut.push("the page scrolls sideways");
  return cut;
}"""


def admin_url(live_server: LiveServer, name: str) -> str:
    return f"{live_server.url}/admin" + (f"/{name}" if name else "")


def screenshot_name(name: str, width: int, height: int) -> str:
    return f"admin-{name or 'dashboard'}-{width}x{height}.png"


async def axe_violations(page: Page) -> list[str]:
    """Every axe violation on the page (no impact is let through), as "rule (impact): first element"."""
    results = await Axe().run(page)
    return [f"{v['id']} ({v['impact']}): {v['nodes'][0]['target']}" for v in results.response["violations"]]


async def _with_data(page: Page, live_server: LiveServer) -> None:
    """A session with a long comment, so the feedback and session tables have something wide to hold."""
    # Test mode: the demo customer's subscription stays as it is for the other browser tests.
    widget = await HostPage(page, live_server.host_url).open("cus_demo_ada", test_mode=True)
    await widget.click("continue")
    await widget.choose_reason("other", "A-very-long-comment-without-spaces-" * 4 + " and some words after it")
    await widget.click("confirm-cancel")
    await expect(widget.step("done")).to_be_visible()


@pytest.mark.parametrize(("width", "height"), SIZES)
async def test_admin_tables_fit_at_desktop_and_phone_widths(
    browser: Browser, live_server: LiveServer, width: int, height: int
) -> None:
    context = await browser.new_context(viewport={"width": width, "height": height})
    page = await context.new_page()
    try:
        await _with_data(page, live_server)
        await AdminPage(page, live_server.url).login(live_server.admin_email, live_server.admin_password)
        for name in PAGES:
            await page.goto(admin_url(live_server, name))
            await expect(page.locator("main table:visible").first).to_be_visible()
            await page.screenshot(path=live_server.artifacts / screenshot_name(name, width, height), full_page=True)
            assert await page.evaluate(OVERFLOW) == [], f"{name or 'dashboard'} at {width}px"
            assert await axe_violations(page) == [], f"{name or 'dashboard'} at {width}px"
    finally:
        await context.close()


async def test_the_session_page_draws_the_path_accessibly(browser: Browser, live_server: LiveServer) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    try:
        await _with_data(page, live_server)
        admin = AdminPage(page, live_server.url)
        await admin.login(live_server.admin_email, live_server.admin_password)
        rows = await admin.sessions()
        await rows.first.get_by_test_id("open-session").click()
        await expect(page.get_by_test_id("diagram")).to_be_visible()
        await expect(page.locator('[data-testid="diagram"] g.node.visited[data-step="confirm"]')).to_have_count(1)
        await page.screenshot(path=live_server.artifacts / screenshot_name("session", 1280, 800), full_page=True)
        assert await axe_violations(page) == []
    finally:
        await context.close()
