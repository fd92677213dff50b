"""The structured flow editor in a real browser: edit a reason, see it in the preview iframe (a draft in
test mode), publish, and see the host app's widget use the new version."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from tests.e2e.conftest import LiveServer
from tests.e2e.pages import AdminPage, HostPage


async def test_a_reason_edited_in_the_form_shows_in_the_preview_then_goes_live(
    page: Page, live_server: LiveServer
) -> None:
    admin = AdminPage(page, live_server.url)
    await admin.login(live_server.admin_email, live_server.admin_password)
    await page.get_by_test_id("nav-flows").click()
    # The preview of the flow as it stands loads by itself, no click needed.
    await expect(page.frame_locator('[data-testid="preview-iframe"]').get_by_test_id("test-mode")).to_be_visible()
    label = "Our budget got cut"
    await page.get_by_test_id("reason-0-label").fill(label)
    await page.get_by_test_id("preview-flow").click()

    preview = page.frame_locator('[data-testid="preview-iframe"]')
    await expect(preview.get_by_test_id("test-mode")).to_be_visible()
    await preview.get_by_test_id("continue").click()
    await expect(preview.get_by_test_id("reason-label-too_expensive")).to_have_text(re.compile(label))
    await page.screenshot(path=live_server.artifacts / "flow-editor-preview.png", full_page=True)

    await page.get_by_test_id("note").fill("Budget wording, from the editor")
    await page.get_by_test_id("publish-structured").click()
    await expect(page.get_by_test_id("version-row").first).to_contain_text("Budget wording, from the editor")

    widget = await HostPage(page, live_server.host_url).open("cus_demo_linus")
    await widget.click("continue")
    await expect(widget.frame.get_by_test_id("reason-label-too_expensive")).to_have_text(re.compile(label))
