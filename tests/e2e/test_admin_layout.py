"""The admin's tables fit their boxes at 1280 px and on a phone (375 px): no cell's content overflows,
no table hides columns off to the side; screenshots for a person to look at; axe on each page."""

from __future__ import annotations

from pathlib import Path

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, expect

from tests.e2e.conftest import LiveServer
from tests.e2e.pages import AdminPage, HostPage

PAGES = ("sessions", "feedback", "operations")
SIZES = ((1280, 800), (375, 800))
OVERFLOW = """() => {
  const cut = [];
  for (const cell of document.querySelectorAll("main table td, main table th")) {
    const what = `${cell.dataset.label || cell.tagName}: ${cell.textContent.trim().slice(0, 60)}`;
    if (cell.scrollWidth > cell.clientWidth + 1) cut.push(what);
  }
  for (const box of document.querySelectorAll("main .table-wrap")) {
    const name = box.firstElementChild.dataset.testid;
    if (box.scrollWidth > box.clientWidth + 1) cut.push(`table box ${name} scrolls sideways`);
  }
  if (document.documentElement.scrollWidth > window.innerWidth + 1) cut.push("the page scrolls sideways");
  return cut;
}"""


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
    browser: Browser, live_server: LiveServer, tmp_path: Path, width: int, height: int
) -> None:
    context = await browser.new_context(viewport={"width": width, "height": height})
    page = await context.new_page()
    try:
        await _with_data(page, live_server)
        await AdminPage(page, live_server.url).login(live_server.admin_email, live_server.admin_password)
        for name in PAGES:
            await page.goto(f"{live_server.url}/admin/{name}")
            await expect(page.locator("main table").first).to_be_visible()
            await page.screenshot(path=str(tmp_path / f"{name}-{width}.png"), full_page=True)
            assert await page.evaluate(OVERFLOW) == [], f"{name} at {width}px"
            results = await Axe().run(page)
            serious = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
            assert serious == [], f"{name} at {width}px: {[v['id'] for v in serious]}"
    finally:
        await context.close()


async def test_the_session_page_draws_the_path_accessibly(
    browser: Browser, live_server: LiveServer, tmp_path: Path
) -> None:
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
        await page.screenshot(path=str(tmp_path / "session-1280.png"), full_page=True)
        results = await Axe().run(page)
        serious = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
        assert serious == [], [v["id"] for v in serious]
    finally:
        await context.close()
