"""The admin in a real browser: filter the dashboard, open a session timeline, publish a flow and
see the widget use it, export CSV."""

from __future__ import annotations

import json
import re
from pathlib import Path

from playwright.async_api import Page, expect

from tests.e2e.conftest import LiveServer
from tests.e2e.pages import AdminPage, HostPage


async def test_filtering_the_dashboard_changes_the_figures_and_the_url(page: Page, live_server: LiveServer) -> None:
    widget = await HostPage(page, live_server.host_url).open("cus_demo_grace", test_mode=True)
    await widget.click("continue")  # step 1's one way on; the direct cancel is on every later step
    await widget.click("cancel-now")  # the second click: "Continue to cancel" was the first
    await expect(widget.step("done")).to_have_attribute("data-outcome", "cancelled")

    admin = AdminPage(page, live_server.url)
    await admin.login(live_server.admin_email, live_server.admin_password)
    sessions = page.get_by_test_id("kpi-sessions").locator("strong")
    await page.get_by_test_id("filter-include-test").check()  # htmx refreshes on change
    await expect(page).to_have_url(re.compile(r"include_test=true"))
    with_tests = int(await sessions.inner_text())
    assert with_tests >= 1
    await expect(page.get_by_test_id("filter-plan").locator("option").first).to_have_text("All")
    await page.goto(f"{live_server.url}/admin?include_test=true&plan=no-such-plan")  # a value no session has
    await expect(sessions).to_have_text("0")
    await expect(page).to_have_url(re.compile(r"plan=no-such-plan"))


async def test_session_timeline_and_csv_export(page: Page, live_server: LiveServer) -> None:
    admin = AdminPage(page, live_server.url)
    await admin.login(live_server.admin_email, live_server.admin_password)
    rows = await admin.sessions()
    await rows.first.get_by_test_id("open-session").click()
    await expect(page.get_by_test_id("timeline")).to_contain_text("Opened the cancellation flow")
    await expect(page.get_by_test_id("path").locator("li.taken").first).to_have_text("What they'd lose")
    await expect(page.get_by_test_id("diagram")).to_have_attribute("role", "img")
    await page.get_by_test_id("nav-sessions").click()
    async with page.expect_download() as download_info:
        await page.get_by_test_id("export-sessions").click()
    download = await download_info.value
    text = Path(await download.path()).read_text(encoding="utf-8")  # noqa: ASYNC240 - a small local file
    assert text.splitlines()[0].startswith("session,started_at,customer")
    assert len(text.splitlines()) >= 2


async def test_a_published_flow_is_what_the_next_customer_sees(page: Page, live_server: LiveServer) -> None:
    admin = AdminPage(page, live_server.url)
    await admin.login(live_server.admin_email, live_server.admin_password)
    await page.get_by_test_id("nav-flows").click()
    await page.get_by_test_id("flows-tab-json").click()
    editor = page.get_by_test_id("flow-json")
    definition = json.loads(await editor.input_value())
    definition["reasons"][0]["label"] = "Costs too much for us"
    definition["copy"] = {}
    await editor.fill(json.dumps(definition, indent=2))
    await page.get_by_test_id("flow-note").fill("Clearer first reason")
    await page.get_by_test_id("publish-flow").click()
    await expect(page.get_by_test_id("version-row").first).to_contain_text("Clearer first reason")

    widget = await HostPage(page, live_server.host_url).open("cus_demo_linus")
    await widget.click("continue")
    await expect(widget.frame.get_by_test_id("reason-label-too_expensive")).to_have_text(
        re.compile("Costs too much for us")
    )
